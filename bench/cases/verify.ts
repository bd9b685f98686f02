/**
 * Full verification of the large log (`trail.verify()`): every leaf re-hashed, every disclosure
 * re-digested, the tree rebuilt, stored tiles cross-checked, every checkpoint's signature and
 * root checked. Reports the build rate too when the log was built in this run.
 */
import { signCheckpoint } from '../../src/core/checkpoint.js';
import { rootOf } from '../../src/core/merkle.js';
import { TileNodeReader } from '../../src/core/tiles.js';
import { openAuditTrail, type AuditTrail } from '../../src/index.js';
import { keysOf, storeOf } from '../../src/sdk/internals.js';
import { verifyThreads } from '../../src/sdk/verify-parallel.js';
import { tileKey } from '../../src/store/store.js';
import { LARGE_LOG_TENANT, largeLog } from '../fixtures/large-log.js';
import { addBenchmark, atLeast, below, since, type BenchResult } from '../suite.js';

/** Events appended after the trusted checkpoint (the figure: 10,000 on the 1M log). */
const NEW = 10_000;

/**
 * The signed checkpoint of the tree's first `size` leaves, as the log would have published it
 * then (root read from the stored tiles, signed with the log's key). Bench setup only.
 */
async function checkpointAt(trail: AuditTrail, size: number): Promise<string> {
  const store = storeOf(trail);
  const logId = (await store.getLog(trail.origin))!.logId;
  const need = new Map<string, { level: number; index: number }>();
  rootOf(size, {
    node(level, index) {
      const t = { level: Math.floor(level / 8), index: Math.floor((index * 2 ** (level % 8)) / 256) };
      need.set(tileKey(t.level, t.index), t);
      return Buffer.alloc(32);
    },
  });
  const tiles = await store.getTiles(logId, [...need.values()]);
  const root = rootOf(size, new TileNodeReader((l, i) => tiles.get(tileKey(l, i)), size));
  return signCheckpoint({ origin: trail.origin, size, root }, [keysOf(trail).signer(trail.origin)]);
}

addBenchmark({
  name: 'verify',
  async run(ctx) {
    const log = await largeLog(ctx);
    const results: BenchResult[] = [];
    if (log.buildEventsPerSecond !== null) {
      results.push({
        name: 'large_log.build_events_per_s',
        value: log.buildEventsPerSecond,
        unit: 'events/s',
        note: `${log.size} events, bulk append, not cached`,
      });
    }
    const trail = await openAuditTrail({ tenant: LARGE_LOG_TENANT, db: log.db, checkpointIntervalMs: 0 });
    try {
      const start = performance.now();
      const report = await trail.verify();
      const seconds = since(start) / 1000;
      if (!report.ok)
        throw new Error(`the benchmark log does not verify: ${JSON.stringify(report.failures.slice(0, 3))}`);
      results.push({
        name: 'verify.events_per_s',
        value: report.size / seconds,
        unit: 'events/s',
        target: atLeast(150_000),
        note: `${report.size} events, ${report.checkpoints_verified} checkpoints, ${verifyThreads(report.size, undefined) || 1} thread(s)`,
      });
      // Incremental: the checkpoint the log signed NEW events ago is the trusted one.
      const note = await checkpointAt(trail, Math.max(0, report.size - NEW));
      const times: number[] = [];
      for (let i = 0; i < 3; i++) {
        const t = performance.now();
        const inc = await trail.verify({ sinceCheckpoint: note });
        times.push(since(t));
        if (!inc.ok || inc.verified_from !== Math.max(0, report.size - NEW))
          throw new Error(`incremental verify failed: ${JSON.stringify(inc.failures.slice(0, 3))}`);
      }
      results.push({
        name: 'verify.incremental_ms',
        value: Math.min(...times),
        unit: 'ms',
        target: below(100),
        note: `${NEW} new events on ${report.size}, best of 3 (--since-checkpoint)`,
      });
    } finally {
      await trail.close();
    }
    return results;
  },
});
