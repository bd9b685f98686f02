import { Worker } from 'node:worker_threads';
import { AuditError, type AuditErrorCode } from '../../errors.js';
import type { LogHead } from '../store.js';
import type { Receipt } from '../../core/append-plan.js';
import type { PreparedLeaf } from '../../core/append-plan.js';
import { decodeReceipts, encodeBatch, type WireBatch, type WireReceipts } from './wire.js';

/** What crosses to the write thread: the parts of prepared events the transaction needs, packed. */
export type WireRequest =
  | { op: 'append'; id: number; origin: string; batch: WireBatch; nowMs: number }
  | { op: 'close'; id: number }
  /** Commits on other connections grew the WAL: checkpoint it soon (no answer). */
  | { op: 'checkpoint'; id: 0 };

/** Checkpoint requests from one connection are sent at most this often. */
const CHECKPOINT_HINT_MS = 100;

export interface WireReply {
  id: number;
  ok: boolean;
  receipts?: WireReceipts;
  head?: { size: number; root: Uint8Array; rightEdge: Uint8Array; lastTs: string | null };
  error?: { code: AuditErrorCode; message: string };
}

type HeadUpdate = Pick<LogHead, 'size' | 'root' | 'rightEdge' | 'lastTs'>;

interface Waiter {
  resolve: (r: WireReply) => void;
  reject: (e: unknown) => void;
}

/**
 * Runs appends on a worker thread holding its own connection to the same SQLite file (WAL lets
 * the main thread keep reading meanwhile). The thread starts in the background; until it is
 * ready, and again if it dies, {@link ready} is false and the caller appends on its own
 * connection. A batch in flight when the thread dies is rejected, never reported as stored.
 */
export class WorkerAppender {
  private worker: Worker | null = null;
  private started = false;
  private isReady = false;
  private closed = false;
  private nextId = 1;
  private readonly waiters = new Map<number, Waiter>();

  /** Told when the thread cannot start (appends then stay on the callers' threads). */
  readonly startFailureListeners = new Set<(e: unknown) => void>();

