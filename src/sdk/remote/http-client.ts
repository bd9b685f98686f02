import { AUDIT_ERROR_HTTP_STATUS, AuditError, type AuditErrorCode } from '../../errors.js';

/**
 * An error answered by an auditrail server (an RFC 9457 problem) or met on the way to it. `code`
 * is the AuditError code of the problem's `type` (`https://auditrail.dev/problems/<code>`); the
 * HTTP layer's own problems map to the closest code (`unauthorized` → `key_failure`, `forbidden`
 * → `denied`, `rate_limited` → `queue_full`, `payload_too_large` and `bad_request` →
 * `invalid_argument`, `route_not_found` → `not_found`, `internal` → `store_failure`); the
 * problem's own code stays in `problem`. A server that cannot be reached is `store_failure`
 * with `status` 0.
 *
 * @example
 * catch (e) { if (e instanceof RemoteError && e.problem === 'unauthorized') console.error('check the API key') }
 */
export class RemoteError extends AuditError {
  override name = 'RemoteError';
  constructor(
    code: AuditErrorCode,
    message: string,
    /** HTTP status (0: no response). */
    readonly status: number,
    /** The problem code the server named (`unauthorized`, `rate_limited`…), or `network`. */
    readonly problem: string,
    /** Seconds the server asked to wait (`Retry-After`), when it did. */
    readonly retryAfterS?: number,
    options?: { cause?: unknown; errors?: unknown[] },
  ) {
    super(code, message, options?.cause !== undefined ? { cause: options.cause } : undefined);
    if (options?.errors !== undefined) this.errors = options.errors;
  }
  /** For `invalid_event`: the server's issues, each with the event's `index` in the batch. */
  errors?: unknown[];

  /** True when sending the same request again later may succeed (no response, 429, 5xx). */
  get retryable(): boolean {
    return this.status === 0 || this.status === 429 || this.status === 408 || this.status >= 500;
  }
}

const HTTP_PROBLEM_CODES: Record<string, AuditErrorCode> = {
  unauthorized: 'key_failure',
  forbidden: 'denied',
  rate_limited: 'queue_full',
  payload_too_large: 'invalid_argument',
  unsupported_media_type: 'invalid_argument',
  bad_request: 'invalid_argument',
  method_not_allowed: 'invalid_argument',
  route_not_found: 'not_found',
  internal: 'store_failure',
};

function codeOf(problem: string, status: number): AuditErrorCode {
  if (Object.hasOwn(AUDIT_ERROR_HTTP_STATUS, problem)) return problem as AuditErrorCode;
  const mapped = HTTP_PROBLEM_CODES[problem];
  if (mapped !== undefined) return mapped;
  if (status === 429) return 'queue_full';
  if (status >= 500) return 'store_failure';
  if (status === 404) return 'not_found';
  return 'invalid_argument';
}

function retryAfterSeconds(header: string | null): number | undefined {
  if (header === null) return undefined;
  if (/^\d{1,6}$/.test(header.trim())) return Number(header.trim());
  const at = Date.parse(header);
  return Number.isFinite(at) ? Math.max(0, (at - Date.now()) / 1000) : undefined;
}

export interface HttpClientOptions {
  /** Base URL of `auditrail serve`, e.g. `http://127.0.0.1:8700`. */
  url: string;
  apiKey: string;
  /** Abort one request after this many ms (default 30,000; long-polls add their wait). */
  requestTimeoutMs?: number;
}

export interface RequestOptions {
  body?: unknown;
  /** Extra time for a long-poll (added to the request timeout). */
  waitMs?: number;
  signal?: AbortSignal;
  /** Return the body as text (for `text/plain` routes). */
  text?: boolean;
}

/**
 * The HTTP side of the remote SDK: JSON requests with the API key over Node's global fetch
 * (undici, keep-alive connections), problems turned into {@link RemoteError}s. It never retries:
 * callers that may resend (idempotent by `event_id`) do, with {@link backoffMs}.
 */
export class HttpClient {
  readonly base: string;
  private readonly auth: string;
  private readonly timeoutMs: number;

