// GDPR erasure on a real SQLite log: proofs made before still verify, verify reports the erasure,
// an "erasure" done in the database is tampering, legal holds block it, and the query index and
// approvals table never hold a person's id in plain; the index and the erasure on PostgreSQL too.
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { openAuditTrail, verifyProofBundle, type AuditEvent, type AuditTrail } from '../../src/index.js';
import { AuditError } from '../../src/errors.js';
import { adminQuery, dropSchemas, PG_URL, postgresSkipReason, schemaName } from '../postgres.js';
import { sampleEvent, tempDir } from './helpers.js';

const pgSkip = await postgresSkipReason();

const SUBJECT = 'cust-7731';
const USER = 'alice.martin';

function events(): AuditEvent[] {
  return [
    sampleEvent(0),
    {
      type: 'context.accessed',
      session_id: 's-1',
      actor: { type: 'agent', id: 'support-bot' },
      action: { type: 'read:customer', target: `customer/${SUBJECT}` },
      context: {
        data_subject_ids: [SUBJECT, 'cust-other'],
        data_classification: 'pii',
        reasoning: 'asked for the address',
      },
    },
    {
      type: 'action.intent',
      session_id: 's-1',
      actor: { type: 'user', id: USER, name: 'Alice Martin' },
      action: { type: 'write:refund', target: 'order/1042', params: { amount: 12 } },
    },
    sampleEvent(1),
    {
      type: 'action.succeeded',
      session_id: 's-2',
      actor: { type: 'agent', id: 'support-bot' },
      action: { type: 'write:note', target: 'ticket/9' },
      context: { data_subject_ids: [SUBJECT] },
      outcome: { status: 'success', result: { note: 'called back' } },
    },
    sampleEvent(2),
  ];
}

async function fixture(): Promise<{ db: string; trail: AuditTrail }> {
  const db = join(tempDir(), 'audit.db');
  const trail = await openAuditTrail({ tenant: 'acme', db });
  for (const e of events()) await trail.record(e);
  return { db, trail };
}

describe('the query index holds no person in plain', () => {
  it('stores user ids, subject ids and targets naming them as keyed hashes; queries still find them', async () => {
    const { db, trail } = await fixture();
    await trail.close();
    const sql = new Database(db, { readonly: true });
    const rows = sql.prepare('SELECT * FROM events').all() as Record<string, unknown>[];
    sql.close();
    const text = JSON.stringify(rows);
    for (const id of [SUBJECT, USER, 'cust-other'])
      assert.equal(text.includes(id), false, `${id} in the events table`);
    assert.ok(
      rows.some((r) => typeof r['actor_id'] === 'string' && /^user:[0-9a-f]{32}$/.test(r['actor_id'])),
    );
    assert.ok(rows.some((r) => typeof r['target'] === 'string' && /^h:[0-9a-f]{32}$/.test(r['target'])));
    // The file's bytes outside the disclosures: the index pages hold no id either (the key is in meta).
    const again = await openAuditTrail({ tenant: 'acme', db, readonly: true });
    assert.deepEqual(
      (await again.query({ actor_id: USER })).events.map((e) => e.seq),
      [2],
    );
    assert.deepEqual(
      (await again.query({ actor_id: `user:${USER}` })).events.map((e) => e.seq),
      [2],
    );
    assert.deepEqual(
      (await again.query({ subject: SUBJECT })).events.map((e) => e.seq),
      [1, 4],
    );
    assert.deepEqual(
      (await again.query({ subject: 'cust-other' })).events.map((e) => e.seq),
      [1],
    );
    assert.deepEqual(
      (await again.query({ target: `customer/${SUBJECT}` })).events.map((e) => e.seq),
      [1],
    );
    assert.equal(await again.count({ actor_id: 'support-bot' }), 4);
    assert.equal((await again.verify()).ok, true);
    await again.close();
  });
});

