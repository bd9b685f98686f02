/**
 * Append-only checks between two signed checkpoints of one log (docs/verification.md §6.1): an
 * auditor who saved a checkpoint earlier checks that a later one only appended to it.
 */
import { Buffer } from 'node:buffer';
import { openCheckpoint } from './checkpoint.js';
import type { Checkpoint } from './checkpoint.js';
import { decodeBase64Strict, parseVerifierKey } from './note.js';
import type { NoteVerifier } from './note.js';
import { verifyConsistency as verifyConsistencyProof } from './proof.js';

/**
 * A consistency proof file (`auditrail-consistency/v1`, docs/verification.md §6.1): the proof
 * that the tree of `new_size` entries extends the one of `old_size`, with the new signed
 * checkpoint and the log's verifier key as the issuer states it.
 */
export interface ConsistencyBundle {
  format: 'auditrail-consistency/v1';
  log: string;
  old_size: number;
  new_size: number;
  /** RFC 9162 §2.1.4 consistency proof, base64 32-byte hashes. */
  proof: string[];
  /** The signed checkpoint (C2SP signed note) of size `new_size`. */
  checkpoint: string;
  /** C2SP verifier key of the log. */
  verifier_key: string;
}

/** The outcome of {@link verifyConsistency}: `old` / `new` are null when that checkpoint did not open. */
export interface ConsistencyResult {
  ok: boolean;
  /** The origin the trusted key names. */
  log: string;
  old: { size: number; root: string } | null;
  new: { size: number; root: string } | null;
  failures: string[];
}

const MAX_PROOF_HASHES = 64;

function summary(cp: Checkpoint): { size: number; root: string } {
  return { size: cp.size, root: cp.root.toString('base64') };
}

/**
 * Checks that the log only appended between two signed checkpoints: both must open with
 * `trustedKey` (a C2SP vkey; the expected origin is its name), the old one may not be larger, and
 * `proof` (base64 hashes, as `proveConsistency()` gives them) must be an RFC 9162 consistency
 * proof from the old root to the new one. Pure; never throws for bad input: every problem is
 * listed in `failures`.
 *
 * @example
 * const r = verifyConsistency(readFileSync('march.checkpoint', 'utf8'), bundle.checkpoint, bundle.proof, vkey);
 * if (!r.ok) console.error(r.failures); // e.g. 'the tree of size 40 … does not extend the tree of size 20 …'
 */
export function verifyConsistency(
  oldCheckpoint: string,
  newCheckpoint: string,
  proof: readonly string[],
  trustedKey: string,
): ConsistencyResult {
  const failures: string[] = [];
  let verifier: NoteVerifier;
  try {
    verifier = parseVerifierKey(trustedKey);
  } catch (e) {
    return { ok: false, log: '', old: null, new: null, failures: [`verifier key: ${(e as Error).message}`] };
  }
  const origin = verifier.name;
  const key = `${origin}+${verifier.keyId.toString('hex')}`;
  const open = (which: string, note: string): Checkpoint | null => {
    try {
      return openCheckpoint(note, [verifier], origin);
    } catch (e) {
      failures.push(`${which} checkpoint does not verify with the key ${key}: ${(e as Error).message}`);
      return null;
    }
  };
  const older = open('old', oldCheckpoint);
  const newer = open('new', newCheckpoint);
  const result = (): ConsistencyResult => ({
    ok: failures.length === 0,
    log: origin,
    old: older && summary(older),
    new: newer && summary(newer),
    failures,
  });
  if (!Array.isArray(proof) || proof.length > MAX_PROOF_HASHES) {
    failures.push(`the proof must be a list of at most ${MAX_PROOF_HASHES} hashes`);
    return result();
  }
  const hashes: Buffer[] = [];
  for (const [i, p] of (proof as unknown[]).entries()) {
    const h = typeof p === 'string' ? decodeBase64Strict(p) : undefined;
    if (h?.length !== 32) failures.push(`proof hash ${i} is not canonical base64 of 32 bytes`);
    hashes.push(h ?? Buffer.alloc(0));
  }
  if (older === null || newer === null || failures.length > 0) return result();
  if (older.size > newer.size) {
    failures.push(
      `the new checkpoint (size ${newer.size}) is smaller than the old one (size ${older.size}): ` +
        'the log was rolled back, or the checkpoints are swapped',
    );
  } else if (!verifyConsistencyProof(older.size, newer.size, hashes, older.root, newer.root)) {
    failures.push(
      `the tree of size ${newer.size} (root ${newer.root.toString('base64')}) does not extend the tree of ` +
        `size ${older.size} (root ${older.root.toString('base64')}): the log was rewritten, or the proof is wrong`,
    );
  }
  return result();
}
