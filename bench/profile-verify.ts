/**
 * Profiles one verification of a cached bench log, read-only:
 *   node --cpu-prof --cpu-prof-dir=/tmp/vprof --import tsx bench/profile-verify.ts <audit.db> [full|segments|sinceSize] [limit]
 * `full`: the time of a full verify (its CPU covers every thread). `segments`: the segments a
 * verification thread checks, run on this thread alone (the first `limit` entries, default all),
 * so the CPU per event is one thread's. A number: incremental verifications from that many
 * entries before the head.
 */
import { openAuditTrail } from '../src/index.js';
import { keysOf, storeOf } from '../src/sdk/internals.js';
import { rootOf } from '../src/core/merkle.js';
import { signCheckpoint } from '../src/core/checkpoint.js';
import { reader, tilesFor } from '../src/sdk/tree-reads.js';
import { planSegments, verifySegment } from '../src/sdk/verify-segment.js';
import type { ApprovalFact } from '../src/core/verify-log.js';
import { LARGE_LOG_TENANT } from './fixtures/large-log.js';

const db = process.argv[2];
if (!db) throw new Error('usage: profile-verify.ts <audit.db> [full|segments|sinceSize] [limit]');
const mode = process.argv[3] ?? 'full';
const trail = await openAuditTrail({ tenant: LARGE_LOG_TENANT, db, readonly: true });
try {
  if (mode === 'full') {
    const t = performance.now();
    const cpu = process.cpuUsage();
    const r = await trail.verify();
    const ms = performance.now() - t;
    const used = process.cpuUsage(cpu);
    console.log(
      `full: ${r.size} events in ${ms.toFixed(0)} ms = ${((r.size / ms) * 1000).toFixed(0)} events/s ok=${r.ok}, ` +
        `CPU ${((used.user + used.system) / r.size).toFixed(2)} µs/event (all threads)`,
    );
    if (!r.ok) console.log(JSON.stringify(r.failures.slice(0, 5)));
  } else if (mode === 'segments') {
    const store = storeOf(trail);
    const head = (await store.getLog(trail.origin))!;
    const end = Math.min(head.size, Number(process.argv[4] ?? head.size));
    const executions: ApprovalFact[] = [];
    const t = performance.now();
    const cpu = process.cpuUsage();
    let failures = 0;
    for (const [offset, segEnd] of planSegments(0, end, 65_536)) {
      const o = await verifySegment(
        store,
        {
          logId: head.logId,
          origin: trail.origin,
          offset,
          end: segEnd,
          snapshots: [],
          completeTiles: Math.floor(head.size / 256),
          indexFrom: offset === 0 ? null : offset,
        },
        executions,
      );
      failures += o.failures + (segEnd < head.size ? 0 : o.indexFailures);
    }
    const ms = performance.now() - t;
    const used = process.cpuUsage(cpu);
    console.log(
      `segments: ${end} events in ${ms.toFixed(0)} ms, failures=${failures}, ` +
        `CPU ${((used.user + used.system) / end).toFixed(2)} µs/event on one thread`,
    );
  } else {
    const store = storeOf(trail);
    const head = (await store.getLog(trail.origin))!;
    const size = head.size - Number(mode);
    const tiles = await store.getTiles(
      head.logId,
      tilesFor((r) => rootOf(size, r)),
    );
    const root = rootOf(size, reader(tiles, size));
    const note = signCheckpoint({ origin: trail.origin, size, root }, [keysOf(trail).signer(trail.origin)]);
    for (let i = 0; i < 3; i++) {
      const t = performance.now();
      const cpu = process.cpuUsage();
      const r = await trail.verify({ sinceCheckpoint: note });
      const used = process.cpuUsage(cpu);
      console.log(
        `incremental from ${size}: ${(performance.now() - t).toFixed(1)} ms ok=${r.ok}, CPU ${((used.user + used.system) / 1000).toFixed(1)} ms`,
      );
      if (!r.ok) console.log(JSON.stringify(r.failures.slice(0, 5)));
    }
  }
} finally {
  await trail.close();
}
