import Database from 'better-sqlite3';
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { peekCheckpoint } from '../../src/core/checkpoint.js';
import { verifyConsistency } from '../../src/core/proof.js';
import { openAuditTrail, verifyProofBundle } from '../../src/index.js';
import { copySqliteToPostgres } from '../../src/store/copy-to-postgres.js';
import { adminQuery, dropSchemas, PG_URL, postgresSkipReason, schemaName } from '../postgres.js';
import { runCli, sampleEvent, tempDir } from './helpers.js';

const skip = await postgresSkipReason();

/** `auditrail <args>` in process: the exit code; what it printed goes to `out`. */
async function cli(args: string[], cwd: string, out: string[] = []): Promise<number> {
  const r = await runCli(args, { cwd });
  out.push(r.output);
  return r.code;
}

describe('auditrail migrate --to postgres://', { skip: skip ?? false }, () => {
  const schemas: string[] = [];
  after(() => dropSchemas(schemas));
  const target = (): string => {
    const s = schemaName('migrate');
    schemas.push(s);
    const u = new URL(PG_URL);
    u.searchParams.set('schema', s);
    return u.toString();
  };

  it('copies every log with its tree and checkpoints: verify passes there and old proofs still hold', async () => {
    const dir = tempDir('auditrail-migrate-');
    // Two logs, more than 256 entries in one (full and partial tiles), two checkpoints, approvals.
    assert.equal(await cli(['demo', '--events', '300'], dir), 0);
    assert.equal(await cli(['demo', '--tenant', 'beta'], dir), 0);
    const db = join(dir, '.auditrail', 'audit.db');
    const src = await openAuditTrail({ tenant: 'demo', db, checkpointIntervalMs: 0, writeThread: false });
    await src.record(sampleEvent(1));
    await src.checkpoint();
    const old = await src.prove(7);
    const oldCheckpoints = await src.checkpoints();
    const oldSize = src.size;
    await src.close();

    const to = target();
    const out: string[] = [];
    assert.equal(await cli(['migrate', '--to', to], dir, out), 0, out.join(''));
    assert.match(out.join(''), /demo\/default: 30\d entries, verified on the target/);
    assert.match(out.join(''), /beta\/default: \d+ entries, verified on the target/);
    // The printed next step works as is (cwd: the key directory is ./.auditrail/keys).
    const next = /Next: \S+ auditrail (.*)$/m.exec(out.join(''))![1]!;
    const args = next.split(' ').map((a) => a.replace(/^'(.*)'$/, '$1'));
    assert.equal(await cli([...args, '--tenant', 'demo'], dir), 0);

    const pg = await openAuditTrail({
      tenant: 'demo',
      postgres: to,
      keyDir: join(dir, '.auditrail', 'keys'),
      checkpointIntervalMs: 0,
      writeThread: false,
    });
    try {
      assert.equal(pg.size, oldSize);
      assert.deepEqual(await pg.checkpoints(), oldCheckpoints);
      // The old bundle checks under the key the migrated log signs with, and its leaf is the stored one.
      const now = await pg.prove(7);
      assert.equal(now.leaf, old.leaf);
      assert.equal(now.verifier_key, old.verifier_key);
      assert.equal(verifyProofBundle(old, { trustedKey: now.verifier_key }).ok, true);
      // The log goes on growing on PostgreSQL, consistent with what was signed on SQLite.
      for (let i = 0; i < 20; i++) await pg.record(sampleEvent(100 + i));
      await pg.checkpoint();
      const before = peekCheckpoint(old.checkpoint);
      const latest = peekCheckpoint((await pg.latestCheckpoint())!);
      assert.equal(latest.size, oldSize + 20);
      const proof = await pg.proveConsistency(before.size, latest.size);
      assert.equal(
        verifyConsistency(
          before.size,
          latest.size,
          proof.map((h) => Buffer.from(h, 'base64')),
          before.root,
          latest.root,
        ),
        true,
      );
      const report = await pg.verify();
      assert.deepEqual(report.failures, []);
    } finally {
      await pg.close();
    }
  });

  it('carries the subject tags of the index and the archived ranges', async () => {
    const dir = tempDir('auditrail-migrate-');
    const db = join(dir, 'audit.db');
    const src = await openAuditTrail({ tenant: 'demo', db, checkpointIntervalMs: 0, writeThread: false });
    for (let i = 0; i < 4; i++) await src.record(sampleEvent(i));
    await src.record({
      type: 'context.accessed',
      actor: { type: 'agent', id: 'support-bot' },
      action: { type: 'read:customer', target: 'customer/c-1' },
      context: { data_subject_ids: ['c-1', 'c-2'] },
    });
    await src.close();
    // A range record as the archive writes it (the copy moves rows; it does not judge them).
    const lite = new Database(db);
    lite
      .prepare('INSERT INTO archives VALUES (1, 0, 2, 4, ?, ?)')
      .run('c'.repeat(64), '2026-01-02T00:00:00Z');
    const subjects = lite.prepare('SELECT seq, subjects FROM events ORDER BY seq').all();
    lite.close();
    assert.match(String((subjects[4] as { subjects: unknown }).subjects), /^\S+ \S+$/);

    const to = target();
    const counts = await copySqliteToPostgres(db, to);
    assert.equal(counts.archives, 1);
    const schema = new URL(to).searchParams.get('schema')!;
    const copied = await adminQuery(`SELECT seq::int, subjects FROM ${schema}.events ORDER BY seq`);
    assert.deepEqual(copied.rows, subjects);
    const archives = await adminQuery(
      `SELECT from_seq::int, to_seq::int, by_seq::int, manifest_sha256, created_at FROM ${schema}.archives`,
    );
    assert.deepEqual(archives.rows, [
      {
        from_seq: 0,
        to_seq: 2,
        by_seq: 4,
        manifest_sha256: 'c'.repeat(64),
        created_at: '2026-01-02T00:00:00Z',
      },
    ]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a target that holds the logs already, and a second key; copies nothing then', async () => {
    const dir = tempDir('auditrail-migrate-');
    assert.equal(await cli(['demo'], dir), 0);
    const to = target();
    assert.equal(await cli(['migrate', '--to', to], dir), 0);
    const out: string[] = [];
    assert.equal(await cli(['migrate', '--to', to], dir, out), 1);
    assert.match(out.join(''), /exists in .* already; migrate into an empty schema/);
    // Another key in the target's key directory: refused before anything is copied.
    const other = tempDir('auditrail-migrate-keys-');
    assert.equal(await cli(['demo', '--db', join(other, 'x.db')], other), 0);
    const to2 = target();
    const out2: string[] = [];
    assert.equal(await cli(['migrate', '--to', to2, '--key-dir', join(other, 'keys')], dir, out2), 1);
    assert.match(out2.join(''), /holds another signing key/);
    // Nothing was created there: the schema holds no tables.
    const listed: string[] = [];
    assert.equal(await cli(['logs', '--postgres', to2], dir, listed), 1);
    assert.match(listed.join(''), /holds no auditrail tables/);
    // A password in the URL never shows in what is printed.
    const secret: string[] = [];
    const u = new URL(to2);
    u.password = 's3cret';
    await cli(['migrate', '--to', u.toString(), '--key-dir', join(other, 'keys')], dir, secret);
    assert.doesNotMatch(secret.join(''), /s3cret/);
    assert.ok(readFileSync(join(dir, '.auditrail', 'keys', 'log-signing.key')).length > 0);
    rmSync(other, { recursive: true, force: true });
  });
});