describe('a 0.1 database opened by a writer', () => {
  it('gets an index key and its people re-indexed by keyed hash; it still verifies with the published key', async () => {
    const db = join(tempDir(), 'audit.db');
    copyFileSync(new URL('../compat/v0.1/audit.db', import.meta.url), db);
    const vkey = readFileSync(new URL('../compat/v0.1/default.vkey', import.meta.url), 'utf8').trim();
    const trail = await openAuditTrail({ tenant: 'acme', db, checkpointIntervalMs: 0, keyDir: null });
    const r = await trail.verify({ trustedKeys: [vkey] });
    assert.deepEqual(r.failures, []);
    assert.equal(
      await trail.count({ actor_id: 'maria.chen' }),
      await trail.count({ actor_id: 'user:maria.chen' }),
    );
    assert.ok((await trail.count({ actor_id: 'maria.chen' })) > 0);
    await trail.close();
    const sql = new Database(db, { readonly: true });
    const ids = sql
      .prepare("SELECT DISTINCT actor_id FROM events WHERE actor_id LIKE 'user:%'")
      .pluck()
      .all() as string[];
    sql.close();
    assert.ok(ids.length >= 4);
    for (const id of ids) assert.match(id, /^user:[0-9a-f]{32}$/);
  });
});

describe('erasure', () => {
  it('erases a subject; every proof made before still verifies, verify reports the erasure', async () => {
    const { db, trail } = await fixture();
    const before = await Promise.all([0, 1, 2, 4, 5].map((s) => trail.prove(s)));
    const saved = JSON.parse(JSON.stringify(before)) as unknown[];
    const vkey = trail.verifierKey();

    const dry = await trail.erase(
      { subject: SUBJECT },
      { reason: 'DSR-2026-14', requestedBy: 'dpo@acme', dryRun: true },
    );
    assert.equal(dry.seq, null);
    assert.equal(dry.events, 2);
    assert.deepEqual([...new Set(dry.erased.map((x) => x.seq))], [1, 4]);
    assert.equal(trail.size, 6, 'a dry run writes nothing');
    assert.equal((await trail.get(1))?.context?.data_subject_ids?.[0], SUBJECT);

    const r = await trail.erase({ subject: SUBJECT }, { reason: 'DSR-2026-14', requestedBy: 'dpo@acme' });
    assert.equal(r.seq, 6);
    assert.deepEqual(r.erased, dry.erased);
    const erasure = await trail.get(6);
    assert.equal(erasure?.type, 'data.erased');
    assert.equal(JSON.stringify(erasure).includes(SUBJECT), false, 'the erasure event names no value');

    const e1 = await trail.get(1);
    assert.deepEqual(
      e1?.erased?.map((x) => x.by_seq),
      r.erased.filter((x) => x.seq === 1).map(() => 6),
    );
    assert.equal(e1?.context, undefined);
    assert.equal((await trail.query({ subject: SUBJECT })).events.length, 0);

    const report = await trail.verify();
    assert.deepEqual(report.failures, []);
    assert.equal(report.ok, true);
    assert.deepEqual(
      report.redactions.map((x) => [x.seq, x.by_seq]),
      r.erased.map((x) => [x.seq, 6]),
    );
    for (const b of saved) assert.equal(verifyProofBundle(b, { trustedKey: vkey }).ok, true);
    for (const s of [1, 4]) {
      const fresh = await trail.prove(s);
      const v = verifyProofBundle(JSON.parse(JSON.stringify(fresh)), { trustedKey: vkey });
      assert.equal(v.ok, true, v.failures.join('; '));
      assert.equal(fresh.disclosures.length, 0);
    }
    // A second request finds nothing left.
    const none = await trail.erase({ subject: SUBJECT }, { reason: 'again', requestedBy: 'dpo@acme' });
    assert.deepEqual([none.seq, none.erased.length], [null, 0]);
    await trail.close();

    // No plaintext of the subject is left in the disclosures or the index.
    const sql = new Database(db, { readonly: true });
    const held = sql
      .prepare('SELECT count(*) AS n FROM disclosures WHERE instr(CAST(disclosure AS TEXT), ?) > 0')
      .get(SUBJECT) as { n: number };
    assert.equal(held.n, 0);
    sql.close();
    // The erased events still verify from another process's view (a read-only open).
    const ro = await openAuditTrail({ tenant: 'acme', db, readonly: true });
    assert.equal((await ro.verify()).ok, true);
    await ro.close();
  });

  it("erases a user's id and name where they acted, and only those fields", async () => {
    const { trail } = await fixture();
    const r = await trail.erase({ subject: USER }, { reason: 'left the company', requestedBy: 'dpo@acme' });
    assert.deepEqual(
      r.erased.map((x) => [x.seq, x.pointer]),
      [
        [2, '/actor/id'],
        [2, '/actor/name'],
      ],
    );
    const e2 = await trail.get(2);
    assert.equal(e2?.action?.type, 'write:refund');
    assert.equal(e2?.actor?.id, undefined);
    assert.equal((await trail.query({ actor_id: USER })).events.length, 0);
    assert.equal((await trail.verify()).ok, true);
    await trail.close();
  });

  it('erases by seqs and by pointers; erasure and hold records are kept whole', async () => {
    const { trail } = await fixture();
    const a = await trail.erase(
      { pointers: [{ seq: 0, pointer: '/action/params' }] },
      { reason: 'r', requestedBy: 'dpo' },
    );
    assert.deepEqual(
      a.erased.map((x) => [x.seq, x.pointer]),
      [[0, '/action/params']],
    );
    const b = await trail.erase({ seqs: [3] }, { reason: 'r', requestedBy: 'dpo' });
    assert.ok(b.erased.every((x) => x.seq === 3) && b.erased.length >= 1);
    await assert.rejects(trail.erase({ seqs: [a.seq!] }, { reason: 'r', requestedBy: 'dpo' }), /kept whole/);
    await assert.rejects(trail.erase({ seqs: [99] }, { reason: 'r', requestedBy: 'dpo' }), {
      code: 'not_found',
    });
    await assert.rejects(trail.erase({ subject: 'has space' }, { reason: 'r', requestedBy: 'dpo' }), {
      code: 'invalid_argument',
    });
    await assert.rejects(trail.erase({ subject: SUBJECT }, { reason: ' ', requestedBy: 'dpo' }), {
      code: 'invalid_argument',
    });
    const report = await trail.verify();
    assert.equal(report.ok, true, JSON.stringify(report.failures));
    await trail.close();
  });

  it('an active legal hold blocks the erasure, naming the hold; nothing is written', async () => {
    const { trail } = await fixture();
    const hold = await trail.holds.place(
      { session_id: 's-2' },
      { reason: 'litigation 2026-3', by: 'legal@acme' },
    );
    const size = trail.size;
    await assert.rejects(
      trail.erase({ subject: SUBJECT }, { reason: 'DSR', requestedBy: 'dpo@acme' }),
      (e: unknown) =>
        e instanceof AuditError &&
        e.code === 'conflict' &&
        e.message.includes(hold.id) &&
        e.message.includes('litigation 2026-3'),
    );
    assert.equal(trail.size, size);
    assert.equal((await trail.get(4))?.context?.data_subject_ids?.[0], SUBJECT);
    await trail.holds.release(hold.id, { reason: 'settled', by: 'legal@acme' });
    const r = await trail.erase({ subject: SUBJECT }, { reason: 'DSR', requestedBy: 'dpo@acme' });
    assert.equal(r.events, 2);
    assert.equal((await trail.verify()).ok, true);
    await trail.close();
  });

  it('an "erasure" done in the database without naming it in a data.erased event is tampering', async () => {
    const { db, trail } = await fixture();
    const r = await trail.erase(
      { pointers: [{ seq: 0, pointer: '/action/params' }] },
      { reason: 'r', requestedBy: 'dpo' },
    );
    await trail.close();
    const sql = new Database(db);
    // Pointing at the real erasure event, and without one at all.
    sql
      .prepare(
        "UPDATE disclosures SET disclosure = NULL, erased_by_seq = ?, erased_at = 'x' WHERE seq = 0 AND pointer = '/context/reasoning'",
      )
      .run(r.seq);
    sql.exec('DROP TRIGGER disclosures_erase_only');
    sql
      .prepare(
        "UPDATE disclosures SET disclosure = NULL, erased_by_seq = NULL WHERE seq = 5 AND pointer = '/outcome/result'",
      )
      .run();
    sql.close();
    const ro = await openAuditTrail({ tenant: 'acme', db, readonly: true });
    const report = await ro.verify();
    assert.equal(report.ok, false);
    const deleted = report.failures
      .filter((f) => f.kind === 'payload_deleted')
      .map((f) => [f.seq, f.detail])
      .sort((a, b) => Number(a[0]) - Number(b[0]));
    assert.deepEqual(
      deleted.map(([s]) => s),
      [0, 5],
    );
    assert.match(String(deleted[0]![1]), /does not name it/);
    assert.match(String(deleted[1]![1]), /without an erasure record/);
    assert.deepEqual(
      report.redactions.map((x) => x.seq),
      [0],
    );
    await ro.close();
  });

  it('an index row of an erased event edited to match a filter is caught', async () => {
    const { db, trail } = await fixture();
    await trail.erase({ subject: SUBJECT }, { reason: 'r', requestedBy: 'dpo' });
    await trail.close();
    const sql = new Database(db);
    sql.prepare("UPDATE events SET session_id = 's-9' WHERE seq = 4").run();
    sql.close();
    const ro = await openAuditTrail({ tenant: 'acme', db, readonly: true });
    const report = await ro.verify();
    assert.deepEqual(
      report.failures.map((f) => [f.seq, f.kind]),
      [[4, 'index_mismatch']],
    );
    await ro.close();
    assert.ok(readFileSync(db).length > 0);
  });
});

