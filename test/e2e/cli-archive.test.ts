/**
 * `auditrail archive`, `verify --archive` and `restore` end to end on a demo database: the
 * hints they print work when pasted, an edited archive fails verification (exit 1), and restore
 * leaves the log verifying as before.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { argvOf, runCli, tempDir } from '../integration/helpers.js';

const cli = (args: string[], cwd: string) => runCli(args, { cwd, columns: 100 });

describe('auditrail archive / verify --archive / restore', () => {
  const dir = tempDir('auditrail-cli-archive-');
  const db = join(dir, 'audit.db');
  const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);

  before(async () => {
    assert.equal((await cli(['demo', '--db', db], dir)).code, 0);
    assert.equal((await cli(['checkpoint', '--sign', '--db', db], dir)).code, 0);
  });

  it('refuses a missing --before or -o, and a date it cannot read, with a usage error', async () => {
    const a = await cli(['archive', '-o', 'out', '--db', db], dir);
    assert.equal(a.code, 2);
    assert.match(a.stderr, /--before DATE is required/);
    const b = await cli(['archive', '--before', tomorrow, '--db', db], dir);
    assert.equal(b.code, 2);
    assert.match(b.stderr, /-o DIR is required/);
    const c = await cli(['archive', '--before', 'soon', '-o', 'out', '--db', db], dir);
    assert.equal(c.code, 2);
    assert.match(c.stderr, /--before must be a date/);
  });

  it('archives, reports the range as archived, checks the archive, and restores it', async () => {
    const archived = await cli(['archive', '--before', tomorrow, '-o', 'cold', '--db', db], dir);
    assert.equal(archived.code, 0, archived.stderr);
    assert.match(archived.stdout, /archived: +seq 0\.\.\d+/);
    assert.ok(readdirSync(join(dir, 'cold')).some((f) => f.endsWith('.parquet')));
    // The printed hint, pasted as is.
    const hint = /check with: (.*)/.exec(archived.stdout)![1]!;
    const pasted = await cli(argvOf(hint), dir);
    assert.equal(pasted.code, 0, pasted.stdout + pasted.stderr);
    assert.match(pasted.stdout, /OK/);

    const plain = await cli(['verify', '--db', db], dir);
    assert.equal(plain.code, 0, plain.stdout);
    assert.match(plain.stdout, /archived: +seq 0\.\.\d+ by seq \d+/);
    const json = JSON.parse((await cli(['verify', '--json', '--db', db], dir)).stdout) as {
      ok: boolean;
      archived: { from: number; to: number; by_seq: number }[];
    };
    assert.equal(json.ok, true);
    assert.equal(json.archived[0]!.from, 0);

    // An edited manifest: verify --archive fails (exit 1) and restore refuses.
    const manifest = join(dir, 'cold', 'manifest.json');
    const original = readFileSync(manifest, 'utf8');
    writeFileSync(manifest, original.replace('"range": {', '"range":  {'));
    const edited = await cli(['verify', '--archive', 'cold', '--db', db], dir);
    assert.equal(edited.code, 1);
    assert.match(edited.stdout, /archive_mismatch/);
    const refused = await cli(['restore', 'cold', '--db', db], dir);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /nothing restored/);
    writeFileSync(manifest, original);

    const restored = await cli(['restore', 'cold', '--db', db], dir);
    assert.equal(restored.code, 0, restored.stderr);
    assert.match(restored.stdout, /restored: +seq 0\.\./);
    const after = await cli(['verify', '--db', db], dir);
    assert.equal(after.code, 0, after.stdout);
    assert.doesNotMatch(after.stdout, /archived:/);
  });
});
