// End-to-end tests of the `auditrail` command line: the real entry point in a child process
// (node --import tsx src/cli/main.ts) against SQLite databases in temporary directories, plus
// in-process runs of main(argv, io) where only the output plumbing is under test.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DEMO_SECRETS } from '../../src/cli/demo-session.js';
import { csvField, csvRow } from '../../src/cli/format.js';
import { main, type Io } from '../../src/cli/main.js';
import {
  openAuditTrail,
  type ProofBundleResult,
  type RecordedEvent,
  type VerifyReport,
} from '../../src/index.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MAIN = join(ROOT, 'src', 'cli', 'main.ts');
const ESC = '\x1b[';
const COMMANDS = ['demo', 'log', 'show', 'verify', 'prove', 'verify-proof', 'export', 'checkpoint', 'keys'];

const dirs: string[] = [];
/** A fresh directory per database: the signing key and witness state live beside it. */
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'auditrail-cli-'));
  dirs.push(d);
  return d;
}
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI as a child process with `AUDITRAIL_DB=db`, no colour, no inherited tenant/log. */
function cli(args: string[], db?: string, env: Record<string, string> = {}): Run {
  const base: Record<string, string | undefined> = { ...process.env, NO_COLOR: '1' };
  for (const k of ['AUDITRAIL_DB', 'AUDITRAIL_TENANT', 'AUDITRAIL_LOG', 'AUDITRAIL_DEBUG', 'FORCE_COLOR'])
    delete base[k];
  const r = spawnSync(process.execPath, ['--import', 'tsx', MAIN, ...args], {
    cwd: ROOT,
    env: { ...base, ...(db !== undefined ? { AUDITRAIL_DB: db } : {}), ...env },
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Runs main() in process with captured output. */
async function inProcess(
  args: string[],
  options: { env?: Record<string, string>; tty?: boolean; cwd?: string } = {},
): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const io: Io = {
    stdout: { write: (s) => void (stdout += s) },
    stderr: { write: (s) => void (stderr += s) },
    isTTY: { stdout: options.tty ?? false, stderr: options.tty ?? false },
    env: options.env ?? {},
    cwd: options.cwd ?? ROOT,
    columns: 100,
  };
  const code = await main(args, io);
  return { code, stdout, stderr };
}

/** In process against `db` (for fixtures and checks where the process boundary adds nothing). */
function quick(args: string[], db: string): Promise<Run> {
  return inProcess(args, { env: { AUDITRAIL_DB: db } });
}

function jsonl(text: string): RecordedEvent[] {
  return text
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as RecordedEvent);
}

/** RFC 4180 parser, independent of the code under test. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      row.push(field);
      field = '';
    } else if (ch === '\r' && text[i + 1] === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i++;
    } else field += ch;
  }
  assert.equal(quoted, false, 'unterminated quoted field');
  assert.equal(field, '', 'the last record must end with CRLF');
  return rows;
}

describe('auditrail demo, log, show, verify (one demo database)', () => {
  let db = '';
  let demo: Run;
  before(() => {
    db = join(tempDir(), 'audit.db');
    demo = cli(['demo', '--show'], db);
  });

  it('records at least 60 events and verifies them', () => {
    assert.equal(demo.code, 0, demo.stderr);
    const n = Number(/recorded (\d+) events/.exec(demo.stdout)?.[1]);
    assert.ok(n >= 60, `recorded ${n} events`);
    assert.match(demo.stdout, /verified:\s+OK/);
    assert.match(demo.stdout, /root:\s+[0-9a-f]{64}/);
    assert.match(demo.stdout, new RegExp(`checkpoint: size ${n}\\b`));
    assert.equal(demo.stderr, '', 'no progress output when stderr is a pipe');
  });

  it('--show prints a timeline within 100 columns, with redactions and the story', () => {
    const lines = demo.stdout.split('\n');
    assert.match(lines[0]!, /^\s*seq\s+time\s+type\s+actor\s+action → target\s+result$/);
    // The database path is the caller's, of any length: the layout is what must fit.
    for (const line of lines.map((l) => l.split(db).join('<db>')))
      assert.ok(line.length <= 100, `line too wide (${line.length}): ${line}`);
    for (const type of [
      'approval.granted',
      'action.retried',
      'action.timed_out',
      'action.undone',
      'delegation.started',
    ]) {
      assert.ok(demo.stdout.includes(type), `timeline shows ${type}`);
    }
    assert.match(demo.stdout, /redacted: \/action\/params\/api_key/);
    assert.match(demo.stdout, /undoes seq \d+/);
    assert.match(demo.stdout, /PHI, 1 data subject/);
  });

  it('log --format jsonl: every line parses and carries seq, ts, leaf_hash', () => {
    const r = cli(['log', '--format', 'jsonl', '--limit', '1000'], db);
    assert.equal(r.code, 0, r.stderr);
    const events = jsonl(r.stdout);
    assert.ok(events.length >= 60);
    events.forEach((e, i) => {
      assert.equal(e.seq, i);
      assert.match(e.ts, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/);
      assert.match(e.leaf_hash, /^[0-9a-f]{64}$/);
      assert.equal(typeof e.event_id, 'string');
      assert.equal(typeof e.actor.id, 'string');
      assert.deepEqual(Object.keys(e).slice(0, 3), ['seq', 'ts', 'leaf_hash']);
    });
    const types = new Set<string>(events.map((e) => e.type));
    for (const t of [
      'action.failed',
      'action.retried',
      'action.timed_out',
      'action.undone',
      'delegation.started',
    ]) {
      assert.ok(types.has(t), `demo has ${t}`);
    }
    // The governor records the failed attempt as action.retried, then the next attempt's dispatch.
    const retried = events.find((e) => e.type === 'action.retried');
    assert.equal(retried?.dispatch?.attempt, 1);
    const next = events.find((e) => e.seq > retried.seq && e.parent_event_id === retried?.parent_event_id);
    assert.equal(next?.dispatch?.attempt, 2);
    const undone = events.find((e) => e.type === 'action.undone');
    assert.ok(
      events.some((e) => e.event_id === undone?.undo?.of_event_id),
      'undo links an event of the log',
    );
    const phi = events.find((e) => e.context?.data_classification === 'phi');
    assert.ok((phi?.context?.data_subject_ids?.length ?? 0) > 0);
    const delegated = events.find((e) => e.type === 'delegation.started');
    assert.equal(delegated?.delegation?.root_agent, 'acme-support');
    assert.equal(delegated?.delegation?.depth, 1);
    // Every event of the session carries trace context (the policy load belongs to no session).
    assert.ok(
      events
        .filter((e) => e.type !== 'policy.updated')
        .every((e) => /^[0-9a-f]{32}$/.test(e.trace_id ?? '') && /^[0-9a-f]{16}$/.test(e.span_id ?? '')),
    );
    assert.ok(events.some((e) => (e.model?.input_tokens ?? 0) > 0));
    assert.ok(events.some((e) => e.approval?.decision === 'granted' && e.approval.approver));
  });

  it('log filters: --decision deny, --type action.failed, --status timeout, --session, --since/--until', () => {
    const denied = jsonl(cli(['log', '--decision', 'deny', '--format', 'jsonl'], db).stdout);
    assert.ok(denied.length >= 2);
    assert.ok(denied.every((e) => e.policy?.decision === 'deny' && e.policy.reason));

    const failed = jsonl(cli(['log', '--type', 'action.failed', '--format', 'jsonl'], db).stdout);
    assert.ok(failed.length >= 1);
    assert.ok(failed.every((e) => e.type === 'action.failed' && e.outcome?.error_message));

    const timeouts = jsonl(cli(['log', '--status', 'timeout', '--format', 'jsonl'], db).stdout);
    assert.ok(timeouts.length >= 1 && timeouts.every((e) => e.outcome?.status === 'timeout'));

    const all = jsonl(
      cli(['log', '--since', '1h', '--until', '2999-01-01T00:00:00Z', '--format', 'jsonl'], db).stdout,
    );
    assert.ok(all.length >= 60);
    const session = all[0]!['session_id'] as string;
    const bySession = jsonl(cli(['log', '--session', session, '--format', 'jsonl'], db).stdout);
    // All but the policy load, which belongs to no session.
    assert.equal(bySession.length, all.filter((e) => e['type'] !== 'policy.updated').length);

    const none = cli(['log', '--until', '2000-01-01', '--format', 'jsonl'], db);
    assert.equal(none.code, 0);
    assert.equal(none.stdout, '');
    assert.match(none.stderr, /no events match/);
  });

  it('log --limit stops early and says so on stderr; --order desc reverses', () => {
    const r = cli(['log', '--limit', '5', '--order', 'desc', '--format', 'jsonl'], db);
    const events = jsonl(r.stdout);
    assert.equal(events.length, 5);
    assert.ok(events[0]!['seq'] > events[4]!['seq']);
    assert.match(r.stderr, /more match/);
  });

  it('log table is the default format', () => {
    const r = cli(['log', '--decision', 'deny'], db);
    assert.equal(r.code, 0);
    assert.match(r.stdout.split('\n')[0]!, /seq\s+ts \(UTC\)\s+type/);
    assert.match(r.stdout, /policy\.decision .* deny/);
  });

  it('show prints one event by seq and by event_id; an unknown one exits 1', () => {
    const bySeq = cli(['show', '10'], db);
    assert.equal(bySeq.code, 0, bySeq.stderr);
    const event = JSON.parse(bySeq.stdout) as RecordedEvent;
    assert.equal(event['seq'], 10);
    const byId = cli(['show', event['event_id']], db);
    assert.deepEqual(JSON.parse(byId.stdout), event);
    const missing = cli(['show', '999999'], db);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^error: no event with seq 999999/);
    assert.doesNotMatch(missing.stderr, /\n\s+at /, 'no stack trace');
  });

  it('verify --json has the documented shape', () => {
    const r = cli(['verify', '--json'], db);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as VerifyReport;
    assert.deepEqual(Object.keys(report).sort(), [
      'checkpoints_verified',
      'failures',
      'log',
      'ok',
      'redactions',
      'root',
      'size',
      'unsigned_tail',
    ]);
    assert.equal(report['ok'], true);
    assert.equal(report['log'], 'auditrail.local/t/demo/default');
    assert.ok(report['size'] >= 60);
    assert.match(report['root'], /^[0-9a-f]{64}$/);
    assert.ok(report['checkpoints_verified'] >= 1);
    assert.deepEqual(report['failures'], []);
  });

  it('verify (human) says OK; checkpoint and keys show print the signed note and the vkey', async () => {
    const v = cli(['verify'], db);
    assert.equal(v.code, 0);
    assert.match(v.stdout, /^OK$/m);
    const cp = cli(['checkpoint'], db);
    assert.equal(cp.code, 0);
    const [origin, size, root] = cp.stdout.split('\n');
    assert.equal(origin, 'auditrail.local/t/demo/default');
    assert.ok(Number(size) >= 60);
    assert.match(root!, /^[A-Za-z0-9+/]{43}=$/);
    assert.match(cp.stdout, /\n\n— auditrail\.local\/t\/demo\/default [A-Za-z0-9+/=]+\n$/);
    const key = cli(['keys', 'show'], db);
    assert.match(key.stdout, /^auditrail\.local\/t\/demo\/default\+[0-9a-f]{8}\+[A-Za-z0-9+/=]+\n$/);
    assert.equal((await quick(['verify', '--key', key.stdout.trim()], db)).code, 0);
  });

  it('a redacted secret appears nowhere: not in export output, not in the database bytes', () => {
    const r = cli(['export', '--format', 'jsonl'], db);
    assert.equal(r.code, 0, r.stderr);
    const events = jsonl(r.stdout);
    const pointers = events.flatMap((e) => e.redacted ?? []);
    for (const p of [
      '/action/params/api_key',
      '/action/params/new_password',
      '/action/params/headers/Authorization',
    ]) {
      assert.ok(pointers.includes(p), `${p} was redacted`);
    }
    const files = [db, `${db}-wal`, `${db}-shm`].filter((f) => existsSync(f));
    const raw = Buffer.concat(files.map((f) => readFileSync(f)));
    assert.ok(raw.length > 0);
    for (const [name, secret] of Object.entries(DEMO_SECRETS)) {
      assert.ok(!r.stdout.includes(secret), `${name} in export output`);
      assert.ok(!demo.stdout.includes(secret), `${name} in demo output`);
      assert.equal(raw.indexOf(Buffer.from(secret, 'utf8')), -1, `${name} in the database file`);
    }
  });

  it('export --format csv has the fixed columns; --format json is one array', () => {
    const csv = cli(['export', '--format', 'csv'], db);
    assert.equal(csv.code, 0, csv.stderr);
    const rows = parseCsv(csv.stdout);
    assert.deepEqual(rows[0], [
      'seq',
      'ts',
      'event_id',
      'type',
      'actor_type',
      'actor_id',
      'action_type',
      'target',
      'decision',
      'matched_rule',
      'reason',
      'status',
      'risk',
      'session_id',
      'run_id',
      'leaf_hash',
    ]);
    assert.ok(rows.length > 60);
    assert.ok(rows.slice(1).every((r) => r.length === 16 && /^[0-9a-f]{64}$/.test(r[15]!)));
    // A decision row says which rule decided and why.
    const denied = rows.find((r) => r[3] === 'policy.decision' && r[8] === 'deny');
    assert.ok(denied, 'the demo has a denial');
    assert.ok(denied[9] !== '' && denied[10] !== '', `rule and reason: ${denied.join(' | ')}`);
    const json = JSON.parse(cli(['export', '--format', 'json'], db).stdout) as unknown[];
    assert.equal(json.length, rows.length - 1);
  });

  it('export -o writes a file and leaves stdout empty', () => {
    const out = join(tempDir(), 'out.jsonl');
    const r = cli(['export', '-o', out, '--type', 'policy.decision'], db);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /exported \d+ events/);
    const events = jsonl(readFileSync(out, 'utf8'));
    assert.ok(events.length > 10 && events.every((e) => e['type'] === 'policy.decision'));
  });

  it('usage errors exit 2 with a message naming the problem and the usage line', async () => {
    const cases: [string[], RegExp][] = [
      [['frobnicate'], /unknown command 'frobnicate'/],
      [['lgo'], /did you mean .*'log'/],
      [['log', '--bogus'], /unknown flag --bogus/],
      [['log', '--since', 'yesterday'], /--since must be/],
      [['log', '--until', '2025-02-30'], /--until must be/],
      [['log', '--format', 'xml'], /--format must be one of table, json, jsonl, csv/],
      [['log', '--limit', '0'], /--limit must be an integer/],
      [['log', '--decision', 'maybe'], /--decision must be one of allow, deny, require_approval/],
      [['log', '--type', 'action.fail'], /did you mean action\.failed/],
      [['log', '--type', 'acton.*'], /--type 'acton\.\*' matches no event type/],
      [['log', '--follow', '--format', 'json'], /--follow prints a stream/],
      [['log', '--db'], /flag --db needs a value/],
      [['show'], /missing <seq\|event_id>/],
      [['prove', 'abc'], /<seq> must be a non-negative integer/],
      [['keys', 'spin'], /unknown subcommand 'keys spin'/],
      [['verify', 'extra'], /unexpected argument 'extra'/],
    ];
    const none = join(tempDir(), 'none.db');
    for (const [args, message] of cases) {
      // Two through the real entry point, the rest in process (same code, no process start-up).
      const r = args[0] === 'frobnicate' || args[1] === '--since' ? cli(args, none) : await quick(args, none);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /^error: /);
      assert.match(r.stderr, message);
      assert.match(r.stderr, /Usage: auditrail /);
    }
  });

  it('a missing database is an error (exit 1), not silently created', () => {
    const dir = tempDir();
    const r = cli(['verify'], join(dir, 'nope.db'));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: no audit database at .*nope\.db/);
    assert.equal(existsSync(join(dir, 'nope.db')), false);
  });
});

describe('auditrail prove / verify-proof', () => {
  let bundleFile = '';
  let vkey = '';
  before(async () => {
    const dir = tempDir();
    const db = join(dir, 'audit.db');
    assert.equal((await quick(['demo'], db)).code, 0);
    bundleFile = join(tempDir(), 'proof.json');
    const p = cli(['prove', '10', '-o', bundleFile], db);
    assert.equal(p.code, 0, p.stderr);
    vkey = (await quick(['keys', 'show'], db)).stdout.trim();
    // The proof must stand on its own: no database, no keys directory.
    rmSync(dir, { recursive: true, force: true });
  });

  it('passes with no database, with and without a trusted key', () => {
    const r = cli(['verify-proof', bundleFile, '--key', vkey]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^OK: seq 10 is in auditrail\.local\/t\/demo\/default at tree size \d+/);
    const event = JSON.parse(r.stdout.slice(r.stdout.indexOf('\n') + 1)) as RecordedEvent;
    assert.equal(event['type'], 'action.intent');
    const own = cli(['verify-proof', bundleFile]);
    assert.equal(own.code, 0);
    assert.match(own.stderr, /bundle's own key/);
    const json = JSON.parse(cli(['verify-proof', bundleFile, '--json']).stdout) as ProofBundleResult;
    assert.equal(json['ok'], true);
    assert.equal(json['seq'], 10);
  });

  /** Replaces the base64 character at `i` of `s` by a different one. */
  const flip = (s: string, i: number): string =>
    `${s.slice(0, i)}${s[i] === 'A' ? 'B' : 'A'}${s.slice(i + 1)}`;

  it('fails (exit 1) when one character of the leaf changes', () => {
    const bundle = JSON.parse(readFileSync(bundleFile, 'utf8')) as { leaf: string };
    bundle.leaf = flip(bundle.leaf, Math.floor(bundle.leaf.length / 2));
    const f = join(tempDir(), 'leaf.json');
    writeFileSync(f, JSON.stringify(bundle));
    const r = cli(['verify-proof', f, '--key', vkey]);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /^FAILED/);
  });

  it('fails (exit 1) when one character of a proof hash changes', () => {
    const bundle = JSON.parse(readFileSync(bundleFile, 'utf8')) as { inclusion: { proof: string[] } };
    assert.ok(bundle.inclusion.proof.length > 0);
    bundle.inclusion.proof[0] = flip(bundle.inclusion.proof[0]!, 5);
    const f = join(tempDir(), 'hash.json');
    writeFileSync(f, JSON.stringify(bundle));
    const r = cli(['verify-proof', f, '--key', vkey]);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /inclusion proof of seq 10 does not lead to the checkpoint root/);
  });

  it('fails (exit 1) against a different trusted key, and on a file that is not JSON', async () => {
    const other = join(tempDir(), 'other.db');
    assert.equal((await quick(['demo', '--events', '3'], other)).code, 0);
    const otherKey = (await quick(['keys', 'show'], other)).stdout.trim();
    const r = cli(['verify-proof', bundleFile, '--key', otherKey]);
    assert.equal(r.code, 1);
    const junk = join(tempDir(), 'junk.json');
    writeFileSync(junk, 'not json');
    const j = cli(['verify-proof', junk]);
    assert.equal(j.code, 1);
    assert.match(j.stderr, /^error: .*is not JSON/);
  });
});

