import { peekCheckpoint } from '../core/checkpoint.js';
import { formatAddCheckpoint } from '../core/cosignature.js';
import { keyAnnouncement } from '../core/key-chain.js';
import { openNote, parseVerifierKey } from '../core/note.js';
import { AuditError } from '../errors.js';
import type { AuditTrail } from './audit-trail.js';
import { keysOf, storeOf } from './internals.js';
import { readKeyEvents } from './key-events.js';

/** One signing key of a log, as `auditrail keys show --all` lists it. */
export interface SigningKeyInfo {
  /** 1 for the first key (the one auditors pin), then one more per rotation. */
  generation: number;
  vkey: string;
  /** `active` keys sign checkpoints (two during an overlap); `retired` ones no longer do. */
  status: 'active' | 'retired';
  /** Seq of this log's `key.added` event for it (null: the first key, or not announced here yet). */
  added_seq: number | null;
  /** Seq of this log's `key.retired` event for it, or null. */
  retired_seq: number | null;
}

async function announced(
  trail: AuditTrail,
): Promise<{ added: Map<string, number>; retired: Map<string, number> }> {
  const added = new Map<string, number>();
  const retired = new Map<string, number>();
  for (const e of await readKeyEvents(storeOf(trail), trail['head'].logId)) {
    if (typeof e.announcement !== 'string') continue;
    let vkey: string | undefined;
    try {
      const text = openNote(e.announcement, keysOf(trail).allVerifiers(trail.origin)).text;
      vkey = text.split('\n')[2];
    } catch {
      continue;
    }
    if (vkey !== undefined) (e.type === 'key.added' ? added : retired).set(vkey, e.seq);
  }
  return { added, retired };
}

/**
 * The log's signing keys, first to newest, with their status and announcements (reads only).
 *
 * @example
 * for (const k of await signingKeys(trail)) console.log(k.generation, k.status, k.vkey);
 */
export async function signingKeys(trail: AuditTrail): Promise<SigningKeyInfo[]> {
  const keys = keysOf(trail);
  if (!keys.hasKey()) return [];
  const { added, retired } = await announced(trail);
  return keys.generations().map((generation) => {
    const vkey = keys.generationVerifierKey(trail.origin, generation);
    return {
      generation,
      vkey,
      status: keys.isRetired(generation) ? 'retired' : 'active',
      added_seq: added.get(vkey) ?? null,
      retired_seq: retired.get(vkey) ?? null,
    };
  });
}

/** What a rotation step did, per log. */
export interface RotationStep {
  log: string;
  generation: number;
  vkey: string;
  /** Seq of the event recorded (key.added or key.retired), or null when it was already there. */
  seq: number | null;
  /** The checkpoint signed right after it. */
  checkpoint: string;
}

function actorOf(by: string | undefined): { type: 'user' | 'system'; id: string } {
  return by === undefined ? { type: 'system', id: 'auditrail' } : { type: 'user', id: by };
}

/**
 * Starts a key rotation (docs/keys.md): makes a new key (unless one is waiting to be announced)
 * and records `key.added` in each log with an announcement signed by the active keys and the new
 * one, then signs a checkpoint with both: the overlap begins. Every log of a database shares its
 * key directory, so pass them all. Resuming after a crash announces the pending key only.
 *
 * @example
 * const steps = await rotateSigningKey([trail], { by: 'alice' });
 */
export async function rotateSigningKey(
  trails: readonly AuditTrail[],
  options: { passphrase?: string; by?: string } = {},
): Promise<RotationStep[]> {
  const first = trails[0];
  if (!first) throw new AuditError('invalid_argument', 'no log to rotate the key of');
  const keys = keysOf(first);
  if (first.readonly) throw new AuditError('read_only', 'cannot rotate the key of a read-only log');
  if (!keys.hasKey()) {
    throw new AuditError(
      'key_failure',
      `no signing key yet at ${keys.keyPath}: sign a first checkpoint before rotating`,
    );
  }
  let active = keys.activeGenerations();
  if (active.length > 2)
    throw new AuditError('conflict', 'more than two active keys: retire the older ones first');
  if (active.length === 2) {
    // A rotation already started: announce its new key where it is missing, make no third key.
    const pending = await Promise.all(
      trails.map(async (t) =>
        (await announced(t)).added.has(keys.generationVerifierKey(t.origin, active[1]!)),
      ),
    );
    if (pending.every(Boolean)) {
      throw new AuditError(
        'conflict',
        `a rotation is in its overlap (keys ${active.join(' and ')} both sign): finish it with auditrail keys retire`,
      );
    }
  } else {
    keys.addGeneration(options.passphrase);
    active = keys.activeGenerations();
  }
  const next = active[active.length - 1]!;
  const steps: RotationStep[] = [];
  for (const trail of trails) {
    const vkey = keys.generationVerifierKey(trail.origin, next);
    let seq: number | null = null;
    if (!(await announced(trail)).added.has(vkey)) {
      const note = keyAnnouncement('added', trail.origin, vkey, keys.activeSigners(trail.origin));
      seq = (
        await trail.record({
          type: 'key.added',
          actor: actorOf(options.by),
          action: {
            type: 'auditrail.key.add',
            target: vkey,
            params: { vkey, generation: next, announcement: note },
          },
        })
      ).seq;
    }
    steps.push({ log: trail.origin, generation: next, vkey, seq, checkpoint: await trail.checkpoint() });
  }
  return steps;
}

