/**
 * Retention on a real SQLite log: purge, then every proof bundle made before still verifies,
 * verify reports the purged fields as erased by the retention.purged seq, holds block a purge,
 * applying twice changes nothing, and the freed pages leave the file; an all-but-leaf purge and
 * the vacuum on PostgreSQL.
 */
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  applyRetention,
  openAuditTrail,
  parsePrivacyConfig,
  planRetention,
  reclaimSpace,
  rotateSigningKey,
  verifyProofBundle,
  type AuditTrail,
  type ProofBundle,
  type RetentionPolicy,
} from '../../src/index.js';
import { dropSchemas, PG_URL, postgresSkipReason, schemaName } from '../postgres.js';
import { sampleEvent, tempDir } from './helpers.js';

const pgSkip = await postgresSkipReason();

const OLD = Date.parse('2019-03-01T00:00:00Z');
const RECENT = Date.parse('2026-05-01T00:00:00Z');
const NOW = Date.parse('2026-06-01T00:00:00Z');

function policy(yaml: string): RetentionPolicy {
  const p = parsePrivacyConfig(yaml).retention;
  assert.ok(p);
  return p;
}

/** A log of `old` events in 2019 (sessions s-0..s-3) and `recent` in 2026, with its clock. */
async function makeLog(
  old: number,
  recent: number,
  postgres?: string,
): Promise<{ trail: AuditTrail; db: string; clock: { t: number } }> {
  const dir = tempDir('auditrail-retention-');
  const db = join(dir, 'audit.db');
  const clock = { t: OLD };
  const trail = await openAuditTrail({
    tenant: 'acme',
    ...(postgres !== undefined ? { postgres, keyDir: join(dir, 'keys') } : { db }),
    now: () => clock.t,
    checkpointIntervalMs: 3_600_000,
  });
  for (let i = 0; i < old; i++) {
    const e = sampleEvent(i, `s-${i % 4}`);
    await trail.record({
      ...e,
      context: { ...e.context, data_subject_ids: [`customer-${i}`], data_classification: 'pii' },
      risk_level: 'low',
    });
    clock.t += 1000;
  }
  clock.t = RECENT;
  for (let i = 0; i < recent; i++) await trail.record(sampleEvent(i, 's-new'));
  await trail.checkpoint();
  return { trail, db, clock };
}