describe('auditrail verify on a damaged database', () => {
  it('reports a rollback with its seq and kind, and exits 1', async () => {
    const dir = tempDir();
    const db = join(dir, 'audit.db');
    assert.equal((await quick(['demo', '--events', '10'], db)).code, 0);
    const backup = join(tempDir(), 'backup.db');
    copyFileSync(db, backup);
    assert.equal((await quick(['demo', '--events', '10'], db)).code, 0);
    // Restore the older copy: the witness file remembers the larger checkpoint handed out.
    for (const suffix of ['-wal', '-shm']) rmSync(`${db}${suffix}`, { force: true });
    copyFileSync(backup, db);
    const human = cli(['verify'], db);
    assert.equal(human.code, 1);
    assert.match(human.stdout, /FAILED: \d+ failure/);
    assert.match(human.stdout, /seq\s+10\s+rolled_back/);
    const json = JSON.parse((await quick(['verify', '--json'], db)).stdout) as {
      ok: boolean;
      failures: { seq: number; kind: string }[];
    };
    assert.equal(json.ok, false);
    assert.ok(json.failures.some((f) => f.kind === 'rolled_back'));
  });
});

describe('auditrail log and export across pages', () => {
  it('pages through with next_cursor when --limit exceeds one page', async () => {
    const db = join(tempDir(), 'audit.db');
    assert.equal((await quick(['demo', '--events', '1100'], db)).code, 0);
    const r = cli(['log', '--limit', '1050', '--format', 'jsonl'], db);
    const events = jsonl(r.stdout);
    assert.equal(events.length, 1050);
    assert.ok(events.every((e, i) => e['seq'] === i));
    assert.match(r.stderr, /more match/);
    const all = await quick(['export', '--format', 'csv'], db);
    assert.equal(parseCsv(all.stdout).length, 1101);
  });
});

