import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AuditError } from '../../errors.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryStore } from '../../store/memory/memory-store.js';
import { openStore } from '../../store/open-store.js';
import type { AppendContext, AppendPlan, AuditStore, SideWrites } from '../../store/store.js';
import { Approvals, ApprovalError, requestDigest, type ApprovalAction } from './approvals.js';
import { openAuditTrail } from '../open.js';
import { type AuditTrail } from '../audit-trail.js';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const HOUR = 3_600_000;
const ACTION: ApprovalAction = { type: 'write:refund', target: 'order/1', params: { amount: 40 } };
const POLICY = {
  snapshot: 'sha256:policy-1',
  matched_rule: 'refunds-need-lead',
  reason: 'refunds above $25 need a lead',
  approvers: ['maria', 'omar'],
  ttlMs: HOUR,
};
const CTX = {
  actor: { type: 'agent' as const, id: 'bot' },
  session_id: 's-1',
  run_id: 'r-1',
  parent_event_id: 'intent-1',
};

/** A trail on a memory store and approvals whose clock the test moves. */
async function setup(store: AuditStore = new MemoryStore(), log = 'default') {
  const clock = { t: T0 };
  const trail = await openAuditTrail({ tenant: 'acme', log, store, checkpointIntervalMs: 0 });
  const approvals = new Approvals(trail, () => clock.t);
  return { trail, approvals, clock, store };
}

async function events(trail: AuditTrail, type: string) {
  return (await trail.query({ type })).events;
}

const code = (c: string) => (e: unknown) =>
  e instanceof ApprovalError && e instanceof AuditError && e.code === c;

describe('requestDigest', () => {
  it('binds type, target, params and the policy snapshot', () => {
    const d = requestDigest(ACTION, 'snap');
    assert.match(d, /^sha256:[0-9a-f]{64}$/);
    assert.equal(requestDigest({ ...ACTION }, 'snap'), d);
    assert.notEqual(requestDigest({ ...ACTION, params: { amount: 41 } }, 'snap'), d);
    assert.notEqual(requestDigest({ ...ACTION, target: 'order/2' }, 'snap'), d);
    assert.notEqual(requestDigest({ ...ACTION, type: 'write:charge' }, 'snap'), d);
    assert.notEqual(requestDigest(ACTION, 'snap2'), d);
  });

  it('is canonical (member order) and treats absent target and params as null', () => {
    assert.equal(
      requestDigest({ type: 't', params: { a: 1, b: 2 } }, 's'),
      requestDigest({ params: { b: 2, a: 1 }, type: 't' }, 's'),
    );
    assert.equal(requestDigest({ type: 't' }, 's'), requestDigest({ type: 't', params: null }, 's'));
    // Side effects are not part of what is approved.
    assert.equal(requestDigest({ type: 't', side_effects: ['x'] }, 's'), requestDigest({ type: 't' }, 's'));
  });
});

describe('Approvals.request', () => {
  it('stores a pending request, records approval.requested with the context, and expires after the ttl', async () => {
    const { trail, approvals } = await setup();
    const info = await approvals.request(ACTION, POLICY, CTX);
    assert.match(info.id, /^apr_[0-9a-f-]{36}$/);
    assert.deepEqual(info.approvers, ['maria', 'omar']);
    assert.equal(info.expires_at, new Date(T0 + HOUR).toISOString());
    assert.equal(info.request_digest, requestDigest(ACTION, POLICY.snapshot));
    assert.equal(info.matched_rule, 'refunds-need-lead');
    const row = await approvals.get(info.id);
    assert.equal(row?.status, 'pending');
    assert.equal(row.createdAt, new Date(T0).toISOString());
    const [ev] = await events(trail, 'approval.requested');
    assert.equal(ev?.session_id, 's-1');
    assert.equal(ev.run_id, 'r-1');
    assert.equal(ev.parent_event_id, 'intent-1');
    assert.equal(ev.approval?.request_id, info.id);
    assert.equal(ev.approval.request_digest, info.request_digest);
    await trail.close();
  });

  it('refuses a rule with no approvers, and a request id that is not apr_<uuid>', async () => {
    const { trail, approvals } = await setup();
    await assert.rejects(
      approvals.request(ACTION, { ...POLICY, approvers: [] }, CTX),
      code('invalid_argument'),
    );
    await assert.rejects(
      approvals.request(ACTION, { ...POLICY, matched_rule: null, approvers: [] }, CTX),
      /rule \(default\) names no approvers/,
    );
    await assert.rejects(
      approvals.request(ACTION, POLICY, { ...CTX, request_id: 'apr_x' }),
      code('invalid_argument'),
    );
    assert.equal(await trail.count({}), 0);
    const id = 'apr_01a246cd-ec42-7000-b750-f843acd63e88';
    assert.equal((await approvals.request(ACTION, POLICY, { ...CTX, request_id: id })).id, id);
    await trail.close();
  });

  it('stores the request redacted, while the digest binds the raw action', async () => {
    const { trail, approvals } = await setup();
    const secret = ['sk', 'live', '51Hq3xAcmeDem0K3yN0tR3al9vZ'].join('_');
    const action = { type: 'stripe:refund', params: { api_key: secret, amount: 40 } };
    const info = await approvals.request(action, POLICY, CTX);
    const row = await approvals.get(info.id);
    assert.ok(row && !JSON.stringify(row).includes(secret));
    assert.equal((row.params as { amount: number }).amount, 40);
    assert.equal(row.requestDigest, requestDigest(action, POLICY.snapshot));
    await trail.close();
  });
});

