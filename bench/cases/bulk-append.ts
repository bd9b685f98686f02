/**
 * Bulk append: one producer emitting fire-and-forget (`emit()`), awaiting `drain()` whenever the
 * queue is above its high-water mark, and `flush()` at the end — the path for importing or
 * replaying many events. Timed until the last event is durable.
 */
import { join } from 'node:path';
import { openAuditTrail } from '../../src/index.js';
import { warmupEvents, workloadEvents } from '../fixtures/workload-events.js';
import { addBenchmark, relativeTo, since } from '../suite.js';

addBenchmark({
  name: 'bulk',
  needs: ['baseline'],
  async run(ctx) {
    const n = ctx.scale(10_000, 200_000);
    const events = workloadEvents(n);
    const trail = await openAuditTrail({ tenant: 'bench', db: join(ctx.tmpDir, 'bulk.db') });
    try {
      for (const e of warmupEvents(2_000)) if (!trail.emit(e)) await trail.drain();
      await trail.flush();
      const start = performance.now();
      for (const e of events) if (!trail.emit(e)) await trail.drain();
      await trail.flush();
      const seconds = since(start) / 1000;
      return [
        {
          name: 'bulk.events_per_s',
          value: n / seconds,
          unit: 'events/s',
          target: relativeTo(ctx, 'baseline.batch256', 0.7),
          note: `${n} events, emit/drain/flush`,
        },
      ];
    } finally {
      await trail.close();
    }
  },
});