describe('CSV quoting', () => {
  it('quotes commas, quotes and newlines (RFC 4180) and defuses formulas', () => {
    assert.equal(csvField('plain'), 'plain');
    assert.equal(csvField('a,b'), '"a,b"');
    assert.equal(csvField('say "hi"'), '"say ""hi"""');
    assert.equal(csvField('two\nlines'), '"two\nlines"');
    assert.equal(csvField('=HYPERLINK("x")'), `"'=HYPERLINK(""x"")"`);
    assert.equal(csvField(undefined), '');
    assert.equal(csvField(42), '42');
    assert.equal(csvRow(['a', 'b,c']), 'a,"b,c"\r\n');
  });

  it('writes control characters other than tab, CR and LF as visible escapes', () => {
    assert.equal(csvField('a\x00b\x1b[31mc\x07'), 'a\\u0000b\\u001b[31mc\\u0007');
    assert.equal(csvField('x\u009by'), 'x\\u009by');
    assert.equal(csvField('tab\there'), 'tab\there');
    assert.equal(csvField('\x1b=cmd'), '\\u001b=cmd');
  });

  it('exports awkward targets so that a CSV parser reads them back exactly', async () => {
    const dir = tempDir();
    const db = join(dir, 'audit.db');
    const targets = [
      'order/1042, "gift wrap"',
      'line one\nline two',
      '-1 refund',
      'naïve, ünïcode',
      'nul\x00 esc\x1b[2J bel\x07',
    ];
    const trail = await openAuditTrail({ tenant: 'demo', db, checkpointIntervalMs: 0 });
    for (const target of targets) {
      await trail.record({
        type: 'action.intent',
        actor: { type: 'agent', id: 'bot,"x"' },
        action: { type: 'write:note', target },
      });
    }
    await trail.close();
    const r = cli(['export', '--format', 'csv'], db);
    assert.equal(r.code, 0, r.stderr);
    const rows = parseCsv(r.stdout).slice(1);
    for (const c of ['\x00', '\x07', '\x1b'])
      assert.ok(!r.stdout.includes(c), 'no raw NUL, BEL or ESC in the CSV');
    assert.deepEqual(
      rows.map((row) => row[7]),
      targets.map((t) =>
        (t.startsWith('-') ? `'${t}` : t)
          .replace('\x00', '\\u0000')
          .replace('\x1b', '\\u001b')
          .replace('\x07', '\\u0007'),
      ),
    );
    assert.ok(rows.every((row) => row[5] === 'bot,"x"'));
    const log = await quick(['log', '--format', 'csv'], db);
    assert.equal(log.stdout, r.stdout, 'log --format csv and export --format csv agree');
  });
});

