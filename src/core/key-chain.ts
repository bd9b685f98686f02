/**
 * The chain of a log's signing keys (docs/keys.md): the first key is pinned by the verifier; every
 * later key is announced inside the log by a `key.added` event carrying a signed note under a key
 * already in the chain, and stops signing after its `key.retired` event. A checkpoint counts as
 * signed only by a key valid at its size, so a checkpoint signed by an unannounced key is refused.
 */
import type { CheckpointOpener } from './checkpoint-opener.js';
import { NoteError, openNote, parseVerifierKey, signNote } from './note.js';
import type { NoteSigner, NoteVerifier } from './note.js';

/** The header line of a key announcement note: what the old key signs. */
export const KEY_ADDED_HEADER = 'auditrail key.added/v1';
/** The header line of a key retirement note. */
export const KEY_RETIRED_HEADER = 'auditrail key.retired/v1';

/** What a `key.added` / `key.retired` event says, once its note was checked. */
export interface KeyAnnouncement {
  kind: 'added' | 'retired';
  /** The log the key signs for (the note's second line). */
  origin: string;
  /** The key added or retired, in C2SP vkey form. */
  vkey: string;
}

function announcementText(kind: KeyAnnouncement['kind'], origin: string, vkey: string): string {
  return `${kind === 'added' ? KEY_ADDED_HEADER : KEY_RETIRED_HEADER}\n${origin}\n${vkey}\n`;
}

/**
 * The signed note a `key.added` (or `key.retired`) event carries: the header, the origin and the
 * key's vkey, signed by every signer given (the announcing key; for `added`, the new key too, as
 * proof it is held).
 *
 * @example
 * const note = keyAnnouncement('added', origin, formatVerifierKey(origin, next.publicKey), [current, next]);
 */
export function keyAnnouncement(
  kind: KeyAnnouncement['kind'],
  origin: string,
  vkey: string,
  signers: readonly NoteSigner[],
): string {
  parseVerifierKey(vkey);
  return signNote(announcementText(kind, origin, vkey), signers);
}

/** A key of the chain and the seqs that bound the checkpoints it may sign. */
export interface ChainKey {
  /** `name+keyid` (the full vkey for an announced key). */
  label: string;
  verifier: NoteVerifier;
  /** Seq of its `key.added` event (-1 for a pinned key): it signs checkpoints of size > addedAt. */
  addedAt: number;
  /** Seq of its `key.retired` event: it signs checkpoints of size <= retiredAt + 1 only. */
  retiredAt?: number;
}

/**
 * The keys of one log, from the pinned ones through each announcement met in seq order.
 * {@link KeyChain.apply} checks an announcement's note with the keys valid at that seq; a note
 * that does not verify changes nothing and is returned as a problem for the verify report.
 *
 * @example
 * const chain = new KeyChain(origin, [pinned]);
 * chain.apply(12, 'key.added', announcementNote); // undefined: accepted
 * chain.validAt(20).length // 2 during the overlap
 */
export class KeyChain {
  readonly keys: ChainKey[];

  constructor(
    readonly origin: string,
    pinned: readonly NoteVerifier[],
  ) {
    this.keys = pinned.map((verifier) => ({
      label: `${verifier.name}+${verifier.keyId.toString('hex')}`,
      verifier,
      addedAt: -1,
    }));
  }

  /** Every key of the chain (pinned and announced): what checkpoint notes are opened with. */
  get verifiers(): NoteVerifier[] {
    return this.keys.map((k) => k.verifier);
  }

  /** The keys that may sign a checkpoint of `size`. */
  validAt(size: number): ChainKey[] {
    return this.keys.filter(
      (k) => k.addedAt < size && (k.retiredAt === undefined || size <= k.retiredAt + 1),
    );
  }

