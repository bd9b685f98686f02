/**
 * Opening the same signed checkpoints several times in one verification (signed heads, checkpoint
 * rows, the trusted start) without checking their signatures again. Kept apart from
 * checkpoint.ts, whose bytes are part of the bench log's format fingerprint.
 */
import { openCheckpoint } from './checkpoint.js';
import type { NoteVerifier } from './note.js';

/** {@link openCheckpoint} for one set of trusted keys and one origin. */
export type CheckpointOpener = (note: string) => ReturnType<typeof openCheckpoint>;

/**
 * An {@link openCheckpoint} that opens each distinct note once: its result (or its error) is kept
 * for the opener's life, so one verification that meets the same stored checkpoint in several
 * checks (signed heads, checkpoint rows, the trusted start) checks its signatures once. Keyed by
 * the note's exact text; the keys and origin are fixed when the opener is made.
 *
 * @example
 * const open = checkpointOpener([logVerifier], origin);
 * open(note); open(note); // one signature check
 */
export function checkpointOpener(
  verifiers: readonly NoteVerifier[],
  expectedOrigin?: string,
): CheckpointOpener {
  const seen = new Map<string, { cp: ReturnType<typeof openCheckpoint> } | { error: unknown }>();
  return (note) => {
    let r = seen.get(note);
    if (!r) {
      try {
        r = { cp: openCheckpoint(note, verifiers, expectedOrigin) };
      } catch (error) {
        r = { error };
      }
      seen.set(note, r);
    }
    if ('error' in r) throw r.error;
    return r.cp;
  };
}