describe('help', () => {
  it('every command has --help with an example, exit 0', async () => {
    for (const name of COMMANDS) {
      const r = await inProcess([name, '--help']);
      assert.equal(r.code, 0, name);
      assert.match(r.stdout, new RegExp(`^Usage: auditrail ${name}`), name);
      assert.match(r.stdout, /Example/, name);
      const short = await inProcess(['help', name]);
      assert.equal(short.stdout, r.stdout);
    }
  });

  it('no arguments and `help` list every command; the real entry point agrees', async () => {
    const r = await inProcess([]);
    assert.equal(r.code, 0);
    for (const name of COMMANDS) assert.match(r.stdout, new RegExp(`^  ${name} `, 'm'));
    assert.equal((await inProcess(['help'])).stdout, r.stdout);
    const spawned = cli(['--help']);
    assert.equal(spawned.code, 0);
    assert.equal(spawned.stdout, r.stdout);
    const demoHelp = cli(['demo', '-h']);
    assert.equal(demoHelp.code, 0);
    assert.match(demoHelp.stdout, /Example/);
  });

  it('help --help (and help help) print the command list', async () => {
    const list = (await inProcess(['help'])).stdout;
    for (const args of [
      ['help', '--help'],
      ['help', '-h'],
      ['help', 'help'],
    ]) {
      const r = await inProcess(args);
      assert.equal(r.code, 0, args.join(' '));
      assert.equal(r.stdout, list, args.join(' '));
    }
  });

  it('help of an unknown command exits 2', async () => {
    const r = await inProcess(['help', 'nope']);
    assert.equal(r.code, 2);
  });
});

