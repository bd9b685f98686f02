// Scheduled reports (`schedules:` of the server's config): a run writes a report that verifies and
// records `report.generated` with its sha256; a webhook receives the report HMAC-signed; a run
// missed while the server was down runs once on start; bad config names the field; closing the
// server stops the scheduler.
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawn, spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { AuditError, openAuditTrail, type AuditTrail } from '../../src/index.js';
import { verifyReport } from '../../src/report/reports/report.js';
import {
  loadSchedules,
  parseSchedules,
  REPORT_GENERATED,
  ReportScheduler,
  SIGNATURE_HEADER,
  TIMESTAMP_HEADER,
  type ReportSchedule,
  type ScheduleRun,
} from '../../src/report/schedule.js';
import { serve } from '../../src/server/index.js';
import { MemoryStore } from '../../src/testing/index.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MAIN = join(ROOT, 'src', 'cli', 'main.ts');

let dir = '';
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'sched-test-'));
});
after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, f: () => T | undefined, ms = 8000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

async function memoryTrail(): Promise<AuditTrail> {
  const t = await openAuditTrail({ tenant: 'default', store: new MemoryStore(), checkpointIntervalMs: 0 });
  for (let i = 0; i < 3; i++)
    await t.record({
      type: 'action.intent',
      actor: { type: 'agent', id: 'bot' },
      action: { type: 'write:refund', target: `order/${i}`, params: { amount: i } },
    });
  return t;
}

async function one(yaml: string, env: NodeJS.ProcessEnv = {}): Promise<ReportSchedule> {
  const [s] = await parseSchedules(yaml, { baseDir: dir, env });
  assert.ok(s);
  return s;
}

async function generated(trail: AuditTrail): Promise<ScheduleRun[]> {
  const page = await trail.query({ type: REPORT_GENERATED, limit: 1000 });
  return page.events.map((e) => e.action?.params as ScheduleRun);
}

