// Writes frozen report and evidence fixtures into test/compat/<name>/: reports (HTML, JSON) and
// an evidence package built by this version from a small log (two governed demo sessions with
// a fixed clock, one erased disclosure), and the log's verifier key. test/compat/reports.test.ts
// verifies them with the current code: a report or package handed to an auditor must keep
// verifying. The log itself and its signing key are not kept.
//
// Run ONCE per format, never again for an existing folder.
//
//   node --import tsx scripts/write-report-fixtures.ts report-v1
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runDemoSession } from '../src/cli/demo-session.js';
import { openAuditTrail } from '../src/index.js';
import { writeEvidence } from '../src/report/evidence.js';
import { buildReport, reportJson } from '../src/report/reports/report.js';
import { renderHtml } from '../src/report/reports/render-html.js';
import { fixedClock } from '../src/testing/index.js';

const name = process.argv[2];
if (name === undefined || !/^report-v\d+$/.test(name)) {
  console.error('usage: node --import tsx scripts/write-report-fixtures.ts report-vN');
  process.exit(2);
}
const root = join(import.meta.dirname, '..', 'test', 'compat');
const out = join(root, name);
if (existsSync(out)) {
  console.error(`${out} exists: frozen fixtures are never regenerated`);
  process.exit(1);
}
const work = mkdtempSync(join(tmpdir(), 'auditrail-report-fixtures-'));
try {
  const db = join(work, 'audit.db');
  const clock = fixedClock(Date.UTC(2026, 0, 1), 1);
  const trail = await openAuditTrail({ tenant: 'acme', db, now: clock, checkpointIntervalMs: 0 });
  await runDemoSession(trail, 0);
  await trail.checkpoint();
  const first = await runDemoSession(trail, 1);
  const page = await trail.query({ session_id: first, type: 'context.accessed', limit: 1 });
  const seq = page.events[0]?.seq;
  if (seq === undefined) throw new Error('the demo session read no context');
  await trail.erase({ seqs: [seq] }, { reason: 'fixture erasure', requestedBy: 'dpo@example.com' });
  await trail.flush();
  mkdirSync(out);
  writeFileSync(join(out, 'log.vkey'), `${trail.verifierKey()}\n`);
  const now = (): Date => new Date('2026-06-01T00:00:00.000Z');
  const common = { now, generator: 'auditrail fixtures', createdBy: 'fixtures' };
  const soc2 = await buildReport(trail, { template: { type: 'soc2' }, ...common });
  writeFileSync(join(out, 'soc2.html'), renderHtml(soc2.model, soc2.source));
  // A window with entries before and after it, so that its boundaries are in the package.
  const events = (await trail.query({ limit: 1000 })).events;
  const window = { since: events[10]!.ts, until: events[events.length - 10]!.ts };
  const summary = await buildReport(trail, { template: { type: 'summary' }, query: window, ...common });
  writeFileSync(join(out, 'summary.json'), reportJson(summary.model, summary.source));
  await writeEvidence(trail, join(out, 'evidence.tar.gz'), { query: window, ...common });
  await trail.close();
} finally {
  rmSync(work, { recursive: true, force: true });
}
