// Compliance reports on logs produced through the real Governor (the demo session under
// examples/policies/support-agent.yaml): every type builds and re-verifies, the HTML is
// self-contained and escapes hostile values, an edited row fails naming its seq, CSV is RFC 4180
// and formula-safe, templates are read strictly.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { gunzipSync, gzipSync } from 'node:zlib';
import { before, describe, it } from 'node:test';
import { runDemoSession } from '../../src/cli/demo-session.js';
import { AuditError, openAuditTrail, verifyEvidenceFiles, type AuditTrail } from '../../src/index.js';
import { buildEvidence } from '../../src/report/evidence.js';
import { BUILTIN_TEMPLATES, REPORT_TYPES } from '../../src/report/reports/builtin.js';
import type { ReportModel, Section } from '../../src/report/reports/model.js';
import { csvCell, renderCsv } from '../../src/report/reports/render-csv.js';
import { renderHtml, renderHtmlParts, SOURCE_ELEMENT_ID } from '../../src/report/reports/render-html.js';
import {
  buildReport,
  evidenceFiles,
  reportJson,
  verifyReport,
  type BuiltReport,
} from '../../src/report/reports/report.js';
import { MAX_TEMPLATE_BYTES, parseTemplate } from '../../src/report/reports/template.js';
import { MemoryStore } from '../../src/testing/index.js';

/** For fields the schema restricts to printable ASCII (ids). */
const HOSTILE_ID = `<img/src=x/onerror=alert(2)>"'&=cmd|/C`;
const HOSTILE = `<script>alert(1)</script><img src=x onerror=alert(2)>"'\`&\u202e=cmd|' /C calc'!A0`;

let trail: AuditTrail;
let sessions: string[];

async function demoLog(): Promise<{ trail: AuditTrail; sessions: string[] }> {
  const t = await openAuditTrail({ tenant: 'acme', store: new MemoryStore(), checkpointIntervalMs: 0 });
  const ids = [await runDemoSession(t, 0), await runDemoSession(t, 1)];
  await t.checkpoint();
  return { trail: t, sessions: ids };
}

const section = (m: ReportModel, kind: string, title?: RegExp): Section => {
  const s = m.sections.find((x) => x.kind === kind && (title === undefined || title.test(x.title)));
  assert.ok(s, `a ${kind} section`);
  return s;
};

before(async () => {
  ({ trail, sessions } = await demoLog());
});

