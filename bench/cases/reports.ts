/**
 * Compliance reports over 100,000 events (issue 14 item 7): the SOC 2 report as HTML (< 5 s) and
 * as PDF (< 15 s), end to end from an opened log — evidence of the window, its offline check,
 * the model and the rendering. The log is the agent workload built like bench/build-small-log.ts
 * (one checkpoint half way, one at the end), cached in bench/.cache under its own key.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openAuditTrail } from '../../src/index.js';
import { buildReport } from '../../src/report/reports/report.js';
import { renderHtml } from '../../src/report/reports/render-html.js';
import { renderPdf } from '../../src/report/reports/render-pdf.js';
import { chromiumPath } from '../../src/internal/chromium.js';
import { SQLITE_MIGRATIONS } from '../../src/store/sqlite/migrations.js';
import { AgentWorkload, WORKLOAD_VERSION } from '../agent-workload.js';
import { LARGE_LOG_TENANT } from '../fixtures/large-log.js';
import { addBenchmark, below, since, type BenchContext } from '../suite.js';

const SIZE = 100_000;

function key(): string {
  const h = createHash('sha256').update(`workload v${WORKLOAD_VERSION}\nsize ${SIZE}\n`);
  for (const m of SQLITE_MIGRATIONS) h.update(m.sql);
  return `reports-log-${SIZE}-${h.digest('hex').slice(0, 12)}`;
}

/** The 100,000-event log, from the cache or built now. */
async function reportsLog(ctx: BenchContext): Promise<string> {
  const name = key();
  const dir = join(ctx.cacheDir, name);
  const complete = join(dir, 'complete');
  if (!ctx.rebuild && existsSync(complete) && readFileSync(complete, 'utf8') === name)
    return join(dir, 'audit.db');
  mkdirSync(ctx.cacheDir, { recursive: true });
  for (const old of readdirSync(ctx.cacheDir))
    if (old.startsWith(`reports-log-${SIZE}-`))
      rmSync(join(ctx.cacheDir, old), { recursive: true, force: true });
  const building = `${dir}.tmp-${process.pid}`;
  mkdirSync(building, { recursive: true });
  ctx.log(`reports log: building ${SIZE} events in ${building}`);
  const workload = new AgentWorkload(42);
  const trail = await openAuditTrail({ tenant: LARGE_LOG_TENANT, db: join(building, 'audit.db') });
  try {
    for (let i = 0; i < SIZE; i++) {
      if (!trail.emit(workload.next())) await trail.drain();
      if (i === SIZE / 2) await trail.checkpoint();
    }
    await trail.flush();
    await trail.checkpoint();
  } finally {
    await trail.close();
  }
  writeFileSync(join(building, 'complete'), name);
  renameSync(building, dir);
  return join(dir, 'audit.db');
}

addBenchmark({
  name: 'reports',
  async run(ctx) {
    const db = await reportsLog(ctx);
    const trail = await openAuditTrail({
      tenant: LARGE_LOG_TENANT,
      db,
      readonly: true,
      checkpointIntervalMs: 0,
    });
    try {
      let t = performance.now();
      const built = await buildReport(trail, { template: { type: 'soc2' } });
      const page = renderHtml(built.model, built.source);
      const html = since(t) / 1000;
      const note = `${built.model.totals.events} events, ${(page.length / 1e6).toFixed(0)} MB of HTML`;
      const results = [{ name: 'reports.soc2_html_s', value: html, unit: 's', target: below(5), note }];
      if (existsSync(chromiumPath())) {
        t = performance.now();
        const again = await buildReport(trail, { template: { type: 'soc2' }, embedEvidence: false });
        const pdf = await renderPdf(again.model, again.source);
        results.push({
          name: 'reports.soc2_pdf_s',
          value: since(t) / 1000,
          unit: 's',
          target: below(15),
          note: `${(pdf.length / 1e6).toFixed(1)} MB, first 2,000 timeline rows`,
        });
      } else ctx.log('reports: no Chromium, PDF not measured');
      return results;
    } finally {
      await trail.close();
    }
  },
});