/**
 * Ends the overlap: records `key.retired` for the older active key in each log (signed by the
 * newer key), signs a last checkpoint with both, then the older key stops signing. Its file stays:
 * proofs made under it keep verifying with its verifier key.
 *
 * @example
 * await retireSigningKey([trail]);
 */
export async function retireSigningKey(
  trails: readonly AuditTrail[],
  options: { by?: string } = {},
): Promise<RotationStep[]> {
  const first = trails[0];
  if (!first) throw new AuditError('invalid_argument', 'no log to retire the key of');
  if (first.readonly) throw new AuditError('read_only', 'cannot retire the key of a read-only log');
  const keys = keysOf(first);
  const active = keys.activeGenerations();
  if (active.length < 2) {
    throw new AuditError('conflict', 'only one key signs: start a rotation first (auditrail keys rotate)');
  }
  const old = active[0]!;
  const steps: RotationStep[] = [];
  for (const trail of trails) {
    const { added, retired } = await announced(trail);
    const next = keys.generationVerifierKey(trail.origin, active[active.length - 1]!);
    if (!added.has(next)) {
      throw new AuditError(
        'conflict',
        `${trail.origin} has not announced the new key yet: run auditrail keys rotate again`,
      );
    }
    const vkey = keys.generationVerifierKey(trail.origin, old);
    let seq: number | null = null;
    if (!retired.has(vkey)) {
      const others = active.filter((n) => n !== old).map((n) => keys.generationSigner(trail.origin, n));
      const note = keyAnnouncement('retired', trail.origin, vkey, others);
      seq = (
        await trail.record({
          type: 'key.retired',
          actor: actorOf(options.by),
          action: {
            type: 'auditrail.key.retire',
            target: vkey,
            params: { vkey, generation: old, announcement: note },
          },
        })
      ).seq;
    }
    // The checkpoint that includes the retirement is the old key's last.
    steps.push({ log: trail.origin, generation: old, vkey, seq, checkpoint: await trail.checkpoint() });
  }
  keys.retireGeneration(old);
  return steps;
}

/**
 * Sends the log's latest checkpoint to a witness with a consistency proof from the last size that
 * witness cosigned (C2SP tlog-witness), and keeps the cosigned checkpoint in the key directory
 * (`cosigned/`, outside the database) for `verify --witness-key`. `submit` posts an
 * add-checkpoint body and returns the witness's status and body (HTTP, or a local witness).
 *
 * @example
 * const note = await cosignLatest(trail, (body) => witness.addCheckpoint(body));
 */
export async function cosignLatest(
  trail: AuditTrail,
  submit: (body: string) => Promise<{ status: number; body: string }> | { status: number; body: string },
): Promise<{ note: string; size: number }> {
  const keys = keysOf(trail);
  const note = await trail.latestCheckpoint();
  if (note === undefined)
    throw new AuditError('not_found', `${trail.origin} has no checkpoint yet: sign one first`);
  const size = peekCheckpoint(note).size;
  const kept = keys.loadCosigned(trail.origin);
  let old = 0;
  if (kept !== undefined) {
    try {
      const keptSize = peekCheckpoint(kept).size;
      if (keptSize <= size) old = keptSize;
    } catch {
      // A damaged copy: start from 0, the witness answers with the size it holds (409).
    }
  }
  for (let attempt = 0; attempt < 3; attempt++) {
    const proof =
      old === 0 ? [] : (await trail.proveConsistency(old, size)).map((h) => Buffer.from(h, 'base64'));
    const res = await submit(formatAddCheckpoint(old, proof, note));
    if (res.status === 200) {
      const lines = res.body.split('\n').filter((l) => l.startsWith('\u2014 '));
      if (lines.length === 0)
        throw new AuditError('proof_invalid', 'the witness answered 200 without a cosignature line');
      const cosigned = note + lines.map((l) => `${l}\n`).join('');
      keys.saveCosigned(trail.origin, cosigned);
      return { note: cosigned, size };
    }
    if (res.status === 409 && /^(0|[1-9][0-9]*)\n$/.test(res.body)) {
      const theirs = Number(res.body.trim());
      if (theirs > size) {
        throw new AuditError(
          'conflict',
          `the witness has cosigned size ${theirs} of ${trail.origin}, but its latest checkpoint has size ${size}: the log was rolled back`,
        );
      }
      if (theirs === old) {
        throw new AuditError(
          'conflict',
          `the witness refuses checkpoint size ${size} of ${trail.origin}: it cosigned another tree of size ${theirs} (the log forked)`,
        );
      }
      old = theirs;
      continue;
    }
    throw new AuditError(
      res.status === 422 ? 'conflict' : 'proof_invalid',
      `the witness refused checkpoint size ${size} of ${trail.origin} (${res.status}): ${res.body.trim().slice(0, 300)}${res.status === 422 ? ' (the log is not consistent with what the witness cosigned: it forked)' : ''}`,
    );
  }
  throw new AuditError('conflict', `the witness kept answering 409 for ${trail.origin}`);
}

/** Parses a log verifier key, as an AuditError('invalid_argument') naming the problem. */
export function checkLogKey(vkey: string): void {
  try {
    parseVerifierKey(vkey);
  } catch (e) {
    throw new AuditError('invalid_argument', `not a log verifier key: ${(e as Error).message}`, { cause: e });
  }
}
