/**
 * SIEM export: throughput of the pipeline from a SQLite log to each sink type (JSONL file, the
 * HTTP sinks and OTLP, to receivers on 127.0.0.1 that answer at once; syslog over TCP to a discard
 * server), and the end-to-end lag from
 * `record()`'s receipt to the receiver at a steady 1,000 events/s with `--follow`.
 */
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer } from 'node:net';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { openAuditTrail } from '../../src/index.js';
import { openPipeline, parseExportConfig } from '../../src/export/index.js';
import { workloadEvents } from '../fixtures/workload-events.js';
import { addBenchmark, atLeast, below, percentile, since, type BenchResult } from '../suite.js';

const CONTEXT = { hostname: 'bench', productVersion: 'bench' };

/** A receiver that acknowledges every request; `onBody` sees each body. */
async function receiver(
  answer: string,
  status: number,
  onBody?: (body: Buffer) => void,
): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      onBody?.(Buffer.concat(parts));
      res.writeHead(status, { 'content-type': 'application/json' }).end(answer);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

addBenchmark({
  name: 'export',
  async run(ctx) {
    const n = ctx.scale(20_000, 100_000);
    const trail = await openAuditTrail({ tenant: 'bench', db: join(ctx.tmpDir, 'export.db') });
    const results: BenchResult[] = [];
    const servers: (Server | NetServer)[] = [];
    try {
      ctx.log(`export: recording ${n} events`);
      const events = workloadEvents(n);
      for (let i = 0; i < n; i += 256) await trail.recordBatch(events.slice(i, i + 256));
      const hec = await receiver('{"text":"Success","code":0}', 200);
      let ddEntries = 0;
      const dd = await receiver('{}', 202, (b) => {
        ddEntries += (JSON.parse(gunzipSync(b).toString('utf8')) as unknown[]).length;
      });
      const hook = await receiver('ok', 200);
      const otlp = await receiver('{}', 200);
      // A syslog receiver that takes every byte (a TCP discard server).
      const syslog = createNetServer((s) => s.resume());
      await new Promise<void>((r) => syslog.listen(0, '127.0.0.1', r));
      const syslogPort = (syslog.address() as AddressInfo).port;
      servers.push(hec.server, dd.server, hook.server, otlp.server, syslog);
      const sinks: [string, string][] = [
        ['file', `{ type: file, path: "${join(ctx.tmpDir, 'export.jsonl')}" }`],
        ['splunk', `{ type: splunk, url: "${hec.url}", token: t }`],
        ['datadog', `{ type: datadog, url: "${dd.url}/api/v2/logs", api_key: k }`],
        ['webhook', `{ type: webhook, url: "${hook.url}", secret: s }`],
        ['otlp', `{ type: otlp, url: "${otlp.url}/v1/logs" }`],
        ['syslog', `{ type: syslog, host: 127.0.0.1, port: ${syslogPort} }`],
      ];
      for (const [name, sink] of sinks) {
        for (const format of ['native', 'ocsf'] as const) {
          const [config] = parseExportConfig(
            `exports:\n  - name: ${name}-${format}\n    sink: ${sink}\n    format: ${format}\n    batch: { max_events: 1000, max_bytes: 4000000 }\n`,
          );
          ctx.log(`export: ${name} (${format})`);
          const { pipeline, sink: s } = openPipeline(trail, config!, { context: CONTEXT });
          const start = performance.now();
          const cpu0 = process.cpuUsage();
          const report = await pipeline.run();
          const seconds = since(start) / 1000;
          const cpu = process.cpuUsage(cpu0);
          await s.close();
          if (report.delivered !== n) throw new Error(`${name}: delivered ${report.delivered} of ${n}`);
          results.push({
            name: `export.${name}.${format}`,
            value: n / seconds,
            unit: 'events/s',
            target: atLeast(20_000),
            note: `${n} events, batches of 1,000; ${((cpu.user + cpu.system) / n).toFixed(1)} µs CPU per event (exporter and receiver)`,
          });
        }
      }
      if (ddEntries !== 2 * n) throw new Error(`datadog receiver got ${ddEntries} entries`);

      // Lag: 1,000 events/s for a while, a following exporter to a webhook receiver.
      const seconds = ctx.scale(5, 20);
      const recordedAt = new Map<number, number>();
      const lags: number[] = [];
      const lagHook = await receiver('ok', 200, (b) => {
        const now = performance.now();
        for (const r of JSON.parse(b.toString('utf8')) as { seq: number }[]) {
          const t = recordedAt.get(r.seq);
          if (t !== undefined) lags.push(now - t);
        }
      });
      servers.push(lagHook.server);
      const [config] = parseExportConfig(
        `exports:\n  - name: lag\n    sink: { type: webhook, url: "${lagHook.url}", secret: s }\n    batch: { max_wait_ms: 100 }\n`,
      );
      // Catch up to the log's end first: the lag is measured on new events only.
      const { pipeline } = openPipeline(trail, config!, { context: CONTEXT });
      const stop = new AbortController();
      await pipeline.run();
      const following = pipeline.run({ follow: true, signal: stop.signal });
      ctx.log(`export: lag at 1,000 events/s for ${seconds} s`);
      const total = seconds * 1000;
      const more = workloadEvents(total);
      const t0 = performance.now();
      for (let i = 0; i < total; i += 10) {
        const due = t0 + i;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        const receipts = await trail.recordBatch(more.slice(i, i + 10));
        const at = performance.now();
        for (const r of receipts) recordedAt.set(r.seq, at);
      }
      const deadline = performance.now() + 30_000;
      while (lags.length < total && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      stop.abort();
      await following;
      results.push({
        name: 'export.lag_p99',
        value: percentile(Float64Array.from(lags), 0.99) / 1000,
        unit: 's',
        target: below(2),
        note: `${lags.length} of ${total} events, webhook, poll every 100 ms`,
      });
      return results;
    } finally {
      for (const s of servers) s.close();
      await trail.close();
    }
  },
});
