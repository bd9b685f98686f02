// `auditrail report` and `auditrail verify-report` through main(), on a SQLite log the demo (the
// real Governor under examples/policies/support-agent.yaml) wrote; the PDF through the system's
// Chromium, read back with poppler's pdfinfo and pdftotext.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromiumPath } from '../../src/internal/chromium.js';
import { runCli } from '../integration/helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'auditrail-report-'));
const db = join(dir, 'audit.db');
after(() => rmSync(dir, { recursive: true, force: true }));

const cli = (args: string[]) => runCli(args, { cwd: dir, env: { AUDITRAIL_DB: db }, columns: 100 });

let key = '';
before(async () => {
  assert.equal((await cli(['demo'])).code, 0);
  assert.equal((await cli(['demo'])).code, 0);
  key = (await cli(['keys', 'show'])).stdout.trim();
});

describe('auditrail report', () => {
  it('writes an HTML report that verify-report accepts with the trusted key, and names an edited row', async () => {
    const r = await cli(['report', '--type', 'soc2', '-o', 'q4.html']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /wrote q4\.html: SOC 2 evidence report, \d+ events, report rpt-[0-9a-f]{16}/);
    const ok = await cli(['verify-report', 'q4.html', '--key', key]);
    assert.equal(ok.code, 0, ok.stdout);
    assert.match(ok.stdout, /^OK: q4\.html \(SOC 2 evidence report/);

    const page = readFileSync(join(dir, 'q4.html'), 'utf8');
    const m =
      /<tr data-seq="(\d+)"><td class="n">\d+<\/td><td>[^<]*<\/td><td>action\.succeeded<\/td><td>([^<]+)<\/td>/.exec(
        page,
      );
    assert.ok(m, 'a succeeded row');
    writeFileSync(
      join(dir, 'edited.html'),
      page.replace(m[0], m[0].replace(`<td>${m[2]}</td>`, '<td>someone-else</td>')),
    );
    const bad = await cli(['verify-report', 'edited.html', '--key', key]);
    assert.equal(bad.code, 1);
    assert.match(
      bad.stdout,
      new RegExp(`FAILED: edited\\.html does not verify \\(1 failures\\)\\n  row_edited seq ${m[1]}: `),
    );
  });

  it('writes JSON, CSV (with --bom) and a data subject report; refuses bad input with exit 2', async () => {
    assert.equal(
      (await cli(['report', '--type', 'summary', '--actor', 'acme-support', '-o', 'r.json'])).code,
      0,
    );
    const json = JSON.parse(readFileSync(join(dir, 'r.json'), 'utf8')) as { query: Record<string, string> };
    assert.deepEqual(json.query, { actor_id: 'acme-support' });
    assert.equal((await cli(['verify-report', 'r.json'])).code, 0);

    assert.equal((await cli(['report', '--type', 'summary', '--bom', '-o', 'r.csv'])).code, 0);
    const csv = readFileSync(join(dir, 'r.csv'), 'utf8');
    assert.ok(csv.startsWith('\ufeffseq,time,type,actor,action,target,status,flags,detail\r\n'));

    const dsar = await cli([
      'report',
      '--type',
      'gdpr-dsar',
      '--subject',
      'patient-20931',
      '--format',
      'json',
    ]);
    assert.equal(dsar.code, 0, dsar.stderr);
    assert.equal((JSON.parse(dsar.stdout) as { subject: string }).subject, 'patient-20931');

    const missing = await cli(['report', '--type', 'gdpr-dsar']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /pass --subject ID/);
    assert.equal((await cli(['report', '--type', 'sox'])).code, 2);
    assert.equal((await cli(['report'])).code, 2);
    writeFileSync(join(dir, 'bad.yaml'), 'title: x\nsections:\n  - { title: a, kind: pie }\n');
    const bad = await cli(['report', '--template', 'bad.yaml']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /bad\.yaml:3:\d+: sections\[0\]\.kind: must be one of/);
    assert.ok(!existsSync(join(dir, 'x.html')));
  });

  it('reads only: a report of a read-only log signs nothing and creates nothing', async () => {
    const before = readFileSync(db);
    assert.equal((await cli(['report', '--type', 'summary', '-o', 'ro.html'])).code, 0);
    assert.ok(readFileSync(db).equals(before));
  });
});

describe('PDF', () => {
  const missing = [chromiumPath(), '/usr/bin/pdfinfo', '/usr/bin/pdftotext'].filter((p) => !existsSync(p));
  const ci = process.env.CI === 'true';
  it('prints the report with the id, generation time and page numbers in the footer', async (t) => {
    if (missing.length > 0) {
      if (ci) assert.fail(`PDF test needs ${missing.join(', ')} under CI`);
      t.skip(`needs ${missing.join(', ')}`);
      return;
    }
    const r = await cli(['report', '--type', 'soc2', '-o', 'q4.pdf']);
    assert.equal(r.code, 0, r.stderr);
    const id = /report (rpt-[0-9a-f]{16})/.exec(r.stderr)![1]!;
    const info = spawnSync('pdfinfo', [join(dir, 'q4.pdf')], { encoding: 'utf8' });
    assert.equal(info.status, 0);
    const pages = Number(/Pages:\s+(\d+)/.exec(info.stdout)![1]);
    assert.ok(pages >= 2, info.stdout);
    assert.match(info.stdout, /Page size:\s+595\.\d+ x 842\.\d+ pts \(A4\)/);
    const text = spawnSync('pdftotext', ['-layout', join(dir, 'q4.pdf'), '-'], { encoding: 'utf8' }).stdout;
    assert.match(text, /SOC 2 evidence report/);
    assert.match(text, /SOC 2 CC8\.1/);
    assert.ok(text.includes(`page 1 of ${pages}`));
    assert.ok(text.includes(`page ${pages} of ${pages}`));
    assert.equal(text.split(id).length - 1 >= pages, true, 'the report id on every page');
    assert.match(text, /generated \d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z/);
  });
});
