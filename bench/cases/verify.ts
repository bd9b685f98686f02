/**
 * Full verification of the large log (`trail.verify()`): every leaf re-hashed, every disclosure
 * re-digested, the tree rebuilt, stored tiles cross-checked, every checkpoint's signature and
 * root checked. Reports the build rate too when the log was built in this run.
 */
import { openAuditTrail } from '../../src/index.js';
import { LARGE_LOG_TENANT, largeLog } from '../fixtures/large-log.js';
import { addBenchmark, atLeast, since, type BenchResult } from '../suite.js';

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
        target: atLeast(300_000),
        note: `${report.size} events, ${report.checkpoints_verified} checkpoints`,
      });
    } finally {
      await trail.close();
    }
    return results;
  },
});