describe('Approvals: deciding', () => {
  it('grants as a named approver: approval.granted in the log first, then the row', async () => {
    const { trail, approvals, clock } = await setup();
    const { id } = await approvals.request(ACTION, POLICY, CTX);
    clock.t += 60_000;
    await approvals.approve(id, { as: 'omar', reason: 'checked' });
    const row = await approvals.get(id);
    assert.deepEqual(
      [row?.status, row?.decidedBy, row?.decidedAt, row?.reason],
      ['granted', 'omar', new Date(T0 + 60_000).toISOString(), 'checked'],
    );
    const [ev] = await events(trail, 'approval.granted');
    assert.deepEqual(ev?.actor, { type: 'user', id: 'omar' });
    assert.equal(ev.approval?.approver, 'omar');
    assert.equal(ev.approval.decision, 'granted');
    assert.equal(ev.approval.reason, 'checked');
    assert.equal(ev.parent_event_id, 'intent-1');
    await trail.close();
  });

  it('denies, recording approval.denied', async () => {
    const { trail, approvals } = await setup();
    const { id } = await approvals.request(ACTION, POLICY, CTX);
    await approvals.deny(id, { as: 'maria' });
    assert.equal((await approvals.get(id))?.status, 'denied');
    assert.equal((await events(trail, 'approval.denied')).length, 1);
    assert.equal((await events(trail, 'approval.denied'))[0]?.approval?.reason, undefined);
    await trail.close();
  });

  it('refuses someone the rule does not name, and an empty name, recording nothing', async () => {
    const { trail, approvals } = await setup();
    const { id } = await approvals.request(ACTION, POLICY, CTX);
    const before = await trail.count({});
    await assert.rejects(approvals.approve(id, { as: 'mallory' }), /"mallory" may not decide .*maria, omar/);
    await assert.rejects(approvals.approve(id, { as: '' }), code('invalid_argument'));
    assert.equal(await trail.count({}), before);
    assert.equal((await approvals.get(id))?.status, 'pending');
    await trail.close();
  });

  it('refuses a second decision and an unknown id', async () => {
    const { trail, approvals } = await setup();
    const { id } = await approvals.request(ACTION, POLICY, CTX);
    await approvals.approve(id, { as: 'maria' });
    await assert.rejects(approvals.deny(id, { as: 'omar' }), /is already granted/);
    await assert.rejects(approvals.approve('apr_nope', { as: 'maria' }), code('not_found'));
    await trail.close();
  });

  it('a decision after the expiry marks the request expired and records approval.expired', async () => {
    const { trail, approvals, clock } = await setup();
    const { id } = await approvals.request(ACTION, POLICY, CTX);
    clock.t += HOUR;
    await assert.rejects(approvals.approve(id, { as: 'maria' }), /expired at/);
    assert.equal((await approvals.get(id))?.status, 'expired');
    const [ev] = await events(trail, 'approval.expired');
    assert.equal(ev?.approval?.request_id, id);
    assert.equal(ev.outcome?.status, 'cancelled');
    assert.equal((await events(trail, 'approval.granted')).length, 0);
    await trail.close();
  });

  it('two deciders racing: one wins the row, the other is told it was decided concurrently', async () => {
    const { trail, approvals } = await setup();
    const other = new Approvals(trail, () => T0);
    const { id } = await approvals.request(ACTION, POLICY, CTX);
    const results = await Promise.allSettled([
      approvals.approve(id, { as: 'maria' }),
      other.deny(id, { as: 'omar' }),
    ]);
    const rejected = results.filter((r) => r.status === 'rejected');
    assert.equal(rejected.length, 1);
    assert.match(String((rejected[0] as PromiseRejectedResult).reason), /decided concurrently|is already/);
    assert.ok(['granted', 'denied'].includes((await approvals.get(id))?.status ?? ''));
    await trail.close();
  });
});

