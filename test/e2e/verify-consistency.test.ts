// End-to-end tests of `auditrail verify-consistency` and `prove --consistency`: an auditor saved a
// checkpoint earlier and checks that the log only appended since (docs/cli.md, verification.md §6.1).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runCli } from '../integration/helpers.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MAIN = join(ROOT, 'src', 'cli', 'main.ts');

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'auditrail-consistency-'));
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

/** The real entry point in a child process, no colour, no inherited target. */
function cli(args: string[], db?: string): Run {
  const env: Record<string, string | undefined> = { ...process.env, NO_COLOR: '1' };
  for (const k of ['AUDITRAIL_DB', 'AUDITRAIL_TENANT', 'AUDITRAIL_LOG', 'AUDITRAIL_DEBUG', 'FORCE_COLOR'])
    delete env[k];
  if (db !== undefined) env['AUDITRAIL_DB'] = db;
  const r = spawnSync(process.execPath, ['--import', 'tsx', MAIN, ...args], {
    cwd: ROOT,
    env,
    encoding: 'utf8',
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** main() in process against `db` (cwd = the repository). */
function quick(args: string[], db?: string): Promise<Run> {
  return runCli(args, { cwd: ROOT, env: db === undefined ? {} : { AUDITRAIL_DB: db }, columns: 100 });
}

async function ok(args: string[], db?: string): Promise<string> {
  const r = await quick(args, db);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  return r.stdout;
}

const sizeOf = (note: string): number => Number(note.split('\n')[1]);

describe('auditrail verify-consistency', () => {
  let db = '';
  let oldFile = '';
  let oldSize = 0;
  let newSize = 0;
  let vkey = '';
  before(async () => {
    const dir = tempDir();
    db = join(dir, 'audit.db');
    await ok(['demo', '--events', '10'], db);
    // The auditor's saved checkpoint and their copy of the key.
    const old = await ok(['checkpoint'], db);
    oldFile = join(tempDir(), 'old.checkpoint');
    writeFileSync(oldFile, old);
    oldSize = sizeOf(old);
    vkey = (await ok(['keys', 'show'], db)).trim();
    // Later: the log grew.
    await ok(['demo', '--events', '12'], db);
    newSize = sizeOf(await ok(['checkpoint'], db));
    assert.ok(oldSize > 0 && newSize > oldSize);
  });

  it('passes for the later log (child process, exit 0), naming both sizes and roots', () => {
    const r = cli(['verify-consistency', oldFile, '--key', vkey], db);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(
      r.stdout,
      new RegExp(`^old: size ${oldSize}, root [A-Za-z0-9+/]{43}=\\nnew: size ${newSize}, root `),
    );
    assert.match(
      r.stdout,
      new RegExp(
        `OK: auditrail\\.local/t/demo/default only appended from size ${oldSize} to size ${newSize}\\n$`,
      ),
    );
    assert.equal(r.stderr, '');
  });

  it('prints JSON, and notes when the key came with the data', async () => {
    const j = JSON.parse(await ok(['verify-consistency', oldFile, '--json', '--key', vkey], db)) as {
      ok: boolean;
      old: { size: number };
      new: { size: number };
      trusted_key: boolean;
    };
    assert.deepEqual([j.ok, j.old.size, j.new.size, j.trusted_key], [true, oldSize, newSize, true]);
    const own = await quick(['verify-consistency', oldFile], db);
    assert.equal(own.code, 0);
    assert.match(own.stderr, /pass --key with your trusted copy/);
  });

  it('passes offline with a proof file from prove --consistency, and with NEW plus a bare list', async () => {
    const proofFile = join(tempDir(), 'consistency.json');
    await ok(['prove', '--consistency', oldFile, '-o', proofFile], db);
    const bundle = JSON.parse(readFileSync(proofFile, 'utf8')) as {
      old_size: number;
      new_size: number;
      proof: string[];
      checkpoint: string;
    };
    assert.deepEqual([bundle.old_size, bundle.new_size], [oldSize, newSize]);
    const noDb = join(tempDir(), 'absent.db');
    const r = await quick(['verify-consistency', oldFile, '--proof', proofFile, '--key', vkey], noDb);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const newFile = join(tempDir(), 'new.checkpoint');
    writeFileSync(newFile, bundle.checkpoint);
    const listFile = join(tempDir(), 'list.json');
    writeFileSync(listFile, JSON.stringify(bundle.proof));
    assert.equal(
      (await quick(['verify-consistency', oldFile, newFile, '--proof', listFile, '--key', vkey], noDb)).code,
      0,
    );
    // A changed proof hash fails (exit 1).
    const bad = [...bundle.proof];
    bad[0] = `${bad[0]![0] === 'A' ? 'B' : 'A'}${bad[0]!.slice(1)}`;
    writeFileSync(listFile, JSON.stringify(bad));
    const f = await quick(['verify-consistency', oldFile, newFile, '--proof', listFile, '--key', vkey], noDb);
    assert.equal(f.code, 1);
    assert.match(f.stdout, /FAILED/);
    // Usage: a bare list needs NEW and --key.
    assert.equal(
      (await quick(['verify-consistency', oldFile, '--proof', listFile, '--key', vkey], noDb)).code,
      2,
    );
  });

  it('fails (exit 1) for a rewritten log signed with the same key', async () => {
    // Same key, other history: the operator rebuilt the log.
    const dir = tempDir();
    mkdirSync(join(dir, 'keys'), { mode: 0o700 });
    const key = join(dir, 'keys', 'log-signing.key');
    copyFileSync(join(db, '..', 'keys', 'log-signing.key'), key);
    chmodSync(key, 0o600);
    const rewritten = join(dir, 'audit.db');
    await ok(['demo', '--events', '30'], rewritten);
    assert.equal((await ok(['keys', 'show'], rewritten)).trim(), vkey);
    const r = cli(['verify-consistency', oldFile, '--key', vkey], rewritten);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`FAILED: auditrail\\.local/t/demo/default did not only append`));
    assert.match(r.stdout, new RegExp(`does not extend the tree of size ${oldSize} \\(root `));
  });

  it('fails (exit 1) for another log with its own key, and for a new checkpoint smaller than the old', async () => {
    const other = join(tempDir(), 'audit.db');
    await ok(['demo', '--events', '5'], other);
    const r = await quick(['verify-consistency', oldFile], other);
    assert.equal(r.code, 1);
    assert.match(
      r.stdout,
      /old checkpoint does not verify with the key auditrail\.local\/t\/demo\/default\+[0-9a-f]{8}/,
    );
    // The other log's checkpoint as NEW, with our key and database: neither signature nor size fits.
    const otherNote = join(tempDir(), 'other.checkpoint');
    writeFileSync(otherNote, await ok(['checkpoint'], other));
    const s = await quick(['verify-consistency', oldFile, otherNote, '--key', vkey], db);
    assert.equal(s.code, 1);
    assert.match(s.stdout, /new checkpoint does not verify/);
    // Swapped: the later checkpoint given as OLD.
    const latest = join(tempDir(), 'latest.checkpoint');
    writeFileSync(latest, await ok(['checkpoint'], db));
    const swapped = await quick(['verify-consistency', latest, oldFile, '--key', vkey], db);
    assert.equal(swapped.code, 1);
    assert.match(swapped.stdout, new RegExp(`size ${oldSize}, smaller than the old one \\(${newSize}\\)`));
  });

  it('names the flags for a checkpoint of another log of the database', async () => {
    const dir = tempDir();
    const two = join(dir, 'audit.db');
    await ok(['demo', '--events', '3', '--tenant', 'beta'], two);
    const f = join(dir, 'beta.checkpoint');
    writeFileSync(f, await ok(['checkpoint', '--tenant', 'beta'], two));
    await ok(['demo', '--events', '3'], two);
    // Named another log: the flags that select OLD's log are given.
    const r = await quick(['verify-consistency', f, '--tenant', 'demo'], two);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /pass --tenant beta --log default to check that log/);
    assert.equal((await quick(['verify-consistency', f, '--tenant', 'beta'], two)).code, 0);
    // Named none: the log is the one OLD's origin names, in a database of several logs.
    const auto = await quick(['verify-consistency', f], two);
    assert.equal(auto.code, 0, auto.stdout + auto.stderr);
    assert.match(auto.stdout, /OK: auditrail\.local\/t\/beta\/default only appended/);
  });
});

describe("auditrail verify --key with another log's key", () => {
  it('says the key does not match this log (exit 1), not "forged"', async () => {
    const a = join(tempDir(), 'audit.db');
    await ok(['demo', '--events', '5'], a);
    const b = join(tempDir(), 'audit.db');
    await ok(['demo', '--events', '5'], b);
    const bKey = (await ok(['keys', 'show'], b)).trim();
    const r = cli(['verify', '--key', bKey], a);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /^error: the key ID of the trusted key auditrail\.local\/t\/demo\/default\+[0-9a-f]{8} does not match this log's key/,
    );
    assert.doesNotMatch(r.stdout + r.stderr, /forged/);
    await ok(['demo', '--events', '3', '--tenant', 'beta'], b);
    const betaKey = (await ok(['keys', 'show', '--tenant', 'beta'], b)).trim();
    const t = await quick(['verify', '--key', betaKey], a);
    assert.equal(t.code, 1);
    assert.match(t.stderr, /is for another log, not auditrail\.local\/t\/demo\/default/);
    assert.equal((await quick(['verify', '--key', (await ok(['keys', 'show'], a)).trim()], a)).code, 0);
  });
});