describe('retention on a SQLite log', () => {
  it('plans, purges, keeps every earlier proof valid, and reports the erasures by seq', async () => {
    const { trail, clock } = await makeLog(120, 12);
    clock.t = NOW;
    try {
      const before: ProofBundle[] = [];
      for (const seq of [0, 1, 2, 57, 119, 125]) before.push(await trail.prove(seq));
      const vkey = trail.verifierKey();
      const p = policy('retention:\n  rules:\n    - type: "*"\n      keep: 1y\n      purge: disclosures\n');

      const plan = await planRetention(trail, p, { now: NOW });
      assert.equal(plan.total.events, 120);
      assert.deepEqual(plan.rules[0]!.by_type, {
        'action.intent': 40,
        'policy.decision': 40,
        'action.succeeded': 40,
      });
      assert.equal(Date.parse(plan.rules[0]!.oldest!), OLD);
      assert.equal(Date.parse(plan.rules[0]!.newest!), OLD + 119_000);
      assert.ok(plan.total.bytes > 0 && plan.total.disclosures >= 120, JSON.stringify(plan.total));
      assert.equal(trail.size, 132, 'planning recorded nothing');

      const report = await applyRetention(trail, p, { now: NOW, batch: 50 });
      assert.equal(report.purge_events.length, 3, 'one retention.purged per batch of 50');
      assert.equal(report.erased, plan.total.disclosures);
      const purgeEvent = await trail.get(report.purge_events[0]!);
      assert.equal(purgeEvent?.type, 'retention.purged');
      const params = purgeEvent?.action?.params as Record<string, unknown>;
      assert.equal(params['from_seq'], 0);
      assert.equal(params['to_seq'], 49);
      assert.equal(params['events'], 50);
      assert.equal(purgeEvent?.metadata?.['retention_days'], 365);
      assert.ok(!JSON.stringify(purgeEvent).includes('customer-'), 'the purge record holds no value');

      const e0 = await trail.get(0);
      assert.equal(e0?.action?.params, undefined);
      assert.equal(e0?.context?.data_subject_ids, undefined);
      assert.equal(e0?.action?.type, 'read:order', 'the body stays with purge: disclosures');
      assert.ok(e0?.erased?.every((x) => x.by_seq === report.purge_events[0]));
      const e125 = await trail.get(125);
      assert.equal(e125?.erased, undefined, 'recent events are untouched');

      await trail.checkpoint();
      const v = await trail.verify();
      assert.deepEqual(v.failures, []);
      assert.equal(v.ok, true);
      assert.equal(v.redactions.length, report.erased);
      for (const r of v.redactions) assert.ok(report.purge_events.includes(r.by_seq));

      for (const b of before) {
        const r = verifyProofBundle(b, { trustedKey: vkey });
        assert.deepEqual(r.failures, [], `bundle of seq ${b.seq} made before the purge`);
      }
      for (const seq of [0, 57, 119]) {
        const r = verifyProofBundle(await trail.prove(seq), { trustedKey: vkey });
        assert.deepEqual(r.failures, [], `fresh bundle of seq ${seq}`);
      }

      const again = await applyRetention(trail, p, { now: NOW });
      assert.equal(again.erased, 0);
      assert.deepEqual(again.purge_events, [], 'applying twice records nothing');
      assert.equal((await planRetention(trail, p, { now: NOW })).total.events, 0);
    } finally {
      await trail.close();
    }
  });

  it('never purges the disclosures of key.* events, and the plan says so', async () => {
    const { trail, clock } = await makeLog(6, 0);
    try {
      const [added] = await rotateSigningKey([trail], { by: 'alice' });
      assert.ok(added && added.seq !== null);
      const keySeq = added.seq;
      clock.t = NOW;
      // keep 7d: the six 2019 events and the key event of May 2026 are all due.
      const p = policy('retention:\n  rules:\n    - type: "*"\n      keep: 7d\n      purge: all-but-leaf\n');
      const plan = await planRetention(trail, p, { now: NOW });
      assert.equal(plan.total.events, 6, 'the six ordinary events only');
      assert.deepEqual(plan.never_purged, { events: 1, by_type: { 'key.added': 1 } });
      assert.equal(plan.rules[0]!.by_type['key.added'], undefined);
      const report = await applyRetention(trail, p, { now: NOW });
      assert.equal(report.never_purged.by_type['key.added'], 1);
      const key = await trail.get(keySeq);
      assert.equal(key?.type, 'key.added');
      assert.equal(key?.erased, undefined, 'the key event keeps every disclosure');
      assert.equal(key?.actor?.id, 'alice', 'its body (the key announcement) is still readable');
      await trail.checkpoint();
      const v = await trail.verify();
      assert.deepEqual(v.failures, []);
      assert.ok(v.redactions.every((r) => r.seq !== keySeq));
    } finally {
      await trail.close();
    }
  });

  it('verify holds each retention.purged event to what it names, like data.erased', async () => {
    const { trail, db, clock } = await makeLog(20, 4);
    clock.t = NOW;
    const p = policy('retention:\n  rules:\n    - type: "*"\n      keep: 1y\n      purge: disclosures\n');
    const report = await applyRetention(trail, p, { now: NOW });
    const purgeSeq = report.purge_events[0]!;
    const purged = (await trail.get(purgeSeq))?.metadata?.['purged'] as Record<string, unknown>;
    assert.deepEqual(
      [purged['from_seq'], purged['to_seq'], purged['disclosures']],
      [0, 19, report.erased],
      'the event names its range and count',
    );
    assert.match(String(purged['sha256']), /^[0-9a-f]{64}$/);
    await trail.checkpoint();
    assert.deepEqual((await trail.verify()).failures, []);
    await trail.close();
    const sql = new Database(db);
    const row = (seq: number, pointer: string) =>
      sql.prepare('SELECT * FROM disclosures WHERE seq = ? AND pointer = ?').get(seq, pointer) as
        { unit: number; disclosure: Buffer | null } | undefined;
    const check = async (): Promise<{ seq: number | null; kind: string; detail: string }[]> => {
      const t = await openAuditTrail({ tenant: 'acme', db, readonly: true });
      try {
        return (await t.verify()).failures;
      } finally {
        await t.close();
      }
    };
    try {
      // 1. A recent event's field erased in the purge's name by direct SQL: outside its range.
      const recent = sql
        .prepare(
          "SELECT seq, pointer, disclosure FROM disclosures WHERE seq BETWEEN 20 AND 23 AND pointer != '' AND disclosure IS NOT NULL LIMIT 1",
        )
        .get() as { seq: number; pointer: string; disclosure: Buffer };
      assert.ok(recent);
      const erase = sql.prepare(
        'UPDATE disclosures SET disclosure = NULL, erased_by_seq = ? WHERE seq = ? AND pointer = ?',
      );
      erase.run(purgeSeq, recent.seq, recent.pointer);
      let f = await check();
      assert.ok(
        f.some(
          (x) =>
            x.seq === recent.seq && x.kind === 'payload_deleted' && /names seq 0\.\.19 only/.test(x.detail),
        ),
        JSON.stringify(f),
      );
      // Put back as it was (the trigger that allows erasing only is dropped for it).
      sql.exec('DROP TRIGGER disclosures_erase_only');
      const putBack = sql.prepare(
        'UPDATE disclosures SET disclosure = ?, erased_by_seq = NULL WHERE seq = ? AND pointer = ?',
      );
      putBack.run(recent.disclosure, recent.seq, recent.pointer);
      assert.deepEqual(await check(), []);
      // 2. Inside its range, a disclosure it kept (the body, with purge: disclosures) erased in its name.
      const body5 = row(5, '')?.disclosure;
      assert.ok(body5);
      erase.run(purgeSeq, 5, '');
      f = await check();
      assert.ok(
        f.some(
          (x) =>
            x.seq === purgeSeq &&
            x.kind === 'payload_deleted' &&
            /names \d+ purged disclosure\(s\) of seq 0\.\.19, but \d+ are marked erased by it/.test(x.detail),
        ),
        JSON.stringify(f),
      );
      putBack.run(body5, 5, '');
      assert.deepEqual(await check(), []);
      // 3. A purged disclosure "put back" (its erasure mark cleared): the event names more than is erased.
      const purgedRow = sql
        .prepare('SELECT seq, pointer FROM disclosures WHERE erased_by_seq = ? LIMIT 1')
        .get(purgeSeq) as { seq: number; pointer: string };
      putBack.run(
        Buffer.from(JSON.stringify(['AAAAAAAAAAAAAAAAAAAAAA', purgedRow.pointer, 1])),
        purgedRow.seq,
        purgedRow.pointer,
      );
      f = await check();
      assert.ok(
        f.some((x) => x.seq === purgeSeq && x.kind === 'payload_edited' && /put back/.test(x.detail)),
        JSON.stringify(f),
      );
    } finally {
      sql.close();
    }
  });

  it('all-but-leaf erases the body and the personal index columns; verify still passes', async () => {
    const { trail, clock } = await makeLog(40, 4);
    clock.t = NOW;
    try {
      assert.equal(await trail.count({ session_id: 's-1' }), 10);
      const p = policy(
        'retention:\n  rules:\n    - type: "action.*"\n      keep: 2y\n      purge: all-but-leaf\n',
      );
      const report = await applyRetention(trail, p, { now: NOW });
      assert.equal(report.rules[0]!.events, 27, 'intents and outcomes, not decisions');
      const e0 = await trail.get(0);
      assert.equal(e0?.type, 'action.intent', 'the leaf keeps the type');
      assert.equal(e0?.actor, undefined, 'the body is gone');
      assert.equal(
        await trail.count({ session_id: 's-1' }),
        4,
        'only the decisions (i = 1, 13, 25, 37) stay findable',
      );
      const decision = await trail.get(1);
      assert.equal(decision?.policy?.decision, 'allow');
      await trail.checkpoint();
      const v = await trail.verify();
      assert.deepEqual(v.failures, []);
    } finally {
      await trail.close();
    }
  });

  it('nothing under a legal hold is purged', async () => {
    const { trail, clock } = await makeLog(40, 0);
    clock.t = NOW;
    try {
      const hold = await trail.holds.place(
        { session_id: 's-2' },
        { reason: 'case 2026-14', by: 'legal@acme.example' },
      );
      const p = policy('retention:\n  rules:\n    - keep: 1y\n      purge: disclosures\n');
      const plan = await planRetention(trail, p, { now: NOW });
      assert.deepEqual(plan.held, { events: 10, by_hold: { [hold.id]: 10 } });
      assert.equal(plan.total.events, 30);
      await applyRetention(trail, p, { now: NOW });
      const held = await trail.query({ session_id: 's-2', limit: 100 });
      assert.equal(held.events.length, 10);
      for (const e of held.events) assert.equal(e.erased, undefined, `seq ${e.seq} is under hold`);
      const other = await trail.query({ session_id: 's-1', limit: 100 });
      for (const e of other.events) assert.ok(e.erased && e.erased.length > 0, `seq ${e.seq} purged`);
    } finally {
      await trail.close();
    }
  });

  it('rules match by classification and risk, first match wins', async () => {
    const { trail, clock } = await makeLog(30, 0);
    clock.t = NOW;
    try {
      const p = policy(
        [
          'retention:',
          '  rules:',
          '    - type: policy.decision',
          '      keep: 10y',
          '      purge: disclosures',
          '    - classification: [pii]',
          '      risk: [low]',
          '      keep: 3y',
          '      purge: disclosures',
        ].join('\n'),
      );
      const plan = await planRetention(trail, p, { now: NOW });
      assert.equal(plan.rules[0]!.events, 0, 'decisions are kept 10 years');
      assert.equal(plan.rules[1]!.events, 20);
    } finally {
      await trail.close();
    }
  });

  it('a purge returns freed pages to the file system (incremental vacuum)', async () => {
    const dir = tempDir('auditrail-retention-vacuum-');
    const db = join(dir, 'audit.db');
    const clock = { t: OLD };
    const trail = await openAuditTrail({
      tenant: 'acme',
      db,
      now: () => clock.t,
      checkpointIntervalMs: 3_600_000,
    });
    try {
      const big = 'x'.repeat(3000);
      for (let i = 0; i < 400; i += 50)
        await trail.recordBatch(
          Array.from({ length: 50 }, (_v, j) => ({
            type: 'action.succeeded' as const,
            actor: { type: 'agent' as const, id: 'bot' },
            action: { type: 'read:doc', target: `doc/${i + j}` },
            outcome: { status: 'success' as const, result: { text: `${big}${i + j}` } },
          })),
        );
      await trail.checkpoint();
      clock.t = NOW;
      const p = policy('retention:\n  rules:\n    - keep: 1y\n      purge: disclosures\n');
      const report = await applyRetention(trail, p, { now: NOW });
      const r = report.reclaimed;
      assert.ok(r);
      assert.equal(r.mode, 'incremental');
      assert.ok(r.freeBytes >= 400 * 3000 * 0.8, `freed ${r.freeBytes} bytes`);
      assert.ok(
        r.fileBytesBefore - r.fileBytesAfter >= 400 * 3000 * 0.8,
        `file ${r.fileBytesBefore} -> ${r.fileBytesAfter}`,
      );
      assert.equal(statSync(db).size, r.fileBytesAfter);
      const v = await trail.verify();
      assert.deepEqual(v.failures, []);
    } finally {
      await trail.close();
    }
  });

  it('a database made without incremental vacuum keeps freed pages until compacted once', async () => {
    const dir = tempDir('auditrail-retention-compact-');
    const db = join(dir, 'audit.db');
    const clock = { t: OLD };
    let trail = await openAuditTrail({ tenant: 'acme', db, now: () => clock.t, checkpointIntervalMs: 0 });
    await trail.recordBatch(
      Array.from({ length: 300 }, (_v, j) => ({
        type: 'action.succeeded' as const,
        actor: { type: 'agent' as const, id: 'bot' },
        outcome: { status: 'success' as const, result: { text: `${'y'.repeat(3000)}${j}` } },
      })),
    );
    await trail.close();
    // As a database created before auditrail chose incremental vacuum.
    const raw = new Database(db);
    raw.pragma('auto_vacuum = NONE');
    raw.exec('VACUUM');
    assert.equal(raw.pragma('auto_vacuum', { simple: true }), 0);
    raw.close();
    clock.t = NOW;
    trail = await openAuditTrail({ tenant: 'acme', db, now: () => clock.t, checkpointIntervalMs: 0 });
    try {
      const p = policy('retention:\n  rules:\n    - keep: 1y\n      purge: disclosures\n');
      const report = await applyRetention(trail, p, { now: NOW });
      assert.equal(report.reclaimed?.mode, 'none');
      assert.ok(report.reclaimed.freeBytes >= 300 * 3000 * 0.8, `freed ${report.reclaimed.freeBytes}`);
      assert.ok(report.reclaimed.fileBytesAfter >= report.reclaimed.fileBytesBefore, 'the file kept them');
      const compacted = await reclaimSpace(trail, { compact: true });
      assert.equal(compacted?.mode, 'incremental');
      assert.ok(
        compacted.fileBytesBefore - compacted.fileBytesAfter >= 300 * 3000 * 0.8,
        `file ${compacted.fileBytesBefore} -> ${compacted.fileBytesAfter}`,
      );
      await trail.checkpoint();
      const v = await trail.verify();
      assert.deepEqual(v.failures, []);
    } finally {
      await trail.close();
    }
  });

  it('appends from another connection keep committing while a purge runs', async () => {
    const { trail, db, clock } = await makeLog(600, 0);
    clock.t = NOW;
    // A second trail on the same file: its own connection and write thread, as a server would have.
    const writer = await openAuditTrail({ tenant: 'acme', db, now: () => NOW, checkpointIntervalMs: 0 });
    try {
      const p = policy('retention:\n  rules:\n    - keep: 1y\n      purge: all-but-leaf\n');
      const appends = (async () => {
        const receipts = [];
        for (let i = 0; i < 100; i++) receipts.push(await writer.record(sampleEvent(i, 's-live')));
        return receipts;
      })();
      const [report, receipts] = await Promise.all([
        applyRetention(trail, p, { now: NOW, batch: 100 }),
        appends,
      ]);
      assert.equal(report.total.events, 600);
      assert.equal(receipts.length, 100);
      await writer.flush();
      assert.equal(await trail.count({ session_id: 's-live' }), 100);
      await trail.checkpoint();
      const v = await trail.verify();
      assert.deepEqual(v.failures, []);
    } finally {
      await writer.close();
      await trail.close();
    }
  });
});

