/**
 * C2SP tlog-checkpoint (c2sp.org/tlog-checkpoint): the signed tree head of a log, a signed note
 * whose text is `<origin>\n<size>\n<base64 root>\n` (design §7.3).
 */
import { Buffer } from 'node:buffer';
import { HASH_SIZE } from './merkle.js';
import { NoteError, openNote, signNote } from './note.js';
import type { NoteSigner, NoteVerifier, OpenedNote } from './note.js';
import { CoreError } from './errors.js';

/**
 * A tree head: the log's origin, its number of leaves and the RFC 6962 root at that size.
 *
 * @example
 * const cp: Checkpoint = { origin: 'audit.example.com/t/ten_7Q2x/prod', size: cr.size, root: cr.root() };
 */
export interface Checkpoint {
  origin: string;
  size: number;
  root: Buffer;
}

// A line may hold no control character (signed-note §Format); lone surrogates have no UTF-8 form.
function isCleanLine(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20) return false;
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (!(d >= 0xdc00 && d <= 0xdfff)) return false;
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) {
      return false;
    }
  }
  return true;
}

/**
 * The checkpoint note text, without extension lines (design §7.3): `origin\nsize\nbase64(root)\n`.
 * Throws an Error naming the bad field (empty origin or one with control characters, size not
 * an integer in [0, 2^53−1], root not 32 bytes).
 *
 * @example
 * formatCheckpoint({ origin: 'example.com/log', size: 0, root: EMPTY_ROOT })
 * // 'example.com/log\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n'
 */
export function formatCheckpoint(cp: Checkpoint): string {
  if (typeof cp.origin !== 'string' || cp.origin.length === 0 || !isCleanLine(cp.origin)) {
    throw new CoreError('malformed', 'checkpoint origin must be a non-empty line without control characters');
  }
  if (!Number.isSafeInteger(cp.size) || cp.size < 0) {
    throw new CoreError(
      'malformed',
      `checkpoint size must be an integer in [0, 2^53-1], got ${String(cp.size)}`,
    );
  }
  if (!(cp.root instanceof Uint8Array) || cp.root.length !== HASH_SIZE) {
    throw new CoreError('malformed', `checkpoint root must be ${HASH_SIZE} bytes`);
  }
  return `${cp.origin}\n${cp.size}\n${Buffer.from(cp.root).toString('base64')}\n`;
}

/**
 * Parses a checkpoint note text strictly (tlog-checkpoint §Note text): at least three non-empty
 * lines ending in a newline; decimal size without leading zeros and at most 2^53−1; canonical
 * base64 of a 32-byte root. Extension lines are allowed (must be non-empty) and ignored. Throws an
 * Error naming what is wrong.
 *
 * @example
 * parseCheckpoint('example.com/log\n3\nrt3Qh…=\n') // { origin: 'example.com/log', size: 3, root: <Buffer …> }
 */
export function parseCheckpoint(text: string): Checkpoint {
  if (typeof text !== 'string' || !text.endsWith('\n'))
    throw new CoreError('malformed', 'checkpoint must end with a newline');
  const lines = text.slice(0, -1).split('\n');
  const [origin, sizeLine, rootLine] = lines;
  if (origin === undefined || sizeLine === undefined || rootLine === undefined) {
    throw new CoreError('malformed', 'checkpoint must have at least 3 lines (origin, size, root)');
  }
  if (origin.length === 0 || !isCleanLine(origin)) {
    throw new CoreError('malformed', 'checkpoint origin must be a non-empty line without control characters');
  }
  if (!/^(0|[1-9][0-9]*)$/.test(sizeLine)) {
    throw new CoreError('malformed', 'checkpoint size must be a decimal number without leading zeros');
  }
  const size = Number(sizeLine);
  if (!Number.isSafeInteger(size)) throw new CoreError('malformed', 'checkpoint size exceeds 2^53-1');
  const root = Buffer.from(rootLine, 'base64');
  if (
    !/^[A-Za-z0-9+/]{43}=$/.test(rootLine) ||
    root.toString('base64') !== rootLine ||
    root.length !== HASH_SIZE
  ) {
    throw new CoreError('malformed', `checkpoint root must be the canonical base64 of ${HASH_SIZE} bytes`);
  }
  for (const ext of lines.slice(3)) {
    if (ext.length === 0 || !isCleanLine(ext)) {
      throw new CoreError(
        'malformed',
        'checkpoint extension lines must be non-empty, without control characters',
      );
    }
  }
  return { origin, size, root };
}

/**
 * Formats and signs a checkpoint (design §7.3). The log's key name should be the origin.
 *
 * @example
 * const note = signCheckpoint({ origin: signer.name, size: cr.size, root: cr.root() }, [signer]);
 */
export function signCheckpoint(cp: Checkpoint, signers: readonly NoteSigner[]): string {
  return signNote(formatCheckpoint(cp), signers);
}

/**
 * Opens a signed checkpoint: verifies the note ({@link openNote}: NoteError 'malformed',
 * 'unknown_key', 'no_signature', 'bad_signature'), parses its text (NoteError('malformed') with the
 * parse error as cause), and requires that a trusted key named like the origin signed it and, if
 * given, that the origin is `expectedOrigin` (else NoteError('name_mismatch')). A witness
 * cosignature alone is not enough: it does not prove the log issued the checkpoint.
 *
 * @example
 * const { size, root, note: opened } = openCheckpoint(text, [logVerifier], 'audit.example.com/t/ten_7Q2x/prod');
 */
export function openCheckpoint(
  note: string,
  verifiers: readonly NoteVerifier[],
  expectedOrigin?: string,
): Checkpoint & { note: OpenedNote } {
  const opened = openNote(note, verifiers);
  let cp: Checkpoint;
  try {
    cp = parseCheckpoint(opened.text);
  } catch (e) {
    throw new NoteError('malformed', (e as Error).message, { cause: e });
  }
  if (expectedOrigin !== undefined && cp.origin !== expectedOrigin) {
    throw new NoteError(
      'name_mismatch',
      `checkpoint origin ${cp.origin} is not the expected ${expectedOrigin}`,
    );
  }
  // tlog-checkpoint §Signatures: the log's key name matches the origin.
  if (!opened.verifiedBy.includes(cp.origin)) {
    throw new NoteError(
      'name_mismatch',
      `checkpoint for ${cp.origin} is not signed by a trusted key of that name`,
    );
  }
  return { ...cp, note: opened };
}

/**
 * Reads a signed checkpoint's origin, size and root WITHOUT checking any signature: for choosing
 * which proof to compute, never for trusting it (use {@link openCheckpoint} for that). Throws
 * NoteError('malformed') when the note has no blank line before its signatures or its body does
 * not parse.
 *
 * @example
 * peekCheckpoint(savedNote).size // 1200
 */
export function peekCheckpoint(note: string): Checkpoint {
  const split = typeof note === 'string' ? note.lastIndexOf('\n\n') : -1;
  if (split < 0) throw new NoteError('malformed', 'not a signed note (no blank line before the signatures)');
  try {
    return parseCheckpoint(note.slice(0, split + 1));
  } catch (e) {
    throw new NoteError('malformed', (e as Error).message, { cause: e });
  }
}
