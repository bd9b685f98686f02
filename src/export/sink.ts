import http from 'node:http';
import https from 'node:https';
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

/**
 * A sink whose request is the records' parts joined: it turns each record into its part of the
 * body as soon as the record is read, and a batch waiting for its turn (or for a retry) holds
 * those bytes, outside the JavaScript heap, instead of event objects that the garbage collector
 * would copy again and again. `send(batch)` encodes the batch, then sends it.
 */
export interface EncodingSink extends Sink {
  /** The record's part of a request body, as text; never throws. */
  encode(record: ExportRecord): string;
  /** Delivers the records whose parts these are, once, as `send` does. */
  sendEncoded(parts: EncodedParts): Promise<SendResult>;
}

/** Whether `sink` encodes records as they are read (see {@link EncodingSink}). */
export function isEncodingSink(sink: Sink): sink is EncodingSink {
  return 'encode' in sink && 'sendEncoded' in sink;
}

/** An {@link EncodingSink} from its two functions. */
export function encodingSink(
  limits: Sink['limits'],
  encode: (record: ExportRecord) => string,
  sendEncoded: (parts: EncodedParts) => Promise<SendResult>,
): EncodingSink {
  return {
    limits,
    encode,
    sendEncoded,
    send: (batch) => {
      const parts = new EncodedParts();
      for (const r of batch) parts.add(encode(r));
      return sendEncoded(parts);
    },
    close: () => Promise.resolve(),
  };
}

/** Size of the buffers parts are written into (a part larger than this gets a buffer of its own). */
const PARTS_CHUNK = 1 << 20;

/**
 * Buffers that {@link EncodedParts} write into, handed back once their batch is delivered: a
 * pipeline reuses the same few megabytes instead of allocating them for every batch (memory
 * outside the heap that grows by the batch makes V8 collect the whole heap more often).
 */
export class ChunkPool {
  private readonly free: Buffer[] = [];
  constructor(private readonly keep = 16) {}

  take(size: number): Buffer {
    return size <= PARTS_CHUNK
      ? (this.free.pop() ?? Buffer.allocUnsafe(PARTS_CHUNK))
      : Buffer.allocUnsafe(size);
  }

  give(chunks: readonly Buffer[]): void {
    for (const c of chunks) if (c.length === PARTS_CHUNK && this.free.length < this.keep) this.free.push(c);
  }
}

/**
 * The parts of a request body as UTF-8, written one after another into large buffers as they
 * are made: no buffer per part, and nothing of them on the JavaScript heap.
 *
 * @example
 * const parts = new EncodedParts();
 * parts.add('1');
 * parts.add('2');
 * parts.join('[', ',', ']').toString() // '[1,2]'
 */
export class EncodedParts {
  private readonly chunks: Buffer[] = [];
  private used = 0;
  /** Per part: its chunk, start and end. */
  private readonly where: number[] = [];

  constructor(private readonly pool: ChunkPool = new ChunkPool(0)) {}

  /** How many parts there are. */
  get length(): number {
    return this.where.length / 3;
  }

  add(text: string): void {
    const n = Buffer.byteLength(text);
    let chunk = this.chunks[this.chunks.length - 1];
    if (chunk === undefined || this.used + n > chunk.length) {
      chunk = this.pool.take(n);
      this.chunks.push(chunk);
      this.used = 0;
    }
    chunk.write(text, this.used);
    this.where.push(this.chunks.length - 1, this.used, this.used + n);
    this.used += n;
  }

  /** Size in bytes of part `i`. */
  size(i: number): number {
    return this.where[3 * i + 2]! - this.where[3 * i + 1]!;
  }

  /**
   * `open`, parts `from` to `to` (exclusive) separated by `separator`, then `close`, as pieces
   * to write one after another: views of the parts' buffers, nothing copied.
   */
  pieces(open: string, separator: string, close: string, from = 0, to = this.length): Buffer[] {
    const sep = Buffer.from(separator);
    const out: Buffer[] = [Buffer.from(open)];
    for (let i = from; i < to; i++) {
      const w = 3 * i;
      const chunk = this.chunks[this.where[w]!]!;
      const start = this.where[w + 1]!;
      const end = this.where[w + 2]!;
      if (i > from) out.push(sep);
      out.push(chunk.subarray(start, end));
    }
    out.push(Buffer.from(close));
    return out;
  }

  /**
   * {@link pieces} in one buffer: `into` (from its start) when it is large enough, which the
   * caller then must not reuse while the result is in use, else a new one.
   */
  join(open: string, separator: string, close: string, from = 0, to = this.length, into?: Buffer): Buffer {
    const pieces = this.pieces(open, separator, close, from, to);
    let size = 0;
    for (const p of pieces) size += p.length;
    const out = into !== undefined && into.length >= size ? into.subarray(0, size) : Buffer.allocUnsafe(size);
    let at = 0;
    for (const p of pieces) at += p.copy(out, at);
    return out;
  }

  /** Hands the buffers back to the pool; the parts are gone. */
  release(): void {
    this.pool.give(this.chunks);
    this.chunks.length = 0;
    this.where.length = 0;
    this.used = 0;
  }
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
 * POSTs `body` (text, bytes, or bytes in pieces written one after another) and classifies the answer; a network error, a timeout or a redirect (never
 * followed) is a `retry`. The request's headers (tokens) never appear in the result. Node's own
 * HTTP client on its keep-alive agent: the body is written as it is, not copied into a stream.
 */
export function post(
  url: string,
  headers: Record<string, string>,
  body: string | Buffer | readonly Buffer[],
  timeoutMs: number,
  check?: (status: number, text: string) => SendResult | undefined,
): Promise<SendResult> {
  return new Promise((resolve) => {
    const failure = (why: string): SendResult => ({
      kind: 'retry',
      status: null,
      detail: `request failed: ${why}`,
    });
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      return resolve(failure('Invalid URL'));
    }
    const transport = target.protocol === 'https:' ? https : target.protocol === 'http:' ? http : undefined;
    if (transport === undefined) return resolve(failure(`unsupported protocol ${target.protocol}`));
    const pieces = typeof body === 'string' ? [Buffer.from(body)] : Buffer.isBuffer(body) ? [body] : body;
    let length = 0;
    for (const p of pieces) length += p.length;
    let settled = false;
    // Settles once: the first of the answer, an error and the timeout.
    const done = (result: SendResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
    };
    const failed = (why: string): void => done(failure(why));
    const req = transport.request(
      target,
      { method: 'POST', headers: { ...headers, 'content-length': String(length) } },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          // Read to the end (the connection is reused), kept only up to what a detail shows.
          if (size < MAX_BODY_TEXT * 4) chunks.push(c);
          size += c.length;
        });
        res.on('error', (e: NodeJS.ErrnoException) => failed(e.code ?? e.message));
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          const text = Buffer.concat(chunks).toString('utf8').slice(0, MAX_BODY_TEXT);
          if (status >= 300 && status < 400) return failed(`HTTP ${status}: redirects are not followed`);
          const checked = check?.(status, text);
          if (checked) return done(checked);
          done(classify(status, text, retryAfterMs(res.headers['retry-after'] ?? null, Date.now())));
        });
      },
    );
    const timer = setTimeout(() => {
      failed(`no answer within ${timeoutMs} ms`);
      req.destroy();
    }, timeoutMs);
    req.on('error', (e: NodeJS.ErrnoException) => failed(e.code ?? e.message));
    for (const p of pieces) req.write(p);
    req.end();
  });
}
