import { openCheckpoint, type Checkpoint } from './checkpoint.js';
import { assembleEvent, disclosureDigest, parseDisclosure } from './disclosure.js';
import { parseLeaf } from './leaf.js';
import { hashLeaf } from './merkle.js';
import { decodeBase64Strict, hasLoneSurrogate, parseVerifierKey, type NoteVerifier } from './note.js';
import { verifyInclusion } from './proof.js';

/**
 * A self-contained proof that one event is in a log (docs/verification.md §6): the leaf bytes,
 * the event's disclosures, an RFC 9162 inclusion proof, the signed checkpoint it leads to and
 * the verifier key. It can be checked with no database.
 */
export interface ProofBundle {
  format: 'auditrail-proof/v1';
  log: string;
  seq: number;
  /** Leaf record bytes, base64. */
  leaf: string;
  /** Disclosures (each a JCS array as text); erased ones are absent. */
  disclosures: string[];
  inclusion: { tree_size: number; proof: string[] };
  /** C2SP signed note holding the checkpoint. */
  checkpoint: string;
  /** C2SP verifier key of the log. */
  verifier_key: string;
}

export interface ProofBundleResult {
  ok: boolean;
  log: string;
  seq: number;
  tree_size: number;
  failures: string[];
  /** The event reassembled from the disclosures that verified. */
  event: Record<string, unknown> | null;
}

const MAX_BUNDLE_DISCLOSURES = 64;
const MAX_PROOF_HASHES = 64;

/**
 * Checkpoints that opened (signature and origin checked), by the exact key, origin and note
 * text: the bundles of one log mostly share one checkpoint, and the same inputs always give the
 * same result, so its Ed25519 signature is checked once, not per bundle. Only successes are kept.
 */
const openedCheckpoints = new Map<string, Checkpoint>();
const MAX_OPENED_CHECKPOINTS = 16;

function openCheckpointOnce(note: string, verifier: NoteVerifier, vkey: string, log: string): Checkpoint {
  // JSON of the three strings: no two different triples give the same key.
  const key = JSON.stringify([vkey, log, note]);
  const known = openedCheckpoints.get(key);
  if (known !== undefined) return known;
  const { origin, size, root } = openCheckpoint(note, [verifier], log);
  const cp = { origin, size, root };
  if (openedCheckpoints.size >= MAX_OPENED_CHECKPOINTS) openedCheckpoints.clear();
  openedCheckpoints.set(key, cp);
  return cp;
}

/**
 * Checks a proof bundle as docs/verification.md §6 specifies, collecting every failure.
 * `trustedKey` (a C2SP vkey) should come from the auditor's own copy of
 * the log's key; without it the bundle's own key is used and the result only shows internal
 * consistency.
 *
 * @example
 * const r = verifyProofBundle(JSON.parse(readFileSync('proof.json', 'utf8')), { trustedKey });
 * if (!r.ok) console.error(r.failures);
 */
export function verifyProofBundle(input: unknown, options: { trustedKey?: string } = {}): ProofBundleResult {
  const failures: string[] = [];
  const b = input as Partial<ProofBundle> | null;
  const result = (event: Record<string, unknown> | null): ProofBundleResult => ({
    ok: failures.length === 0,
    log: typeof b?.log === 'string' ? b.log : '',
    seq: typeof b?.seq === 'number' ? b.seq : -1,
    tree_size: typeof b?.inclusion?.tree_size === 'number' ? b.inclusion.tree_size : -1,
    failures,
    event,
  });
  if (typeof b !== 'object' || b === null || b.format !== 'auditrail-proof/v1') {
    failures.push('not an auditrail-proof/v1 bundle');
    return result(null);
  }
  if (
    typeof b.log !== 'string' ||
    !Number.isSafeInteger(b.seq) ||
    (b.seq as number) < 0 ||
    typeof b.leaf !== 'string' ||
    !Array.isArray(b.disclosures) ||
    b.disclosures.length > MAX_BUNDLE_DISCLOSURES ||
    typeof b.inclusion !== 'object' ||
    b.inclusion === null ||
    !Number.isSafeInteger(b.inclusion.tree_size) ||
    b.inclusion.tree_size < 0 ||
    !Array.isArray(b.inclusion.proof) ||
    b.inclusion.proof.length > MAX_PROOF_HASHES ||
    typeof b.checkpoint !== 'string' ||
    typeof b.verifier_key !== 'string'
  ) {
    failures.push('bundle is missing a member or has one of the wrong type');
    return result(null);
  }
  const seq = b.seq as number;
  let verifier;
  try {
    verifier = parseVerifierKey(options.trustedKey ?? b.verifier_key);
  } catch (e) {
    failures.push(`verifier key: ${(e as Error).message}`);
    return result(null);
  }
  if (options.trustedKey !== undefined && options.trustedKey !== b.verifier_key) {
    failures.push('the bundle names a different verifier key than the trusted one');
  }
  let cp;
  try {
    cp = openCheckpointOnce(b.checkpoint, verifier, options.trustedKey ?? b.verifier_key, b.log);
  } catch (e) {
    failures.push(`checkpoint: ${(e as Error).message}`);
    return result(null);
  }
  if (cp.size !== b.inclusion.tree_size)
    failures.push(`inclusion proof is for size ${b.inclusion.tree_size}, checkpoint is ${cp.size}`);
  // Strict base64 everywhere (docs/verification.md §1): a lenient decoder would accept bytes that
  // another verifier rejects, or decode them differently.
  const leafBytes = decodeBase64Strict(b.leaf);
  if (leafBytes === undefined) {
    failures.push('leaf is not canonical base64');
    return result(null);
  }
  let leaf;
  try {
    leaf = parseLeaf(leafBytes);
  } catch (e) {
    failures.push(`leaf: ${(e as Error).message}`);
    return result(null);
  }
  if (leaf.log !== b.log) failures.push(`leaf belongs to log ${leaf.log}, not ${b.log}`);
  if (leaf.seq !== seq) failures.push(`leaf has seq ${leaf.seq}, bundle claims ${seq}`);
  const proof: Buffer[] = [];
  for (const [i, p] of (b.inclusion.proof as unknown[]).entries()) {
    const h = typeof p === 'string' ? decodeBase64Strict(p) : undefined;
    if (h?.length !== 32) failures.push(`inclusion proof hash ${i} is not canonical base64 of 32 bytes`);
    proof.push(h ?? Buffer.alloc(0));
  }
  if (!verifyInclusion(hashLeaf(leafBytes), seq, cp.size, proof, cp.root)) {
    failures.push(`inclusion proof of seq ${seq} does not lead to the checkpoint root`);
  }
  const parts = [];
  for (const [i, d] of (b.disclosures as unknown[]).entries()) {
    if (typeof d !== 'string') {
      failures.push(`disclosure ${i} is not a string`);
      continue;
    }
    // A lone surrogate has no UTF-8 form: each implementation would hash different bytes.
    if (hasLoneSurrogate(d)) {
      failures.push(`disclosure ${i} is not well-formed Unicode (lone surrogate)`);
      continue;
    }
    const bytes = Buffer.from(d, 'utf8');
    if (!leaf.d.includes(disclosureDigest(bytes))) {
      failures.push(`disclosure ${i} is not committed to by the leaf`);
      continue;
    }
    try {
      const { pointer, value } = parseDisclosure(bytes);
      parts.push({ pointer, value });
    } catch (e) {
      failures.push(`disclosure ${i}: ${(e as Error).message}`);
    }
  }
  return result(parts.length > 0 ? assembleEvent(parts) : null);
}
