import type { Receipt } from '../../core/append-plan.js';
import type { ProofBundle } from '../../core/proof-bundle.js';
import { AuditError } from '../../errors.js';
import type { AuditEvent, RecordedEvent } from '../../event/types.js';
import { validateEvent } from '../../event/validate.js';
import { uuidv7 } from '../../internal/ids.js';
import { isoTime, nowMs } from '../../internal/time.js';
import {
  createRedactor,
  type RedactionOptions,
  type RedactionResult,
  type Redactor,
} from '../../redact/index.js';
import type { EventFilter } from '../../store/store.js';
import type { QueryOptions, QueryPage } from '../audit-trail.js';
import { BatchingWriter } from '../batching-writer.js';
import { REDACTORS } from '../internals.js';
import { backoffMs, HttpClient, RawJson, RemoteError, sleep } from './http-client.js';
import { Spool, type SpooledRow, type SpoolStatus } from './spool.js';

export interface RemoteAuditTrailOptions {
  /** Base URL of `auditrail serve` (`http://127.0.0.1:8700`); credentials go in `apiKey`, never here. */
  url: string;
  /** An API key of the server (`auditrail apikeys create`): its tenant is the log written to. */
  apiKey: string;
  /**
   * A spool directory: `record()` then resolves once the event is fsynced there, and a background
   * sender delivers it (default: no spool, `record()` resolves on the server's receipt).
   */
  spool?: string;
  /** Bound on the bytes waiting in the spool (default 256 MiB); past it `record()` rejects `queue_full`. */
  spoolMaxBytes?: number;
  /** Bound on the events waiting in the spool (default 1,000,000). */
  spoolMaxEvents?: number;
  /**
   * The key's tenant, when a Governor with a local policy evaluates actions (the policy sees the
   * tenant); events carry it only if they name it themselves (the server fills it in).
   */
  tenant?: string;
  /** Extra redaction rules: events are redacted here, before they are spooled or sent. */
  redaction?: RedactionOptions;
  /** Events per request (default 100; the server takes up to 1,000). */
  maxBatch?: number;
  /** Fire-and-forget: queue length where `emit` starts returning false (default 10,000). */
  highWaterMark?: number;
  /** Fire-and-forget: hard bound on the in-memory queue (default 100,000). */
  maxQueue?: number;
  /** Without a spool: how long a write keeps resending while the server is unreachable (default 30,000 ms). */
  deliveryTimeoutMs?: number;
  /** One request's timeout (default 30,000 ms). */
  requestTimeoutMs?: number;
  /** First resend delay (default 100 ms), doubled up to `retryMaxMs` (default 5,000), with jitter. */
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** With a spool: how long `close()` keeps delivering before it leaves the rest spooled (default 5,000 ms). */
  closeTimeoutMs?: number;
  /** Called when a background delivery fails (it is retried) or an event is refused for good. */
  onError?: (error: unknown) => void;
  /** Injected clock (epoch ms) for event times and ids. */
  now?: () => number;
  /** Injected event id source (default UUIDv7). */
  ids?: () => string;
}

/**
 * The receipt of an event recorded through a spool: durable on this machine, not yet in the log.
 * Its `seq` and `leaf_hash` come with the server's receipt (see {@link RemoteAuditTrail.flush}).
 */
export interface SpooledReceipt {
  event_id: string;
  spooled: true;
}

interface ServerReceipt {
  seq: number;
  event_id: string;
  leaf_hash: string;
}

/**
 * Validates, names (event_id, time) and redacts an event before it leaves the process: what the
 * remote trail spools or sends and what the NATS producer publishes.
 */
export function prepareOutgoing(
  event: AuditEvent,
  tenant: string | undefined,
  ids: () => string,
  now: () => number,
  redactor: Redactor,
): AuditEvent & { event_id: string } {
  validateEvent(event);
  if (tenant !== undefined && event.tenant !== undefined && event.tenant !== tenant) {
    throw new AuditError(
      'invalid_argument',
      `event tenant ${event.tenant} is not the trail's tenant ${tenant}`,
    );
  }
  // The id and time are fixed here, so a resend is the same event (the server dedupes by id).
  const { redacted: _ours, ...body } = {
    ...event,
    event_id: event.event_id ?? ids(),
    time: event.time ?? isoTime(now()),
  };
  // The one redactor rule (DESIGN §1): nothing leaves the process unredacted, spool included.
  return redactor(body).value;
}