describe('output plumbing (in process)', () => {
  let dir = '';
  before(async () => {
    dir = tempDir();
    const r = await inProcess(['demo', '--events', '20'], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
  });

  it('the default database is ./.auditrail/audit.db under the working directory', () => {
    assert.ok(existsSync(join(dir, '.auditrail', 'audit.db')));
  });

  it('colour only when asked for a terminal (FORCE_COLOR) and never with NO_COLOR', async () => {
    const plain = await inProcess(['log'], { cwd: dir });
    assert.ok(!plain.stdout.includes(ESC));
    const forced = await inProcess(['log'], { cwd: dir, env: { FORCE_COLOR: '1' } });
    assert.ok(forced.stdout.includes(ESC));
    const tty = await inProcess(['log'], { cwd: dir, tty: true });
    assert.ok(tty.stdout.includes(ESC));
    const off = await inProcess(['log'], { cwd: dir, tty: true, env: { NO_COLOR: '1' } });
    assert.ok(!off.stdout.includes(ESC));
  });

  it('progress goes to stderr only when stderr is a terminal', async () => {
    const piped = await inProcess(['verify'], { cwd: dir });
    assert.equal(piped.stderr, '');
    const tty = await inProcess(['verify'], { cwd: dir, tty: true, env: { NO_COLOR: '1' } });
    assert.match(tty.stderr, /verifying/);
    assert.match(tty.stdout, /^OK$/m);
  });

  it('--tenant and AUDITRAIL_TENANT pick another log; a bad name is a usage error', async () => {
    // An unknown log is reported with the logs present, never created.
    const r = await inProcess(['verify', '--json', '--tenant', 'other'], { cwd: dir });
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /log auditrail\.local\/t\/other\/default does not exist .*logs present: auditrail\.local\/t\/demo\/default/,
    );
    const byEnv = await inProcess(['verify', '--json'], { cwd: dir, env: { AUDITRAIL_TENANT: 'other' } });
    assert.match(byEnv.stderr, /auditrail\.local\/t\/other\/default does not exist/);
    const demo = await inProcess(['verify', '--json'], { cwd: dir, env: { AUDITRAIL_TENANT: 'demo' } });
    assert.equal((JSON.parse(demo.stdout) as { log: string }).log, 'auditrail.local/t/demo/default');
    const bad = await inProcess(['verify', '--tenant', 'no spaces'], { cwd: dir });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^error: tenant must be/);
  });
});
