import { CoreError } from './core/errors.js';

/**
 * The error classes auditrail throws. Each carries a typed `code` so callers can branch
 * without parsing messages, and a `cause` where one exists. The codes are stable: each will map
 * one-to-one to an HTTP problem type (docs/sdk.md, "Errors").
 *
 * @example
 * try { await trail.record(event); } catch (e) { if (e instanceof ValidationError) console.error(e.issues); }
 */
export type AuditErrorCode =
  /** An event failed its schema: nothing of it was stored. */
  | 'invalid_event'
  /** An argument, id, name or option the caller passed is not valid. */
  | 'invalid_argument'
  /** The log, event, approval or checkpoint asked for does not exist. */
  | 'not_found'
  /** The trail was closed, or the caller cancelled. */
  | 'closed'
  /** Fire-and-forget queue full: back-pressure, retry after `drain()`. */
  | 'queue_full'
  /** The store could not be read or written. */
  | 'store_failure'
  /** The request contradicts the stored state (already decided, used, smaller checkpoint…). */
  | 'conflict'
  /** A signing or verifier key is missing, unreadable or for another log. */
  | 'key_failure'
  /** A proof, checkpoint or stored record does not parse or does not verify. */
  | 'proof_invalid'
  /** The policy (or an approver) refused the action. */
  | 'denied'
  /** The action waits for a human approval that was not given yet. */
  | 'approval_required'
  /** A policy bundle failed to parse or compile. */
  | 'policy_invalid'
  /** A policy file could not be read (missing, unreadable, too large). */
  | 'policy_unreadable'
  /** A governed action ran out of its time. */
  | 'timeout'
  /** A writing method was called on a trail or store opened with `readonly: true`. */
  | 'read_only'
  /** The file given as the database is not an auditrail database (or is empty, or not a file). */
  | 'not_audit_database';

/**
 * The HTTP status each code will map to (an RFC 9457 problem type per code), and the complete list
 * of codes: a code added to {@link AuditErrorCode} does not compile until it has a row here and in
 * docs/sdk.md ("Errors"), which a test compares with this map.
 *
 * @example
 * AUDIT_ERROR_HTTP_STATUS['denied'] // 403
 */
export const AUDIT_ERROR_HTTP_STATUS: Readonly<Record<AuditErrorCode, number>> = {
  invalid_event: 422,
  invalid_argument: 400,
  not_found: 404,
  closed: 503,
  queue_full: 429,
  store_failure: 503,
  conflict: 409,
  key_failure: 500,
  proof_invalid: 422,
  denied: 403,
  approval_required: 403,
  policy_invalid: 422,
  policy_unreadable: 400,
  timeout: 504,
  read_only: 409,
  not_audit_database: 500,
};

/** Base class: every error auditrail raises on purpose is an AuditError. */
export class AuditError extends Error {
  override name = 'AuditError';
  constructor(
    readonly code: AuditErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** One problem found in an event: the JSON pointer of the field and the rule it broke. */
export interface ValidationIssue {
  /** RFC 6901 pointer of the offending field ('' for the event itself). */
  field: string;
  /** The rule, e.g. `required`, `enum`, `maxLength`, `format`. */
  rule: string;
  message: string;
}

/**
 * A bad event: nothing of it was stored. `message` names the first field and rule; `issues` has all.
 *
 * @example
 * // ValidationError: invalid event: /actor/type must be one of agent, user, service, system (enum)
 */
export class ValidationError extends AuditError {
  override name = 'ValidationError';
  constructor(readonly issues: ValidationIssue[]) {
    const first = issues[0];
    super(
      'invalid_event',
      first
        ? `invalid event: ${first.field || '(event)'} ${first.message} (${first.rule})` +
            (issues.length > 1 ? ` and ${issues.length - 1} more issue(s)` : '')
        : 'invalid event',
    );
  }
}

/**
 * A core error (malformed bytes, a failed proof or signature, a missing tile, a value with no
 * canonical form) as the AuditError a caller sees, with the core error as its `cause`; anything
 * else is returned unchanged. `what` prefixes the message. Codes: `missing` → `store_failure`
 * (the store lacks what the log needs), `not_canonical` → `invalid_argument`, the rest →
 * `proof_invalid`.
 *
 * @example
 * try { return inclusionProof(seq, size, reader) } catch (e) { throw fromCoreError(e, 'proof') }
 */
export function fromCoreError(e: unknown, what?: string): unknown {
  if (!(e instanceof CoreError)) return e;
  const code: AuditErrorCode =
    e.code === 'missing'
      ? 'store_failure'
      : e.code === 'not_canonical'
        ? 'invalid_argument'
        : 'proof_invalid';
  return new AuditError(code, what === undefined ? e.message : `${what}: ${e.message}`, { cause: e });
}