  constructor(options: HttpClientOptions) {
    let u: URL;
    try {
      u = new URL(options.url);
    } catch (e) {
      throw new AuditError('invalid_argument', 'url is not a valid URL', { cause: e });
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:')
      throw new AuditError('invalid_argument', 'url must be http:// or https://');
    if (u.username !== '' || u.password !== '')
      throw new AuditError('invalid_argument', 'url must not hold credentials: pass apiKey');
    if (!/^[\x21-\x7e]{1,200}$/.test(options.apiKey))
      throw new AuditError('invalid_argument', 'apiKey must be 1-200 printable ASCII characters');
    this.base = u.origin + u.pathname.replace(/\/+$/, '');
    this.auth = `Bearer ${options.apiKey}`;
    this.timeoutMs = options.requestTimeoutMs ?? 30_000;
  }

  /** Sends one request; resolves with the parsed JSON body (or text), rejects with a RemoteError. */
  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const timeout = AbortSignal.timeout(this.timeoutMs + (options.waitMs ?? 0));
    const signal = options.signal ? AbortSignal.any([timeout, options.signal]) : timeout;
    const headers: Record<string, string> = { authorization: this.auth, accept: 'application/json' };
    let body: string | undefined;
    if (options.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = options.body instanceof RawJson ? options.body.text : JSON.stringify(options.body);
    }
    let res: Response;
    try {
      res = await fetch(this.base + path, {
        method,
        headers,
        ...(body !== undefined ? { body } : {}),
        signal,
      });
    } catch (e) {
      if (options.signal?.aborted) throw new AuditError('closed', 'the request was cancelled', { cause: e });
      const why = timeout.aborted ? 'timed out' : 'failed';
      // The URL has no credentials (checked above): safe to name.
      throw new RemoteError(
        'store_failure',
        `request to ${this.base} ${why}: ${causeText(e)}`,
        0,
        'network',
        undefined,
        {
          cause: e,
        },
      );
    }
    let text: string;
    try {
      text = await res.text();
    } catch (e) {
      throw new RemoteError(
        'store_failure',
        `reading the answer of ${this.base} failed`,
        0,
        'network',
        undefined,
        {
          cause: e,
        },
      );
    }
    if (res.ok) {
      if (options.text) return text as T;
      try {
        return (text === '' ? null : JSON.parse(text)) as T;
      } catch (e) {
        throw new RemoteError(
          'store_failure',
          `${this.base} answered with invalid JSON`,
          res.status,
          'internal',
          undefined,
          {
            cause: e,
          },
        );
      }
    }
    let p: { code?: unknown; detail?: unknown; errors?: unknown } = {};
    try {
      p = JSON.parse(text) as typeof p;
    } catch {
      // Not a problem document (a proxy's page): the status alone speaks.
    }
    const problem = typeof p.code === 'string' ? p.code : `http_${res.status}`;
    const detail = typeof p.detail === 'string' ? p.detail.slice(0, 2000) : `HTTP ${res.status}`;
    throw new RemoteError(
      codeOf(problem, res.status),
      `${method} ${path.split('?')[0]}: ${detail}`,
      res.status,
      problem,
      retryAfterSeconds(res.headers.get('retry-after')),
      Array.isArray(p.errors) ? { errors: p.errors } : undefined,
    );
  }
}

/** JSON text already serialised (spooled events), sent as is. */
export class RawJson {
  constructor(readonly text: string) {}
}

function causeText(e: unknown): string {
  const c = (e as { cause?: { code?: unknown; message?: unknown } }).cause;
  if (c && typeof c.code === 'string') return c.code;
  if (c && typeof c.message === 'string') return c.message;
  return e instanceof Error ? e.message : String(e);
}

/**
 * The wait before attempt `attempt` (1-based) of a resend: exponential from `baseMs` up to
 * `maxMs`, with full jitter (AWS architecture blog, "Exponential Backoff and Jitter"), and never
 * shorter than the server's `Retry-After`.
 *
 * @example
 * await sleep(backoffMs(3, 100, 5000, e.retryAfterS)); // 0-400 ms, or Retry-After
 */
export function backoffMs(
  attempt: number,
  baseMs: number,
  maxMs: number,
  retryAfterS?: number,
  random: () => number = Math.random,
): number {
  const cap = Math.min(maxMs, baseMs * 2 ** Math.min(attempt - 1, 30));
  const jittered = Math.floor(random() * cap);
  return retryAfterS !== undefined ? Math.max(jittered, Math.min(retryAfterS * 1000, 60_000)) : jittered;
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