describe('scheduled reports', () => {
  it('a schedule every second writes a verifying report to a dir, records it, and stops with the server', async () => {
    const out = join(dir, 'every-second');
    const schedules = await parseSchedules(
      `schedules:
  - name: every-second
    cron: "* * * * * *"
    timezone: Europe/Berlin
    report: { type: summary, format: html }
    to: { dir: ./every-second }
`,
      { baseDir: dir },
    );
    const s = await serve(
      {
        db: join(dir, 'serve.db'),
        keyDir: join(dir, 'keys'),
        port: 0,
        logger: false,
        checkpointIntervalMs: 0,
        schedules,
      },
      false,
    );
    let trail: AuditTrail | undefined;
    try {
      trail = await s.app.auditrail.trail('default');
      await trail.record({
        type: 'action.intent',
        actor: { type: 'agent', id: 'bot' },
        action: { type: 'write:refund', target: 'order/1' },
      });
      const files = await until('two reports', () => {
        const f = safeList(out).filter((n) => !n.endsWith('.tmp'));
        return f.length >= 2 ? f : undefined;
      });
      assert.ok(
        files.every((f) => /^every-second-\d{8}T\d{6}Z\.html$/.test(f)),
        files.join(','),
      );
      const key = trail.verifierKey();
      let recorded = await generated(trail);
      for (const end = Date.now() + 5000; recorded.length < 2 && Date.now() < end; await sleep(50))
        recorded = await generated(trail);
      assert.ok(recorded.length >= 2, `${recorded.length} runs recorded`);
      const first = recorded[0]!;
      assert.equal(first.schedule, 'every-second');
      assert.equal(first.format, 'html');
      const body = readFileSync(first.file!);
      assert.equal(createHash('sha256').update(body).digest('hex'), first.sha256);
      const check = verifyReport(body.toString('utf8'), { trustedKey: key });
      assert.equal(check.ok, true, JSON.stringify(check.failures));
      assert.equal(check.model?.id, first.report_id);
      // The next period starts where the previous one ended.
      assert.equal(first.period.since, null);
      assert.equal(recorded[1]!.period.since, first.period.until);
    } finally {
      await s.close();
    }
    const after = safeList(out).length;
    await sleep(1500);
    assert.equal(safeList(out).length, after, 'no report is written after the server closed');
    assert.deepEqual(
      safeList(out).filter((f) => f.endsWith('.tmp')),
      [],
    );
  });

  it('POSTs the report to a webhook on 127.0.0.1 with a valid signature, and records the URL', async () => {
    const got: { headers: Record<string, string | string[] | undefined>; body: Buffer }[] = [];
    const receiver: Server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        got.push({ headers: req.headers, body: Buffer.concat(chunks) });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const port = (receiver.address() as { port: number }).port;
    const trail = await memoryTrail();
    try {
      const s = await one(
        `schedules:
  - name: hook
    cron: "0 6 * * *"
    report: { type: summary, format: json }
    to: { webhook: { url: "http://127.0.0.1:${port}/reports", secret: "\${HOOK_SECRET}" } }
`,
        { HOOK_SECRET: 'k3y' },
      );
      const at = new Date();
      const run = await new ReportScheduler({ schedules: [s], trail: () => Promise.resolve(trail) }).runOnce(
        s,
        at,
      );
      assert.equal(got.length, 1);
      const { headers, body } = got[0]!;
      const ts = headers[TIMESTAMP_HEADER] as string;
      const expected = `sha256=${createHmac('sha256', 'k3y').update(`${ts}.`).update(body).digest('hex')}`;
      assert.equal(headers[SIGNATURE_HEADER], expected);
      assert.equal(headers['content-type'], 'application/json');
      assert.equal(createHash('sha256').update(body).digest('hex'), run.sha256);
      const check = verifyReport(body.toString('utf8'), { trustedKey: trail.verifierKey() });
      assert.equal(check.ok, true, JSON.stringify(check.failures));
      assert.equal(check.model?.totals.events, 3);
      const [recorded] = await generated(trail);
      assert.equal(recorded?.url, `http://127.0.0.1:${port}/reports`);
      assert.equal(recorded?.period.until, at.toISOString());
      assert.equal(recorded?.report_id, run.report_id);
      assert.ok(!JSON.stringify(recorded).includes('k3y'), 'the secret is not recorded');
    } finally {
      await trail.close();
      await new Promise((r) => receiver.close(r));
    }
  });

  it('a run missed while the server was down runs once on start, not once per missed slot', async () => {
    const trail = await memoryTrail();
    const s = await one(`schedules:
  - name: minutely
    cron: "0 * * * * *"
    report: { type: summary, format: json }
    to: { dir: ./missed }
`);
    try {
      const tenMinutesAgo = new Date(Math.floor(Date.now() / 60_000) * 60_000 - 10 * 60_000);
      // The last run before the server went down.
      await new ReportScheduler({ schedules: [s], trail: () => Promise.resolve(trail) }).runOnce(
        s,
        tenMinutesAgo,
      );
      const runs: ScheduleRun[] = [];
      const scheduler = new ReportScheduler({
        schedules: [s],
        trail: () => Promise.resolve(trail),
        onRun: (r) => runs.push(r),
        onError: (_n, e) => assert.fail(String(e)),
      });
      await scheduler.start();
      await until('the catch-up run', () => (runs.length > 0 ? runs : undefined));
      await scheduler.stop();
      assert.equal(runs.length, 1);
      assert.equal(runs[0]!.period.since, tenMinutesAgo.toISOString());
      assert.equal((await generated(trail)).length, 2);

      // Started again right away: the last run is recent, the next slot is ahead, nothing runs.
      const again: ScheduleRun[] = [];
      const last = runs[0]!.period.until;
      const quiet = new ReportScheduler({
        schedules: [s],
        trail: () => Promise.resolve(trail),
        now: () => new Date(Date.parse(last) + 1),
        onRun: (r) => again.push(r),
      });
      await quiet.start();
      await sleep(300);
      await quiet.stop();
      assert.deepEqual(again, []);
      assert.equal((await generated(trail)).length, 2);
    } finally {
      await trail.close();
    }
  });

  it("reads cron times in the schedule's time zone", async () => {
    const trail = await memoryTrail();
    try {
      const yaml = (tz: string): string => `schedules:
  - name: six-${tz.replace('/', '-').toLowerCase()}
    cron: "0 6 * * *"
    timezone: ${tz}
    report: { type: summary, format: json }
    to: { dir: ./tz }
`;
      // Last run 10:00Z; now 11:30Z: 06:00 in New York (11:00Z) has passed, 06:00 UTC has not.
      const now = (): Date => new Date('2026-01-01T11:30:00Z');
      const due: string[] = [];
      for (const tz of ['America/New_York', 'UTC']) {
        const s = await one(yaml(tz));
        await new ReportScheduler({ schedules: [s], trail: () => Promise.resolve(trail) }).runOnce(
          s,
          new Date('2026-01-01T10:00:00Z'),
        );
        const runs: ScheduleRun[] = [];
        const scheduler = new ReportScheduler({
          schedules: [s],
          trail: () => Promise.resolve(trail),
          now,
          onRun: (r) => runs.push(r),
        });
        await scheduler.start();
        await scheduler.stop();
        due.push(...runs.map((r) => `${r.schedule} ${r.period.since} ${r.period.until}`));
      }
      assert.deepEqual(due, ['six-america-new_york 2026-01-01T10:00:00.000Z 2026-01-01T11:30:00.000Z']);
    } finally {
      await trail.close();
    }
  });

  it('bad config is refused with an error naming the field', async () => {
    const base = (extra: string, to = 'to: { dir: ./x }'): string =>
      `schedules:\n  - name: a\n    cron: "0 6 * * *"\n    report: { type: soc2 }\n    ${to}\n${extra}`;
    const cases: [string, RegExp, NodeJS.ProcessEnv?][] = [
      ['schedules: {}', /schedules must be a list/],
      [
        base('  - name: b\n    cron: "61 * * * *"\n    report: { type: soc2 }\n    to: { dir: ./x }'),
        /schedules\[1\]\.cron/,
      ],
      [
        base(
          '  - name: b\n    cron: "* * * * *"\n    timezone: Mars/Olympus\n    report: { type: soc2 }\n    to: { dir: ./x }',
        ),
        /schedules\[1\]\.timezone/,
      ],
      [
        base('  - name: a\n    cron: "* * * * *"\n    report: { type: soc2 }\n    to: { dir: ./x }'),
        /schedules\[1\]\.name: ?.*used twice|schedules\[1\]\.name/,
      ],
      [
        base('', 'to: { dir: ./x, webhook: { url: "http://127.0.0.1:1/" } }'),
        /schedules\[0\]\.to needs one of dir or webhook/,
      ],
      [
        base('', 'to: { webhook: { url: "ftp://127.0.0.1/" } }'),
        /schedules\[0\]\.to\.webhook\.url must be an http/,
      ],
      [
        base('', 'to: { webhook: { url: "http://127.0.0.1:1/", secret: "${NOPE}" } }'),
        /schedules\[0\]\.to\.webhook\.secret names environment variable NOPE/,
      ],
      [base('', 'to: { dir: ./x }\n    when: daily'), /schedules\[0\]\.when is not a known field/],
      [
        'schedules:\n  - name: a\n    cron: "0 6 * * *"\n    report: { type: soc3 }\n    to: { dir: ./x }',
        /schedules\[0\]\.report\.type must be one of/,
      ],
      [
        'schedules:\n  - name: a\n    cron: "0 6 * * *"\n    report: { type: soc2, format: docx }\n    to: { dir: ./x }',
        /schedules\[0\]\.report\.format must be one of/,
      ],
      [
        'schedules:\n  - name: a\n    cron: "0 6 * * *"\n    report: { type: gdpr-dsar }\n    to: { dir: ./x }',
        /schedules\[0\]\.report\.subject is required/,
      ],
      [
        'schedules:\n  - name: a\n    cron: "0 6 * * *"\n    report: { type: soc2, filters: { tenant: x } }\n    to: { dir: ./x }',
        /schedules\[0\]\.report\.filters\.tenant is not a known field/,
      ],
    ];
    for (const [yaml, message, env] of cases) {
      await assert.rejects(parseSchedules(yaml, { baseDir: dir, env: env ?? {} }), (e: unknown) => {
        assert.ok(e instanceof AuditError, String(e));
        assert.equal(e.code, 'invalid_argument');
        assert.match(e.message, message);
        return true;
      });
    }
    // A config without schedules (e.g. only `exports:`) has none.
    assert.deepEqual(await parseSchedules('exports: []', { baseDir: dir }), []);
  });

  it('reads the config file: a relative dir is relative to the file, filters map to the query', async () => {
    const conf = join(dir, 'conf');
    rmSync(conf, { recursive: true, force: true });
    mkdirSync(conf);
    writeFileSync(
      join(conf, 'auditrail.yaml'),
      `exports: []
schedules:
  - name: nightly
    cron: "0 2 * * *"
    timezone: America/New_York
    tenant: acme
    report: { type: soc2, format: csv, filters: { actor: bot, type: action.intent } }
    to: { dir: reports }
`,
    );
    const [s] = await loadSchedules(join(conf, 'auditrail.yaml'), {});
    assert.deepEqual(s?.to, { dir: join(conf, 'reports') });
    assert.equal(s?.tenant, 'acme');
    assert.equal(s?.timezone, 'America/New_York');
    assert.deepEqual(s?.report.filters, { actor_id: 'bot', type: 'action.intent' });
  });
});

