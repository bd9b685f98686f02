// CPU time per exported event (this process: the exporter), per sink and format, against the
// export bench's receivers in a child process:
// node --import tsx bench/profile-export.ts <dir> [sink.format,...] [rounds]
// (add --cpu-prof to see where the time goes; the child writes its own profile).
import { fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openAuditTrail } from '../src/index.js';
import { openPipeline, parseExportConfig } from '../src/export/index.js';
import type { ReceiverReport } from './export-receivers.js';
import { workloadEvents } from './fixtures/workload-events.js';

const [dir = '/tmp', only = '', roundsArg = '3'] = process.argv.slice(2);
const n = Number(process.env.N ?? 20_000);
const db = join(dir, 'profile-export.db');
const fresh = !existsSync(db);
const trail = await openAuditTrail({ tenant: 'bench', db });
if (fresh) {
  const events = workloadEvents(n);
  for (let i = 0; i < n; i += 256) await trail.recordBatch(events.slice(i, i + 256));
}
const child = fork(
  fileURLToPath(
    new URL(
      import.meta.url.endsWith('.ts') ? './export-receivers.ts' : './export-receivers.js',
      import.meta.url,
    ),
  ),
);
type Message = Record<string, unknown>;
const next = <T>(pick: (m: Message) => boolean): Promise<T> =>
  new Promise((resolve) => {
    const on = (m: unknown): void => {
      if (typeof m !== 'object' || m === null || !pick(m as Message)) return;
      child.off('message', on);
      resolve(m as T);
    };
    child.on('message', on);
  });
const { urls, syslogPort } = await next<{ urls: Record<string, string>; syslogPort: number }>(
  (m) => 'urls' in m,
);
const sinks: Record<string, string> = {
  file: `{ type: file, path: "${join(dir, 'profile-export.jsonl')}" }`,
  splunk: `{ type: splunk, url: "${urls['splunk']}", token: t }`,
  datadog: `{ type: datadog, url: "${urls['datadog']}/api/v2/logs", api_key: k }`,
  webhook: `{ type: webhook, url: "${urls['webhook']}", secret: s }`,
  otlp: `{ type: otlp, url: "${urls['otlp']}/v1/logs" }`,
  syslog: `{ type: syslog, host: 127.0.0.1, port: ${syslogPort} }`,
};
const wanted = only ? only.split(',') : Object.keys(sinks).flatMap((s) => [`${s}.native`, `${s}.ocsf`]);
const context = { hostname: 'bench', productVersion: 'bench' };
for (let round = 0; round < Number(roundsArg); round++) {
  const line: string[] = [];
  for (const w of wanted) {
    const [name, format] = w.split('.') as [string, string];
    const [config] = parseExportConfig(
      `exports:\n  - name: p${process.pid}-${round}-${name}-${format}\n    sink: ${sinks[name]}\n    format: ${format}\n    batch: { max_events: 1000, max_bytes: 4000000 }\n`,
    );
    if (name !== 'file') {
      const ready = next((m) => m.ready === name);
      child.send({ expect: { sink: name, format } });
      await ready;
    }
    const { pipeline, sink } = openPipeline(trail, config!, { context });
    const t = performance.now();
    const c = process.cpuUsage();
    const report = await pipeline.run();
    const cpu = process.cpuUsage(c);
    const wall = performance.now() - t;
    await sink.close();
    if (report.delivered !== n) throw new Error(`${w}: delivered ${report.delivered}`);
    let rx = '';
    if (name !== 'file') {
      const got = next<ReceiverReport>((m) => m.sink === name);
      child.send({ report: name, events: n });
      const r = await got;
      if (r.problem !== null || r.count !== n) throw new Error(`${w}: ${r.count} ${r.problem}`);
      rx = ` rx ${(r.cpuUs / n).toFixed(1)}`;
    }
    line.push(`${w} ${((cpu.user + cpu.system) / n).toFixed(1)}µs${rx} ${Math.round(n / (wall / 1000))}/s`);
  }
  console.log(line.join('  '));
}
child.disconnect();
await trail.close();
