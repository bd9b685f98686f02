/**
 * The write thread (DESIGN §4 write path): owns a second connection to the SQLite file and runs
 * the in-transaction half of each append, so that preparing the next batch (validation,
 * redaction, hashing) on the main thread overlaps this batch's commit and fsync.
 */
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import { AuditError } from '../../errors.js';
import { SqliteStore } from './sqlite-store.js';
import { planAppend, type Receipt } from '../../core/append-plan.js';
import type { PreparedLeaf } from '../../core/append-plan.js';
import type { WireReply, WireRequest } from './write-thread.js';
import { decodeBatch, encodeReceipts } from './wire.js';

if (!parentPort) throw new Error('append-worker runs as a worker thread');
const port = parentPort;
const { path, checkpointed } = workerData as { path: string; checkpointed: Int32Array };
let store: SqliteStore;
try {
  // The SQLite store alone: the thread starts without loading the other backends.
  store = new SqliteStore(path);
} catch (e) {
  // Tell the caller why, then end: it keeps appending on its own connection.
  port.postMessage({
    id: 0,
    ok: false,
    error: { code: 'store_failure', message: e instanceof Error ? e.message : String(e) },
  } satisfies WireReply);
  process.exit(1);
}

/** Events per transaction when batches are merged (a bound on memory and on one commit's time). */
const MAX_MERGED = 4096;
/** After commits (here or hinted from another connection), the WAL is checkpointed this much later. */
const CHECKPOINT_DELAY_MS = 50;

/**
 * This thread checkpoints the WAL for every connection of this process to the file: PASSIVE,
 * so writers carry on meanwhile, and off the threads that answer callers, whose commits then
 * rarely reach SQLite's own (blocking) checkpoint at the autocheckpoint size.
 */
let checkpointTimer: NodeJS.Timeout | null = null;
function checkpointSoon(): void {
  checkpointTimer ??= setTimeout(() => {
    checkpointTimer = null;
    store.checkpointWal();
    // Commits on other connections during the copy left frames behind: the next one finishes.
    Atomics.store(checkpointed, 0, 1);
  }, CHECKPOINT_DELAY_MS);
}

interface Batch {
  id: number;
  origin: string;
  nowMs: number;
  items: PreparedLeaf[];
}

/**
 * Batches that arrived while the previous transaction committed are merged into one transaction
 * (group commit): one fsync for all of them, and each request answered once it is durable.
 */
port.on('message', (first: WireRequest) => void handle(first));

async function handle(first: WireRequest): Promise<void> {
  const queue: WireRequest[] = [first];
  for (let m = receiveMessageOnPort(port); m; m = receiveMessageOnPort(port))
    queue.push(m.message as WireRequest);
  let group: Batch[] = [];
  let events = 0;
  for (const m of queue) {
    if (m.op === 'checkpoint') {
      checkpointSoon();
      continue;
    }
    if (m.op === 'close') {
      await appendGroup(group);
      group = [];
      if (checkpointTimer) clearTimeout(checkpointTimer);
      checkpointTimer = null;
      await store.close();
      port.postMessage({ id: m.id, ok: true } satisfies WireReply);
      continue;
    }
    let items: PreparedLeaf[];
    try {
      items = decodeBatch(m.batch);
    } catch (e) {
      reply([m.id], e);
      continue;
    }
    if (group.length > 0 && (group[0]!.origin !== m.origin || events + items.length > MAX_MERGED)) {
      // In order: each group's answers go out before the next group's transaction runs.
      await appendGroup(group);
      group = [];
      events = 0;
    }
    group.push({ id: m.id, origin: m.origin, nowMs: m.nowMs, items });
    events += items.length;
  }
  if (group.length > 0) {
    await appendGroup(group);
    checkpointSoon();
  }
}

function reply(ids: number[], e: unknown): void {
  const error = {
    code: e instanceof AuditError ? e.code : 'store_failure',
    message: e instanceof Error ? e.message : String(e),
  } as const;
  for (const id of ids) port.postMessage({ id, ok: false, error } satisfies WireReply);
}

async function appendGroup(group: Batch[]): Promise<void> {
  if (group.length === 0) return;
  const items = group.length === 1 ? group[0]!.items : group.flatMap((b) => b.items);
  const last = group[group.length - 1]!;
  let head: NonNullable<WireReply['head']> | undefined;
  let receipts: Receipt[];
  try {
    receipts = await store.append(
      last.origin,
      items.map((i) => i.eid),
      (ctx) => {
        const r = planAppend(ctx, items, last.nowMs);
        head = r.plan.head;
        return r;
      },
    );
  } catch (e) {
    reply(
      group.map((b) => b.id),
      e,
    );
    return;
  }
  let from = 0;
  for (const b of group) {
    const wire = encodeReceipts(receipts.slice(from, (from += b.items.length)));
    port.postMessage(
      { id: b.id, ok: true, receipts: wire.receipts, ...(head ? { head } : {}) } satisfies WireReply,
      wire.transfer,
    );
  }
}
port.postMessage({ id: 0, ok: true } satisfies WireReply);
