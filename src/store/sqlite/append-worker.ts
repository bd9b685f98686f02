/**
 * The write thread (DESIGN §4 write path): owns a second connection to the SQLite file and runs
 * the in-transaction half of each append, so that preparing the next batch (validation,
 * redaction, hashing) on the main thread overlaps this batch's commit and fsync.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { AuditError } from '../../errors.js';
import { openStore } from '../open-store.js';
import { planAppend, type Receipt } from '../../core/append-plan.js';
import type { PreparedLeaf } from '../../core/append-plan.js';
import type { WireReply, WireRequest } from './write-thread.js';

const port = parentPort;
if (!port) throw new Error('append-worker runs as a worker thread');
let store: Awaited<ReturnType<typeof openStore>>;
try {
  store = await openStore((workerData as { path: string }).path);
} catch (e) {
  // Tell the caller why, then end: it keeps appending on its own connection.
  port.postMessage({
    id: 0,
    ok: false,
    error: { code: 'store_failure', message: e instanceof Error ? e.message : String(e) },
  } satisfies WireReply);
  process.exit(1);
}

port.on('message', (m: WireRequest) => {
  if (m.op === 'close') {
    void store.close().then(() => port.postMessage({ id: m.id, ok: true } satisfies WireReply));
    return;
  }
  // Structured clone delivers Uint8Arrays: view them as Buffers (no copy).
  const items = m.items.map((i) => ({
    ...i,
    disclosures: i.disclosures.map((d) => ({ pointer: d.pointer, bytes: asBuffer(d.bytes) })),
  })) as PreparedLeaf[];
  let head: NonNullable<WireReply['head']> | undefined;
  store
    .append(
      m.origin,
      items.map((i) => i.eid),
      (ctx) => {
        const r = planAppend(ctx, items, m.nowMs);
        head = r.plan.head;
        return r;
      },
    )
    .then(
      (receipts: Receipt[]) =>
        port.postMessage({ id: m.id, ok: true, receipts, ...(head ? { head } : {}) } satisfies WireReply),
      (e: unknown) =>
        port.postMessage({
          id: m.id,
          ok: false,
          error: {
            code: e instanceof AuditError ? e.code : 'store_failure',
            message: e instanceof Error ? e.message : String(e),
          },
        } satisfies WireReply),
    );
});
port.postMessage({ id: 0, ok: true } satisfies WireReply);

function asBuffer(u: Uint8Array): Buffer {
  return Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}
