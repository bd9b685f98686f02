// `auditrail erase`, `dsar` and `hold` end to end on a real SQLite file.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { openAuditTrail, type AuditEvent } from '../../src/index.js';
import { runCli } from '../integration/helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'auditrail-privacy-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const SUBJECT = 'cust-8841';

const cli = (args: string[], db: string) =>
  runCli([...args, '--tenant', 'acme'], { cwd: dir, env: { AUDITRAIL_DB: db, NO_COLOR: '1', USER: 'dpo' } });

let n = 0;
async function database(): Promise<string> {
  const db = join(dir, `audit-${n++}.db`);
  const trail = await openAuditTrail({ tenant: 'acme', db });
  const events: AuditEvent[] = [
    {
      type: 'context.accessed',
      session_id: 'sess-1',
      actor: { type: 'agent', id: 'support-bot' },
      action: { type: 'read:customer', target: `customer/${SUBJECT}` },
      context: { data_subject_ids: [SUBJECT], data_classification: 'pii', purpose: 'support' },
    },
    {
      type: 'action.intent',
      session_id: 'sess-2',
      actor: { type: 'agent', id: 'support-bot' },
      action: { type: 'write:refund', target: 'order/1', params: { amount: 5 } },
    },
    {
      type: 'action.succeeded',
      session_id: 'sess-1',
      actor: { type: 'agent', id: 'support-bot' },
      action: { type: 'write:note', target: 'ticket/3' },
      context: { data_subject_ids: [SUBJECT] },
      outcome: { status: 'success', result: { note: 'address changed' } },
    },
  ];
  for (const e of events) await trail.record(e);
  await trail.close();
  return db;
}

describe('auditrail erase', () => {
  it('--dry-run lists and writes nothing; then erases, and verify and show say "erased by seq N"', async () => {
    const db = await database();
    const dry = await cli(['erase', '--subject', SUBJECT, '--reason', 'DSR-14', '--dry-run'], db);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /would erase \d+ fields of 2 events .*dry run, nothing written/);
    assert.match(dry.stdout, /seq 0 {2}context\.accessed {2}\(body\)/);
    const logBefore = await cli(['log', '--format', 'jsonl'], db);
    assert.equal(logBefore.stdout.trim().split('\n').length, 3);
    const bySubject = await cli(['log', '--subject', SUBJECT, '--format', 'jsonl'], db);
    assert.deepEqual(
      bySubject.stdout
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { seq: number }).seq),
      [0, 2],
    );

    const r = await cli(['erase', '--subject', SUBJECT, '--reason', 'DSR-14', '--json'], db);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { seq: number; events: number; erased: { seq: number }[] };
    assert.equal(out.seq, 3);
    assert.equal(out.events, 2);

    assert.equal((await cli(['log', '--subject', SUBJECT, '--format', 'jsonl'], db)).stdout, '');
    const v = await cli(['verify'], db);
    assert.equal(v.code, 0, v.stdout + v.stderr);
    assert.match(v.stdout, /erased by seq 3: fields of entries 0, 2/);
    assert.match(v.stdout, /OK/);

    const show = await cli(['show', '0'], db);
    assert.equal(show.code, 0);
    assert.equal((JSON.parse(show.stdout) as { context?: unknown }).context, undefined);
    assert.match(
      show.stderr,
      /^erased by seq 3: \(body\), \/context\/data_subject_ids \(.*auditrail show 3 --db .* --tenant acme\)\n$/,
    );
    const erasure = JSON.parse((await cli(['show', '3'], db)).stdout) as {
      type: string;
      actor: { id: string };
    };
    assert.equal(erasure.type, 'data.erased');
    assert.equal(erasure.actor.id, 'dpo');
  });

  it('refuses without --subject or --reason, and under a hold, naming the hold', async () => {
    const db = await database();
    assert.equal((await cli(['erase', '--reason', 'x'], db)).code, 2);
    assert.equal((await cli(['erase', '--subject', SUBJECT], db)).code, 2);
    const add = await cli(['hold', 'add', '--session', 'sess-1', '--reason', 'litigation 7'], db);
    assert.equal(add.code, 0, add.stderr);
    const id = /^(hold-\d+) placed/.exec(add.stdout)?.[1];
    assert.ok(id, add.stdout);
    const refused = await cli(['erase', '--subject', SUBJECT, '--reason', 'DSR'], db);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, new RegExp(`legal hold ${id} \\(session sess-1; reason: litigation 7`));
    assert.match(refused.stderr, /nothing was erased/);
  });
});

describe('auditrail hold', () => {
  it('adds, lists and releases holds; each is an event', async () => {
    const db = await database();
    const a = await cli(
      ['hold', 'add', '--subject', SUBJECT, '--since', '2020-01-01', '--reason', 'case 1'],
      db,
    );
    assert.equal(a.code, 0, a.stderr);
    assert.match(
      a.stdout,
      /hold-3 placed on auditrail\.local\/t\/acme\/default: subject cust-8841, since 2020-01-01T00:00:00\.000Z/,
    );
    const list = await cli(['hold', 'list'], db);
    assert.match(list.stdout, /hold-3 {2}subject cust-8841/);
    assert.match(list.stdout, /by dpo: case 1/);
    const json = JSON.parse((await cli(['hold', 'list', '--json'], db)).stdout) as { id: string }[];
    assert.deepEqual(
      json.map((h) => h.id),
      ['hold-3'],
    );
    assert.equal((await cli(['hold', 'add', '--reason', 'x'], db)).code, 2);
    assert.equal((await cli(['hold', 'add', '--since', 'soon', '--reason', 'x'], db)).code, 1);
    assert.equal((await cli(['hold', 'release', 'hold-3'], db)).code, 2);
    const rel = await cli(['hold', 'release', 'hold-3', '--reason', 'closed'], db);
    assert.equal(rel.code, 0, rel.stderr);
    const again = await cli(['hold', 'release', 'hold-3', '--reason', 'closed'], db);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already released/);
    assert.match((await cli(['hold', 'list'], db)).stdout, /no active legal holds/);
    const types = (await cli(['log', '--format', 'jsonl'], db)).stdout
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { type: string }).type);
    assert.deepEqual(types.slice(3), ['hold.placed', 'hold.released']);
  });
});

describe('auditrail dsar', () => {
  it('writes the JSON export and the GDPR report beside it', async () => {
    const db = await database();
    const r = await cli(['dsar', '--subject', SUBJECT, '-o', 'cust.json', '--sign'], db);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /wrote cust\.json: 2 events, 0 approval requests, 0 active holds about cust-8841/);
    const dsar = JSON.parse(readFileSync(join(dir, 'cust.json'), 'utf8')) as {
      format: string;
      subject: string;
      events: { seq: number; context?: { purpose?: string } }[];
      report: { file: string };
    };
    assert.equal(dsar.format, 'auditrail-dsar/v1');
    assert.deepEqual(
      dsar.events.map((e) => e.seq),
      [0, 2],
    );
    assert.equal(dsar.events[0]!.context?.purpose, 'support');
    assert.equal(dsar.report.file, 'cust.html');
    const html = readFileSync(join(dir, 'cust.html'), 'utf8');
    assert.match(html, /GDPR data subject access report/);
    assert.ok(html.includes(SUBJECT));
    assert.equal((await cli(['dsar', '--subject', SUBJECT], db)).code, 2);
    assert.equal(existsSync(join(dir, 'cust.json.html')), false);
  });
});
