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

describe('auditrail check: scope and retention rules', () => {
  it('an execution after a deny or with no decision; a delegate outside its permissions', async () => {
    const trail = await openAuditTrail({
      tenant: 't',
      store: new MemoryStore(),
      now: fixedClock(Date.UTC(2026, 0, 1), 1000),
    });
    const rec = async (e: Record<string, unknown>): Promise<number> =>
      (await trail.record({ actor: agent, ...e } as unknown as AuditEvent)).seq;
    const delegation = {
      chain: [{ agent_id: 'bot', delegated_at: '2026-01-01T00:00:00Z', permissions_granted: ['search:*'] }],
      depth: 1,
      root_agent: 'bot',
    };
    const sub = { type: 'agent', id: 'researcher' } as const;
    const step = async (
      id: string,
      type: string,
      decision: string | null,
      actor: { type: string; id: string } = agent,
    ): Promise<number> => {
      await rec({ event_id: `i${id}`, type: 'action.intent', actor, delegation, action: { type } });
      if (decision)
        await rec({
          event_id: `d${id}`,
          type: 'policy.decision',
          actor,
          parent_event_id: `i${id}`,
          policy: { ...snap, decision, matched_rule: `r-${decision}` },
        });
      return rec({
        event_id: `o${id}`,
        type: 'action.succeeded',
        actor,
        delegation,
        parent_event_id: `i${id}`,
        action: { type },
        outcome: { status: 'success' },
      });
    };
    await step('1', 'search:kb', 'allow', sub); // within its permissions: no finding
    const denied = await step('2', 'search:web', 'deny', sub);
    const undecided = await step('3', 'search:kb', null, sub);
    const outside = await step('4', 'write:refund', 'allow', sub);
    const findings = await checkLog(trail, { timeoutMs: 3_600_000, now: Date.UTC(2026, 0, 1) });
    assert.deepEqual(
      findings.map((f) => [f.rule, f.seq]),
      [
        ['denied_execution', denied],
        ['denied_execution', undecided],
        ['out_of_scope', outside],
      ],
    );
    assert.match(
      findings[2]!.message,
      /write:refund, outside the permissions search:\* delegated to it by bot/,
    );
    await trail.close();
  });

  it('a field purged by retention.purged before the retention period ended', async () => {
    const store = new MemoryStore();
    const day = 86_400_000;
    let t = Date.UTC(2026, 0, 1);
    const trail = await openAuditTrail({ tenant: 't', store, now: () => t });
    const rec = async (e: Record<string, unknown>): Promise<number> =>
      (await trail.record({ actor: agent, ...e } as unknown as AuditEvent)).seq;
    const old = await rec({ type: 'action.intent', action: { type: 'read:x', params: { q: 1 } } });
    t += 100 * day;
    const young = await rec({ type: 'action.intent', action: { type: 'read:x', params: { q: 2 } } });
    t += 10 * day;
    const purge = await rec({ type: 'retention.purged', action: { type: 'purge' } });
    // The store's erase path (no SDK erasure API yet), as the operator's retention job would use it.
    const log = (
      store as unknown as {
        logs: Map<
          string,
          {
            disclosures: Map<
              number,
              { pointer: string; disclosure: Buffer | null; erasedBySeq: number | null }[]
            >;
          }
        >;
      }
    ).logs.get(trail.origin)!;
    for (const seq of [old, young]) {
      const row = log.disclosures.get(seq)!.find((d) => d.pointer === '/action/params')!;
      row.disclosure = null;
      row.erasedBySeq = purge;
    }
    const rules = async (retentionMs?: number): Promise<[string, number][]> =>
      (await checkLog(trail, { timeoutMs: 0, now: t, ...(retentionMs ? { retentionMs } : {}) }))
        .filter((f) => f.rule === 'retention_purged_early')
        .map((f) => [f.rule, f.seq]);
    assert.deepEqual(await rules(), []);
    // 90 days: the entry 110 days old was due, the one 10 days old was not.
    assert.deepEqual(await rules(90 * day), [['retention_purged_early', young]]);
    assert.deepEqual(await rules(200 * day), [
      ['retention_purged_early', old],
      ['retention_purged_early', young],
    ]);
    await trail.close();
  });
});
