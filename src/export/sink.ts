import type { RecordedEvent } from '../event/types.js';

/** One event ready to send: the event, its record in the sink's format, and that record as JSON. */
export interface ExportRecord {
  event: RecordedEvent;
  record: Record<string, unknown>;
  json: string;
}

/**
 * What a sink reports for one batch. `retry`: a passing failure (network, 408, 429, 5xx); the
 * pipeline sends the same batch again after `retryAfterMs` or its backoff. `permanent`: the
 * receiver refused this batch for good (other 4xx); it goes to the dead letters.
 */
export type SendResult =
  | { kind: 'ok' }
  | { kind: 'retry'; status: number | null; detail: string; retryAfterMs?: number }
  | { kind: 'permanent'; status: number | null; detail: string };

/**
 * A destination. Sinks never throw, never batch and never retry (the pipeline does both): `send`
 * delivers one batch once and reports how it went. Syslog, CEF and OTLP sinks plug in here.
 */
export interface Sink {
  /** Bounds the receiver sets on one request; the pipeline's batches stay within them. */
  readonly limits: { maxEvents?: number; maxBytes?: number; maxRecordBytes?: number };
  send(batch: readonly ExportRecord[]): Promise<SendResult>;
  close(): Promise<void>;
}

/** Parses Retry-After (seconds or an HTTP date) into ms from `now`; undefined when absent or invalid. */
export function retryAfterMs(header: string | null, now: number): number | undefined {
  if (header === null) return undefined;
  const s = header.trim();
  if (/^\d{1,9}$/.test(s)) return Number(s) * 1000;
  const t = Date.parse(s);
  return Number.isFinite(t) ? Math.max(0, t - now) : undefined;
}

/** HTTP status → result: 2xx ok; 408, 429 and 5xx retry; any other status is permanent. */
export function classify(status: number, body: string, retryAfter: number | undefined): SendResult {
  if (status >= 200 && status < 300) return { kind: 'ok' };
  const detail = `HTTP ${status}${body ? `: ${body}` : ''}`;
  if (status === 408 || status === 429 || status >= 500)
    return retryAfter === undefined
      ? { kind: 'retry', status, detail }
      : { kind: 'retry', status, detail, retryAfterMs: retryAfter };
  return { kind: 'permanent', status, detail };
}

/**
 * A request body assembled from string pieces and encoded once into a buffer of the exact size:
 * no joined string is made, and the size in bytes is known as it grows (for a receiver's limits).
 *
 * @example
 * const body = new Utf8Body();
 * body.push('[');
 * body.push(json);
 * body.push(']');
 * post(url, headers, body.toBuffer(), 30_000);
 */
export class Utf8Body {
  private readonly parts: string[] = [];
  /** Size in bytes of the UTF-8 of every piece pushed so far. */
  bytes = 0;

  /** Appends `s`, whose UTF-8 size is `bytes` when the caller has counted it already. */
  push(s: string, bytes: number = Buffer.byteLength(s)): void {
    this.parts.push(s);
    this.bytes += bytes;
  }

  toBuffer(): Buffer {
    const out = Buffer.allocUnsafe(this.bytes);
    let at = 0;
    for (const p of this.parts) at += out.write(p, at);
    return out;
  }
}

const MAX_BODY_TEXT = 2048;

/**
 * POSTs `body` and classifies the answer; a network error or timeout is a `retry`. The request's
 * headers (tokens) never appear in the result.
 */
export async function post(
  url: string,
  headers: Record<string, string>,
  body: string | Buffer,
  timeoutMs: number,
  check?: (status: number, text: string) => SendResult | undefined,
): Promise<SendResult> {
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers,
      // Encoded here: Buffer's UTF-8 encoder is faster than the TextEncoder fetch would use.
      body: typeof body === 'string' ? Buffer.from(body) : body,
      signal: AbortSignal.timeout(timeoutMs),
      redirect: 'error',
    });
    const text = (await res.text()).slice(0, MAX_BODY_TEXT);
    const checked = check?.(res.status, text);
    if (checked) return checked;
    return classify(res.status, text, retryAfterMs(res.headers.get('retry-after'), Date.now()));
  } catch (e) {
    const err = e as Error & { cause?: { code?: string } };
    const why =
      err.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (err.cause?.code ?? err.message);
    return { kind: 'retry', status: null, detail: `request failed: ${why}` };
  }
}
