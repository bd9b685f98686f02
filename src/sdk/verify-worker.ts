/**
 * A verification thread (see verify-parallel.ts): verifies segments of a stored log over its
 * own read-only connection and keeps the execution facts of each run until asked for them.
 */
import { parentPort } from 'node:worker_threads';
import type { ApprovalFact } from '../core/verify-log.js';
import { AuditError } from '../errors.js';
import { openStore } from '../store/open-store.js';
import type { AuditStore } from '../store/store.js';
import type { VerifyReply, VerifyRequest } from './verify-parallel.js';
import { verifySegment } from './verify-segment.js';

const port = parentPort;
if (!port) throw new AuditError('invalid_argument', 'verify-worker.ts runs on a worker thread');

/** Per run: its read-only store and the execution facts of its segments. */
const runs = new Map<number, { store: Promise<AuditStore>; executions: ApprovalFact[] }>();

function runOf(run: number, location: string): { store: Promise<AuditStore>; executions: ApprovalFact[] } {
  let r = runs.get(run);
  if (!r) {
    r = { store: openStore(location, { readonly: true }), executions: [] };
    runs.set(run, r);
  }
  return r;
}

async function handle(m: VerifyRequest): Promise<VerifyReply> {
  if (m.op === 'open') {
    await runOf(m.run, m.location).store;
    return { id: m.id, ok: true };
  }
  if (m.op === 'segment') {
    const r = runOf(m.run, m.location);
    return { id: m.id, ok: true, outcome: await verifySegment(await r.store, m.job, r.executions) };
  }
  const r = runs.get(m.run);
  runs.delete(m.run);
  if (r) await (await r.store).close();
  if (m.op === 'executions') {
    const parents = new Set(m.parents);
    return { id: m.id, ok: true, facts: (r?.executions ?? []).filter((f) => parents.has(f.parent ?? '')) };
  }
  return { id: m.id, ok: true };
}

// One message at a time, in order: a run's segments share its connection.
let queue: Promise<void> = Promise.resolve();
port.on('message', (m: VerifyRequest) => {
  queue = queue.then(async () => {
    let reply: VerifyReply;
    try {
      reply = await handle(m);
    } catch (e) {
      reply = { id: m.id, ok: false, error: e instanceof Error ? e.message : String(e) };
    }
    port.postMessage(reply);
  });
});
