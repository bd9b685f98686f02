/**
 * The cold archive on a real SQLite log (issue 16 item 4): archive -> verify -> verify with the
 * archive -> restore, Parquet files read by DuckDB and by hyparquet, edited files and manifests
 * caught, proofs made before the archive still verifying, and a deletion by direct SQL still
 * reported as tampering; then the same round trip on PostgreSQL.
 */
import Database from 'better-sqlite3';
import { DuckDBInstance } from '@duckdb/node-api';
import { parquetReadObjects } from 'hyparquet';
import assert from 'node:assert/strict';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  archiveLog,
  AuditError,
  openAuditTrail,
  restoreArchive,
  verifyArchive,
  verifyProofBundle,
  type ArchiveManifest,
  type AuditTrail,
  type ProofBundle,
  type RecordedEvent,
} from '../../src/index.js';
import { adminQuery, dropSchemas, PG_URL, postgresSkipReason, schemaName } from '../postgres.js';
import { sampleEvent, tempDir } from './helpers.js';

const pgSkip = await postgresSkipReason();

const DAY = 86_400_000;
const T0 = Date.parse('2026-03-01T00:00:00Z');

/** Flips one byte in the middle of a file. */
function flipByte(path: string): void {
  const b = readFileSync(path);
  const i = b.length >> 1;
  b[i] = b[i]! ^ 0xff;
  writeFileSync(path, b);
}

function kinds(r: { failures: { kind: string }[] }): string[] {
  return [...new Set(r.failures.map((f) => f.kind))];
}

