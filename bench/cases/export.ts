/**
 * SIEM export: throughput of the pipeline from a SQLite log to each sink type (JSONL file, the
 * HTTP sinks and OTLP, syslog over TCP), and the end-to-end lag from `record()`'s receipt to the
 * receiver at a steady 1,000 events/s with `--follow`.
 *
 * The receivers of the throughput figures run in a child process (`bench/export-receivers.ts`), as
 * a SIEM runs on another machine, so their parsing is not charged to the exporter; they still
 * check every record (the request's framing and credentials, then each record's seq: every event
 * once, in order, from 0) and the figure fails when one is missing or out of place. They answer a
 * request before checking it, so their parsing is not in the exporter's round trip either; after
 * each run the bench waits until every record was checked. Each note gives the exporter's CPU
 * time per event and the receiver's apart.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openAuditTrail, type AuditTrail } from '../../src/index.js';
import { openPipeline, parseExportConfig } from '../../src/export/index.js';
import { RECEIVER_CREDENTIALS, type ReceiverReport } from '../export-receivers.js';
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

/** The next message of `child` that `pick` accepts. */
function nextMessage<T>(child: ChildProcess, pick: (m: unknown) => T | undefined): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: unknown): void => {
      const v = pick(m);
      if (v === undefined) return;
      child.off('message', onMessage);
      child.off('exit', onExit);
      resolve(v);
    };
    const onExit = (code: number | null): void => reject(new Error(`export receivers exited (${code})`));
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

/**
 * Records `n` workload events. In a function of its own: the events are garbage once recorded, so
 * the exporters measured afterwards do not carry them in their heap (an exporter never has them).
 */
async function recordWorkload(trail: AuditTrail, n: number): Promise<void> {
  const events = workloadEvents(n);
  for (let i = 0; i < n; i += 256) await trail.recordBatch(events.slice(i, i + 256));
}

addBenchmark({
  name: 'export',
  async run(ctx) {
    const n = ctx.scale(20_000, 100_000);
    const trail = await openAuditTrail({ tenant: 'bench', db: join(ctx.tmpDir, 'export.db') });
    const results: BenchResult[] = [];
    const servers: Server[] = [];
    const receivers = fork(fileURLToPath(new URL('../export-receivers.js', import.meta.url)), [], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    try {
      const started = nextMessage(receivers, (m) =>
        typeof m === 'object' && m !== null && 'urls' in m
          ? (m as { urls: Record<string, string>; syslogPort: number })
          : undefined,
      );
      ctx.log(`export: recording ${n} events`);
      await recordWorkload(trail, n);
      const { urls, syslogPort } = await started;
      const { splunkToken, datadogKey, webhookSecret } = RECEIVER_CREDENTIALS;
      const sinks: [string, string][] = [
        ['file', `{ type: file, path: "${join(ctx.tmpDir, 'export.jsonl')}" }`],
        ['splunk', `{ type: splunk, url: "${urls['splunk']}", token: ${splunkToken} }`],
        ['datadog', `{ type: datadog, url: "${urls['datadog']}/api/v2/logs", api_key: ${datadogKey} }`],
        ['webhook', `{ type: webhook, url: "${urls['webhook']}", secret: ${webhookSecret} }`],
        ['otlp', `{ type: otlp, url: "${urls['otlp']}/v1/logs" }`],
        ['syslog', `{ type: syslog, host: 127.0.0.1, port: ${syslogPort} }`],
      ];
      for (const [name, sink] of sinks) {
        for (const format of ['native', 'ocsf'] as const) {
          const [config] = parseExportConfig(
            `exports:\n  - name: ${name}-${format}\n    sink: ${sink}\n    format: ${format}\n    batch: { max_events: 1000, max_bytes: 4000000 }\n`,
          );
          ctx.log(`export: ${name} (${format})`);
          const remote = name !== 'file';
          if (remote) {
            const ready = nextMessage(receivers, (m) =>
              (m as { ready?: string }).ready === name ? true : undefined,
            );
            receivers.send({ expect: { sink: name, format } });
            await ready;
          }
          const { pipeline, sink: s } = openPipeline(trail, config!, { context: CONTEXT });
          const start = performance.now();
          const cpu0 = process.cpuUsage();
          const report = await pipeline.run();
          const seconds = since(start) / 1000;
          const cpu = process.cpuUsage(cpu0);
          await s.close();
          if (report.delivered !== n) throw new Error(`${name}: delivered ${report.delivered} of ${n}`);
          let receiverNote = '';
          if (remote) {
            const got = nextMessage(receivers, (m) =>
              (m as { sink?: string }).sink === name ? (m as ReceiverReport) : undefined,
            );
            receivers.send({ report: name, events: n });
            const r = await got;
            if (r.problem !== null || r.count !== n)
              throw new Error(
                `${name} (${format}) receiver: ${r.count} of ${n} records, ${r.problem ?? 'no problem'}`,
              );
            receiverNote = `; receiver (own process, checks every record) ${(r.cpuUs / n).toFixed(1)} µs`;
          }
          results.push({
            name: `export.${name}.${format}`,
            value: n / seconds,
            unit: 'events/s',
            target: atLeast(20_000),
            note: `${n} events, batches of 1,000; exporter ${((cpu.user + cpu.system) / n).toFixed(1)} µs CPU per event${receiverNote}`,
          });
        }
      }

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
      if (receivers.connected) receivers.disconnect();
      for (const s of servers) s.close();
      await trail.close();
    }
  },
});
