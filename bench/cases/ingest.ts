/**
 * Ingest through `record()`: 64 concurrent producers, each awaiting its receipt (durable commit)
 * before sending its next event, as 64 agent workers would. Measures throughput and the latency
 * from `record()` to its receipt.
 */
import { join } from 'node:path';
import { openAuditTrail } from '../../src/index.js';
import { warmupEvents, workloadEvents } from '../fixtures/workload-events.js';
import { addBenchmark, percentile, relativeTo, since } from '../suite.js';

const PRODUCERS = 64;

addBenchmark({
  name: 'ingest',
  needs: ['baseline'],
  async run(ctx) {
    const n = ctx.scale(10_000, 100_000);
    const events = workloadEvents(n);
    const trail = await openAuditTrail({ tenant: 'bench', db: join(ctx.tmpDir, 'ingest.db') });
    try {
      await Promise.all(warmupEvents(2_000).map((e) => trail.record(e)));
      const latency = new Float64Array(n);
      let next = 0;
      const producer = async (): Promise<void> => {
        for (let i = next++; i < n; i = next++) {
          const t = performance.now();
          await trail.record(events[i]!);
          latency[i] = performance.now() - t;
        }
      };
      const start = performance.now();
      await Promise.all(Array.from({ length: PRODUCERS }, producer));
      const seconds = since(start) / 1000;
      const note = `${n} events, ${PRODUCERS} producers`;
      return [
        {
          name: 'ingest.events_per_s',
          value: n / seconds,
          unit: 'events/s',
          target: relativeTo(ctx, 'baseline.batch64', 0.7),
          note,
        },
        { name: 'ingest.p50', value: percentile(latency, 0.5), unit: 'ms', note: 'record() to receipt' },
        { name: 'ingest.p99', value: percentile(latency, 0.99), unit: 'ms', note: 'record() to receipt' },
      ];
    } finally {
      await trail.close();
    }
  },
});
