import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { AuditError } from '../errors.js';
import { openAuditTrail } from './open.js';
import { holdCovers, normalizeHoldScope, type Hold } from './holds.js';
import { sampleEvent, tempDir } from '../../test/integration/helpers.js';

const hold = (scope: Hold['scope']): Hold => ({
  id: 'hold-1',
  seq: 1,
  scope,
  reason: 'r',
  placed_by: 'legal',
  placed_at: '2026-01-01T00:00:00.000000Z',
});

describe('holdCovers', () => {
  const ev = {
    ts: '2026-03-01T10:00:00.000000Z',
    session_id: 's-1',
    actor: { type: 'agent', id: 'bot' },
    data_subject_ids: ['cust-7'],
  };
  it('matches each criterion and requires all of them', () => {
    assert.equal(holdCovers(hold({ session_id: 's-1' }), ev), true);
    assert.equal(holdCovers(hold({ session_id: 's-2' }), ev), false);
    assert.equal(holdCovers(hold({ actor_id: 'bot' }), ev), true);
    assert.equal(holdCovers(hold({ actor_id: 'other' }), ev), false);
    assert.equal(holdCovers(hold({ subject: 'cust-7' }), ev), true);
    assert.equal(holdCovers(hold({ subject: 'cust-8' }), ev), false);
    assert.equal(holdCovers(hold({ subject: 'cust-7', session_id: 's-2' }), ev), false);
  });
  it('matches a user actor as a subject', () => {
    assert.equal(
      holdCovers(hold({ subject: 'alice' }), { ts: ev.ts, actor: { type: 'user', id: 'alice' } }),
      true,
    );
    assert.equal(
      holdCovers(hold({ subject: 'alice' }), { ts: ev.ts, actor: { type: 'agent', id: 'alice' } }),
      false,
    );
  });
  it('bounds time with since inclusive and until exclusive', () => {
    const s = normalizeHoldScope({ since: '2026-03-01T10:00:00Z', until: '2026-03-02' });
    assert.equal(holdCovers(hold(s), ev), true);
    assert.equal(holdCovers(hold(s), { ...ev, ts: '2026-03-01T09:59:59.999999Z' }), false);
    assert.equal(holdCovers(hold(s), { ...ev, ts: '2026-03-02T00:00:00.000000Z' }), false);
  });
  it('a hold whose scope was erased covers everything', () => {
    assert.equal(holdCovers({ scope: {}, scope_erased: true }, ev), true);
  });
});

describe('normalizeHoldScope', () => {
  it('refuses an empty scope, unknown fields, bad times and an inverted range, naming the field', () => {
    const bad: [unknown, RegExp][] = [
      [{}, /at least one of/],
      [{ user: 'x' }, /unknown hold scope field "user"/],
      [{ since: 'yesterday' }, /hold since must be an RFC 3339/],
      [{ since: '2026-02-01', until: '2026-01-01' }, /must be before until/],
      [{ subject: 'has space' }, /hold subject must be/],
    ];
    for (const [scope, re] of bad) {
      assert.throws(
        () => normalizeHoldScope(scope as never),
        (e: unknown) => e instanceof AuditError && e.code === 'invalid_argument' && re.test(e.message),
      );
    }
  });
});

describe('trail.holds on SQLite', () => {
  it('places, lists, releases; each is an event; the active set comes from the log', async () => {
    const db = join(tempDir(), 'audit.db');
    const trail = await openAuditTrail({ tenant: 'acme', db });
    await trail.record(sampleEvent(0));
    const h1 = await trail.holds.place({ subject: 'cust-7' }, { reason: 'case 14', by: 'legal@acme' });
    const h2 = await trail.holds.place(
      { session_id: 's-1', since: '2026-01-01' },
      { reason: 'audit', by: 'legal@acme' },
    );
    assert.equal(h1.id, `hold-${h1.seq}`);
    assert.deepEqual(
      (await trail.holds.list()).map((h) => [h.id, h.reason, h.placed_by]),
      [
        [h1.id, 'case 14', 'legal@acme'],
        [h2.id, 'audit', 'legal@acme'],
      ],
    );
    await trail.holds.release(h1.id, { reason: 'case closed', by: 'legal@acme' });
    await assert.rejects(trail.holds.release(h1.id, { reason: 'again', by: 'legal@acme' }), {
      code: 'conflict',
    });
    await assert.rejects(trail.holds.release('hold-999', { reason: 'x', by: 'legal@acme' }), {
      code: 'not_found',
    });
    await assert.rejects(trail.holds.release('42', { reason: 'x', by: 'legal@acme' }), {
      code: 'invalid_argument',
    });
    await assert.rejects(trail.holds.place({ subject: 'x' }, { reason: '', by: 'legal@acme' }), {
      code: 'invalid_argument',
    });
    assert.deepEqual(
      (await trail.holds.list()).map((h) => h.id),
      [h2.id],
    );
    assert.equal(await trail.count({ type: 'hold.placed' }), 2);
    assert.equal(await trail.count({ type: 'hold.released' }), 1);
    assert.equal((await trail.verify()).ok, true);
    await trail.close();

    // Reopened: the same set, derived from the events.
    const again = await openAuditTrail({ tenant: 'acme', db });
    assert.deepEqual(
      (await again.holds.list()).map((h) => h.id),
      [h2.id],
    );
    await again.close();

    // A hold event's disclosure edited in the database is refused, not believed.
    const sql = new Database(db);
    sql.exec('DROP TRIGGER disclosures_erase_only'); // as someone editing the file would
    const row = sql
      .prepare("SELECT seq, unit, disclosure FROM disclosures WHERE seq = ? AND pointer = '/action/params'")
      .get(h2.seq) as { seq: number; unit: number; disclosure: Uint8Array };
    const edited = Buffer.from(row.disclosure).toString('utf8').replace('s-1', 's-9');
    sql
      .prepare('UPDATE disclosures SET disclosure = ? WHERE seq = ? AND unit = ?')
      .run(Buffer.from(edited), row.seq, row.unit);
    sql.close();
    const third = await openAuditTrail({ tenant: 'acme', db });
    await assert.rejects(third.holds.list(), { code: 'proof_invalid' });
    await third.close();
  });
});
