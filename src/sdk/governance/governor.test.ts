import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parsePolicy, verifyDiffPayload } from '../../policy/index.js';
import { jcsDigest } from '../../policy/record.js';
import { AuditError } from '../../errors.js';
import { MemoryStore, fixedClock, sequentialIds } from '../../testing/index.js';
import { Approvals } from './approvals.js';
import { openAuditTrail } from '../open.js';
import { type AuditTrail } from '../audit-trail.js';
import { ActionDeniedError, ApprovalRequiredError, Governor, TimeoutError, guard } from './governor.js';

const POLICY = `
policy_id: support-agent
version: 3
default: deny
rules:
  - id: block-prod-deletes
    match: { action: "db.delete*", target: "prod/*" }
    effect: deny
    risk: critical
    reason: Deletes in production are never automatic
  - id: no-deep-delegation
    match: { delegation: { depth_min: 2 } }
    effect: deny
    reason: Sub-agents may not delegate further
  - id: approve-large-refunds
    match: { action: "write:refund", actor: { trust_tier: [standard, trusted] } }
    when: "params.amount > 500.0 || actor.trust_tier != 'trusted'"
    effect: require_approval
    approvers: [oncall_sre, finance_lead]
    approval_ttl: 15m
    risk: high
  - id: allow-refunds
    match: { action: "write:refund" }
    effect: allow
  - id: allow-reads
    match: { action: "read:*" }
    effect: allow
    risk: low
`;

const agent = { type: 'agent' as const, id: 'support-bot', trust_tier: 'trusted' };

async function setup(
  policyText = POLICY,
  extra: Partial<ConstructorParameters<typeof Governor>[0]> = {},
  onError?: (e: unknown) => void,
) {
  const store = new MemoryStore();
  const trail = await openAuditTrail({
    tenant: 'acme',
    store,
    checkpointIntervalMs: 0,
    ...(onError ? { onError } : {}),
  });
  const gov = new Governor({
    trail,
    policy: parsePolicy(policyText),
    actor: agent,
    session_id: 's-1',
    approvals: { pollMs: 5 },
    ...extra,
  });
  return { store, trail, gov };
}

async function types(trail: AuditTrail): Promise<string[]> {
  await trail.flush();
  return (await trail.query({ limit: 1000 })).events.map((e) => e.type);
}

describe('Governor.withScope', () => {
  it("decides as the scope's actor and run, checks the policy once for all, and shares approvals", async () => {
    const { trail, gov } = await setup();
    const bots = [0, 1, 2].map((i) =>
      gov.withScope({ actor: { type: 'agent', id: `bot-${i}`, trust_tier: 'standard' }, run_id: `r-${i}` }),
    );
    const decided = await Promise.all(bots.map((g) => g.decide({ type: 'read:order', target: 'o/1' })));
    assert.deepEqual(
      decided.map((d) => d.decision),
      ['allow', 'allow', 'allow'],
    );
    await trail.flush();
    assert.equal((await trail.query({ type: 'policy.updated' })).events.length, 1, 'one policy.updated');
    for (const [i, d] of decided.entries()) {
      const intent = await trail.get(d.intent_event_id);
      assert.equal(intent?.actor.id, `bot-${i}`);
      assert.equal(intent?.run_id, `r-${i}`);
      assert.equal(intent?.session_id, undefined, "the base governor's session is not inherited");
    }
    // A held action of a scoped governor is a request in the shared approvals.
    const held = await bots[0]!.decide({ type: 'write:refund', params: { amount: 900 } });
    assert.equal(held.decision, 'require_approval');
    assert.equal((await gov.approvals.get(held.approval!.id))?.status, 'pending');
  });
});