/** Largest body one delivery request carries (the server takes 5 MB). */
const MAX_REQUEST_BYTES = 2 * 1024 * 1024;
/** Receipts kept for the next `flush()` of a spooled trail. */
const MAX_KEPT_RECEIPTS = 100_000;

/** @internal the HTTP client of each remote trail, for the Governor; not exported by the package. */
export const REMOTE_CLIENTS = new WeakMap<object, HttpClient>();

/**
 * An audit trail whose log is kept by an `auditrail serve` (docs/remote.md): the same `record`,
 * `emit`, `flush`, `query`, `get`, `count`, `prove`, `latestCheckpoint` and `close` as the
 * embedded trail, over HTTP. Create it with `openAuditTrail({ url, apiKey })`.
 *
 * @example
 * const trail = await openAuditTrail({ url: 'http://127.0.0.1:8700', apiKey, spool: './.auditrail/spool' });
 * await trail.record({ type: 'action.intent', actor: { type: 'agent', id: 'bot' }, action: { type: 'read:order' } });
 * await trail.flush(); // every spooled event acknowledged
 * await trail.close();
 */
export class RemoteAuditTrail<R extends Receipt | SpooledReceipt = Receipt | SpooledReceipt> {
  /** The server's base URL. */
  readonly url: string;
  /** The tenant given in the options (the server knows it from the key). */
  readonly tenant: string | undefined;
  readonly readonly = false;
  private readonly client: HttpClient;
  private readonly redactor: Redactor;
  private readonly now: () => number;
  private readonly ids: () => string;
  private readonly writer: BatchingWriter<AuditEvent, Receipt> | null = null;
  private readonly spool: Spool | null = null;
  private closed = false;
  private closing: AbortController = new AbortController();
  // Spool path: events waiting for this turn's fsynced transaction.
  private group: { event_id: string; body: string; done?: (e?: Error) => void }[] = [];
  private groupScheduled = false;
  private groupBytes = 0;
  private drainWaiters: (() => void)[] = [];
  private receipts: Receipt[] = [];
  private wake: (() => void) | null = null;
  private sender: Promise<void> | null = null;
  private flushWaiters: (() => void)[] = [];
  private lastError: unknown = null;

  /** @internal use `openAuditTrail({ url, apiKey })`. */
  constructor(private readonly options: RemoteAuditTrailOptions) {
    this.client = new HttpClient({
      url: options.url,
      apiKey: options.apiKey,
      ...(options.requestTimeoutMs !== undefined ? { requestTimeoutMs: options.requestTimeoutMs } : {}),
    });
    REMOTE_CLIENTS.set(this, this.client);
    this.url = this.client.base;
    this.tenant = options.tenant;
    this.redactor = createRedactor(options.redaction);
    REDACTORS.set(this, this.redactor);
    this.now = options.now ?? nowMs;
    const now = this.now;
    this.ids = options.ids ?? (() => uuidv7(now()));
    const maxBatch = options.maxBatch ?? 100;
    if (!Number.isSafeInteger(maxBatch) || maxBatch < 1 || maxBatch > 1000)
      throw new AuditError('invalid_argument', 'maxBatch must be an integer from 1 to 1000');
    if (options.spool !== undefined) {
      this.spool = Spool.open(options.spool, {
        ...(options.spoolMaxBytes !== undefined ? { maxBytes: options.spoolMaxBytes } : {}),
        ...(options.spoolMaxEvents !== undefined ? { maxEvents: options.spoolMaxEvents } : {}),
      });
      this.sender = this.sendLoop(maxBatch);
    } else {
      this.writer = new BatchingWriter<AuditEvent, Receipt>({
        flush: (items) => this.deliver(items),
        maxBatch,
        // One request at a time: the server receives a producer's events in its order.
        maxInFlight: 1,
        ...(options.highWaterMark !== undefined ? { highWaterMark: options.highWaterMark } : {}),
        ...(options.maxQueue !== undefined ? { maxQueue: options.maxQueue } : {}),
        onError: (e) => this.reportError(e),
      });
    }
  }

  /** True when this trail records into a local spool. */
  get spooled(): boolean {
    return this.spool !== null;
  }

  /**
   * Redacts `value` with this trail's rules (its `redaction` options), as an event is redacted
   * before it is spooled or sent: for data an app keeps beside the log (a framework's checkpoint,
   * a ticket) that must not hold what the log itself would not.
   */
  redact<T>(value: T): RedactionResult<T> {
    return this.redactor(value);
  }

