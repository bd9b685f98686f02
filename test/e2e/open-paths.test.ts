// End-to-end: reading commands never write (no chmod, no table, no key, no signature, no witness,
// no side file for an unprivileged reader), files that are not audit databases are refused, and
// logs are discoverable (`auditrail logs`, tenant auto-pick, hints that work when pasted).
// Runs bin/auditrail.js, which loads dist/: `npm run build` first.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { openAuditTrail } from '../../src/index.js';
import { storeOf } from '../../src/sdk/internals.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'bin', 'auditrail.js');

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'auditrail-open-'));
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

function baseEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  for (const k of [
    'AUDITRAIL_DB',
    'AUDITRAIL_TENANT',
    'AUDITRAIL_LOG',
    'AUDITRAIL_DEBUG',
    'FORCE_COLOR',
    'npm_command',
  ])
    delete env[k];
  return { ...env, NO_COLOR: '1', ...extra };
}

/** bin/auditrail.js in `cwd`, optionally as another user through runuser. */
function cli(
  args: string[],
  options: { cwd?: string; user?: string; env?: Record<string, string> } = {},
): Run {
  const argv = options.user
    ? ['runuser', ['-u', options.user, '--', process.execPath, BIN, ...args]]
    : [process.execPath, [BIN, ...args]];
  const r = spawnSync(argv[0] as string, argv[1] as string[], {
    cwd: options.cwd ?? ROOT,
    env: baseEnv(options.env),
    encoding: 'utf8',
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Bytes (SHA-256) and mode of a file, to show that a command left it alone. */
function fingerprint(path: string): { hash: string; mode: string } {
  return {
    hash: createHash('sha256').update(readFileSync(path)).digest('hex'),
    mode: (statSync(path).mode & 0o7777).toString(8),
  };
}

/** A database with tenant `acme` (the README's snippet), a signed checkpoint, and its vkey. */
async function acmeDb(dir: string, events = 4, sign = true): Promise<string> {
  const db = join(dir, 'audit.db');
  const trail = await openAuditTrail({ tenant: 'acme', db, checkpointIntervalMs: 0, writeThread: false });
  for (let i = 0; i < events; i++) {
    await trail.record({
      type: 'action.intent',
      actor: { type: 'agent', id: 'support-bot' },
      action: { type: 'write:refund', target: `order/${1040 + i}`, params: { amount: 120 + i } },
    });
  }
  if (sign) await trail.close();
  else await storeOf(trail).close();
  return db;
}

describe('reading never writes', () => {
  let dir = '';
  let db = '';
  let vkey = '';
  before(async () => {
    dir = tempDir();
    db = await acmeDb(dir);
    const k = cli(['keys', 'show', '--db', db]);
    assert.equal(k.code, 0, k.stderr);
    vkey = k.stdout.trim();
  });

  it('an unprivileged user reads a 0644 copy: verify, log, show, prove, export work; bytes, mode and directory unchanged', (t) => {
    const why =
      process.getuid?.() !== 0
        ? 'not running as root'
        : spawnSync('runuser', ['--help']).error
          ? 'runuser is missing'
          : undefined;
    if (why !== undefined) {
      // CI runs as root: there, this test must run, never be skipped.
      if (process.env['CI'] === 'true')
        assert.fail(`cannot run the unprivileged-reader test under CI: ${why}`);
      t.skip(why);
      return;
    }
    // Under /tmp itself: the test runner's own TMPDIR is private (0700), so `nobody` could not
    // reach a directory inside it.
    const copyDir = mkdtempSync('/tmp/auditrail-open-ro-');
    dirs.push(copyDir);
    chmodSync(copyDir, 0o755);
    const copy = join(copyDir, 'audit.db');
    copyFileSync(db, copy);
    chmodSync(copy, 0o644);
    const before = fingerprint(copy);
    const proof = join(tmpdir(), `auditrail-proof-${process.pid}.json`);
    const runs: [string, Run][] = [
      ['verify', cli(['verify', '--db', copy, '--key', vkey], { user: 'nobody', cwd: '/' })],
      ['log', cli(['log', '--db', copy], { user: 'nobody', cwd: '/' })],
      ['show', cli(['show', '2', '--db', copy], { user: 'nobody', cwd: '/' })],
      ['prove', cli(['prove', '3', '--db', copy, '--key', vkey], { user: 'nobody', cwd: '/' })],
      ['export', cli(['export', '--db', copy], { user: 'nobody', cwd: '/' })],
      ['logs', cli(['logs', '--db', copy], { user: 'nobody', cwd: '/' })],
    ];
    for (const [name, r] of runs) assert.equal(r.code, 0, `${name}: ${r.stderr}`);
    assert.match(runs[0]![1].stdout, /^OK$/m);
    assert.match(runs[1]![1].stdout, /write:refund/);
    assert.equal((JSON.parse(runs[2]![1].stdout) as { seq: number }).seq, 2);
    assert.equal(runs[4]![1].stdout.trim().split('\n').length, 4);
    // The proof made by the unprivileged reader checks offline.
    writeFileSync(proof, runs[3]![1].stdout);
    try {
      const checked = cli(['verify-proof', proof, '--key', vkey]);
      assert.equal(checked.code, 0, checked.stderr);
    } finally {
      unlinkSync(proof);
    }
    assert.deepEqual(fingerprint(copy), before);
    assert.deepEqual(readdirSync(copyDir), ['audit.db'], 'no -wal, -shm, keys or witness beside the copy');
  });

  it('refuses /dev/null, a directory, a text file and an empty file, naming the path and changing none', () => {
    const text = join(dir, 'notes.txt');
    writeFileSync(text, 'not a database\n', { mode: 0o644 });
    const empty = join(dir, 'empty.db');
    writeFileSync(empty, '', { mode: 0o644 });
    const sub = join(dir, 'sub');
    mkdirSync(sub, { mode: 0o755 });
    for (const [path, message] of [
      ['/dev/null', /\/dev\/null is not a regular file/],
      [sub, /sub is not a regular file/],
      [text, /notes\.txt is not an auditrail database/],
      [empty, /empty\.db is empty, not an auditrail database/],
    ] as const) {
      const before = statSync(path).mode;
      for (const command of [['log'], ['verify'], ['keys', 'show']]) {
        const r = cli([...command, '--db', path]);
        assert.equal(r.code, 1, `${command.join(' ')} --db ${path}`);
        assert.match(r.stderr, message);
      }
      assert.equal(statSync(path).mode, before, `${path} keeps its mode`);
    }
    assert.equal(readFileSync(text, 'utf8'), 'not a database\n');
    assert.equal(statSync(empty).size, 0);
  });

  it("refuses another application's SQLite file, adding no table to it (even for a writing command)", () => {
    const other = join(dir, 'other.db');
    const o = new Database(other);
    o.exec('CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)');
    o.close();
    const before = fingerprint(other);
    for (const args of [['log'], ['verify'], ['demo', '--events', '3']]) {
      const r = cli([...args, '--db', other]);
      assert.equal(r.code, 1, args.join(' '));
      assert.match(r.stderr, /other\.db is an SQLite database of something else/);
    }
    assert.deepEqual(fingerprint(other), before);
  });

  it('a 0444 database is read, not made writable, and a typo in --tenant creates no log, key or checkpoint', () => {
    const d = tempDir();
    const ro = join(d, 'audit.db');
    copyFileSync(db, ro);
    chmodSync(ro, 0o444);
    const before = fingerprint(ro);
    assert.equal(cli(['verify', '--db', ro, '--key', vkey]).code, 0);
    assert.equal(cli(['log', '--db', ro]).code, 0);
    for (const args of [['log'], ['checkpoint'], ['verify'], ['keys', 'show']]) {
      const r = cli([...args, '--db', ro, '--tenant', 'acmee']);
      assert.equal(r.code, 1, args.join(' '));
      assert.match(
        r.stderr,
        /auditrail\.local\/t\/acmee\/default does not exist .*logs present: auditrail\.local\/t\/acme\/default/,
      );
    }
    assert.deepEqual(fingerprint(ro), before);
    assert.ok(!existsSync(join(d, 'keys')), 'no key directory, key or witness file was created');
  });

  it('verify and keys show on a log never signed create no key; keys show never mints one for a signed log', async () => {
    const d = tempDir();
    const fresh = await acmeDb(d, 3, false);
    const before = fingerprint(fresh);
    const v = cli(['verify', '--db', fresh]);
    assert.equal(v.code, 0, v.stderr);
    const k = cli(['keys', 'show', '--db', fresh]);
    assert.equal(k.code, 1);
    assert.match(k.stderr, /no signing key at .*; sign the first checkpoint with: .*checkpoint --sign --db /);
    assert.ok(!existsSync(join(d, 'keys')));
    assert.deepEqual(fingerprint(fresh), before);

    // A signed log whose key file went missing: refuse, never print a new key.
    const d2 = tempDir();
    const signed = await acmeDb(d2);
    unlinkSync(join(d2, 'keys', 'log-signing.key'));
    const missing = cli(['keys', 'show', '--db', signed]);
    assert.equal(missing.code, 1);
    assert.equal(missing.stdout, '');
    assert.match(missing.stderr, /has signed checkpoints: restore the key file/);
    assert.ok(!existsSync(join(d2, 'keys', 'log-signing.key')));
  });

  it('prove of an event no checkpoint covers says so, and the printed command signs one', async () => {
    const d = tempDir();
    const unsigned = await acmeDb(d, 3, false);
    const r = cli(['prove', '1', '--db', unsigned]);
    assert.equal(r.code, 1);
    const hint = /sign one with: (.*)$/m.exec(r.stderr)?.[1];
    assert.ok(hint, r.stderr);
    assert.match(hint, /checkpoint --sign --db .*audit\.db --tenant acme/);
    // Paste it (with the bin on PATH as `auditrail`).
    const shim = tempDir();
    writeFileSync(join(shim, 'auditrail'), `#!/bin/sh\nexec "${process.execPath}" "${BIN}" "$@"\n`, {
      mode: 0o755,
    });
    const pathEnv = { PATH: `${shim}:${process.env['PATH'] ?? ''}` };
    const again = cli(['prove', '1', '--db', unsigned], { env: pathEnv });
    const pasted = /sign one with: (.*)$/m.exec(again.stderr)?.[1] ?? '';
    assert.match(pasted, /^auditrail checkpoint --sign /);
    const signed = spawnSync('sh', ['-c', pasted], { cwd: d, env: baseEnv(pathEnv), encoding: 'utf8' });
    assert.equal(signed.status, 0, signed.stderr);
    assert.equal(cli(['prove', '1', '--db', unsigned]).code, 0);
  });
});

describe('tenants and logs are discoverable', () => {
  it("after the README snippet (tenant acme), log, verify and logs find acme's log without --tenant", async () => {
    const d = tempDir();
    await acmeDb(d);
    const cwd = d;
    // The default database is ./.auditrail/audit.db: put it there.
    mkdirSync(join(d, '.auditrail'));
    copyFileSync(join(d, 'audit.db'), join(d, '.auditrail', 'audit.db'));
    mkdirSync(join(d, '.auditrail', 'keys'), { recursive: true });
    copyFileSync(join(d, 'keys', 'log-signing.key'), join(d, '.auditrail', 'keys', 'log-signing.key'));
    const log = cli(['log'], { cwd });
    assert.equal(log.code, 0, log.stderr);
    assert.match(log.stdout, /write:refund/);
    const verify = cli(['verify'], { cwd });
    assert.equal(verify.code, 0, verify.stderr);
    assert.match(verify.stdout, /log:\s+auditrail\.local\/t\/acme\/default/);
    assert.match(verify.stdout, /size:\s+4 entries/);
    const logs = cli(['logs', '--json'], { cwd });
    assert.equal(logs.code, 0, logs.stderr);
    const list = JSON.parse(logs.stdout) as {
      tenant: string;
      log: string;
      size: number;
      last_checkpoint: { size: number } | null;
    }[];
    assert.deepEqual(
      list.map((l) => [l.tenant, l.log, l.size, l.last_checkpoint?.size]),
      [['acme', 'default', 4, 4]],
    );
    const table = cli(['logs'], { cwd });
    assert.match(table.stdout, /^tenant\s+log\s+size\s+last checkpoint\s+pending approvals$/m);
    assert.match(table.stdout, /^acme\s+default\s+4\s+size 4 at /m);
  });

  it('with several logs and no --tenant, a command lists them and asks', async () => {
    const d = tempDir();
    const db = await acmeDb(d);
    const other = await openAuditTrail({ tenant: 'globex', db, checkpointIntervalMs: 0 });
    await other.close();
    const r = cli(['log', '--db', db]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /holds 2 logs; choose one with --tenant/);
    assert.match(r.stderr, /--tenant acme\s+\(4 entries\)/);
    assert.match(r.stderr, /--tenant globex\s+\(0 entries\)/);
    const picked = cli(['verify', '--db', db, '--tenant', 'globex']);
    assert.equal(picked.code, 0, picked.stderr);
    assert.match(picked.stdout, /OK \(the log is empty: nothing recorded yet\)/);
  });

  it("every 'Try:' line of the demo works when pasted", () => {
    const d = tempDir();
    const shim = tempDir();
    writeFileSync(join(shim, 'auditrail'), `#!/bin/sh\nexec "${process.execPath}" "${BIN}" "$@"\n`, {
      mode: 0o755,
    });
    const env = { PATH: `${shim}:${process.env['PATH'] ?? ''}` };
    const demo = cli(['demo', '--db', 'x/audit.db', '--tenant', 'acme'], { cwd: d, env });
    assert.equal(demo.code, 0, demo.stderr);
    const tries =
      demo.stdout
        .split('\nTry:\n')[1]
        ?.trim()
        .split('\n')
        .map((l) => l.trim()) ?? [];
    assert.equal(tries.length, 4, demo.stdout);
    for (const line of tries) {
      assert.match(line, /^auditrail /);
      const r = spawnSync('sh', ['-c', line], { cwd: d, env: baseEnv(env), encoding: 'utf8' });
      assert.equal(r.status, 0, `${line}: ${r.stderr}`);
    }
    // Without the bin on PATH the hints say npx.
    const npx = cli(['demo', '--db', 'y/audit.db'], { cwd: d, env: { PATH: '/usr/bin:/bin' } });
    assert.match(npx.stdout, /^ {2}npx auditrail log --decision deny --db y\/audit\.db$/m);
  });
});
