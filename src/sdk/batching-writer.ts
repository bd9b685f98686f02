import { AuditError } from '../errors.js';

/**
 * Groups concurrent writes into one transaction (DESIGN §4). `write()` resolves only after the
 * batch holding it is committed. Items queued with `enqueue()` (fire-and-forget) are kept until
 * they are committed: a failed flush is retried with back-off and reported through `onError`,
 * never dropped.
 */
export interface BatchingWriterOptions<T, R> {
  /**
   * Commits a batch; resolves with one result per item, in order. An Error in place of a result
   * refuses that item alone (its promise rejects; a fire-and-forget item is reported via onError).
   */
  flush: (items: T[]) => Promise<(R | Error)[]>;
  /** Largest batch per transaction. */
  maxBatch?: number;
  /** Fire-and-forget queue size above which `enqueue` returns false (back-pressure). */
  highWaterMark?: number;
  /** Hard bound: `enqueue` throws `queue_full` beyond it. */
  maxQueue?: number;
  /** Called when a background flush fails (the items stay queued and are retried). */
  onError?: (error: unknown) => void;
  /**
   * Batches committing at once (default 1). Above 1, the next batch is handed over while the
   * previous one commits, for a `flush` that queues work elsewhere (a write thread) in order.
   */
  maxInFlight?: number;
  /**
   * With room in flight, hand over a batch as soon as this many items are queued instead of at
   * the end of the current turn, so that its commit overlaps the producers still preparing.
   * Asked at each write; only for a `flush` that does not commit synchronously.
   */
  eagerBatch?: () => number;
}

interface Pending<T, R> {
  /** Arrival number: flush() waits for the items that arrived before it was called, no later ones. */
  n: number;
  item: T;
  /** Arrival number of the first item of the group this item belongs to (writeAll): never split. */
  group?: number;
  resolve?: (r: R) => void;
  reject?: (e: unknown) => void;
}

export class BatchingWriter<T, R> {
  private queue: Pending<T, R>[] = [];
  private enqueued = 0;
  private scheduled = false;
  /** First arrival number of each batch being committed. */
  private readonly inFlight = new Set<number>();
  private batchDone: (() => void)[] = [];
  private retryTimer: NodeJS.Timeout | null = null;
  private retryDelay = 0;
  private drainWaiters: (() => void)[] = [];
  private closed = false;
  private readonly maxBatch: number;
  private readonly highWaterMark: number;
  private readonly maxQueue: number;
  private readonly maxInFlight: number;
  private readonly eagerBatch: () => number;

  constructor(private readonly options: BatchingWriterOptions<T, R>) {
    this.maxBatch = options.maxBatch ?? 256;
    this.highWaterMark = options.highWaterMark ?? 10_000;
    this.maxQueue = options.maxQueue ?? 100_000;
    this.maxInFlight = Math.max(1, options.maxInFlight ?? 1);
    this.eagerBatch = options.eagerBatch ?? (() => Infinity);
  }

  /** Items waiting to be committed. */
  get pending(): number {
    return this.queue.length;
  }