describe('report types', () => {
  for (const type of REPORT_TYPES) {
    it(`${type}: builds HTML and JSON that verify against the log's key`, async () => {
      const r = await buildReport(trail, {
        template: { type },
        ...(type === 'gdpr-dsar' ? { subject: 'patient-20931' } : {}),
      });
      const key = trail.verifierKey();
      const page = renderHtml(r.model, r.source);
      const json = reportJson(r.model, r.source);
      for (const text of [page, json]) {
        const check = verifyReport(text, { trustedKey: key });
        assert.deepEqual(check.failures, []);
        assert.equal(check.ok, true);
      }
      assert.equal(r.model.tree_size, trail.size);
      assert.match(r.model.checkpoint, /^auditrail\.local\/t\/acme\/default\n\d+\n/);
      for (const s of r.model.sections)
        assert.ok(page.includes(s.title.replace(/&/g, '&amp;').replace(/'/g, '&#39;')));
    });
  }

  it('summary: totals and rates count each governed action once', async () => {
    const { model } = await buildReport(trail, { template: { type: 'summary' } });
    // Each demo session runs 16 governed actions: 12 succeed, 1 fails, 3 are denied, 1 is held.
    assert.equal(model.totals.actions, 32);
    assert.equal(model.totals.succeeded, 24);
    assert.equal(model.totals.failed, 2);
    assert.equal(model.totals.denied, 6);
    assert.equal(model.totals.held, 2);
    assert.equal(model.rates.success, 75);
    assert.equal(model.totals.events, trail.size);
  });

  it('soc2: approvals name the approver and the wait; CC sections name their controls', async () => {
    const { model } = await buildReport(trail, { template: { type: 'soc2' } });
    const approvals = section(model, 'approvals');
    assert.equal(approvals.control, 'SOC 2 CC6.2');
    assert.equal(approvals.rows.length, 2);
    for (const row of approvals.rows) {
      const at = (c: string): string => row[approvals.columns.indexOf(c)]!;
      assert.equal(at('approver'), 'maria.chen');
      assert.equal(at('decision'), 'granted');
      assert.match(at('wait'), /^\d+ (ms|s)$/);
    }
    const controls = model.sections.map((s) => s.control);
    for (const c of [
      'SOC 2 CC6.1',
      'SOC 2 CC6.2',
      'SOC 2 CC6.3',
      'SOC 2 CC7.2',
      'SOC 2 CC7.3',
      'SOC 2 CC8.1',
    ])
      assert.ok(controls.includes(c), c);
    const policy = section(model, 'policy_changes');
    assert.equal(policy.rows.length, 1);
    assert.equal(policy.rows[0]![policy.columns.indexOf('policy')], 'acme-support');
    // The stored diff, checked against the digest its event holds, names the rules of version 7.
    assert.match(policy.rows[0]![policy.columns.indexOf('diff')]!, /refunds-need-lead-approval/);
    assert.equal(policy.note, null);
    const denials = section(model, 'group', /Denials/);
    assert.ok(denials.rows.some((r) => r.includes('no-agent-payment-method-deletes')));
    const timeline = section(model, 'timeline');
    const flags = new Set(timeline.events.flatMap((r) => r.flags));
    for (const f of ['approval required', 'undone', 'retried', 'PHI']) assert.ok(flags.has(f), f);
    const tones = new Set(timeline.events.map((r) => r.tone));
    for (const t of ['ok', 'bad', 'deny', 'held']) assert.ok(tones.has(t as never), t);
  });

  it('hipaa: PHI access grouped by actor and purpose', async () => {
    const { model } = await buildReport(trail, { template: { type: 'hipaa' } });
    const phi = section(model, 'group', /PHI access/);
    assert.deepEqual(phi.columns.slice(0, 2), ['actor.id', 'context.purpose']);
    assert.equal(phi.rows[0]![0], 'acme-support');
    assert.match(phi.rows[0]![1]!, /refill/);
    assert.equal(Number(phi.rows[0]![2]), 4); // intent and context.accessed, in each of two sessions
  });

  it('gdpr-dsar: only the subject, with the rule, conditions and values of each decision (Art. 22)', async () => {
    await assert.rejects(
      buildReport(trail, { template: { type: 'gdpr-dsar' } }),
      (e: unknown) => e instanceof AuditError && /--subject/.test(e.message),
    );
    const r = await buildReport(trail, { template: { type: 'gdpr-dsar' }, subject: 'patient-20931' });
    const decisions = section(r.model, 'decisions');
    assert.equal(decisions.rows.length, 1);
    const row = decisions.rows[0]!;
    assert.equal(row[decisions.columns.indexOf('rule')], 'phi-minimum-necessary');
    assert.match(row[decisions.columns.indexOf('conditions')]!, /context\.purpose != '' → true/);
    assert.match(
      row[decisions.columns.indexOf('values')]!,
      /"context.purpose":"answer the customer.s question about a refill/,
    );
    // Nothing of the other session (another customer, another patient) is disclosed.
    const files = evidenceFiles(r.source.evidence)!;
    const shipped = [
      renderHtml(r.model, r.source),
      ...[...files.values()].map((b) => Buffer.from(b).toString('utf8')),
    ].join('\n');
    assert.ok(!shipped.includes(sessions[1]!));
    assert.ok(!shipped.includes('patient-20932'));
    assert.ok(shipped.includes(sessions[0]!));
  });

  it('eu-ai-act: retention against six months and the period of each use', async () => {
    const { model } = await buildReport(trail, { template: { type: 'eu-ai-act' } });
    const retention = section(model, 'retention');
    assert.equal(retention.control, 'EU AI Act Art. 19(1)');
    const stat = (l: string): string | undefined => retention.stats.find((s) => s.label === l)?.value;
    assert.equal(stat('minimum retention'), '183 days');
    assert.equal(stat('meets the minimum'), 'yes');
    const uses = section(model, 'group', /Period of each use/);
    // Events outside any session (the policy load) form their own group, shown as —.
    assert.deepEqual(new Set(uses.rows.map((r) => r[0])), new Set([...sessions, '—']));
    assert.ok(uses.columns.includes('first') && uses.columns.includes('last'));
  });

  it('filters: the exact query is embedded and shown; only matching events are disclosed', async () => {
    const r = await buildReport(trail, {
      template: { type: 'summary' },
      query: { session_id: sessions[1]! },
    });
    assert.deepEqual(r.model.query, { session_id: sessions[1] });
    assert.equal(r.model.totals.actions, 16);
    const page = renderHtml(r.model, r.source);
    assert.ok(page.includes(`session_id=${sessions[1]}`));
    assert.ok(verifyReport(page, { trustedKey: trail.verifierKey() }).ok);
  });
});

describe('HTML', () => {
  let built: BuiltReport;
  let page: string;
  before(async () => {
    const t = await openAuditTrail({ tenant: 'acme', store: new MemoryStore(), checkpointIntervalMs: 0 });
    await t.record({
      type: 'action.failed',
      session_id: HOSTILE_ID,
      actor: { type: 'agent', id: HOSTILE_ID, name: HOSTILE },
      action: { type: 'write:refund', target: HOSTILE, params: { note: HOSTILE } },
      outcome: { status: 'failure', error_message: HOSTILE },
      context: { purpose: HOSTILE, data_classification: 'pii', data_subject_ids: [HOSTILE_ID] },
      metadata: { detector: HOSTILE },
    });
    await t.record({
      type: 'approval.granted',
      actor: { type: 'user', id: HOSTILE_ID },
      action: { type: 'write:refund', target: HOSTILE },
      approval: {
        required: true,
        approver: HOSTILE,
        decision: 'granted',
        reason: HOSTILE,
        request_id: HOSTILE_ID,
      },
    } as never);
    await t.checkpoint();
    built = await buildReport(t, {
      template: {
        name: 'hostile.yaml',
        text: `title: ${JSON.stringify(HOSTILE)}\nsections:\n  - { title: ${JSON.stringify(HOSTILE)}, kind: summary, control: ${JSON.stringify(HOSTILE)}, evidence: ${JSON.stringify(HOSTILE)} }\n  - { title: g, kind: group, group_by: [actor.id, context.purpose], chart: true }\n  - { title: t, kind: table, fields: [action.target, outcome.error_message, metadata.detector] }\n  - { title: a, kind: approvals }\n  - { title: e, kind: timeline }\n`,
      },
      query: { since: '2000-01-01T00:00:00.000000Z' },
    });
    page = renderHtml(built.model, built.source);
  });

  it('escapes hostile strings in every field: no markup, no script, no bidi control survives', () => {
    assert.ok(
      !/<script>alert|<img|onerror=alert\(2\)>/.test(
        page.replace(/<script type="application\/json"[\s\S]*?<\/script>/, ''),
      ),
    );
    assert.ok(!page.includes('\u202e'));
    assert.ok(page.includes('&lt;script&gt;alert(1)&lt;/script&gt;'));
    assert.ok(page.includes('⟦U+202E⟧'));
    // The embedded source cannot end its script element early.
    const source = page.slice(page.lastIndexOf(`id="${SOURCE_ELEMENT_ID}">`));
    assert.equal(source.indexOf('</script>'), source.lastIndexOf('</script>'));
    assert.equal(page.match(/<script/g)?.length, 1);
    assert.ok(verifyReport(page).ok);
  });

  it('is self-contained: a CSP that allows no request, no external reference', () => {
    assert.match(page, /<meta http-equiv="Content-Security-Policy" content="default-src &#39;none&#39;/);
    assert.ok(!/\b(src|href)=["']?(https?:|\/\/)/i.test(page));
    assert.ok(!/url\(|@import/i.test(page.slice(0, page.indexOf('</style>'))));
    assert.match(page, /@media print/);
    assert.match(page, /<svg\s+role="img"/);
  });

  it('CSV: RFC 4180 quoting, CRLF, optional BOM, formula cells prefixed', () => {
    assert.equal(csvCell('=SUM(A1)'), "'=SUM(A1)");
    assert.equal(csvCell('+1'), "'+1");
    assert.equal(csvCell('-1'), "'-1");
    assert.equal(csvCell('@x'), "'@x");
    assert.equal(csvCell('\tx'), "'\tx");
    assert.equal(csvCell('a,"b"\nc'), '"a,""b""\nc"');
    assert.equal(csvCell('plain'), 'plain');
    const csv = renderCsv(built.model, { bom: true });
    assert.ok(csv.startsWith('\ufeffseq,time,type,'));
    assert.ok(csv.endsWith('\r\n'));
    assert.equal(csv.split('\r\n').length, 4); // header, 2 events, final CRLF
    assert.ok(!renderCsv(built.model).startsWith('\ufeff'));
    // The hostile target, with quotes and a comma-free body, is one quoted field with its quotes doubled.
    assert.ok(csv.includes(`,"${HOSTILE.replace(/"/g, '""')}",`));
    // An actor id starting with '=' is prefixed so that no spreadsheet evaluates it.
    const formula = renderCsv({
      ...built.model,
      sections: built.model.sections.map((s) =>
        s.kind === 'timeline' ? { ...s, events: s.events.map((e) => ({ ...e, actor: '=1+1' })) } : s,
      ),
    });
    assert.match(formula, /\r\n0,[^,]+,action\.failed,'=1\+1,/);
  });
});

describe('embedding', () => {
  const sourceOf = (page: string): unknown => {
    const open = `<script type="application/json" id="${SOURCE_ELEMENT_ID}">`;
    const i = page.lastIndexOf(open) + open.length;
    return JSON.parse(page.slice(i, page.indexOf('</script>', i)));
  };

  it('the page is its pieces in order, and embeds the source exactly', async () => {
    const r = await buildReport(trail, { template: { type: 'soc2' } });
    const parts = renderHtmlParts(r.model, r.source);
    const page = renderHtml(r.model, r.source);
    assert.equal(parts.join(''), page);
    // Each event row is a piece of its own (written as it is, never joined into the page first).
    const rows = section(r.model, 'timeline').events.length;
    assert.equal(parts.filter((p) => p.startsWith('<tr data-seq=')).length, rows);
    assert.deepEqual(sourceOf(page), r.source);
    assert.ok(Object.isFrozen(r.source.evidence));
    // A source parsed back from the file (not encoded by buildReport) renders to the same bytes.
    assert.equal(renderHtml(r.model, JSON.parse(JSON.stringify(r.source)) as typeof r.source), page);
  });

  it('evidence values that are not base64 are escaped like any other JSON in the page', async () => {
    const r = await buildReport(trail, { template: { type: 'summary' } });
    const hostile = '</script><img src=x onerror=alert(1)>\u2028"';
    const source = { ...r.source, evidence: { ...r.source.evidence, 'events.jsonl': hostile } };
    const page = renderHtml(r.model, source);
    const tail = page.slice(page.lastIndexOf(`id="${SOURCE_ELEMENT_ID}">`));
    assert.equal(tail.indexOf('</script>'), tail.lastIndexOf('</script>'));
    assert.ok(!tail.includes('<img'));
    assert.equal((sourceOf(page) as typeof source).evidence['events.jsonl'], hostile);
    assert.equal(verifyReport(page).ok, false);
  });

  it('the lines of a package as built check exactly as its events.jsonl does, tampering included', async () => {
    const built = await buildEvidence(trail, { keepLines: true });
    const lines = built.lines!;
    assert.equal(lines.length, built.files.get('events.jsonl')!.toString('utf8').split('\n').length - 1);
    const fromFile = verifyEvidenceFiles(built.files);
    const fromLines = verifyEvidenceFiles(built.files, { lines });
    assert.equal(fromLines.ok, true);
    assert.deepEqual(fromLines, fromFile);
    // An edited disclosure, a dropped line, an edited leaf: each fails with its kind and seq.
    const at = lines.findIndex((l) => l.role === 'event' && l.disclosures.length > 0);
    // Another salt: the disclosure's digest is no longer one its leaf commits to.
    const first = lines[at]!.disclosures[0]!;
    const other = `["${'A'.repeat(21)}w"${first.slice(25)}`;
    assert.notEqual(other, first);
    const edited = lines.map((l, i) =>
      i === at ? { ...l, disclosures: [other, ...l.disclosures.slice(1)] } : l,
    );
    assert.deepEqual(
      verifyEvidenceFiles(built.files, { lines: edited })
        .failures.filter((f) => f.kind === 'payload_edited')
        .map((f) => f.seq),
      [lines[at]!.seq],
    );
    const dropped = verifyEvidenceFiles(built.files, { lines: lines.filter((_, i) => i !== at) });
    assert.ok(dropped.failures.some((f) => f.kind === 'entry_missing' && f.seq === lines[at]!.seq));
    const leaf = Buffer.from(lines[at]!.leaf);
    leaf.writeUInt8(leaf.readUInt8(leaf.length - 2) ^ 1, leaf.length - 2);
    const changed = verifyEvidenceFiles(built.files, {
      lines: lines.map((l, i) => (i === at ? { ...l, leaf } : l)),
    });
    assert.ok(changed.failures.some((f) => f.kind === 'range_proof_failed' || f.kind === 'entry_malformed'));
  });
});

describe('embedded evidence format', () => {
  it('a new report is auditrail-report/v2 with auditrail-evidence/v2, and one with an erased field verifies', async () => {
    const t = await openAuditTrail({ tenant: 'acme', store: new MemoryStore(), checkpointIntervalMs: 0 });
    await runDemoSession(t, 0);
    const seq = (await t.query({ type: 'context.accessed', limit: 1 })).events[0]!.seq;
    await t.erase({ seqs: [seq] }, { reason: 'test', requestedBy: 'dpo@example.com' });
    await t.checkpoint();
    const r = await buildReport(t, { template: { type: 'soc2' } });
    assert.equal(r.model.format, 'auditrail-report/v2');
    assert.equal(r.source.format, 'auditrail-report/v2');
    const files = evidenceFiles(r.source.evidence)!;
    const manifest = JSON.parse(files.get('manifest.json')!.toString()) as { format: string };
    assert.equal(manifest.format, 'auditrail-evidence/v2');
    const lines = files
      .get('events.jsonl')!
      .toString()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { seq: number; record: string; erased: unknown[] });
    // The erased event keeps its digest list; the others leave it out.
    assert.ok(lines.find((l) => l.seq === seq)!.record.startsWith('{"d":['));
    assert.ok(lines.filter((l) => l.seq !== seq).every((l) => !l.record.startsWith('{"d":')));
    for (const text of [renderHtml(r.model, r.source), reportJson(r.model, r.source)])
      assert.deepEqual(verifyReport(text, { trustedKey: t.verifierKey() }).failures, []);
    const subject = await buildReport(t, { template: { type: 'gdpr-dsar' }, subject: 'patient-20931' });
    assert.deepEqual(
      verifyReport(reportJson(subject.model, subject.source), { trustedKey: t.verifierKey() }).failures,
      [],
    );
    await t.close();
  });
});

describe('verify-report', () => {
  let built: BuiltReport;
  before(async () => {
    built = await buildReport(trail, { template: { type: 'soc2' } });
  });

  it('an edited row of the HTML fails naming its seq', () => {
    const page = renderHtml(built.model, built.source);
    const row = section(built.model, 'timeline').events.find((r) => r.type === 'action.failed')!;
    const edited = page.replace(
      new RegExp(`(<tr data-seq="${row.seq}">[\\s\\S]*?)<span class="badge bad">failure</span>`),
      '$1<span class="badge ok">success</span>',
    );
    assert.notEqual(edited, page);
    const r = verifyReport(edited, { trustedKey: trail.verifierKey() });
    assert.equal(r.ok, false);
    assert.deepEqual(
      r.failures.map((f) => [f.kind, f.seq]),
      [['row_edited', row.seq]],
    );
  });

  it('an edited number outside the rows fails', () => {
    const page = renderHtml(built.model, built.source);
    const edited = page.replace('<b>32</b><span>actions</span>', '<b>31</b><span>actions</span>');
    assert.notEqual(edited, page);
    const r = verifyReport(edited);
    assert.deepEqual(
      r.failures.map((f) => f.kind),
      ['content_edited'],
    );
  });

  it('an edited row of the JSON fails naming its seq', () => {
    const json = JSON.parse(reportJson(built.model, built.source)) as ReportModel;
    const timeline = json.sections.find((s) => s.kind === 'timeline')!;
    const row = timeline.events[5]!;
    row.target = 'order/9999';
    const r = verifyReport(JSON.stringify(json));
    assert.deepEqual(
      r.failures.map((f) => [f.kind, f.seq]),
      [['row_edited', row.seq]],
    );
  });

  it('an edited event in the embedded evidence fails with the evidence failure and its seq', () => {
    const json = JSON.parse(reportJson(built.model, built.source)) as {
      source: { evidence: Record<string, string> };
    };
    const events = gunzipSync(Buffer.from(json.source.evidence['events.jsonl']!, 'base64')).toString('utf8');
    assert.ok(events.includes('maria.chen'));
    json.source.evidence['events.jsonl'] = gzipSync(events.replace('maria.chen', 'mallory')).toString(
      'base64',
    );
    const r = verifyReport(JSON.stringify(json));
    assert.equal(r.ok, false);
    assert.ok(r.failures.length > 0 && r.failures.every((f) => f.kind === 'evidence'));
    // Evidence that does not even decode is refused, not thrown.
    json.source.evidence['events.jsonl'] = Buffer.from('not gzip').toString('base64');
    assert.deepEqual(
      verifyReport(JSON.stringify(json)).failures.map((f) => f.kind),
      ['not_a_report'],
    );
  });

  it('a report checked with another log key fails', async () => {
    const other = await openAuditTrail({ tenant: 'acme', store: new MemoryStore(), checkpointIntervalMs: 0 });
    const r = verifyReport(renderHtml(built.model, built.source), { trustedKey: other.verifierKey() });
    assert.equal(r.ok, false);
    assert.ok(r.failures.some((f) => f.kind === 'evidence' && /key/.test(f.message)));
  });

  it('a file that is not a report is said to be one', () => {
    assert.deepEqual(
      verifyReport('<html></html>').failures.map((f) => f.kind),
      ['not_a_report'],
    );
    assert.deepEqual(
      verifyReport('{"a":1}').failures.map((f) => f.kind),
      ['not_a_report'],
    );
  });
});

describe('templates', () => {
  it('the shipped types are the files in examples/reports, byte for byte', () => {
    for (const type of REPORT_TYPES) {
      const file = readFileSync(new URL(`../../examples/reports/${type}.yaml`, import.meta.url), 'utf8');
      assert.equal(BUILTIN_TEMPLATES[type], file, type);
      assert.equal(parseTemplate(file, `${type}.yaml`).type, type);
    }
  });

  it('a custom template groups, counts and tables chosen fields', async () => {
    const r = await buildReport(trail, {
      template: {
        name: 'refunds.yaml',
        text: [
          'title: Refunds',
          'sections:',
          '  - title: Refund decisions',
          '    kind: group',
          '    where: { type: policy.decision, action.type: write:refund }',
          '    group_by: policy.decision',
          '  - title: Refund outcomes',
          '    kind: table',
          "    where: { type: [action.succeeded, action.failed], action.type: 'write:refund' }",
          '    fields: [seq, action.target, approval.approver]',
          '',
        ].join('\n'),
      },
    });
    const [decisions, outcomes] = r.model.sections;
    assert.deepEqual(decisions!.rows, [['require_approval', '2', '100%']]);
    assert.equal(outcomes!.rows.length, 2);
    for (const row of outcomes!.rows) assert.equal(row[2], 'maria.chen');
    assert.equal(r.model.type, 'custom');
  });

  const bad: [string, string, RegExp][] = [
    [
      'unknown kind',
      'title: x\nsections:\n  - { title: a, kind: pie }\n',
      /sections\[0\]\.kind: must be one of/,
    ],
    [
      'unknown field',
      'title: x\ncolour: red\nsections:\n  - { title: a, kind: summary }\n',
      /colour: unknown field/,
    ],
    ['no sections', 'title: x\nsections: []\n', /sections: must list at least one/],
    [
      'group without group_by',
      'title: x\nsections:\n  - { title: a, kind: group }\n',
      /sections\[0\]\.group_by/,
    ],
    [
      'bad path',
      'title: x\nsections:\n  - { title: a, kind: table, fields: ["a[0]"] }\n',
      /fields\[0\]: 'a\[0\]' is not a field path/,
    ],
    ['alias', 'title: &t x\nsections:\n  - { title: *t, kind: summary }\n', /anchors|aliases/],
    [
      'duplicate key',
      'title: x\ntitle: y\nsections:\n  - { title: a, kind: summary }\n',
      /title: duplicate key/,
    ],
    ['tag', 'title: !!binary eA==\nsections:\n  - { title: a, kind: summary }\n', /tag/],
    ['not YAML', 'title: [x\n', /not valid YAML/],
    [
      'limit',
      'title: x\nsections:\n  - { title: a, kind: timeline, limit: 0 }\n',
      /limit: must be a positive integer/,
    ],
  ];
  for (const [name, text, message] of bad)
    it(`refuses a bad template (${name}) with an AuditError naming the field`, () => {
      assert.throws(
        () => parseTemplate(text, 't.yaml'),
        (e: unknown) =>
          e instanceof AuditError &&
          e.code === 'invalid_argument' &&
          message.test(e.message) &&
          e.message.startsWith('t.yaml'),
      );
    });

  it('refuses a template over the size limit before parsing it, and parses a large one in linear time', () => {
    assert.throws(() => parseTemplate(`title: x\n#${'a'.repeat(MAX_TEMPLATE_BYTES)}\n`), /larger than/);
    // Many keys in one mapping: ten times the keys must cost about ten times the time, not a
    // hundred (the YAML library's own duplicate check is quadratic). Best of three, to ride out load.
    const time = (n: number): number => {
      const text = `title: x\nsections:\n  - { ${Array.from({ length: n }, (_, i) => `k${i}: 1`).join(', ')}, title: a, kind: summary }\n`;
      let best = Number.POSITIVE_INFINITY;
      for (let i = 0; i < 3; i++) {
        const t0 = performance.now();
        assert.throws(() => parseTemplate(text), /unknown field/);
        best = Math.min(best, performance.now() - t0);
      }
      return best;
    };
    const small = time(300);
    const large = time(3000);
    assert.ok(large / small < 40, `300 keys ${small.toFixed(1)} ms, 3000 keys ${large.toFixed(1)} ms`);
  });
});
