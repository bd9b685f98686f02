import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { openAuditTrail, type AuditEvent } from '../../src/index.js';
import { MemoryStore, fixedClock } from '../../src/testing/index.js';
import { checkLog } from '../../src/report/check.js';

const agent = { type: 'agent', id: 'bot' } as const;
const snap = { policy_id: 'p', policy_snapshot: 'sha256:1', mode: 'enforce' } as const;

describe('auditrail check rules', () => {
  it('finds each rule at its seq, and nothing in a complete timeline', async () => {
    const trail = await openAuditTrail({
      tenant: 't',
      store: new MemoryStore(),
      now: fixedClock(Date.UTC(2026, 0, 1), 1000),
    });
    const rec = async (e: Record<string, unknown>): Promise<number> =>
      (await trail.record({ actor: agent, ...e } as unknown as AuditEvent)).seq;
    // A complete, approved action: no finding.
    await rec({ event_id: 'i1', type: 'action.intent', action: { type: 'write:refund' } });
    await rec({
      event_id: 'd1',
      type: 'policy.decision',
      parent_event_id: 'i1',
      policy: { ...snap, decision: 'require_approval' },
      approval: { required: true, request_id: 'apr_1' },
    });
    await rec({
      event_id: 'g1',
      type: 'approval.granted',
      parent_event_id: 'i1',
      approval: { request_id: 'apr_1', approver: 'lead' },
    });
    await rec({
      event_id: 'o1',
      type: 'action.succeeded',
      parent_event_id: 'i1',
      approval: { request_id: 'apr_1' },
      outcome: { status: 'success' },
    });
    // An intent with no decision.
    const lonely = await rec({ event_id: 'i2', type: 'action.intent', action: { type: 'read:x' } });
    // A held action executed without a grant, reusing another grant.
    await rec({ event_id: 'i3', type: 'action.intent', action: { type: 'write:refund' } });
    await rec({
      event_id: 'd3',
      type: 'policy.decision',
      parent_event_id: 'i3',
      policy: { decision: 'require_approval', mode: 'enforce' },
      approval: { required: true, request_id: 'apr_3' },
    });
    const reused = await rec({
      event_id: 'o3',
      type: 'action.succeeded',
      parent_event_id: 'i3',
      approval: { request_id: 'apr_1' },
      outcome: { status: 'success' },
    });
    // An allowed decision with no outcome; an approval without policy version; a missing field; a dangling parent.
    await rec({ event_id: 'i4', type: 'action.intent', action: { type: 'read:y' } });
    const open = await rec({
      event_id: 'd4',
      type: 'policy.decision',
      parent_event_id: 'i4',
      policy: { ...snap, decision: 'allow' },
    });
    const noVersion = await rec({
      event_id: 'g3',
      type: 'approval.granted',
      parent_event_id: 'i3',
      approval: { request_id: 'apr_3', approver: 'lead' },
    });
    const noField = await rec({ event_id: 'x1', type: 'action.intent' });
    const gap = await rec({
      event_id: 'o9',
      type: 'action.failed',
      parent_event_id: 'nowhere',
      outcome: { status: 'failure' },
    });
    const findings = await checkLog(trail, { timeoutMs: 0, now: Date.UTC(2027, 0, 1) });
    const got = findings.map((f) => [f.rule, f.seq]);
    assert.deepEqual(got, [
      ['intent_without_decision', lonely],
      ['unapproved_execution', reused],
      ['grant_reused', reused],
      ['decision_without_outcome', open],
      ['approval_without_policy_version', noVersion],
      ['missing_field', noField],
      ['intent_without_decision', noField],
      ['session_gap', gap],
    ]);
    // Within the timeout, in-flight intents and decisions are not findings.
    const early = await checkLog(trail, { timeoutMs: 3_600_000, now: Date.UTC(2026, 0, 1) });
    assert.ok(
      !early.some((f) => f.rule === 'intent_without_decision' || f.rule === 'decision_without_outcome'),
    );
    await trail.close();
  });
});
