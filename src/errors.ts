/**
 * The few error classes auditrail throws. Each carries a typed `code` so callers can branch
 * without parsing messages, and a `cause` where one exists.
 *
 * @example
 * try { await trail.record(event); } catch (e) { if (e instanceof ValidationError) console.error(e.issues); }
 */
export type AuditErrorCode =
  | 'invalid_event'
  | 'invalid_argument'
  | 'not_found'
  | 'closed'
  | 'queue_full'
  | 'store_failure'
  | 'conflict'
  | 'key_failure'
  | 'proof_invalid'
  /** A writing method was called on a trail or store opened with `readonly: true`. */
  | 'read_only'
  /** The file given as the database is not an auditrail database (or is empty, or not a file). */
  | 'not_audit_database';

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
