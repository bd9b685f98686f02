/**
 * A session's timeline from the large log: `trail.query({ session_id, limit: 100 })`, i.e. all
 * 100 events of one session, which are spread over thousands of seqs by the other sessions
 * running at the same time. Over random sessions.
 */
import { openAuditTrail } from '../../src/index.js';
import { seededRandom } from '../agent-workload.js';
import { LARGE_LOG_TENANT, largeLog } from '../fixtures/large-log.js';
import { addBenchmark, below, percentile } from '../suite.js';

addBenchmark({
  name: 'timeline',
  async run(ctx) {
    const log = await largeLog(ctx);
    const n = ctx.scale(300, 1000);
    const random = seededRandom(5);
    const trail = await openAuditTrail({ tenant: LARGE_LOG_TENANT, db: log.db, checkpointIntervalMs: 0 });
    try {
      const samples = new Float64Array(n);
      for (let i = -20; i < n; i++) {
        const session = log.sessions[Math.floor(random() * log.sessions.length)]!;
        const t = performance.now();
        const page = await trail.query({ session_id: session, limit: 100 });
        const ms = performance.now() - t;
        if (page.events.length !== 100)
          throw new Error(`session ${session} has ${page.events.length} events, not 100`);
        if (i >= 0) samples[i] = ms;
      }
      const note = `${n} random sessions of ${log.sessions.length}`;
      return [
        { name: 'timeline.p50', value: percentile(samples, 0.5), unit: 'ms', note },
        { name: 'timeline.p99', value: percentile(samples, 0.99), unit: 'ms', target: below(5), note },
      ];
    } finally {
      await trail.close();
    }
  },
});