describe('retention on a PostgreSQL log', { skip: pgSkip ?? false }, () => {
  const schema = schemaName('retention');
  after(() => dropSchemas([schema]));

  it('all-but-leaf clears the personal index columns, verify passes, and the purge ends with a VACUUM', async () => {
    const u = new URL(PG_URL);
    u.searchParams.set('schema', schema);
    const { trail, clock } = await makeLog(40, 4, u.toString());
    clock.t = NOW;
    try {
      assert.equal(await trail.count({ session_id: 's-1' }), 10);
      const p = policy(
        'retention:\n  rules:\n    - type: "action.*"\n      keep: 2y\n      purge: all-but-leaf\n',
      );
      const report = await applyRetention(trail, p, { now: NOW });
      assert.equal(report.rules[0]!.events, 27);
      assert.equal((await trail.get(0))?.actor, undefined);
      assert.equal(await trail.count({ session_id: 's-1' }), 4);
      assert.equal(report.reclaimed?.mode, 'vacuum');
      await trail.checkpoint();
      assert.deepEqual((await trail.verify()).failures, []);
      const r = await reclaimSpace(trail, { compact: true });
      assert.equal(r?.mode, 'vacuum');
      assert.ok(r.fileBytesAfter <= r.fileBytesBefore, JSON.stringify(r));
    } finally {
      await trail.close();
    }
  });
});
