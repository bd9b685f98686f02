import type { AuditEvent, RecordedEvent } from '../../event/types.js';
import { evaluate, type Decision, type PolicyBundle } from '../../policy/index.js';
import type { AuditTrail } from '../audit-trail.js';

export interface ReplayChange {
  seq: number;
  event_id: string;
  ts: string;
  action: string;
  target: string | null;
  actor: string;
  from: Decision;
  to: Decision;
  from_rule: string | null;
  to_rule: string | null;
  reason: string;
}

export interface ReplayReport {
  policy_id: string;
  policy_version: number;
  policy_snapshot: string;
  /** Decisions re-evaluated. */
  total: number;
  unchanged: number;
  /** Decisions whose intent could not be found (e.g. erased); skipped. */
  skipped: number;
  /** `"allow -> deny"` → count. */
  transitions: Record<string, number>;
  changes: ReplayChange[];
}

function inputOf(intent: RecordedEvent, decision: RecordedEvent, tenant: string) {
  const src: AuditEvent = intent;
  const action = src.action ?? decision.action ?? { type: 'unknown' };
  const env = src.metadata?.['environment'];
  return {
    action: {
      type: action.type,
      ...(action.target !== undefined ? { target: action.target } : {}),
      ...(action.params !== undefined ? { params: action.params } : {}),
      ...(action.side_effects ? { side_effects: action.side_effects } : {}),
    },
    actor: {
      id: src.actor.id,
      type: src.actor.type,
      ...(src.actor.trust_tier ? { trust_tier: src.actor.trust_tier } : {}),
      ...(src.actor.tags ? { tags: src.actor.tags } : {}),
      ...(src.actor.name ? { name: src.actor.name } : {}),
    },
    tenant: src.tenant ?? tenant,
    ...(typeof env === 'string' ? { environment: env } : {}),
    ...(src.delegation
      ? { delegation: src.delegation as { chain?: unknown[]; depth?: number; root_agent?: string } }
      : {}),
    ...(src.context ? { context: src.context } : {}),
    ...(src.metadata ? { metadata: src.metadata } : {}),
    ...(src.session_id ? { session_id: src.session_id } : {}),
    ...(src.run_id ? { run_id: src.run_id } : {}),
  };
}

/**
 * "What would this policy have decided?" Re-decides every recorded `policy.decision` in the
 * window under `bundle`, using the action, actor and context of its `action.intent`, and lists
 * the decisions that would change. Reads only; records nothing.
 *
 * @example
 * const report = await replayPolicy(trail, await loadPolicyFile('policy.v4.yaml'), { since: '2026-11-15T00:00:00Z' });
 * console.log(report.transitions); // { 'allow -> deny': 3 }
 */
export async function replayPolicy(
  trail: AuditTrail,
  bundle: PolicyBundle,
  window: { since?: string; until?: string } = {},
): Promise<ReplayReport> {
  const report: ReplayReport = {
    policy_id: bundle.policyId,
    policy_version: bundle.version,
    policy_snapshot: bundle.snapshot,
    total: 0,
    unchanged: 0,
    skipped: 0,
    transitions: {},
    changes: [],
  };
  let cursor: string | undefined;
  do {
    const page = await trail.query({
      type: 'policy.decision',
      limit: 1000,
      ...(window.since ? { since: window.since } : {}),
      ...(window.until ? { until: window.until } : {}),
      ...(cursor ? { cursor } : {}),
    });
    for (const d of page.events) {
      if (!d.policy || d.policy.policy_id === undefined) continue;
      const intent = d.parent_event_id ? await trail.get(d.parent_event_id) : undefined;
      if (!intent) {
        report.skipped++;
        continue;
      }
      report.total++;
      const next = evaluate(bundle, inputOf(intent, d, trail.tenant));
      if (next.decision === d.policy.decision) {
        report.unchanged++;
        continue;
      }
      const key = `${d.policy.decision} -> ${next.decision}`;
      report.transitions[key] = (report.transitions[key] ?? 0) + 1;
      report.changes.push({
        seq: d.seq,
        event_id: d.event_id,
        ts: d.ts,
        action: intent.action?.type ?? 'unknown',
        target: intent.action?.target ?? null,
        actor: intent.actor.id,
        from: d.policy.decision,
        to: next.decision,
        from_rule: d.policy.matched_rule ?? null,
        to_rule: next.matched_rule,
        reason: next.reason,
      });
    }
    cursor = page.next_cursor ?? undefined;
  } while (cursor);
  return report;
}