  /** Queues `item` and resolves with its result once committed. */
  write(item: T): Promise<R> {
    if (this.closed) return Promise.reject(new AuditError('closed', 'the audit trail is closed'));
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ n: ++this.enqueued, item, resolve, reject });
      this.schedule();
    });
  }

  /**
   * Queues `items` as one group, committed in one batch (one transaction) even beyond `maxBatch`:
   * a crash leaves all of them or none. Resolves with their results, in order.
   */
  writeAll(items: readonly T[]): Promise<R[]> {
    if (this.closed) return Promise.reject(new AuditError('closed', 'the audit trail is closed'));
    if (items.length === 0) return Promise.resolve([]);
    const group = this.enqueued + 1;
    const out = items.map(
      (item) =>
        new Promise<R>((resolve, reject) => {
          this.queue.push({ n: ++this.enqueued, item, group, resolve, reject });
        }),
    );
    this.schedule();
    return Promise.all(out);
  }

  /**
   * Fire-and-forget: queues `item` and returns at once. Returns false when the queue is above
   * its high-water mark (slow down, or await `drain()`); throws `queue_full` above the hard bound.
   */
  enqueue(item: T): boolean {
    if (this.closed) throw new AuditError('closed', 'the audit trail is closed');
    if (this.queue.length >= this.maxQueue) {
      throw new AuditError(
        'queue_full',
        `the write queue holds ${this.queue.length} events; await drain() first`,
      );
    }
    this.queue.push({ n: ++this.enqueued, item });
    this.schedule();
    return this.queue.length < this.highWaterMark;
  }

  /** Resolves when the queue is below its high-water mark. */
  drain(): Promise<void> {
    if (this.queue.length < this.highWaterMark) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /** Commits everything queued so far. Rejects if a batch cannot be committed. */
  async flush(): Promise<void> {
    // Only what was queued before this call: producers that keep recording must not keep a
    // flush (or a checkpoint, or close) running forever while timers and I/O starve.
    const target = this.enqueued;
    for (;;) {
      const head = this.queue[0];
      const queuedBefore = head !== undefined && head.n <= target;
      const committingBefore = [...this.inFlight].some((first) => first <= target);
      if (!queuedBefore && !committingBefore) return;
      if (queuedBefore && this.inFlight.size < this.maxInFlight) {
        if (this.retryTimer) {
          clearTimeout(this.retryTimer);
          this.retryTimer = null;
        }
        const failed = await this.runBatch();
        if (failed !== undefined) {
          throw failed instanceof Error
            ? failed
            : new AuditError('store_failure', 'flush failed', { cause: failed });
        }
        continue;
      }
      await new Promise<void>((r) => this.batchDone.push(r));
    }
  }

  /** Flushes, then refuses further writes. */
  async close(): Promise<void> {
    try {
      await this.flush();
    } finally {
      this.closed = true;
      if (this.retryTimer) clearTimeout(this.retryTimer);
    }
  }

  private schedule(): void {
    if (this.queue.length >= this.eagerBatch() && this.inFlight.size < this.maxInFlight && !this.retryTimer) {
      void this.runBatch().then(() => {
        if (this.queue.length > 0 && !this.retryTimer) this.schedule();
      });
      return;
    }
    if (this.scheduled || this.inFlight.size >= this.maxInFlight || this.retryTimer) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      while (this.queue.length > 0 && this.inFlight.size < this.maxInFlight && !this.retryTimer) {
        void this.runBatch().then(() => {
          if (this.queue.length > 0 && !this.retryTimer) this.schedule();
        });
      }
    });
  }

  /** Runs one batch; returns the error if it failed (awaited items are rejected, queued ones kept). */
  private async runBatch(): Promise<unknown> {
    if (this.inFlight.size >= this.maxInFlight || this.queue.length === 0) return undefined;
    // Up to maxBatch items, and never half a group: its tail joins the batch beyond the bound.
    let take = Math.min(this.maxBatch, this.queue.length);
    const last = this.queue[take - 1]!.group;
    if (last !== undefined) while (take < this.queue.length && this.queue[take]!.group === last) take++;
    const batch = this.queue.splice(0, take);
    const first = batch[0]!.n;
    this.inFlight.add(first);
    let failure: unknown;
    try {
      const results = await this.options.flush(batch.map((p) => p.item));
      this.retryDelay = 0;
      for (let i = 0; i < batch.length; i++) {
        const r = results[i]!;
        const p = batch[i]!;
        if (r instanceof Error) {
          if (p.reject) p.reject(r);
          else this.options.onError?.(r);
        } else p.resolve?.(r);
      }
    } catch (e) {
      failure = e;
      const keep: Pending<T, R>[] = [];
      for (const p of batch) {
        if (p.reject) p.reject(e);
        else keep.push(p);
      }
      if (keep.length > 0) {
        // Fire-and-forget events are never dropped: put them back and retry with back-off.
        // In arrival order, also when another batch failed meanwhile (flush relies on it).
        this.queue = keep.concat(this.queue).sort((a, b) => a.n - b.n);
        this.options.onError?.(e);
        this.retryDelay = Math.min(5000, this.retryDelay === 0 ? 50 : this.retryDelay * 2);
        if (this.retryTimer) clearTimeout(this.retryTimer);
        this.retryTimer = setTimeout(() => {
          this.retryTimer = null;
          this.schedule();
        }, this.retryDelay);
        this.retryTimer.unref();
      }
    } finally {
      this.inFlight.delete(first);
      const done = this.batchDone;
      this.batchDone = [];
      for (const d of done) d();
      if (this.queue.length < this.highWaterMark && this.drainWaiters.length > 0) {
        const waiters = this.drainWaiters;
        this.drainWaiters = [];
        for (const w of waiters) w();
      }
    }
    return failure;
  }
}