describe('auditrail serve --config (real process)', () => {
  it('refuses bad schedules naming the field and creates no database', () => {
    const d = mkdtempSync(join(dir, 'cli-bad-'));
    writeFileSync(
      join(d, 'auditrail.yaml'),
      'schedules:\n  - name: a\n    cron: "99 * * * *"\n    report: { type: soc2 }\n    to: { dir: ./out }\n',
    );
    const r = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        MAIN,
        'serve',
        '--db',
        join(d, 'a.db'),
        '--port',
        '0',
        '--config',
        join(d, 'auditrail.yaml'),
      ],
      { cwd: ROOT, encoding: 'utf8' },
    );
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /schedules\[0\]\.cron is not a cron expression/);
    assert.deepEqual(readdirSync(d), ['auditrail.yaml']);
  });

  it('writes reports at cron times and stops on SIGTERM', async () => {
    const d = mkdtempSync(join(dir, 'cli-ok-'));
    writeFileSync(
      join(d, 'auditrail.yaml'),
      'schedules:\n  - name: tick\n    cron: "* * * * * *"\n    report: { type: summary, format: json }\n    to: { dir: ./out }\n' +
        // A tenant whose log is empty has nothing to report: the failure is said despite --quiet.
        '  - name: empty\n    tenant: nobody\n    cron: "* * * * * *"\n    report: { type: summary }\n    to: { dir: ./out }\n',
    );
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        MAIN,
        'serve',
        '--db',
        join(d, 'a.db'),
        '--port',
        '0',
        '--quiet',
        '--config',
        join(d, 'auditrail.yaml'),
      ],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      await until(
        'a report',
        () => (safeList(join(d, 'out')).some((f) => f.endsWith('.json')) ? true : undefined),
        30_000,
      );
      assert.match(out, /schedule tick: \* \* \* \* \* \* \(UTC\)/);
      await until('the failure', () =>
        /schedule empty: report failed: .*no signed checkpoint/.test(out) ? true : undefined,
      );
    } finally {
      child.kill('SIGTERM');
    }
    assert.equal(await exited, 0, out);
    const files = safeList(join(d, 'out'));
    await sleep(1500);
    assert.deepEqual(safeList(join(d, 'out')), files, 'nothing is written after the server stopped');
    const trail = await openAuditTrail({ tenant: 'default', db: join(d, 'a.db'), readonly: true });
    try {
      const runs = await generated(trail);
      assert.equal(runs.length, files.filter((f) => f.endsWith('.json')).length);
      assert.ok(runs.length >= 1);
    } finally {
      await trail.close();
    }
  });
});

function safeList(d: string): string[] {
  try {
    return readdirSync(d).sort();
  } catch {
    return [];
  }
}
