import { AUDIT_ERROR_HTTP_STATUS, AuditError, ValidationError, type AuditErrorCode } from '../errors.js';

/**
 * Problems the HTTP layer itself raises (no AuditError behind them). Together with
 * {@link AuditErrorCode} they form the stable problem `type`s of the API.
 */
export type HttpProblemCode =
  | 'bad_request'
  | 'unauthorized'
  | 'forbidden'
  | 'route_not_found'
  | 'method_not_allowed'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'rate_limited'
  | 'internal';

export type ProblemCode = AuditErrorCode | HttpProblemCode;

const HTTP_STATUS: Readonly<Record<HttpProblemCode, number>> = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  route_not_found: 404,
  method_not_allowed: 405,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  internal: 500,
};

/** Base of every problem `type` URI: `https://auditrail.dev/problems/<code>` (docs/server.md). */
export const PROBLEM_BASE = 'https://auditrail.dev/problems/';

/** The one map from code to problem type and status. */
export function problemType(code: ProblemCode): { type: string; status: number } {
  const status =
    (AUDIT_ERROR_HTTP_STATUS as Record<string, number>)[code] ?? HTTP_STATUS[code as HttpProblemCode];
  return { type: `${PROBLEM_BASE}${code}`, status };
}

/** Every problem code the API can answer with (listed in OpenAPI and docs/server.md). */
export const PROBLEM_CODES: readonly ProblemCode[] = [
  ...(Object.keys(AUDIT_ERROR_HTTP_STATUS) as AuditErrorCode[]),
  ...(Object.keys(HTTP_STATUS) as HttpProblemCode[]),
];

/** An RFC 9457 problem details object. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: ProblemCode;
  /** For invalid events: each issue with the event's index in the batch. */
  errors?: { index: number; field: string; rule: string; message: string }[];
  [extension: string]: unknown;
}

const TITLES: Partial<Record<ProblemCode, string>> = {
  invalid_event: 'Invalid event',
  unauthorized: 'Authentication required',
  forbidden: 'Not allowed',
  not_found: 'Not found',
  route_not_found: 'No such route',
  rate_limited: 'Too many requests',
  internal: 'Internal error',
};

/** A problem for `code` with `detail` (and extension members). */
export function problem(code: ProblemCode, detail: string, extra: Record<string, unknown> = {}): Problem {
  const { type, status } = problemType(code);
  return { type, title: TITLES[code] ?? code.replace(/_/g, ' '), status, detail, code, ...extra };
}

/** An error raised on purpose by a route: carries its problem. */
export class HttpProblem extends Error {
  override name = 'HttpProblem';
  constructor(readonly problem: Problem) {
    super(problem.detail);
  }
}

/** Throws a problem from a route handler. */
export function fail(code: ProblemCode, detail: string, extra: Record<string, unknown> = {}): never {
  throw new HttpProblem(problem(code, detail, extra));
}

/**
 * The problem for any error a route threw. AuditErrors keep their code (a ValidationError lists its
 * issues, at `index` 0 unless the caller said otherwise); Fastify's own errors (body too large,
 * bad JSON, wrong content type, schema) become the matching HTTP problem; anything else is an
 * internal error whose message is not shown (it is logged, redacted).
 */
export function problemOf(e: unknown): Problem {
  if (e instanceof HttpProblem) return e.problem;
  if (e instanceof ValidationError) {
    return problem('invalid_event', e.message, {
      errors: e.issues.map((i) => ({ index: 0, ...i })),
    });
  }
  if (e instanceof AuditError) {
    // Server-side failures say what failed, not where (no paths, no SQL).
    const internal =
      e.code === 'store_failure' || e.code === 'key_failure' || e.code === 'not_audit_database';
    return problem(e.code, internal ? `${e.code.replace(/_/g, ' ')}` : e.message);
  }
  const f = e as { statusCode?: unknown; code?: unknown; message?: unknown; validation?: unknown };
  if (typeof f.statusCode === 'number' && f.statusCode >= 400 && f.statusCode < 500) {
    const code =
      f.statusCode === 413
        ? 'payload_too_large'
        : f.statusCode === 415
          ? 'unsupported_media_type'
          : f.statusCode === 429
            ? 'rate_limited'
            : f.statusCode === 404
              ? 'route_not_found'
              : f.statusCode === 405
                ? 'method_not_allowed'
                : 'bad_request';
    const message = typeof f.message === 'string' ? f.message.slice(0, 500) : 'bad request';
    return problem(code, message);
  }
  return problem('internal', 'the server could not complete the request');
}