describe('Governor', () => {
  it('records intent and decision before an allowed action runs, then its outcome', async () => {
    const { trail, gov } = await setup();
    let sizeWhenRun = -1;
    const { result } = await gov.run({ type: 'read:order', target: 'order/1', params: { id: 1 } }, () => {
      sizeWhenRun = trail.size;
      return Promise.resolve({ status: 'shipped' });
    });
    assert.deepEqual(result, { status: 'shipped' });
    assert.equal(sizeWhenRun, 3, 'policy.updated, intent and decision were committed before the tool ran');
    assert.deepEqual(await types(trail), [
      'policy.updated',
      'action.intent',
      'policy.decision',
      'action.succeeded',
    ]);
    const decision = (await trail.query({ type: 'policy.decision' })).events[0]!;
    assert.equal(decision.policy?.matched_rule, 'allow-reads');
    assert.equal(decision.policy?.policy_version, 3);
    assert.match(decision.policy?.policy_snapshot ?? '', /^sha256:[0-9a-f]{64}$/);
    assert.ok((decision.policy?.evaluation_us ?? -1) >= 0);
    const outcome = (await trail.query({ type: 'action.succeeded' })).events[0]!;
    assert.deepEqual(outcome.outcome?.result, { status: 'shipped' });
    assert.equal(outcome.parent_event_id, decision.parent_event_id);
  });

  it('denies without running and gives the model a readable reason', async () => {
    const { trail, gov } = await setup();
    let ran = false;
    const del = guard(gov, () => ((ran = true), Promise.resolve()), {
      type: 'db.delete_row',
      target: 'prod/users/7',
    });
    await assert.rejects(
      del(),
      (e: unknown) =>
        e instanceof ActionDeniedError && /Deletes in production are never automatic/.test(e.message),
    );
    assert.equal(ran, false);
    const d = (await trail.query({ decision: 'deny' })).events[0]!;
    assert.equal(d.policy?.matched_rule, 'block-prod-deletes');
    assert.equal(d.outcome?.status, 'denied');
    assert.equal(d.risk_level, 'critical');
    await assert.rejects(
      gov.run({ type: 'unknown:thing' }, () => Promise.resolve()),
      /default rule/,
    );
  });

  it('evaluates CEL conditions and records them', async () => {
    const { trail, gov } = await setup();
    await gov.run({ type: 'write:refund', params: { amount: 120 } }, () => Promise.resolve('ok'));
    const d = (await trail.query({ type: 'policy.decision' })).events[0]!;
    assert.equal(d.policy?.matched_rule, 'allow-refunds');
    // The deciding rule has no condition; the one that ran (false) is counted and digested.
    assert.deepEqual(d.policy?.conditions_evaluated, []);
    assert.equal(d.policy?.conditions_omitted?.count, 1);
    assert.equal(
      d.policy?.conditions_omitted?.digest,
      jcsDigest([{ expression: "params.amount > 500.0 || actor.trust_tier != 'trusted'", result: false }]),
    );
  });

  it('holds an action for a named approver and records who approved and why', async () => {
    const requests: string[] = [];
    const { trail, gov } = await setup(POLICY, {
      approvals: { pollMs: 5, onRequest: (r) => void requests.push(r.id) },
    });
    let ran = false;
    const p = gov.run(
      { type: 'write:refund', target: 'order/9', params: { amount: 900 } },
      () => ((ran = true), Promise.resolve('refunded')),
    );
    while (requests.length === 0) await new Promise((r) => setTimeout(r, 2));
    assert.equal(ran, false);
    const [pending] = await gov.approvals.list();
    assert.deepEqual(pending?.approvers, ['oncall_sre', 'finance_lead']);
    await assert.rejects(
      gov.approvals.approve(requests[0]!, { as: 'mallory' }),
      /may not decide .* oncall_sre, finance_lead/,
    );
    await gov.approvals.approve(requests[0]!, { as: 'finance_lead', reason: 'verified with the customer' });
    assert.equal((await p).result, 'refunded');
    const granted = (await trail.query({ type: 'approval.granted' })).events[0]!;
    assert.equal(granted.approval?.approver, 'finance_lead');
    assert.equal(granted.approval?.reason, 'verified with the customer');
    assert.match(granted.approval?.request_digest ?? '', /^sha256:/);
    assert.ok((await types(trail)).includes('approval.requested'));
    await assert.rejects(gov.approvals.approve(requests[0]!, { as: 'oncall_sre' }), /already used/);
  });

  it('does not run when the approver denies', async () => {
    const { gov } = await setup(POLICY, {
      approvals: {
        pollMs: 5,
        onRequest: (r) =>
          void setTimeout(
            () => void gov.approvals.deny(r.id, { as: 'oncall_sre', reason: 'fraud pattern' }),
            5,
          ),
      },
    });
    let ran = false;
    await assert.rejects(
      gov.run({ type: 'write:refund', params: { amount: 900 } }, () => ((ran = true), Promise.resolve())),
      /denied by oncall_sre: fraud pattern/,
    );
    assert.equal(ran, false);
  });

  it('records approval.expired and does not run when nobody decides in time', async () => {
    const { trail, gov } = await setup(POLICY.replace('approval_ttl: 15m', 'approval_ttl: 1s'));
    let ran = false;
    await assert.rejects(
      gov.run({ type: 'write:refund', params: { amount: 900 } }, () => ((ran = true), Promise.resolve())),
      /expired/,
    );
    assert.equal(ran, false);
    assert.ok((await types(trail)).includes('approval.expired'));
  });

  it('throws ApprovalRequiredError without waiting, and binds a grant to its action', async () => {
    const { gov } = await setup(POLICY, { approvals: { wait: false } });
    const err = await gov
      .run({ type: 'write:refund', params: { amount: 900 } }, () => Promise.resolve())
      .catch((e: unknown) => e);
    assert.ok(err instanceof ApprovalRequiredError);
    await gov.approvals.approve(err.approval.id, { as: 'oncall_sre', reason: 'ok' });
    await assert.rejects(gov.approvals.consume(err.approval.id, 'sha256:other'), /different action/);
    // A re-attempt of the same action (e.g. after a restart) uses the persisted grant, once.
    assert.equal(
      (await gov.run({ type: 'write:refund', params: { amount: 900 } }, () => Promise.resolve('done')))
        .result,
      'done',
    );
    await assert.rejects(
      gov.run({ type: 'write:refund', params: { amount: 900 } }, () => Promise.resolve()),
      ApprovalRequiredError,
    );
  });

  it('fails closed when the log cannot be written', async () => {
    // The first action's outcome is queued (fire-and-forget); its failed commit is reported here.
    const errors: unknown[] = [];
    const { store, trail, gov } = await setup(POLICY, {}, (e) => errors.push(e));
    await gov.run({ type: 'read:x' }, () => Promise.resolve());
    store.failAppends = new Error('disk full');
    let ran = false;
    await assert.rejects(
      gov.run({ type: 'read:x' }, () => ((ran = true), Promise.resolve())),
      /audit log unavailable, action not run: .*disk full/,
    );
    assert.equal(ran, false);
    assert.ok(
      errors.every((e) => /disk full/.test(String(e))),
      'only the injected failure is reported',
    );
    // The queued outcome was kept, and commits once the store recovers.
    store.failAppends = null;
    await trail.flush();
    assert.equal((await trail.query({ type: 'action.succeeded' })).events.length, 1);
    await trail.close();
  });

  it('records the policy at the next decision when the first record failed, and then once only', async () => {
    const { store, trail, gov } = await setup(POLICY, {}, () => {});
    store.failAppends = new Error('disk full');
    let ran = false;
    await assert.rejects(
      gov.run({ type: 'read:x' }, () => ((ran = true), Promise.resolve())),
      /disk full/,
    );
    assert.equal(ran, false);
    store.failAppends = null;
    await gov.run({ type: 'read:x' }, () => Promise.resolve());
    await gov.run({ type: 'read:x' }, () => Promise.resolve());
    const recorded = await types(trail);
    assert.equal(recorded.filter((t) => t === 'policy.updated').length, 1);
    assert.equal(recorded[0], 'policy.updated');
    assert.equal(recorded.filter((t) => t === 'action.succeeded').length, 2);
    await trail.close();
  });

  it('retries with attempt numbers and dead-letters after the last attempt', async () => {
    const { trail, gov } = await setup();
    let calls = 0;
    const flaky = () => (++calls < 3 ? Promise.reject(new Error(`boom ${calls}`)) : Promise.resolve('ok'));
    assert.equal((await gov.run({ type: 'read:x' }, flaky, { retries: 2, backoffMs: 1 })).result, 'ok');
    const retried = (await trail.query({ type: 'action.retried' })).events;
    assert.deepEqual(
      retried.map((e) => [e.dispatch?.attempt, e.outcome?.error_message]),
      [
        [1, 'boom 1'],
        [2, 'boom 2'],
      ],
    );
    assert.equal((await trail.query({ type: 'action.succeeded' })).events[0]?.dispatch?.attempt, 3);
    await assert.rejects(
      gov.run({ type: 'read:y' }, () => Promise.reject(new Error('down')), { retries: 1, backoffMs: 1 }),
      /down/,
    );
    await trail.flush();
    assert.equal((await trail.query({ type: 'action.dead_lettered' })).events.length, 1);
    assert.equal((await trail.query({ type: 'action.failed' })).events[0]?.outcome?.error_message, 'down');
  });

  it('records action.dispatched as each attempt starts when recordDispatch is on', async () => {
    const { trail, gov } = await setup(POLICY, { recordDispatch: true });
    let calls = 0;
    const flaky = () => (++calls < 2 ? Promise.reject(new Error('busy')) : Promise.resolve('ok'));
    await gov.run({ type: 'read:x', target: 'x/1' }, flaky, { retries: 1, backoffMs: 1 });
    const life = (await types(trail)).filter((t) => t !== 'policy.updated');
    assert.deepEqual(life, [
      'action.intent',
      'policy.decision',
      'action.dispatched',
      'action.retried',
      'action.dispatched',
      'action.succeeded',
    ]);
    const dispatched = (await trail.query({ type: 'action.dispatched' })).events;
    assert.deepEqual(
      dispatched.map((e) => [e.dispatch?.attempt, e.dispatch?.status]),
      [
        [1, 'running'],
        [2, 'running'],
      ],
    );
  });

  it('records a timeout and an undo linked to the original action', async () => {
    const { trail, gov } = await setup();
    await assert.rejects(
      gov.run({ type: 'read:slow' }, () => new Promise(() => undefined), { timeoutMs: 20 }),
      /timed out after 20 ms/,
    );
    let undone = false;
    const r = await gov.run({ type: 'write:refund', params: { amount: 10 } }, () => Promise.resolve('r1'), {
      undo: () => ((undone = true), Promise.resolve()),
    });
    await r.undo!();
    assert.equal(undone, true);
    await trail.flush();
    assert.equal((await trail.query({ type: 'action.timed_out' })).events[0]?.outcome?.status, 'timeout');
    const u = (await trail.query({ type: 'action.undone' })).events[0]!;
    assert.equal(u.undo?.of_event_id, r.outcome_event_id);
  });

  it('records delegation chains and lets policies match on depth', async () => {
    const { trail, gov } = await setup();
    const sub = await gov.delegate({ type: 'agent', id: 'billing-helper', trust_tier: 'trusted' }, [
      'read:*',
    ]);
    await sub.run({ type: 'read:invoice' }, () => Promise.resolve());
    const deeper = await sub.delegate({ type: 'agent', id: 'pdf-helper' }, ['read:*']);
    await assert.rejects(
      deeper.run({ type: 'read:invoice' }, () => Promise.resolve()),
      /Sub-agents may not delegate further/,
    );
    const started = (await trail.query({ type: 'delegation.started' })).events;
    assert.equal(started.length, 2);
    assert.deepEqual(
      started[1]?.delegation?.chain?.map((c) => c.agent_id),
      ['support-bot', 'billing-helper'],
    );
    assert.equal(started[1]?.delegation?.root_agent, 'support-bot');
    const intent = (await trail.query({ type: 'action.intent', actor_id: 'billing-helper' })).events[0]!;
    assert.equal(intent.delegation?.depth, 1);
  });

  it('in shadow mode records the decision but does not enforce it', async () => {
    const { trail, gov } = await setup(POLICY.replace('default: deny', 'default: deny\nmode: shadow'));
    assert.equal(
      (await gov.run({ type: 'db.delete_row', target: 'prod/users/1' }, () => Promise.resolve('ran'))).result,
      'ran',
    );
    const d = (await trail.query({ type: 'policy.decision' })).events[0]!;
    assert.equal(d.policy?.decision, 'deny');
    assert.equal(d.policy?.mode, 'shadow');
  });

  it('records policy.updated with a diff when a changed bundle is loaded', async () => {
    const { store, trail, gov } = await setup();
    await gov.run({ type: 'read:x' }, () => Promise.resolve());
    const again = new Governor({ trail, policy: parsePolicy(POLICY), actor: agent });
    await again.run({ type: 'read:x' }, () => Promise.resolve());
    const v4 = POLICY.replace('version: 3', 'version: 4').replace(/ {2}- id: allow-reads[\s\S]*$/, '');
    const next = new Governor({ trail, policy: parsePolicy(v4), actor: agent, loadedBy: 'alice' });
    await assert.rejects(next.run({ type: 'read:x' }, () => Promise.resolve()));
    const updates = (await trail.query({ type: 'policy.updated' })).events;
    assert.equal(updates.length, 2);
    assert.equal(updates[1]?.actor.id, 'alice');
    const params = updates[1]?.action?.params as { removed: number; diff_digest: string };
    assert.equal(params.removed, 1);
    const diff = verifyDiffPayload(
      params.diff_digest,
      await store.getMeta(`policy-diff:${params.diff_digest}`),
    );
    assert.deepEqual(diff?.removed, ['allow-reads']);
    assert.ok(await store.getMeta('policy:support-agent'));
  });
});

