// Drill 2 of seed 001, "Approval trace review: identify who approved a production action and
// when". For each held action the auditor follows intent → decision (require_approval, under
// which rule and policy snapshot) → request (to whom) → grant (by whom, when, why) → execution
// under that grant, checks the approver was one the rule named, and takes away a package of the
// session that proves each of these events offline.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { cli, field, logJson, openTrail, policyRules, recordDrillLog } from './drill.js';
import type { EvidenceEntry } from '../../src/index.js';
import { verifyEvidence } from '../../src/report/evidence.js';

describe('drill: approval-trace review', () => {
  it('names the approver and the time of every held production action, each bound to its request', async () => {
    const log = await recordDrillLog(2);
    const rules = await policyRules();

    const held = await logJson(log, ['--type', 'policy.decision', '--decision', 'require_approval']);
    assert.equal(held.length, 2);
    for (const decision of held) {
      const timeline = await logJson(log, ['--run', decision.run_id!]);
      const chain = timeline.filter(
        (e) => e.event_id === decision.parent_event_id || e.parent_event_id === decision.parent_event_id,
      );
      assert.deepEqual(
        chain.map((e) => e.type),
        [
          'action.intent',
          'policy.decision',
          'approval.requested',
          'approval.granted',
          'action.dispatched',
          'action.succeeded',
        ],
      );
      const [intent, , requested, granted, , succeeded] = chain;
      assert.equal(intent!.action?.type, 'write:refund');
      assert.equal(field(intent, 'metadata.environment'), 'production');
      // Which rule held it, under which policy snapshot, and whom it named.
      const rule = rules.get(String(field(decision, 'policy.matched_rule')))!;
      assert.equal(field(decision, 'policy.matched_rule'), 'refunds-need-lead-approval');
      assert.match(String(field(decision, 'policy.policy_snapshot')), /^sha256:/);
      assert.deepEqual(field(requested, 'approval.approvers'), rule.approvers);
      // Who approved, when, and why: a named approver of the rule, after the request, before the run.
      const approver = String(field(granted, 'approval.approver'));
      assert.equal(approver, 'maria.chen');
      assert.equal(granted!.actor.id, approver);
      assert.ok(rule.approvers!.includes(approver));
      assert.equal(typeof field(granted, 'approval.reason'), 'string');
      const decidedAt = String(field(granted, 'approval.decided_at'));
      assert.ok(requested!.ts <= granted!.ts && granted!.ts <= succeeded!.ts);
      assert.ok(Date.parse(decidedAt) <= Date.parse(String(field(requested, 'approval.expires_at'))));
      // Bound to this request: the same request id and digest from decision to execution.
      const rid = field(decision, 'approval.request_id');
      const digest = field(decision, 'approval.request_digest');
      for (const e of [requested, granted, succeeded]) {
        assert.equal(field(e, 'approval.request_id'), rid);
        assert.equal(field(e, 'approval.request_digest'), digest);
      }
      assert.equal(field(succeeded, 'approval.approver'), approver);

      // The package of this session proves every link offline.
      const out = `${decision.session_id!}.evidence.tar.gz`;
      const pkg = await cli(log, ['evidence', '--session', decision.session_id!, '-o', out]);
      assert.equal(pkg.code, 0, pkg.err);
      const v = await cli(log, ['verify-evidence', out, '--key', log.vkey, '--json']);
      assert.equal(v.code, 0, v.out);
      const r = await verifyEvidence(readFileSync(join(log.dir, out)), { trustedKey: log.vkey });
      const proved = new Map<string, EvidenceEntry>(r.entries.map((e) => [e.event_id, e]));
      for (const e of chain) {
        const entry = proved.get(e.event_id);
        assert.ok(entry && entry.role === 'event', `${e.type} seq ${e.seq} is proved by the package`);
        assert.equal(entry.seq, e.seq);
      }
      assert.equal(field(proved.get(granted!.event_id)!.event, 'approval.approver'), approver);
    }
    // The completeness rules: no approval without a policy version, no execution without its grant.
    const check = await cli(log, ['check', '--json']);
    assert.equal(check.code, 0, check.out);

    // The control: a held refund run again under the grant of another request is found.
    const trail = await openTrail(log.db);
    const [first, second] = held;
    const rogue = await trail.record({
      type: 'action.succeeded',
      actor: second!.actor,
      session_id: second!.session_id!,
      parent_event_id: second!.parent_event_id!,
      action: { type: 'write:refund' },
      approval: { request_id: String(field(first, 'approval.request_id')) },
      outcome: { status: 'success' },
    });
    await trail.close();
    const after = await cli(log, ['check', '--json']);
    assert.equal(after.code, 1);
    assert.deepEqual(
      (JSON.parse(after.out) as { findings: { rule: string; seq: number }[] }).findings.map((f) => [
        f.rule,
        f.seq,
      ]),
      [['grant_reused', rogue.seq]],
    );
  });
});