  constructor(
    private readonly path: string,
    onStartFailure?: (e: unknown) => void,
  ) {
    if (onStartFailure) this.startFailureListeners.add(onStartFailure);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** True when appends can go to the write thread; starts it on first ask. */
  get ready(): boolean {
    if (!this.started && !this.closed) this.start();
    return this.isReady;
  }

  private lastHint = 0;
  /** Set by the thread after each background checkpoint, taken by the next commit elsewhere. */
  private readonly checkpointed = new Int32Array(new SharedArrayBuffer(4));

  /**
   * True once after each background checkpoint of the thread: the caller's connection then
   * checkpoints the frames it committed meanwhile, so its next commit starts the WAL over.
   */
  takeCheckpointFinish(): boolean {
    return Atomics.exchange(this.checkpointed, 0, 0) === 1;
  }

  /**
   * Asks the thread to copy the WAL into the database (a PASSIVE checkpoint, which never blocks a
   * writer) in the background, so that commits on the caller's connection need not. Returns false
   * when the thread is not running: the caller's connection must then checkpoint as SQLite does.
   */
  hintCheckpoint(): boolean {
    const worker = this.worker;
    if (!worker || !this.isReady) return false;
    const now = Date.now();
    if (now - this.lastHint >= CHECKPOINT_HINT_MS) {
      this.lastHint = now;
      worker.postMessage({ op: 'checkpoint', id: 0 } satisfies WireRequest);
    }
    return true;
  }

  /** True while a batch is on the write thread. */
  get busy(): boolean {
    return this.waiters.size > 0;
  }

  private start(): void {
    this.started = true;
    const self = new URL(import.meta.url);
    // From source (tests, tsx) the worker is TypeScript: register tsx inside it first.
    const worker = self.pathname.endsWith('.ts')
      ? new Worker(
          // A load error must end the thread (an 'error' event), not leave it idle.
          `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(
            new URL('./append-worker.ts', self).href,
          )}); }).catch((e) => setImmediate(() => { throw e; }));`,
          { eval: true, workerData: { path: this.path, checkpointed: this.checkpointed } },
        )
      : new Worker(new URL('./append-worker.js', self), {
          workerData: { path: this.path, checkpointed: this.checkpointed },
        });
    worker.unref();
    this.worker = worker;
    const fail = (e: unknown) => {
      const wasReady = this.isReady;
      this.isReady = false;
      this.worker = null;
      // A thread that died while working is replaced on a later batch; one that never came up
      // is not retried: appends stay on the caller's connection.
      this.started = !wasReady;
      if (!wasReady) for (const l of this.startFailureListeners) l(e);
      const why = e instanceof Error ? e.message : String(e);
      const err = new AuditError('store_failure', `write thread stopped: ${why}`, { cause: e });
      for (const w of this.waiters.values()) w.reject(err);
      this.waiters.clear();
    };
    worker.on('message', (m: WireReply) => {
      if (m.id === 0) {
        if (m.ok) this.isReady = !this.closed;
        else fail(new Error(m.error?.message ?? 'the write thread could not start'));
        return;
      }
      const w = this.waiters.get(m.id);
      if (!w) return;
      this.waiters.delete(m.id);
      if (this.waiters.size === 0) worker.unref();
      w.resolve(m);
    });
    worker.on('error', fail);
    worker.on('exit', (code) => {
      if (this.worker === worker) fail(new Error(`exit code ${code}`));
    });
  }

  private call(req: WireRequest, transfer: ArrayBuffer[] = []): Promise<WireReply> {
    const worker = this.worker;
    if (!worker) return Promise.reject(new AuditError('store_failure', 'write thread is not running'));
    return this.callOn(worker, req, transfer);
  }

  private callOn(worker: Worker, req: WireRequest, transfer: ArrayBuffer[] = []): Promise<WireReply> {
    return new Promise<WireReply>((resolve, reject) => {
      this.waiters.set(req.id, { resolve, reject });
      // Keep the process alive while a batch is in flight (fire-and-forget events included).
      worker.ref();
      worker.postMessage(req, transfer);
    });
  }

  /** Appends prepared events in one durable transaction on the write thread. */
  async append(
    origin: string,
    items: readonly PreparedLeaf[],
    nowMs: number,
  ): Promise<{ receipts: Receipt[]; head: HeadUpdate | undefined }> {
    const { batch, transfer } = encodeBatch(items);
    const r = await this.call({ op: 'append', id: this.nextId++, origin, batch, nowMs }, transfer);
    if (!r.ok) throw new AuditError(r.error?.code ?? 'store_failure', r.error?.message ?? 'append failed');
    if (!r.receipts) throw new AuditError('store_failure', 'write thread answered without receipts');
    const h = r.head;
    return {
      receipts: decodeReceipts(r.receipts, items),
      head: h
        ? {
            size: h.size,
            root: Buffer.from(h.root.buffer, h.root.byteOffset, h.root.byteLength),
            rightEdge: Buffer.from(h.rightEdge.buffer, h.rightEdge.byteOffset, h.rightEdge.byteLength),
            lastTs: h.lastTs,
          }
        : undefined,
    };
  }

  /** Closes the thread's connection and ends it. */
  async close(): Promise<void> {
    this.closed = true;
    const wasReady = this.isReady;
    this.isReady = false;
    const worker = this.worker;
    if (!worker) return;
    this.worker = null;
    if (wasReady) {
      // Let it close its connection; a thread that does not answer is ended anyway.
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          this.callOn(worker, { op: 'close', id: this.nextId++ }),
          new Promise((r) => (timer = setTimeout(r, 5000))),
        ]);
      } catch {
        // Already gone: nothing to close.
      } finally {
        clearTimeout(timer);
      }
    }
    await worker.terminate();
    this.waiters.clear();
  }
}

const shared = new Map<string, { appender: WorkerAppender; users: number }>();

/**
 * The write thread of a database file, shared by every trail of this process on that file: one
 * thread and one connection per file, however many tenant logs it holds. The last `release`
 * ends the thread.
 */
export function acquireWriteThread(
  path: string,
  onStartFailure: (e: unknown) => void,
): { appender: WorkerAppender; release: () => Promise<void> } {
  let entry = shared.get(path);
  if (!entry || entry.appender.isClosed) {
    entry = { appender: new WorkerAppender(path), users: 0 };
    shared.set(path, entry);
  }
  const e = entry;
  e.users++;
  e.appender.startFailureListeners.add(onStartFailure);
  let released = false;
  return {
    appender: e.appender,
    release: async () => {
      if (released) return;
      released = true;
      e.appender.startFailureListeners.delete(onStartFailure);
      if (--e.users > 0) return;
      if (shared.get(path) === e) shared.delete(path);
      await e.appender.close();
    },
  };
}
