import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { planAppend } from '../../core/append-plan.js';
import { EMPTY_ROOT } from '../../core/merkle.js';
import { AuditError } from '../../errors.js';
import { adminQuery, dropSchemas, PG_URL, postgresSkipReason, schemaName } from '../../../test/postgres.js';
import { storeContract } from '../store.contract.js';
import { POSTGRES_MIGRATIONS } from './migrations.js';
import { PostgresStore } from './postgres-store.js';

const skip = await postgresSkipReason();
const schemas: string[] = [];
after(async () => {
  if (skip === undefined) await dropSchemas(schemas);
});
const fresh = (opts: { readonly?: boolean } = {}, schema = schemaName('contract')) => {
  schemas.push(schema);
  return PostgresStore.open(PG_URL, { schema, ...opts });
};

storeContract('postgres', () => fresh(), skip);

describe('PostgresStore specifics', { skip: skip ?? false }, () => {
  it('records migrations with checksums and refuses an altered schema', async () => {
    const schema = schemaName('mig');
    const store = await fresh({}, schema);
    const m = await store.migrations();
    assert.deepEqual(
      m.map((x) => x.id),
      POSTGRES_MIGRATIONS.map((x) => x.id),
    );
    assert.match(m[0]!.checksum, /^[0-9a-f]{64}$/);
    await store.pool.query('UPDATE migrations SET checksum = $1 WHERE id = 1', ['0'.repeat(64)]);
    await store.close();
    await assert.rejects(fresh({}, schema), /checksum .* the schema was altered/);
    await assert.rejects(fresh({ readonly: true }, schema), /checksum .* the schema was altered/);
  });

  it('refuses UPDATE, DELETE and TRUNCATE of entries, checkpoints and tiles; disclosures are only erased', async () => {
    const store = await fresh();
    const q = (sql: string) => store.pool.query(sql);
    await q(
      "INSERT INTO logs (origin, tenant, root_hash, right_edge, created_at) VALUES ('o', 't', '\\x00', '\\x', 'now')",
    );
    await q("INSERT INTO entries VALUES (1, 0, '\\x7b7d', '\\x00', 'e', 'x.t', 'ts')");
    await q("INSERT INTO checkpoints VALUES (1, 1, '\\x00', 'note', 'now')");
    await q(
      "INSERT INTO disclosures (log_id, seq, unit, pointer, disclosure) VALUES (1, 0, 0, '', '\\x5b5d')",
    );
    await q(`INSERT INTO tiles VALUES (1, 0, 0, 1, '\\x${'00'.repeat(32)}')`);
    for (const sql of [
      "UPDATE entries SET leaf = '\\x00'",
      'DELETE FROM entries',
      'TRUNCATE entries',
      "UPDATE checkpoints SET note = 'x'",
      'DELETE FROM checkpoints',
      `UPDATE tiles SET hashes = '\\x${'01'.repeat(32)}'`,
      'DELETE FROM tiles',
    ])
      await assert.rejects(q(sql), /append-only/, sql);
    await assert.rejects(q("UPDATE disclosures SET disclosure = '\\x00'"), /only be erased/);
    await assert.rejects(q('DELETE FROM disclosures'), /only be erased/);
    // The sanctioned paths: a partial tile grows, a disclosure is erased naming its erasure event.
    await q(`UPDATE tiles SET width = 2, hashes = hashes || '\\x${'02'.repeat(32)}'::bytea`);
    await q('UPDATE disclosures SET disclosure = NULL, erased_by_seq = 5');
    await store.close();
  });

  it('deletes disclosures only inside a recorded archived range, whatever the search_path', async () => {
    const store = await fresh();
    const s = store.schema;
    const q = (sql: string) => store.pool.query(sql);
    await q(
      "INSERT INTO logs (origin, tenant, root_hash, right_edge, created_at) VALUES ('o', 't', '\\x00', '\\x', 'now')",
    );
    await q(
      "INSERT INTO disclosures (log_id, seq, unit, pointer, disclosure) SELECT 1, g, 0, '', '\\x5b5d' FROM generate_series(0, 9) g",
    );
    await store.addArchive(1, {
      from: 2,
      to: 6,
      bySeq: 9,
      manifestSha256: 'b'.repeat(64),
      createdAt: '2026-01-02T00:00:00Z',
    });
    // As the superuser in another search_path: one row outside the range refuses the whole statement.
    await assert.rejects(
      adminQuery(`SET search_path = public; DELETE FROM ${s}.disclosures WHERE seq >= 4 AND seq < 7`),
      /only be erased/,
    );
    await assert.rejects(
      adminQuery(`DELETE FROM ${s}.disclosures WHERE log_id = 2 OR seq = 0`),
      /only be erased/,
    );
    assert.equal((await adminQuery(`SELECT count(*)::int AS n FROM ${s}.disclosures`)).rows[0].n, 10);
    const r = await adminQuery(
      `SET search_path = public; DELETE FROM ${s}.disclosures WHERE seq >= 3 AND seq < 6`,
    );
    assert.equal((r as unknown as { rowCount: number }[])[1]!.rowCount, 3);
    // Once the record is gone, nothing more can be deleted.
    assert.equal(await store.removeArchive(1, 2), true);
    await assert.rejects(q('DELETE FROM disclosures WHERE seq = 2'), /only be erased/);
    await assert.rejects(
      store.dropArchivedRows(1, 2, 3),
      (e) => e instanceof AuditError && e.code === 'invalid_argument',
    );
    await store.close();
  });

  it('brings a schema made before the subject tags and the cold archive up to date', async () => {
    const schema = schemaName('old');
    const store = await fresh({}, schema);
    await store.close();
    // The schema as it was before migrations 3 and 4 (1, 2, 5 and 6 applied).
    await adminQuery(
      [
        `SET search_path = ${schema}`,
        'DROP TRIGGER disclosures_no_delete ON disclosures',
        'DROP FUNCTION auditrail_disclosures_delete()',
        "CREATE TRIGGER disclosures_no_delete BEFORE DELETE ON disclosures FOR EACH ROW EXECUTE FUNCTION auditrail_refuse('can only be erased')",
        'DROP TABLE archives',
        'ALTER TABLE events DROP COLUMN subjects',
        'DELETE FROM migrations WHERE id IN (3, 4)',
      ].join(';\n'),
    );
    // Read-only (no migration): read as SQLite reads a file from before them.
    const ro = await fresh({ readonly: true }, schema);
    try {
      assert.deepEqual(await ro.listArchives(1), []);
      assert.deepEqual(await ro.readIndex(1, null, 10), []);
      assert.equal(await ro.countEvents(1, { subject: 'x' }), 0);
    } finally {
      await ro.close();
    }
    const again = await fresh({}, schema);
    try {
      assert.deepEqual(
        (await again.migrations()).map((m) => m.id),
        [1, 2, 3, 4, 5, 6],
      );
      const head = await again.openLog('o/t/a/x', 'a', EMPTY_ROOT);
      assert.deepEqual(await again.listArchives(head.logId), []);
      assert.equal(await again.countEvents(head.logId, { subject: 'x' }), 0);
    } finally {
      await again.close();
    }
  });

  it('reclaims space by VACUUM (FULL with compact): the schema shrinks after rows go', async () => {
    const store = await fresh();
    const q = (sql: string) => store.pool.query(sql);
    await q(
      "INSERT INTO logs (origin, tenant, root_hash, right_edge, created_at) VALUES ('o', 't', '\\x00', '\\x', 'now')",
    );
    await q(
      "INSERT INTO events (log_id, seq, ts, type, target) SELECT 1, g, 'ts', 't', repeat('x', 200) FROM generate_series(0, 19999) g",
    );
    await q('DELETE FROM events');
    let r = await store.reclaimSpace({ compact: true });
    const before = r.fileBytesBefore;
    // VACUUM keeps the rows a snapshot still open in another session may see (other tests and
    // processes share this server): once those end, a later run drops them.
    for (const until = Date.now() + 30_000; r.fileBytesAfter >= before - 2_000_000 && Date.now() < until;) {
      await new Promise((done) => setTimeout(done, 250));
      r = await store.reclaimSpace({ compact: true });
    }
    assert.equal(r.mode, 'vacuum');
    assert.ok(r.fileBytesAfter < before - 2_000_000, JSON.stringify({ before, ...r }));
    assert.equal(r.freeBytes, r.fileBytesBefore - r.fileBytesAfter);
    const plain = await store.reclaimSpace();
    assert.equal(plain.mode, 'vacuum');
    assert.ok(plain.fileBytesAfter <= plain.fileBytesBefore);
    await store.close();
    const ro = await fresh({ readonly: true }, store.schema);
    await assert.rejects(ro.reclaimSpace(), (e) => e instanceof AuditError && e.code === 'read_only');
    await ro.close();
  });

  it('refuses a schema of something else, and an unknown one when read-only', async () => {
    const schema = schemaName('other');
    schemas.push(schema);
    await adminQuery(`CREATE SCHEMA ${schema}; CREATE TABLE ${schema}.things (id int)`);
    await assert.rejects(
      PostgresStore.open(PG_URL, { schema }),
      (e) => e instanceof AuditError && e.code === 'not_audit_database',
    );
    await assert.rejects(
      PostgresStore.open(PG_URL, { schema: schemaName('nothing'), readonly: true }),
      (e) => e instanceof AuditError && e.code === 'not_audit_database',
    );
  });

  it('names what is wrong with a bad URL or schema, and never echoes a password', async () => {
    await assert.rejects(PostgresStore.open('postgres://u:s3cret@[bad', {}), (e) => {
      assert.ok(e instanceof AuditError && e.code === 'invalid_argument');
      assert.doesNotMatch(e.message, /s3cret/);
      return true;
    });
    await assert.rejects(PostgresStore.open(PG_URL, { schema: 'Bad; DROP' }), /schema must be/);
    // Nothing listens on port 1: the error names the host, not the credentials.
    await assert.rejects(PostgresStore.open('postgres://u:s3cret@127.0.0.1:1/test'), (e) => {
      assert.ok(e instanceof AuditError && e.code === 'store_failure');
      assert.doesNotMatch(e.message, /s3cret/);
      assert.match(e.message, /127\.0\.0\.1:1/);
      return true;
    });
  });

  it('read-only: every write is refused as read_only, reads work', async () => {
    const schema = schemaName('ro');
    const w = await fresh({}, schema);
    await w.openLog('o/t/a/x', 'a', EMPTY_ROOT);
    await w.close();
    const r = await fresh({ readonly: true }, schema);
    assert.equal((await r.listLogs()).length, 1);
    await assert.rejects(r.setMeta('k', 'v'), (e) => e instanceof AuditError && e.code === 'read_only');
    await assert.rejects(
      r.openLog('o/t/a/y', 'a', EMPTY_ROOT),
      (e) => e instanceof AuditError && e.code === 'not_found',
    );
    // Even SQL sent past the store's own checks: the session's transactions are READ ONLY.
    await assert.rejects(r.pool.query("INSERT INTO meta VALUES ('k', 'v')"), /read-only transaction/);
    await r.close();
  });

  it('commits with synchronous_commit on', async () => {
    const store = await fresh();
    const r = await store.pool.query('SHOW synchronous_commit');
    assert.equal(r.rows[0].synchronous_commit, 'on');
    await store.close();
  });
});