describe('people in the index and erasure on PostgreSQL', { skip: pgSkip ?? false }, () => {
  const schema = schemaName('erasure');
  after(() => dropSchemas([schema]));

  it('indexes people by keyed hash, finds them, erases a subject and clears its index columns', async () => {
    const u = new URL(PG_URL);
    u.searchParams.set('schema', schema);
    const trail = await openAuditTrail({
      tenant: 'acme',
      postgres: u.toString(),
      keyDir: join(tempDir(), 'keys'),
      checkpointIntervalMs: 0,
    });
    try {
      for (const e of events()) await trail.record(e);
      const rows = (await adminQuery(`SELECT * FROM ${schema}.events ORDER BY seq`)).rows as Record<
        string,
        unknown
      >[];
      for (const id of [SUBJECT, USER, 'cust-other'])
        assert.equal(JSON.stringify(rows).includes(id), false, `${id} in the events table`);
      assert.deepEqual(
        (await trail.query({ subject: SUBJECT })).events.map((e) => e.seq),
        [1, 4],
      );
      assert.deepEqual(
        (await trail.query({ actor_id: USER })).events.map((e) => e.seq),
        [2],
      );
      assert.deepEqual(
        (await trail.query({ target: `customer/${SUBJECT}` })).events.map((e) => e.seq),
        [1],
      );
      const r = await trail.erase({ subject: SUBJECT }, { reason: 'DSR-1', requestedBy: 'dpo@acme' });
      assert.equal(r.seq, 6);
      assert.equal((await trail.query({ subject: SUBJECT })).events.length, 0);
      const subjects = await adminQuery(
        `SELECT seq::int, subjects FROM ${schema}.events WHERE seq IN (1, 4) ORDER BY seq`,
      );
      assert.deepEqual(subjects.rows, [
        { seq: 1, subjects: null },
        { seq: 4, subjects: null },
      ]);
      const report = await trail.verify();
      assert.deepEqual(report.failures, []);
      assert.deepEqual(
        report.redactions.map((x) => [x.seq, x.by_seq]),
        r.erased.map((x) => [x.seq, 6]),
      );
    } finally {
      await trail.close();
    }
  });
});