  /**
   * Applies the announcement recorded at `seq` (`type` `key.added` or `key.retired`, `note` its
   * signed note). Returns why it was not accepted, or undefined when it was.
   */
  apply(seq: number, type: string, note: unknown): string | undefined {
    const kind = type === 'key.added' ? 'added' : type === 'key.retired' ? 'retired' : undefined;
    if (kind === undefined) return `${type} is not a key announcement`;
    if (typeof note !== 'string') return `the ${type} event at seq ${seq} carries no announcement note`;
    // Keys that may sign at this point of the log: those valid for a checkpoint including `seq`.
    const signing = this.validAt(seq + 1);
    let opened;
    try {
      opened = openNote(
        note,
        signing.map((k) => k.verifier),
      );
    } catch (e) {
      return `the ${type} note at seq ${seq} is not signed by a key of the chain valid there: ${(e as Error).message}`;
    }
    const lines = opened.text.slice(0, -1).split('\n');
    const [header, origin, vkey] = lines;
    if (
      lines.length !== 3 ||
      header !== (kind === 'added' ? KEY_ADDED_HEADER : KEY_RETIRED_HEADER) ||
      vkey === undefined
    ) {
      return `the ${type} note at seq ${seq} is not a ${kind === 'added' ? KEY_ADDED_HEADER : KEY_RETIRED_HEADER} statement`;
    }
    if (origin !== this.origin) return `the ${type} note at seq ${seq} is for ${origin}, not ${this.origin}`;
    let verifier: NoteVerifier;
    try {
      verifier = parseVerifierKey(vkey);
    } catch (e) {
      return `the ${type} note at seq ${seq} names no valid key: ${(e as Error).message}`;
    }
    if (verifier.name !== this.origin)
      return `the key ${vkey} announced at seq ${seq} is not named ${this.origin}`;
    const id = verifier.keyId.toString('hex');
    if (kind === 'added') {
      // The new key signed too: whoever announced it holds it.
      try {
        openNote(note, [verifier]);
      } catch (e) {
        return `the key.added note at seq ${seq} is not signed by the key it adds: ${(e as Error).message}`;
      }
      if (this.keys.some((k) => k.verifier.keyId.equals(verifier.keyId))) {
        return `the key ${this.origin}+${id} announced at seq ${seq} is already in the chain`;
      }
      this.keys.push({ label: vkey, verifier, addedAt: seq });
      return undefined;
    }
    const key = this.keys.find((k) => k.verifier.keyId.equals(verifier.keyId));
    if (!key || key.retiredAt !== undefined || key.addedAt >= seq) {
      return `the key.retired note at seq ${seq} names ${this.origin}+${id}, which is not an active key there`;
    }
    // A retirement signed only by the key it retires would leave no key: another must sign it.
    if (!opened.signatures.some((s) => s.verified === true && s.keyId !== id)) {
      return `the key.retired note at seq ${seq} must be signed by another key of the chain`;
    }
    key.retiredAt = seq;
    return undefined;
  }

  /**
   * An opener (see checkpoint-opener.ts) that also requires a signature by a key valid at the
   * checkpoint's size: a checkpoint signed by a key not yet announced, or already retired, does
   * not open (NoteError 'unknown_key').
   */
  opener(open: CheckpointOpener): CheckpointOpener {
    return (note) => {
      const cp = open(note);
      const valid = this.validAt(cp.size);
      const ok = cp.note.signatures.some(
        (s) => s.verified === true && valid.some((k) => k.verifier.keyId.toString('hex') === s.keyId),
      );
      if (!ok) {
        const by = cp.note.signatures
          .filter((s) => s.verified === true)
          .map((s) => `${s.name}+${s.keyId}`)
          .join(', ');
        throw new NoteError(
          'unknown_key',
          `the checkpoint of size ${cp.size} is signed by ${by}, a key not announced before seq ${cp.size} or already retired`,
        );
      }
      return cp;
    };
  }
}

/**
 * The announcement note of an event's `action.params.announcement`, or undefined.
 *
 * @example
 * announcementOf({ action: { params: { announcement: note } } }) // note
 */
export function announcementOf(event: Record<string, unknown>): unknown {
  const action = event['action'];
  if (typeof action !== 'object' || action === null) return undefined;
  const params = (action as Record<string, unknown>)['params'];
  if (typeof params !== 'object' || params === null) return undefined;
  return Object.hasOwn(params, 'announcement')
    ? (params as Record<string, unknown>)['announcement']
    : undefined;
}