/** Every object reachable from `root` through properties (own, enumerable or not; not functions). */
function reachable(root: object): Set<unknown> {
  const seen = new Set<unknown>();
  const queue: unknown[] = [root];
  while (queue.length > 0) {
    const v = queue.shift();
    if (v === null || typeof v !== 'object' || seen.has(v)) continue;
    seen.add(v);
    if (v instanceof Map) for (const [k, x] of v) queue.push(k, x);
    if (v instanceof Set) for (const x of v) queue.push(x);
    for (const key of Reflect.ownKeys(v)) {
      const d = Object.getOwnPropertyDescriptor(v, key);
      if (d && 'value' in d) queue.push(d.value);
    }
  }
  return seen;
}

describe('Governor: approvals linked in the log', () => {
  it('names the request in the decision, and the grant in every execution event', async () => {
    const { trail, gov } = await setup(POLICY, {
      approvals: {
        pollMs: 5,
        onRequest: (req) => gov.approvals.approve(req.id, { as: 'finance_lead', reason: 'checked' }),
      },
    });
    const run = await gov.run({ type: 'write:refund', params: { amount: 900 } }, () => Promise.resolve('ok'));
    await trail.flush();
    const decision = (await trail.query({ type: 'policy.decision' })).events[0]!;
    const requested = (await trail.query({ type: 'approval.requested' })).events[0]!;
    const granted = (await trail.query({ type: 'approval.granted' })).events[0]!;
    const outcome = (await trail.get(run.outcome_event_id))!;
    const id = requested.approval?.request_id;
    assert.match(id ?? '', /^apr_/);
    assert.equal(decision.approval?.request_id, id);
    assert.equal(decision.approval?.decision, 'pending');
    assert.equal(granted.approval?.request_id, id);
    assert.equal(granted.seq < outcome.seq, true);
    assert.equal(outcome.parent_event_id, run.intent_event_id);
    assert.equal(outcome.approval?.request_id, id);
    assert.equal(outcome.approval?.approver, 'finance_lead');
    assert.equal((await trail.verify()).ok, true);
  });

  it('a resumed run that reuses a grant names it in its decision and outcome', async () => {
    const { trail, gov } = await setup(POLICY, { approvals: { wait: false } });
    const action = { type: 'write:refund', params: { amount: 900 } };
    const err = await gov.run(action, () => Promise.resolve()).catch((e: unknown) => e);
    assert.ok(err instanceof ApprovalRequiredError);
    await gov.approvals.approve(err.approval.id, { as: 'oncall_sre' });
    // A new governor (a restarted process) decides the same action again.
    const resumed = new Governor({ ...gov.options });
    const run = await resumed.run(action, () => Promise.resolve('done'));
    const decisions = (await trail.query({ type: 'policy.decision' })).events;
    assert.equal(decisions.length, 2);
    assert.equal(decisions[1]!.parent_event_id, run.intent_event_id);
    assert.equal(decisions[1]!.approval?.request_id, err.approval.id);
    assert.equal(decisions[1]!.approval?.decision, 'granted');
    const outcome = (await trail.get(run.outcome_event_id))!;
    assert.equal(outcome.approval?.request_id, err.approval.id);
    assert.equal(outcome.approval?.approver, 'oncall_sre');
    assert.equal((await trail.verify()).ok, true);
  });

  it('verify reports unapproved_execution when an approval row is flipped outside the log', async () => {
    const { store, trail, gov } = await setup(POLICY, { approvals: { wait: false } });
    const action = { type: 'write:refund', params: { amount: 900 } };
    const err = await gov.run(action, () => Promise.resolve()).catch((e: unknown) => e);
    assert.ok(err instanceof ApprovalRequiredError);
    // The forgery: the row says granted, the log never saw a grant.
    assert.ok(
      await store.updateApproval(err.approval.id, 'pending', { status: 'granted', decidedBy: 'oncall_sre' }),
    );
    const run = await gov.run(action, () => Promise.resolve('refunded'));
    const outcome = (await trail.get(run.outcome_event_id))!;
    const report = await trail.verify();
    assert.equal(report.ok, false);
    assert.deepEqual(
      report.failures.map((f) => [f.seq, f.kind]),
      [[outcome.seq, 'unapproved_execution']],
    );
    assert.match(report.failures[0]!.detail, new RegExp(err.approval.id));
  });

  it('verify follows request ids through approval.requested, and needs the grant before the run', async () => {
    // Events as another producer might write them: decision and outcome name no request.
    const actor = { type: 'agent' as const, id: 'bot' };
    const story = (intent: string, grantFirst: boolean, grant = true) => {
      const req = `apr_${intent}`;
      const granted = {
        type: 'approval.granted' as const,
        actor: { type: 'user' as const, id: 'lead' },
        parent_event_id: intent,
        approval: { request_id: req, decision: 'granted' as const },
      };
      const ran = {
        type: 'action.succeeded' as const,
        actor,
        parent_event_id: intent,
        outcome: { status: 'success' as const },
      };
      return [
        { type: 'action.intent' as const, event_id: intent, actor, action: { type: 'write:refund' } },
        {
          type: 'policy.decision' as const,
          actor,
          parent_event_id: intent,
          policy: { decision: 'require_approval' as const, mode: 'enforce' as const },
        },
        {
          type: 'approval.requested' as const,
          actor,
          parent_event_id: intent,
          approval: { request_id: req, decision: 'pending' as const },
        },
        ...(grant ? (grantFirst ? [granted, ran] : [ran, granted]) : [ran]),
      ];
    };
    const { trail } = await setup();
    const events = [...story('i-1', true), ...story('i-2', false), ...story('i-3', true, false)];
    for (const e of events) await trail.record(e);
    const report = await trail.verify();
    const ran = (await trail.query({ type: 'action.succeeded' })).events;
    assert.deepEqual(
      report.failures.map((f) => [f.seq, f.kind]),
      [
        [ran[1]!.seq, 'unapproved_execution'],
        [ran[2]!.seq, 'unapproved_execution'],
      ],
    );
  });

  it('does not flag shadow-mode executions or actions that needed no approval', async () => {
    const { trail, gov } = await setup(POLICY.replace('version: 3', 'version: 3\nmode: shadow'));
    await gov.run({ type: 'write:refund', params: { amount: 900 } }, () => Promise.resolve());
    await gov.run({ type: 'read:order' }, () => Promise.resolve());
    assert.equal((await trail.verify()).ok, true);
  });

  it('the store is not reachable from the trail, the governor or its approvals', async () => {
    const { store, trail, gov } = await setup();
    assert.ok(reachable({ x: [new Map([[1, store]])] }).has(store), 'the walk finds a nested store');
    assert.equal('store' in trail, false);
    assert.equal('keys' in trail, false);
    assert.equal(reachable(gov).has(store), false);
    assert.equal(reachable(trail).has(store), false);
    assert.equal(reachable(gov.approvals).has(store), false);
  });
});

