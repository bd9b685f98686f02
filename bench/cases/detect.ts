/**
 * Anomaly detection: per detector precision, recall and detection delay on the seeded scenario
 * (src/detect/scenario.ts: weeks of multi-agent activity with labelled incidents), and the
 * detectors' throughput on one core from their CPU time; plus the runner end to end over an
 * SQLite log (read, detect, append anomalies, move the cursor).
 */
import { join } from 'node:path';
import { openAuditTrail, type AuditEvent } from '../../src/index.js';
import { defaultDetectConfig, DetectRunner, evaluate, scenario } from '../../src/detect/index.js';
import { addBenchmark, atLeast, since, type BenchResult } from '../suite.js';

addBenchmark({
  name: 'detect',
  async run(ctx) {
    const days = ctx.scale(14, 28);
    const agents = ctx.scale(14, 28);
    const incidents = ctx.scale(6, 12);
    ctx.log(`detect: scenario of ${days} days, ${agents} agents, ${incidents} incidents per kind`);
    const s = scenario({ seed: 2026, days, agents, incidents });
    const r = evaluate(s, defaultDetectConfig());
    const results: BenchResult[] = [];
    for (const x of r.scores) {
      const note = `${x.detected}/${x.incidents} incidents, ${x.true_alerts}/${x.alerts} alerts true`;
      results.push(
        { name: `detect.${x.detector}.precision`, value: x.precision, unit: '', target: atLeast(0.9), note },
        { name: `detect.${x.detector}.recall`, value: x.recall, unit: '', target: atLeast(0.9) },
        {
          name: `detect.${x.detector}.delay_p50`,
          value: x.delay_p50_ms / 1000,
          unit: 's',
          note: `worst ${Math.round(x.delay_max_ms / 1000)} s after the incident's first event`,
        },
      );
    }
    results.push({
      name: 'detect.events_per_cpu_s',
      value: r.events / (r.cpu_ms / 1000),
      unit: 'events/s',
      target: atLeast(50_000),
      note: `${r.events} events; detectors' CPU time only (${((r.cpu_ms * 1000) / r.events).toFixed(2)} µs/event)`,
    });

    // End to end: the runner over an SQLite log of the scenario's first events.
    const n = ctx.scale(50_000, 200_000);
    const trail = await openAuditTrail({ tenant: 'bench', db: join(ctx.tmpDir, 'detect.db') });
    try {
      ctx.log(`detect: recording ${n} scenario events`);
      let batch: AuditEvent[] = [];
      let count = 0;
      for (const e of scenario({ seed: 2026, days, agents, incidents }).events()) {
        const { seq: _s, ts: _t, ...event } = e;
        batch.push(event);
        if (batch.length === 256) {
          await trail.recordBatch(batch);
          batch = [];
        }
        if (++count >= n) break;
      }
      if (batch.length > 0) await trail.recordBatch(batch);
      const runner = new DetectRunner(trail, defaultDetectConfig());
      const cpu = process.cpuUsage();
      const start = performance.now();
      const report = await runner.run();
      const wall = since(start) / 1000;
      const used = process.cpuUsage(cpu);
      const cpuS = (used.user + used.system) / 1e6;
      results.push({
        name: 'detect.runner_events_per_cpu_s',
        value: report.events / cpuS,
        unit: 'events/s',
        note: `${report.events} events read back from SQLite and detected, ${report.anomalies} anomalies appended; wall ${Math.round(report.events / wall)} events/s`,
      });
    } finally {
      await trail.close();
    }
    return results;
  },
});
