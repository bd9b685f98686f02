// Drill 4 of seed 001, "Scope verification: confirm execution stayed within approved capability
// boundaries". The auditor establishes each agent's boundary from the record itself — the
// published policy's rules, and for a sub-agent the permissions its delegator granted — and shows
// that every action executed lay within it: decided by an allowing rule (or approved), and by a
// delegate only within its grant. `auditrail check` runs the same rules over the whole log.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Governor, compileGlob, loadPolicyFile, type RecordedEvent } from '../../src/index.js';
import { cli, field, logJson, openTrail, POLICY_FILE, recordDrillLog } from './drill.js';

const EXECUTED = new Set(['action.dispatched', 'action.succeeded', 'action.failed', 'action.timed_out']);

describe('drill: scope verification', () => {
  it('every execution lay within the policy and the delegated permissions; a breach is found', async () => {
    const log = await recordDrillLog(2);
    const policy = await loadPolicyFile(POLICY_FILE);
    const effect = new Map(policy.rules.map((r) => [r.id, r.effect]));

    const all = await logJson(log, []);
    const byId = new Map(all.map((e) => [e.event_id, e]));
    const decisionOf = new Map(
      all.filter((e) => e.type === 'policy.decision').map((d) => [d.parent_event_id, d]),
    );
    const executions = all.filter((e) => EXECUTED.has(e.type));
    assert.ok(executions.length > 20);

    // 1. The policy boundary: each execution was decided, by a rule that allows or holds, and a
    // held one ran under a grant naming the approver.
    for (const x of executions) {
      const d = decisionOf.get(x.parent_event_id);
      assert.ok(d, `execution seq ${x.seq} has a decision`);
      const rule = String(field(d, 'policy.matched_rule'));
      assert.ok(['allow', 'require_approval'].includes(String(effect.get(rule))), `rule ${rule}`);
      assert.equal(field(d, 'policy.decision'), effect.get(rule));
      assert.equal(byId.get(x.parent_event_id!)?.action?.type, x.action?.type);
      if (field(d, 'policy.decision') === 'require_approval')
        assert.equal(typeof field(x, 'approval.approver'), 'string');
    }

    // 2. The delegation boundary: what acme-support granted kb-researcher, and what it ran.
    const delegations = await logJson(log, ['--type', 'delegation.started']);
    assert.equal(delegations.length, 2);
    const granted = field(delegations[0], 'action.params.permissions') as string[];
    assert.deepEqual(granted, ['search:kb', 'http:get']);
    const inGrant = (a: string): boolean => granted.some((g) => compileGlob(g)(a));
    const researcher = (await logJson(log, ['--actor', 'kb-researcher'])).filter((e) => EXECUTED.has(e.type));
    assert.deepEqual([...new Set(researcher.map((e) => e.action?.type))], ['search:kb']);
    assert.ok(researcher.every((e) => inGrant(e.action!.type)));
    assert.deepEqual(
      field(researcher[0], 'delegation.chain.0.permissions_granted'),
      granted,
      'every event of the delegate carries the grant it acts under',
    );
    // Its one attempt outside the policy (an off-allowlist fetch) was denied and never ran.
    const denied = await logJson(log, ['--actor', 'kb-researcher', '--decision', 'deny']);
    assert.deepEqual(
      denied.map((d) => d.action?.target),
      ['pastebin.example/8f2k', 'pastebin.example/8f2k'],
    );
    const check = await cli(log, ['check', '--json']);
    assert.equal(check.code, 0, check.out);

    // 3. The control: a delegate granted search:kb only runs a small refund. The policy allows
    // small refunds to any agent, so the Governor lets it run; the scope rule finds it.
    const trail = await openTrail(log.db);
    const parent = new Governor({
      trail,
      policy,
      actor: { type: 'agent', id: 'acme-support' },
      session_id: 'sess-scope-breach',
      run_id: 'run-scope-breach',
    });
    const sub = await parent.delegate({ type: 'agent', id: 'kb-researcher' }, ['search:*']);
    await sub.run({ type: 'search:kb', target: 'kb/refunds' }, () => Promise.resolve({ hits: 1 }));
    await sub.run({ type: 'write:refund', target: 'order/9', params: { amount: 10 } }, () =>
      Promise.resolve({ refund_id: 're_1' }),
    );
    await trail.close();
    const breach = await logJson(log, ['--run', 'run-scope-breach', '--action', 'write:refund']);
    const ran = breach.find((e: RecordedEvent) => e.type === 'action.succeeded')!;
    const after = await cli(log, ['check', '--json']);
    assert.equal(after.code, 1);
    const findings = (JSON.parse(after.out) as { findings: { rule: string; seq: number; message: string }[] })
      .findings;
    assert.deepEqual(
      findings.map((f) => [f.rule, f.seq]),
      [['out_of_scope', ran.seq]],
    );
    assert.match(findings[0]!.message, /kb-researcher ran write:refund, outside the permissions search:\*/);
    const text = await cli(log, ['check']);
    assert.match(text.out, new RegExp(`seq ${ran.seq}  out_of_scope`));
  });
});