describe('cold archive on a real SQLite log', () => {
  const dir = tempDir('auditrail-archive-');
  const db = join(dir, 'audit.db');
  const out = join(dir, 'archive-1');
  let clock = T0;
  let trail: AuditTrail;
  let bundleBefore: ProofBundle;
  let eventBefore: RecordedEvent | undefined;
  let sessionCountBefore: number;

  before(async () => {
    trail = await openAuditTrail({ tenant: 'acme', db, now: () => clock, checkpointIntervalMs: 0 });
    // 300 events on day 0, 150 on day 1; checkpoints at 256 (day 0) and 400 (day 1).
    for (let i = 0; i < 450; i++) {
      if (i === 300) clock = T0 + DAY;
      await trail.record(sampleEvent(i, i % 2 === 0 ? 's-even' : 's-odd'));
      if (i === 255 || i === 399) await trail.checkpoint();
    }
    bundleBefore = await trail.prove(10);
    eventBefore = await trail.get(10);
    sessionCountBefore = await trail.count({ session_id: 's-even' });
  });
  after(async () => {
    await trail.close();
  });

  it('archives the closed range up to the last checkpoint before the date, and verify reports it as archived', async () => {
    await assert.rejects(
      archiveLog(trail, { before: 'yesterday', dir: join(dir, 'x') }),
      (e: unknown) => e instanceof AuditError && e.code === 'invalid_argument' && /--before/.test(e.message),
    );
    await assert.rejects(
      archiveLog(trail, { before: '2026-02-01', dir: join(dir, 'y') }),
      (e: unknown) =>
        e instanceof AuditError && e.code === 'not_found' && /nothing to archive/.test(e.message),
    );
    const r = await archiveLog(trail, { before: new Date(T0 + DAY / 2), dir: out });
    assert.equal(r.from, 0);
    assert.equal(
      r.to,
      256,
      'ends at the signed checkpoint of size 256, not at 300 (unsigned) or 400 (day 1)',
    );
    assert.equal(r.by_seq, 450);
    assert.equal(r.dropped.index_rows, 256);
    assert.ok(r.dropped.disclosures >= 256 * 2);
    const recorded = await trail.get(r.by_seq);
    assert.equal(recorded?.type, 'archive.created');
    assert.deepEqual((recorded?.metadata as { archive: { from: number; to: number } }).archive.from, 0);

    const report = await trail.verify();
    assert.equal(report.ok, true, JSON.stringify(report.failures.slice(0, 3)));
    assert.deepEqual(report.archived, [
      { from: 0, to: 256, by_seq: 450, manifest_sha256: r.manifest_sha256 },
    ]);
    // Several threads give the same report.
    const parallel = await trail.verify({ threads: 2 });
    assert.deepEqual(parallel, report);
    // The hot database no longer answers for the archived events' contents.
    const archived = await trail.get(10);
    assert.equal(archived?.seq, 10);
    assert.equal(archived?.action, undefined);
    assert.deepEqual(
      archived?.archived,
      { from: 0, to: 256, by_seq: 450, manifest_sha256: r.manifest_sha256 },
      'labelled as archived, not shown as missing fields',
    );
    assert.equal((await trail.get(300))?.archived, undefined);
    assert.ok(sessionCountBefore > (await trail.count({ session_id: 's-even' })));
  });

  it('keeps proofs working: a bundle made before and a fresh one of an archived event verify', async () => {
    assert.equal(verifyProofBundle(bundleBefore).ok, true);
    const fresh = await trail.prove(10);
    const checked = verifyProofBundle(fresh);
    assert.equal(checked.ok, true, checked.failures.join('; '));
    assert.equal(fresh.disclosures.length, 0, 'the leaf alone: its disclosures are in the archive');
    assert.equal(fresh.leaf, bundleBefore.leaf);
  });

  it('writes Parquet files that DuckDB and hyparquet read as the same rows', async () => {
    const m = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as ArchiveManifest;
    const events = m.files.find((f) => f.kind === 'events')!;
    const path = join(out, events.name);
    const instance = await DuckDBInstance.create(':memory:');
    const conn = await instance.connect();
    const duck = await conn.runAndReadAll(
      `SELECT seq, ts, type, actor_id, action_type, decision, session_id, event, leaf
       FROM read_parquet('${path.replace(/'/g, "''")}') ORDER BY seq`,
    );
    const duckRows = duck.getRowObjects().map((r) => ({
      seq: Number(r['seq']),
      ts: r['ts'],
      type: r['type'],
      actor_id: r['actor_id'],
      action_type: r['action_type'],
      decision: r['decision'],
      session_id: r['session_id'],
      event: JSON.parse(String(r['event'])) as unknown,
      leaf: Buffer.from((r['leaf'] as { bytes: Uint8Array }).bytes).toString('base64'),
    }));
    const buf = readFileSync(path);
    const ab = new ArrayBuffer(buf.length);
    new Uint8Array(ab).set(buf);
    const hyRows = ((await parquetReadObjects({ file: ab, utf8: false })) as Record<string, unknown>[]).map(
      (r) => ({
        seq: Number(r['seq']),
        ts: r['ts'],
        type: r['type'],
        actor_id: r['actor_id'],
        action_type: r['action_type'],
        decision: r['decision'],
        session_id: r['session_id'],
        event: JSON.parse(String(r['event'])) as unknown,
        leaf: Buffer.from(r['leaf'] as Uint8Array).toString('base64'),
      }),
    );
    assert.equal(duckRows.length, 256);
    assert.deepEqual(duckRows, hyRows);
    assert.equal(duckRows[10]!.leaf, bundleBefore.leaf);
    const ev = duckRows[10]!.event as RecordedEvent;
    assert.deepEqual(ev.action, eventBefore?.action);
    assert.equal(ev.seq, 10);
    // An analyst's query: DuckDB's JSON functions on the event column.
    const actions = await conn.runAndReadAll(
      `SELECT event->>'$.action.type' AS action FROM read_parquet('${path.replace(/'/g, "''")}') WHERE seq = 10`,
    );
    assert.equal(actions.getRowObjects()[0]!['action'], eventBefore?.action?.type);
    // Decisions per type in the archive.
    const byType = await conn.runAndReadAll(
      `SELECT type, count(*) AS n FROM read_parquet('${path.replace(/'/g, "''")}') GROUP BY type ORDER BY type`,
    );
    assert.equal(
      byType.getRowObjects().reduce((n, r) => n + Number(r['n']), 0),
      256,
    );
    const ds = m.files.find((f) => f.kind === 'disclosures')!;
    const dsRows = await conn.runAndReadAll(
      `SELECT count(*) AS n FROM read_parquet('${join(out, ds.name).replace(/'/g, "''")}')`,
    );
    assert.equal(Number(dsRows.getRowObjects()[0]!['n']), ds.rows);
    conn.closeSync();
    instance.closeSync();
  });

  it('verify --archive checks the archive with the hot log', async () => {
    const r = await verifyArchive(trail, out);
    assert.equal(r.ok, true, JSON.stringify(r.failures.slice(0, 3)));
    assert.equal(r.archived, undefined, 'the range is verified as if it had never left');
  });

  it('catches an edited Parquet file, an edited manifest, and a file and manifest edited together', async () => {
    const m = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as ArchiveManifest;
    const events = m.files.find((f) => f.kind === 'events')!;

    const edited = join(dir, 'edited-file');
    cpSync(out, edited, { recursive: true });
    flipByte(join(edited, events.name));
    const r1 = await verifyArchive(trail, edited);
    assert.equal(r1.ok, false);
    assert.ok(r1.failures.some((f) => f.kind === 'archive_mismatch' && f.detail.includes(events.name)));

    const editedManifest = join(dir, 'edited-manifest');
    cpSync(out, editedManifest, { recursive: true });
    writeFileSync(
      join(editedManifest, 'manifest.json'),
      readFileSync(join(out, 'manifest.json'), 'utf8').replace('"SNAPPY"', '"SNAPPY" '),
    );
    const r2 = await verifyArchive(trail, editedManifest);
    assert.equal(r2.ok, false);
    assert.ok(r2.failures.some((f) => /no archive\.created event .* names this manifest/.test(f.detail)));

    // A rewritten row with its file hash updated in the manifest: the manifest no longer matches the log's event.
    const rewritten = join(dir, 'rewritten');
    cpSync(out, rewritten, { recursive: true });
    flipByte(join(rewritten, events.name));
    const newHash = (await import('node:crypto'))
      .createHash('sha256')
      .update(readFileSync(join(rewritten, events.name)))
      .digest('hex');
    writeFileSync(
      join(rewritten, 'manifest.json'),
      readFileSync(join(out, 'manifest.json'), 'utf8').replace(events.sha256, newHash),
    );
    const r3 = await verifyArchive(trail, rewritten);
    assert.equal(r3.ok, false);
    assert.deepEqual(kinds(r3), ['archive_mismatch']);

    // Restore refuses an archive that does not verify, and changes nothing.
    await assert.rejects(
      restoreArchive(trail, edited),
      (e: unknown) =>
        e instanceof AuditError && e.code === 'proof_invalid' && /nothing restored/.test(e.message),
    );
    const still = await trail.verify();
    assert.equal(still.ok, true);
    assert.equal(still.archived?.length, 1);
  });

  it('restores the range: verify is as before the archive, and a new archive starts where the last one ended', async () => {
    const r = await restoreArchive(trail, out);
    assert.equal(r.from, 0);
    assert.equal(r.to, 256);
    assert.equal(r.index_rows, 256);
    assert.equal((await trail.get(r.by_seq))?.type, 'archive.restored');
    const report = await trail.verify();
    assert.equal(report.ok, true, JSON.stringify(report.failures.slice(0, 3)));
    assert.equal(report.archived, undefined);
    assert.deepEqual(await trail.get(10), eventBefore);
    assert.equal(await trail.count({ session_id: 's-even' }), sessionCountBefore);
    await assert.rejects(
      restoreArchive(trail, out),
      (e: unknown) =>
        e instanceof AuditError && e.code === 'not_found' && /nothing to restore/.test(e.message),
    );
    // Archive again, then further: the second range starts at the first one's end.
    const first = await archiveLog(trail, { before: new Date(T0 + DAY / 2), dir: join(dir, 'archive-2') });
    assert.deepEqual([first.from, first.to], [0, 256]);
    clock = T0 + 3 * DAY;
    const second = await archiveLog(trail, { before: new Date(T0 + 2 * DAY), dir: join(dir, 'archive-3') });
    assert.equal(second.from, 256);
    assert.ok(second.to >= 400);
    const both = await trail.verify();
    assert.equal(both.ok, true, JSON.stringify(both.failures.slice(0, 3)));
    assert.deepEqual(
      both.archived?.map((a) => [a.from, a.to]),
      [
        [0, 256],
        [256, second.to],
      ],
    );
    assert.equal((await verifyArchive(trail, join(dir, 'archive-3'))).ok, true);
  });
});

