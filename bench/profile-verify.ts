/**
 * Profiles one verification of a cached bench log, read-only:
 *   node --cpu-prof --cpu-prof-dir=/tmp/vprof --import tsx bench/profile-verify.ts <audit.db> [sinceSize]
 * Prints the time of a full verify (and of an incremental one from `sinceSize` when given).
 */
import { openAuditTrail } from '../src/index.js';
import { keysOf, storeOf } from '../src/sdk/internals.js';
import { rootOf } from '../src/core/merkle.js';
import { signCheckpoint } from '../src/core/checkpoint.js';
import { reader, tilesFor } from '../src/sdk/tree-reads.js';
import { LARGE_LOG_TENANT } from './fixtures/large-log.js';

const db = process.argv[2];
if (!db) throw new Error('usage: profile-verify.ts <audit.db> [sinceSize|full]');
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
        `CPU ${((used.user + used.system) / r.size).toFixed(2)} µs/event`,
    );
    if (!r.ok) console.log(JSON.stringify(r.failures.slice(0, 5)));
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