describe('Approvals: listing, expiry, waiting, using', () => {
  it('lists pending requests of this log only, expiring the due ones first', async () => {
    const store = new MemoryStore();
    const { trail, approvals, clock } = await setup(store);
    const staging = await setup(store, 'staging');
    const a = await approvals.request(ACTION, POLICY, CTX);
    const b = await approvals.request(ACTION, { ...POLICY, ttlMs: 2 * HOUR }, CTX);
    await staging.approvals.request(ACTION, POLICY, CTX);
    assert.deepEqual((await approvals.list()).map((r) => r.id).sort(), [a.id, b.id].sort());
    clock.t += HOUR;
    const pending = await approvals.list();
    assert.deepEqual(
      pending.map((r) => r.id),
      [b.id],
    );
    const all = await approvals.list('all');
    assert.deepEqual(
      all.map((r) => [r.id, r.status]).sort(),
      [
        [a.id, 'expired'],
        [b.id, 'pending'],
      ].sort(),
    );
    // The other log's request is neither listed nor expired by this log.
    assert.equal((await staging.approvals.list('all'))[0]?.status, 'pending');
    assert.equal(await approvals.get((await staging.approvals.list())[0]!.id), undefined);
    assert.equal(await approvals.expireDue(), 0);
    await staging.trail.close();
    await trail.close();
  });

  it('expireDue records one approval.expired per request and is idempotent', async () => {
    const { trail, approvals, clock } = await setup();
    await approvals.request(ACTION, POLICY, CTX);
    await approvals.request(ACTION, POLICY, CTX);
    clock.t += HOUR + 1;
    assert.equal(await approvals.expireDue(), 2);
    assert.equal(await approvals.expireDue(), 0);
    assert.equal((await events(trail, 'approval.expired')).length, 2);
    await trail.close();
  });

  it('findGranted finds an unexpired grant for the digest only', async () => {
    const { trail, approvals, clock } = await setup();
    const { id, request_digest } = await approvals.request(ACTION, POLICY, CTX);
    assert.equal(await approvals.findGranted(request_digest), undefined);
    await approvals.approve(id, { as: 'maria' });
    assert.equal((await approvals.findGranted(request_digest))?.id, id);
    assert.equal(await approvals.findGranted('sha256:other'), undefined);
    clock.t += HOUR;
    assert.equal(await approvals.findGranted(request_digest), undefined);
    await trail.close();
  });

  it('wait returns the decision made meanwhile, or the expiry, and stops when aborted', async () => {
    const { trail, approvals, clock } = await setup();
    const { id } = await approvals.request(ACTION, POLICY, CTX);
    const waiting = approvals.wait(id, { pollMs: 2 });
    setTimeout(() => void approvals.approve(id, { as: 'maria' }), 10);
    assert.equal((await waiting).status, 'granted');

    const second = await approvals.request(ACTION, POLICY, CTX);
    clock.t += HOUR;
    assert.equal((await approvals.wait(second.id, { pollMs: 2 })).status, 'expired');

    clock.t = T0;
    const third = await approvals.request(ACTION, POLICY, CTX);
    const ac = new AbortController();
    const stopped = approvals.wait(third.id, { pollMs: 2, signal: ac.signal });
    ac.abort();
    await assert.rejects(stopped, code('closed'));
    await trail.close();
  });

  it('consume uses a grant once, for the exact action only', async () => {
    const { trail, approvals } = await setup();
    const { id, request_digest } = await approvals.request(ACTION, POLICY, CTX);
    await assert.rejects(approvals.consume(id, request_digest), /is pending, not granted/);
    await approvals.approve(id, { as: 'maria' });
    await assert.rejects(
      approvals.consume(id, requestDigest({ ...ACTION, params: { amount: 4000 } }, POLICY.snapshot)),
      /different action or policy/,
    );
    assert.equal((await approvals.consume(id, request_digest)).status, 'granted');
    assert.equal((await approvals.get(id))?.status, 'used');
    await assert.rejects(approvals.consume(id, request_digest), code('conflict'));
    await trail.close();
  });

  it('two agents consuming one grant at once: exactly one gets it', async () => {
    const { trail, approvals } = await setup();
    const { id, request_digest } = await approvals.request(ACTION, POLICY, CTX);
    await approvals.approve(id, { as: 'maria' });
    const other = new Approvals(trail, () => T0);
    const results = await Promise.allSettled([
      approvals.consume(id, request_digest),
      other.consume(id, request_digest),
    ]);
    assert.deepEqual(results.map((r) => r.status).sort(), ['fulfilled', 'rejected']);
    assert.match(
      String((results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason),
      /already used|is used/,
    );
    await trail.close();
  });
});

/**
 * `inner` with faults to inject: appends whose plan writes an entry twice (the transaction fails
 * after writing rows), and a `getApproval` blind to existing rows (another process inserting the
 * same id between the check and the commit).
 */
function faulty(inner: AuditStore) {
  const faults = { duplicateEntry: false, blindGet: false };
  const append = <T>(
    origin: string,
    eids: readonly string[],
    plan: (ctx: AppendContext) => { plan: AppendPlan; result: T },
    sideWrites?: SideWrites,
  ): Promise<T> =>
    inner.append(
      origin,
      eids,
      (ctx) => {
        const r = plan(ctx);
        if (faults.duplicateEntry) r.plan.entries.push({ ...r.plan.entries[0]! });
        return r;
      },
      sideWrites,
    );
  const store = new Proxy(inner, {
    get(target, key) {
      if (key === 'append') return append;
      if (key === 'getApproval' && faults.blindGet) return () => Promise.resolve(undefined);
      const v: unknown = Reflect.get(target, key, target);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return { store, faults };
}

describe('Approvals: a request and its event are stored together or not at all', () => {
  const check = async (inner: AuditStore): Promise<void> => {
    const { store, faults } = faulty(inner);
    const { trail, approvals } = await setup(store);
    const id = 'apr_01a246cd-ec42-7000-b750-f843acd63e88';
    // The append fails after its rows were written: neither the event nor the row is stored.
    faults.duplicateEntry = true;
    await assert.rejects(approvals.request(ACTION, POLICY, { ...CTX, request_id: id }));
    assert.equal(await approvals.get(id), undefined);
    assert.deepEqual(await approvals.list('all'), []);
    assert.equal(await trail.count({}), 0);
    faults.duplicateEntry = false;
    const info = await approvals.request(ACTION, POLICY, { ...CTX, request_id: id });
    assert.equal((await approvals.get(info.id))?.status, 'pending');
    assert.equal((await events(trail, 'approval.requested')).length, 1);
    // The row is refused in the transaction (its id was taken meanwhile): the event goes with it.
    faults.blindGet = true;
    await assert.rejects(
      approvals.request(ACTION, POLICY, { ...CTX, request_id: id }),
      (e: unknown) => e instanceof AuditError && e.code === 'conflict',
    );
    faults.blindGet = false;
    assert.equal((await events(trail, 'approval.requested')).length, 1);
    assert.equal(await trail.count({}), 1);
    assert.equal((await approvals.list('all')).length, 1);
    // Checked before anything is written when the id is visible.
    await assert.rejects(approvals.request(ACTION, POLICY, { ...CTX, request_id: id }), code('conflict'));
    assert.equal(await trail.count({}), 1);
    await trail.close();
  };

  it('memory store', async () => {
    await check(new MemoryStore());
  });

  it('SQLite store', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'auditrail-approvals-'));
    try {
      const store = await openStore(join(dir, 'audit.db'));
      await check(store);
      await store.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