describe('archived ranges and tampering', () => {
  it('a range deleted by direct SQL without the event, or with a forged archive record, is still tampering', async () => {
    const dir = tempDir('auditrail-archive-tamper-');
    const db = join(dir, 'audit.db');
    const trail = await openAuditTrail({ tenant: 'acme', db, checkpointIntervalMs: 0 });
    for (let i = 0; i < 40; i++) await trail.record(sampleEvent(i));
    await trail.checkpoint();
    await trail.close();
    const sql = new Database(db);
    sql.exec('DROP TRIGGER disclosures_no_delete');
    sql.exec(
      'DELETE FROM disclosures WHERE seq >= 5 AND seq < 10; DELETE FROM events WHERE seq >= 5 AND seq < 10',
    );
    sql.close();
    const t1 = await openAuditTrail({ tenant: 'acme', db, readonly: true });
    const r1 = await t1.verify();
    await t1.close();
    assert.equal(r1.ok, false);
    assert.ok(r1.failures.some((f) => f.seq === 5 && f.kind === 'payload_deleted'));
    assert.equal(r1.archived, undefined);

    // A forged record pointing at an ordinary event does not make the deletion an archive.
    const sql2 = new Database(db);
    sql2
      .prepare('INSERT INTO archives VALUES (1, 5, 10, 20, ?, ?)')
      .run('0'.repeat(64), new Date().toISOString());
    sql2.close();
    const t2 = await openAuditTrail({ tenant: 'acme', db, readonly: true });
    const r2 = await t2.verify();
    await t2.close();
    assert.equal(r2.ok, false);
    assert.ok(
      r2.failures.some(
        (f) => f.seq === 5 && f.kind === 'payload_deleted' && /not an archive\.created event/.test(f.detail),
      ),
    );
    assert.equal(r2.archived, undefined);
  });

  it('the hot database refuses to delete disclosures outside a recorded archive', async () => {
    const dir = tempDir('auditrail-archive-trigger-');
    const db = join(dir, 'audit.db');
    const trail = await openAuditTrail({ tenant: 'acme', db, checkpointIntervalMs: 0 });
    for (let i = 0; i < 4; i++) await trail.record(sampleEvent(i));
    await trail.close();
    const sql = new Database(db);
    assert.throws(() => sql.exec('DELETE FROM disclosures WHERE seq = 1'), /disclosures can only be erased/);
    sql.close();
  });
});