  private reportError(e: unknown): void {
    this.lastError = e;
    if (this.options.onError) this.options.onError(e);
    else process.emitWarning(`auditrail: ${(e as Error).message ?? String(e)}`, 'AuditTrailWarning');
  }

  /** Validates, names (event_id, time) and redacts an event: what is spooled or sent. */
  private prepare(event: AuditEvent): AuditEvent & { event_id: string } {
    return prepareOutgoing(event, this.tenant, this.ids, this.now, this.redactor);
  }

  private refuseClosed(): AuditError | null {
    return this.closed ? new AuditError('closed', 'the audit trail is closed') : null;
  }

  /**
   * Records one event. Without a spool, resolves with the server's receipt once the event is
   * durable in the log (resending while the server is unreachable, up to `deliveryTimeoutMs`).
   * With a spool, resolves with `{ event_id, spooled: true }` once it is fsynced in the spool;
   * rejects with `queue_full` (naming the bound) when the spool is full. A bad event rejects
   * with a ValidationError; nothing of it is spooled or sent.
   */
  record(event: AuditEvent): Promise<R> {
    const closed = this.refuseClosed();
    if (closed) return Promise.reject(closed);
    let prepared: AuditEvent & { event_id: string };
    try {
      prepared = this.prepare(event);
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new AuditError('invalid_argument', 'event rejected'));
    }
    if (this.writer) return this.writer.write(prepared) as Promise<R>;
    return new Promise<R>((resolve, reject) => {
      try {
        this.addToGroup(prepared, (e) =>
          e === undefined ? resolve({ event_id: prepared.event_id, spooled: true } as R) : reject(e),
        );
      } catch (e) {
        reject(e instanceof Error ? e : new AuditError('store_failure', String(e)));
      }
    });
  }

  /**
   * Fire-and-forget: validates and queues the event (in memory, or in the spool's next
   * transaction). Returns false above the high-water mark: await {@link drain}. Throws when the
   * event is invalid or a bound is reached; nothing queued is dropped.
   */
  emit(event: AuditEvent): boolean {
    const closed = this.refuseClosed();
    if (closed) throw closed;
    const prepared = this.prepare(event);
    if (this.writer) return this.writer.enqueue(prepared);
    this.addToGroup(prepared);
    return this.group.length < (this.options.highWaterMark ?? 10_000);
  }

  private addToGroup(event: AuditEvent & { event_id: string }, done?: (e?: Error) => void): void {
    const spool = this.spool!;
    const body = JSON.stringify(event);
    const bytes = Buffer.byteLength(body);
    // The bounds are checked now, so a full spool is the caller's error, never a silent drop.
    if (spool.size + this.group.length + 1 > spool.maxEvents) {
      throw new AuditError(
        'queue_full',
        `the spool ${spool.dir} is full: ${spool.size + this.group.length} events waiting, bound spoolMaxEvents ${spool.maxEvents}`,
      );
    }
    if (this.spoolBytes() + this.groupBytes + bytes > spool.maxBytes) {
      throw new AuditError(
        'queue_full',
        `the spool ${spool.dir} is full: ${this.spoolBytes() + this.groupBytes} bytes waiting, bound spoolMaxBytes ${spool.maxBytes}`,
      );
    }
    this.group.push({ event_id: event.event_id, body, ...(done ? { done } : {}) });
    this.groupBytes += bytes;
    if (!this.groupScheduled) {
      this.groupScheduled = true;
      // One fsynced transaction for every event recorded in this turn of the event loop.
      setImmediate(() => this.commitGroup());
    }
  }

  private spoolBytes(): number {
    return this.spool!.bytesWaiting;
  }

  private commitGroup(): void {
    this.groupScheduled = false;
    const group = this.group;
    this.group = [];
    this.groupBytes = 0;
    if (group.length === 0) return;
    let error: Error | undefined;
    try {
      this.spool!.add(group);
    } catch (e) {
      error = e instanceof Error ? e : new AuditError('store_failure', String(e));
    }
    for (const g of group) {
      if (g.done) g.done(error);
      else if (error !== undefined) this.reportError(error);
    }
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of waiters) w();
    this.wake?.();
  }

  /** Resolves when the fire-and-forget queue is below its high-water mark. */
  drain(): Promise<void> {
    if (this.writer) return this.writer.drain();
    if (this.group.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /** Events recorded but not yet acknowledged by the server (spooled ones included). */
  get pending(): number {
    if (this.writer) return this.writer.pending;
    return this.group.length + this.spool!.size;
  }

  /**
   * Waits until every event recorded so far is in the server's log, and resolves with the
   * receipts (seq, leaf hash) of the events acknowledged since the previous flush (spooled
   * trails keep the latest 100,000; without a spool `record()` already returned them, and the
   * list is empty). Rejects when the trail is closed first.
   */
  async flush(): Promise<Receipt[]> {
    if (this.writer) {
      await this.writer.flush();
      return [];
    }
    if (this.groupScheduled) this.commitGroup();
    while (this.spool!.size > 0) {
      if (this.closed)
        throw new AuditError('closed', 'the audit trail closed before the spool was delivered');
      this.wake?.();
      await new Promise<void>((r) => this.flushWaiters.push(r));
    }
    const out = this.receipts;
    this.receipts = [];
    return out;
  }

  // -------------------------------------------------------------------------------------------
  // Delivery
  // -------------------------------------------------------------------------------------------

  /** Sends a batch, resending while the server is unreachable; one result per event. */
  private async deliver(items: AuditEvent[]): Promise<(Receipt | Error)[]> {
    const deadline = Date.now() + (this.options.deliveryTimeoutMs ?? 30_000);
    for (let attempt = 1; ; attempt++) {
      try {
        const r = await this.client.request<{ receipts: ServerReceipt[] }>('POST', '/v1/events', {
          body: items,
          signal: this.closing.signal,
        });
        return r.receipts.map(receiptOf);
      } catch (e) {
        if (e instanceof RemoteError && e.retryable) {
          const wait = this.backoff(attempt, e);
          if (Date.now() + wait > deadline) throw e;
          await sleep(wait);
          continue;
        }
        // Refused for good: sent one by one, so each event gets its own answer (resending the
        // accepted ones is safe: the server dedupes by event_id).
        if (items.length > 1) {
          const out: (Receipt | Error)[] = [];
          for (const item of items) out.push(...(await this.deliver([item]).catch((x: Error) => [x])));
          return out;
        }
        return [e instanceof Error ? e : new AuditError('store_failure', String(e))];
      }
    }
  }

  private backoff(attempt: number, e: RemoteError): number {
    return backoffMs(
      attempt,
      this.options.retryBaseMs ?? 100,
      this.options.retryMaxMs ?? 5000,
      e.retryAfterS,
    );
  }

  /** The spool's sender: the oldest events first, one request at a time, until closed. */
  private async sendLoop(maxBatch: number): Promise<void> {
    const spool = this.spool!;
    let attempt = 0;
    while (!this.closing.signal.aborted) {
      const rows = spool.peek(maxBatch, MAX_REQUEST_BYTES);
      if (rows.length === 0) {
        this.notifyFlush();
        await new Promise<void>((r) => (this.wake = r));
        this.wake = null;
        continue;
      }
      try {
        const receipts = await this.post(rows);
        attempt = 0;
        spool.ack(rows);
        this.keep(receipts);
      } catch (e) {
        if (this.closing.signal.aborted) break;
        if (e instanceof RemoteError && !e.retryable && !stalls(e)) {
          await this.isolate(rows);
          continue;
        }
        attempt++;
        this.reportError(e);
        await this.pause(this.backoff(attempt, e as RemoteError));
      }
    }
    this.notifyFlush();
  }

  private post(rows: SpooledRow[]): Promise<Receipt[]> {
    // The bodies are JSON already: joined, not parsed and serialised again.
    return this.client
      .request<{ receipts: ServerReceipt[] }>('POST', '/v1/events', {
        body: new RawJson(`[${rows.map((r) => r.body).join(',')}]`),
        signal: this.closing.signal,
      })
      .then((r) => r.receipts.map(receiptOf));
  }

  /** A batch the server refused for good: each event alone; one refused alone goes to `dead`. */
  private async isolate(rows: SpooledRow[]): Promise<void> {
    for (const row of rows) {
      for (let attempt = 1; !this.closing.signal.aborted; attempt++) {
        try {
          this.keep(await this.post([row]));
          this.spool!.ack([row]);
          break;
        } catch (e) {
          if (e instanceof RemoteError && !e.retryable && !stalls(e)) {
            this.spool!.deadLetter(row, (e as Error).message);
            this.reportError(
              new AuditError(
                'invalid_event',
                `the server refused spooled event ${row.event_id}; kept in the spool's dead table: ${(e as Error).message}`,
                { cause: e },
              ),
            );
            break;
          }
          this.reportError(e);
          await this.pause(this.backoff(attempt, e as RemoteError));
        }
      }
    }
  }

  private pause(ms: number): Promise<void> {
    return sleep(ms, this.closing.signal);
  }

  private keep(receipts: Receipt[]): void {
    this.receipts.push(...receipts);
    if (this.receipts.length > MAX_KEPT_RECEIPTS)
      this.receipts.splice(0, this.receipts.length - MAX_KEPT_RECEIPTS);
    if (this.spool!.size === 0) this.notifyFlush();
  }

  private notifyFlush(): void {
    const waiters = this.flushWaiters;
    this.flushWaiters = [];
    for (const w of waiters) w();
  }

  /** What the spool holds (events waiting, bytes, oldest, refused), or null without a spool. */
  spoolStatus(): SpoolStatus | null {
    return this.spool?.status() ?? null;
  }

  // -------------------------------------------------------------------------------------------
  // Reads
  // -------------------------------------------------------------------------------------------

  /** Lists events matching the filter, a page at a time (`GET /v1/events`). */
  async query(options: QueryOptions = {}): Promise<QueryPage> {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(options)) if (v !== undefined) q.set(k, String(v));
    const s = q.toString();
    return this.client.request<QueryPage>('GET', `/v1/events${s ? `?${s}` : ''}`);
  }

  /** Counts the events matching the filter (`GET /v1/events/count`). */
  async count(filter: EventFilter = {}): Promise<number> {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(filter)) if (v !== undefined) q.set(k, String(v));
    const s = q.toString();
    const r = await this.client.request<{ count: number }>('GET', `/v1/events/count${s ? `?${s}` : ''}`);
    return r.count;
  }

  /** One event by seq or event_id, or undefined. */
  async get(ref: number | string): Promise<RecordedEvent | undefined> {
    const path =
      typeof ref === 'number' ? `/v1/events/${ref}` : `/v1/events/by-id/${encodeURIComponent(ref)}`;
    try {
      return await this.client.request<RecordedEvent>('GET', path);
    } catch (e) {
      if (e instanceof RemoteError && e.status === 404) return undefined;
      throw e;
    }
  }

  /** The proof bundle of one event (`auditrail-proof/v1`), checkable offline with `verifyProofBundle`. */
  prove(seq: number): Promise<ProofBundle> {
    if (!Number.isSafeInteger(seq) || seq < 0)
      return Promise.reject(new AuditError('invalid_argument', 'seq must be a non-negative integer'));
    return this.client.request<ProofBundle>('GET', `/v1/proofs/bundle/${seq}`);
  }

  /** The latest signed checkpoint (C2SP signed note), or undefined before the first one. */
  async latestCheckpoint(): Promise<string | undefined> {
    try {
      return await this.client.request<string>('GET', '/checkpoint', { text: true });
    } catch (e) {
      if (e instanceof RemoteError && e.status === 404 && e.problem === 'not_found') return undefined;
      throw e;
    }
  }

  /**
   * Delivers what is queued and closes. With a spool, delivery is tried for `closeTimeoutMs`;
   * what is left stays in the spool for the next open (or `auditrail spool flush`).
   */
  async close(): Promise<void> {
    if (this.closed) return;
    try {
      if (this.writer) {
        await this.writer.close();
      } else {
        if (this.groupScheduled) this.commitGroup();
        const timeout = this.options.closeTimeoutMs ?? 5000;
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          this.flush().catch(() => undefined),
          new Promise<void>((r) => (timer = setTimeout(r, timeout))),
        ]);
        clearTimeout(timer);
      }
    } finally {
      this.closed = true;
      this.closing.abort();
      this.wake?.();
      await this.sender;
      this.notifyFlush();
      this.spool?.close();
    }
  }

  /** The last background delivery error (reported through `onError`), or null. */
  get lastDeliveryError(): unknown {
    return this.lastError;
  }
}

/** Key failures and refusals of the key stall delivery (fix the key) rather than drop events. */
function stalls(e: RemoteError): boolean {
  return e.status === 401 || e.status === 403 || e.status === 404;
}

function receiptOf(r: ServerReceipt): Receipt {
  return { seq: r.seq, event_id: r.event_id, leaf_hash: r.leaf_hash };
}