describe('Governor: injected clock and ids', () => {
  // One governed life: an allowed read, a denied delete, a held refund that is granted and run.
  async function story() {
    const trail = await openAuditTrail({
      tenant: 'acme',
      store: new MemoryStore(),
      checkpointIntervalMs: 0,
      now: fixedClock(Date.UTC(2026, 0, 1), 1),
    });
    const gov = new Governor({
      trail,
      policy: parsePolicy(POLICY),
      actor: agent,
      loadedBy: 'ops',
      ids: sequentialIds(),
      approvals: { wait: false },
    });
    await gov.run({ type: 'read:order', target: 'order/1' }, () => Promise.resolve('ok'));
    const denied = await gov
      .run({ type: 'db.delete_row', target: 'prod/users/7' }, () => Promise.resolve())
      .catch((e: unknown) => e);
    const refund = { type: 'write:refund', params: { amount: 900 } };
    const held = await gov.run(refund, () => Promise.resolve()).catch((e: unknown) => e);
    assert.ok(held instanceof ApprovalRequiredError);
    await gov.approvals.approve(held.approval.id, { as: 'finance_lead', reason: 'verified' });
    await gov.run(refund, () => Promise.resolve('refunded'));
    await trail.flush();
    const events = (await trail.query({ limit: 1000 })).events.map((e) => ({
      event_id: e.event_id,
      type: e.type,
      ts: e.ts,
      request_id: e.approval?.request_id,
      expires_at: e.approval?.expires_at,
    }));
    await trail.close();
    return { events, denied, held };
  }

  it('takes its ids from the trail when only the trail is given an id source', async () => {
    const trail = await openAuditTrail({
      tenant: 'acme',
      store: new MemoryStore(),
      checkpointIntervalMs: 0,
      now: fixedClock(Date.UTC(2026, 0, 1), 1),
      ids: sequentialIds('t'),
    });
    const plain = await trail.record({ type: 'x.note', actor: agent });
    assert.equal(plain.event_id, 't-000001', 'an event sent without event_id takes the next id');
    const gov = new Governor({
      trail,
      policy: parsePolicy(POLICY),
      actor: agent,
      loadedBy: 'ops',
      approvals: { wait: false },
    });
    await gov.run({ type: 'read:order', target: 'order/1' }, () => Promise.resolve('ok'));
    const held = await gov
      .run({ type: 'write:refund', params: { amount: 900 } }, () => Promise.resolve())
      .catch((e: unknown) => e);
    assert.ok(held instanceof ApprovalRequiredError);
    assert.match(held.approval.id, /^apr_t-\d{6}$/, 'approval ids come from the same source');
    await trail.flush();
    const ids = (await trail.query({ limit: 100 })).events.map((e) => e.event_id);
    assert.ok(
      ids.every((id) => /^t-\d{6}$/.test(id)),
      `every event id from the trail's source: ${ids.join(', ')}`,
    );
    assert.equal(new Set(ids).size, ids.length);
    await trail.close();
  });

  it('records the same ids, times and approval ids on every run with sequentialIds and a fixed clock', async () => {
    const first = await story();
    const second = await story();
    assert.deepEqual(first.events, second.events);
    // Every event the governor and its approvals wrote took its id from the sequence, in order.
    assert.deepEqual(
      first.events.map((e) => `${e.event_id} ${e.type}`),
      [
        'evt-000001 policy.updated',
        'evt-000002 action.intent',
        'evt-000003 policy.decision',
        'evt-000004 action.succeeded',
        'evt-000005 action.intent',
        'evt-000006 policy.decision',
        'evt-000007 action.intent',
        'evt-000008 policy.decision',
        // evt-000009 is the request: apr_evt-000009
        'evt-000010 approval.requested',
        'evt-000011 approval.granted',
        'evt-000012 action.intent',
        'evt-000013 policy.decision',
        'evt-000014 action.succeeded',
      ],
    );
    assert.equal(first.held instanceof ApprovalRequiredError && first.held.approval.id, 'apr_evt-000009');
    const requested = first.events.find((e) => e.type === 'approval.requested')!;
    assert.equal(requested.request_id, 'apr_evt-000009');
    // The approval's expiry comes from the injected clock (15 min after the request), not the wall clock.
    assert.ok(requested.expires_at?.startsWith('2026-01-01T00:15:00'), requested.expires_at);
  });

  it('raises denied, approval_required and timeout as AuditErrors with those codes', async () => {
    const { denied, held } = await story();
    assert.ok(denied instanceof ActionDeniedError);
    assert.equal(denied.code, 'denied');
    assert.ok(held instanceof ApprovalRequiredError);
    assert.equal(held.code, 'approval_required');
    const { gov } = await setup();
    const slow = await gov
      .run({ type: 'read:slow' }, () => new Promise(() => undefined), { timeoutMs: 10 })
      .catch((e: unknown) => e);
    assert.ok(slow instanceof TimeoutError);
    assert.equal(slow.code, 'timeout');
    assert.match(slow.message, /timed out after 10 ms/);
  });
  it('a wait ends as soon as this process decides; the poll is only for other processes', async () => {
    const requests: string[] = [];
    // A poll of a minute: only the in-process notification can end these waits in time.
    const { trail, gov } = await setup(POLICY, {
      approvals: { pollMs: 60_000, onRequest: (r) => void requests.push(r.id) },
    });
    const refund = (amount: number) => ({ type: 'write:refund', params: { amount } });
    const started = Date.now();
    const granted = gov.run(refund(900), () => Promise.resolve('refunded'));
    while (requests.length === 0) await new Promise((r) => setTimeout(r, 2));
    // Decided through another Approvals of the same trail, as a server in this process would.
    await new Approvals(trail).approve(requests[0]!, { as: 'finance_lead' });
    assert.equal((await granted).result, 'refunded');
    const denied = gov.run(refund(901), () => Promise.resolve('refunded'));
    while (requests.length === 1) await new Promise((r) => setTimeout(r, 2));
    await gov.approvals.deny(requests[1]!, { as: 'oncall_sre', reason: 'no' });
    await assert.rejects(denied, (e: unknown) => e instanceof ActionDeniedError && e.code === 'denied');
    assert.ok(Date.now() - started < 10_000, `took ${Date.now() - started} ms`);
    // A cancelled wait also ends at once, not at the next poll.
    const controller = new AbortController();
    const waiting = gov.run(refund(902), () => Promise.resolve('x'), { signal: controller.signal });
    while (requests.length === 2) await new Promise((r) => setTimeout(r, 2));
    const before = Date.now();
    controller.abort();
    await assert.rejects(waiting, (e: unknown) => e instanceof AuditError && e.code === 'closed');
    assert.ok(Date.now() - before < 10_000);
  });
});