describe(
  'PostgresStore under the documented ingest role (docs/scale-out.md)',
  { skip: skip ?? false },
  () => {
    it('appends, checkpoints and moves cursors with INSERT-only grants, and cannot delete', async () => {
      const schema = schemaName('role');
      const role = schemaName('ingest');
      const owner = await fresh({}, schema);
      const head = await owner.openLog('o/t/acme/x', 'acme', EMPTY_ROOT);
      await owner.close();
      const s = schema;
      await adminQuery(`CREATE ROLE ${role} LOGIN`);
      try {
        await adminQuery(
          [
            `GRANT USAGE ON SCHEMA ${s} TO ${role}`,
            `GRANT SELECT ON ALL TABLES IN SCHEMA ${s} TO ${role}`,
            `GRANT INSERT ON ${s}.entries, ${s}.disclosures, ${s}.events, ${s}.tiles, ${s}.checkpoints, ${s}.approvals TO ${role}`,
            `GRANT UPDATE (width, hashes) ON ${s}.tiles TO ${role}`,
            `GRANT UPDATE (tree_size, root_hash, right_edge, last_ts) ON ${s}.logs TO ${role}`,
            `GRANT UPDATE (status, decided_by, decided_at, reason) ON ${s}.approvals TO ${role}`,
            `GRANT INSERT, UPDATE ON ${s}.cursors TO ${role}`,
          ].join(';\n'),
        );
        const u = new URL(PG_URL);
        u.username = role;
        const store = await PostgresStore.open(u.toString(), { schema });
        try {
          const r = await store.append(head.origin, ['e1'], (ctx) =>
            planAppend(
              ctx,
              [{ eid: 'e1', type: 'x.t', digests: [], disclosures: [], index: { tenant: 'acme' } as never }],
              Date.now(),
            ),
          );
          assert.equal(r[0]?.seq, 0);
          assert.equal(await store.setCursor(head.logId, 'siem', 1, null), true);
          await assert.rejects(store.pool.query('DELETE FROM events'), /permission denied/);
          await assert.rejects(store.pool.query('DELETE FROM meta'), /permission denied/);
          await assert.rejects(store.pool.query("UPDATE logs SET origin = 'x'"), /permission denied/);
        } finally {
          await store.close();
        }
      } finally {
        await adminQuery(`DROP OWNED BY ${role}; DROP ROLE ${role}`);
      }
    });
  },
);
