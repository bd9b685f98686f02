import Database from 'better-sqlite3';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { argvOf, runCli, tempDir } from '../integration/helpers.js';

const cli = (args: string[], cwd: string) => runCli(args, { cwd, columns: 100 });

function tamper(db: string, sql: string): void {
  const d = new Database(db);
  for (const t of d
    .prepare("SELECT name FROM sqlite_master WHERE type = 'trigger'")
    .pluck()
    .all() as string[])
    d.exec(`DROP TRIGGER ${t}`);
  d.exec(sql);
  d.close();
}

describe('auditrail verify: derived rows and --rebuild-index', () => {
  const dir = tempDir('auditrail-verify-rebuild-');
  const db = join(dir, 'audit.db');

  before(async () => {
    assert.equal((await cli(['demo', '--db', db], dir)).code, 0);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('names index failures, hints at --rebuild-index, and the pasted hint repairs them', async () => {
    tamper(db, "UPDATE events SET session_id = 'elsewhere' WHERE seq = 5; DELETE FROM events WHERE seq = 9;");
    const failed = await cli(['verify', '--db', db], dir);
    assert.equal(failed.code, 1);
    assert.match(failed.stdout, /seq +5 +index_mismatch +index column session_id of entry 5 differs/);
    assert.match(failed.stdout, /seq +9 +index_missing/);
    const hint = /^ {2}((?:npx )?auditrail verify --rebuild-index.*)$/m.exec(failed.stderr)?.[1];
    assert.ok(hint, failed.stderr);
    const rebuilt = await cli(argvOf(hint), dir);
    assert.equal(rebuilt.code, 0, rebuilt.stdout + rebuilt.stderr);
    assert.match(
      rebuilt.stderr,
      /rebuilt: 2 index rows written, 0 removed, 0 tiles written \(2 failures before\)/,
    );
    assert.match(rebuilt.stdout, /^OK$/m);
    assert.equal((await cli(['verify', '--db', db], dir)).code, 0);
  });

  it('with --json, adds what was rebuilt and the failures found before', async () => {
    tamper(db, 'DELETE FROM events WHERE seq = 3;');
    const r = await cli(['verify', '--db', db, '--rebuild-index', '--json'], dir);
    assert.equal(r.code, 0);
    const json = JSON.parse(r.stdout) as {
      ok: boolean;
      rebuild: {
        refused: string | null;
        rebuilt: { index_rows: number };
        failures_before: { kind: string }[];
      };
    };
    assert.equal(json.ok, true);
    assert.equal(json.rebuild.refused, null);
    assert.equal(json.rebuild.rebuilt.index_rows, 1);
    assert.deepEqual(
      json.rebuild.failures_before.map((f) => f.kind),
      ['index_missing'],
    );
  });

  it('refuses to rebuild when an entry does not verify, and gives no rebuild hint', async () => {
    tamper(
      db,
      "DELETE FROM events WHERE seq = 4; UPDATE disclosures SET disclosure = CAST('x' AS BLOB) WHERE seq = 6 AND unit = 0;",
    );
    const plain = await cli(['verify', '--db', db], dir);
    assert.equal(plain.code, 1);
    assert.doesNotMatch(plain.stderr, /--rebuild-index/);
    const r = await cli(['verify', '--db', db, '--rebuild-index'], dir);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /not rebuilt: the log itself does not verify \(payload_edited\)/);
    assert.match(r.stdout, /index_missing/);
  });
});
