// Profiles the SOC 2 HTML report of the cached reports log (bench/cases/reports.ts), per phase,
// in CPU seconds of the whole process (the thread pool's gzip included) and wall seconds:
// node [--cpu-prof] --import tsx bench/profile-report.ts <audit.db> [rounds]
import { readFileSync } from 'node:fs';
import { openAuditTrail } from '../src/index.js';
import { buildReport } from '../src/report/reports/report.js';
import { renderHtml } from '../src/report/reports/render-html.js';
import { LARGE_LOG_TENANT } from './fixtures/large-log.js';

const cpu = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
/** CPU seconds of the main thread alone (Linux: /proc/self/task/<pid>/stat, in clock ticks of 10 ms). */
const mainCpu = (): number => {
  try {
    const f = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return Number.NaN;
  }
};
const [db, rounds = '1'] = process.argv.slice(2) as [string, string?];
const trail = await openAuditTrail({ tenant: LARGE_LOG_TENANT, db, readonly: true, checkpointIntervalMs: 0 });
try {
  for (let i = 0; i < Number(rounds); i++) {
    const m0 = mainCpu();
    const c0 = cpu();
    const t0 = performance.now();
    const built = await buildReport(trail, { template: { type: 'soc2' } });
    const c1 = cpu();
    // As bench/cases/reports.ts measures it: the page as one string.
    const bytes = renderHtml(built.model, built.source).length;
    const c2 = cpu();
    const m2 = mainCpu();
    const wall = (performance.now() - t0) / 1000;
    console.log(
      `round ${i}: build ${(c1 - c0).toFixed(2)} s cpu, render ${(c2 - c1).toFixed(2)} s cpu, ` +
        `total ${(c2 - c0).toFixed(2)} s cpu (main thread ${(m2 - m0).toFixed(2)}), ${wall.toFixed(2)} s wall; ` +
        `${built.model.totals.events} events, ${(bytes / 1e6).toFixed(1)} M chars, ` +
        `evidence ${(Object.values(built.source.evidence).reduce((n, v) => n + v.length, 0) / 1e6).toFixed(1)} M chars`,
    );
  }
} finally {
  await trail.close();
}
