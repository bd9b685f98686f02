/**
 * The one error class core throws. Core is pure and imports nothing of ours but internal/, so it
 * cannot use `AuditError` (src/errors.ts); the SDK translates a `CoreError` into an `AuditError`
 * where it reaches a caller ({@link CoreError.code} says which).
 *
 * Codes: `malformed` (bytes or values that do not parse or break the format), `range` (an index
 * or size out of range), `mismatch` (a recomputed hash or root differs), `unknown_key`,
 * `no_signature`, `bad_signature`, `name_mismatch` (signed notes, see note.ts), `not_canonical`
 * (a value without an RFC 8785 form), `missing` (a tile or node the computation needs is absent).
 *
 * @example
 * try { parseLeaf(bytes) } catch (e) { if (e instanceof CoreError) e.code } // 'malformed'
 */
export type CoreErrorCode =
  | 'malformed'
  | 'range'
  | 'mismatch'
  | 'unknown_key'
  | 'no_signature'
  | 'bad_signature'
  | 'name_mismatch'
  | 'not_canonical'
  | 'missing';

/** See {@link CoreErrorCode}. Subclasses narrow `code` to the codes they raise. */
export class CoreError extends Error {
  override readonly name: string = 'CoreError';
  readonly code: CoreErrorCode;

  constructor(code: CoreErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}