describe('cold archive on a real PostgreSQL log', { skip: pgSkip ?? false }, () => {
  const schema = schemaName('archive');
  after(() => dropSchemas([schema]));

  it('archives, verifies with and without the archive, and restores, as on SQLite', async () => {
    const dir = tempDir('auditrail-archive-pg-');
    const u = new URL(PG_URL);
    u.searchParams.set('schema', schema);
    let clock = T0;
    const trail = await openAuditTrail({
      tenant: 'acme',
      postgres: u.toString(),
      keyDir: join(dir, 'keys'),
      now: () => clock,
      checkpointIntervalMs: 0,
      writeThread: false,
    });
    try {
      for (let i = 0; i < 300; i++) {
        if (i === 280) clock = T0 + DAY;
        await trail.record(sampleEvent(i, i % 2 === 0 ? 's-even' : 's-odd'));
        if (i === 255) await trail.checkpoint();
      }
      const eventBefore = await trail.get(10);
      const countBefore = await trail.count({ session_id: 's-even' });
      const r = await archiveLog(trail, { before: new Date(T0 + DAY / 2), dir: join(dir, 'a') });
      assert.deepEqual([r.from, r.to, r.dropped.index_rows], [0, 256, 256]);
      assert.ok(r.dropped.disclosures >= 256 * 2);
      const report = await trail.verify();
      assert.equal(report.ok, true, JSON.stringify(report.failures.slice(0, 3)));
      assert.deepEqual(
        report.archived?.map((a) => [a.from, a.to]),
        [[0, 256]],
      );
      assert.equal((await trail.get(10))?.action, undefined);
      assert.ok(countBefore > (await trail.count({ session_id: 's-even' })));
      assert.equal((await verifyArchive(trail, join(dir, 'a'))).ok, true);
      // The database itself refuses a deletion outside the recorded range.
      await assert.rejects(
        adminQuery(`DELETE FROM ${schema}.disclosures WHERE seq = 260`),
        /can only be erased/,
      );
      const back = await restoreArchive(trail, join(dir, 'a'));
      assert.equal(back.index_rows, 256);
      const after = await trail.verify();
      assert.equal(after.ok, true, JSON.stringify(after.failures.slice(0, 3)));
      assert.equal(after.archived, undefined);
      assert.deepEqual(await trail.get(10), eventBefore);
      assert.equal(await trail.count({ session_id: 's-even' }), countBefore);
    } finally {
      await trail.close();
    }
  });
});
