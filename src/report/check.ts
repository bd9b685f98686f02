/**
 * Completeness rules over a log (`auditrail check`, issue 14 item 3): each finding names the
 * rule, the entry's seq and why. Built on `trail.query()` only; one pass in seq order.
 */
import { compileGlob, type AuditTrail, type RecordedEvent } from '../index.js';

export type CheckRule =
  | 'intent_without_decision'
  | 'decision_without_outcome'
  | 'approval_without_policy_version'
  | 'unapproved_execution'
  | 'grant_reused'
  | 'missing_field'
  | 'session_gap'
  | 'denied_execution'
  | 'out_of_scope'
  | 'retention_purged_early';

export interface CheckFinding {
  rule: CheckRule;
  seq: number;
  event_id: string;
  message: string;
}

export interface CheckOptions {
  /** A decision (or intent) younger than this, at `now`, may still be in flight: not a finding. Default 1 h. */
  timeoutMs?: number;
  /** The time the timeout is measured to (epoch ms); default now. */
  now?: number;
  /**
   * The retention period in force (ms): a field purged by `retention.purged` before its entry was
   * this old is a finding. Default: no retention rule.
   */
  retentionMs?: number;
}

const EXECUTIONS = new Set([
  'action.dispatched',
  'action.succeeded',
  'action.failed',
  'action.retried',
  'action.timed_out',
  'action.dead_lettered',
]);
const OUTCOMES = new Set(
  [...EXECUTIONS, 'action.cancelled'].filter((t) => t !== 'action.dispatched' && t !== 'action.retried'),
);
const RESOLUTIONS = new Set(['approval.denied', 'approval.expired']);

/** Fields each event type must carry (dotted paths); `*` applies to every type. */
export const REQUIRED_FIELDS: Record<string, readonly string[]> = {
  '*': ['actor.type', 'actor.id'],
  'action.intent': ['action.type'],
  'policy.decision': ['policy.decision', 'parent_event_id'],
  'approval.requested': ['approval.request_id'],
  'approval.granted': ['approval.request_id', 'approval.approver'],
  'approval.denied': ['approval.request_id', 'approval.approver'],
  'action.succeeded': ['outcome.status'],
  'action.failed': ['outcome.status'],
  'policy.updated': ['policy.policy_id', 'policy.policy_snapshot'],
};

function get(e: unknown, path: string): unknown {
  let v: unknown = e;
  for (const k of path.split('.')) {
    if (typeof v !== 'object' || v === null || !Object.hasOwn(v, k)) return undefined;
    v = (v as Record<string, unknown>)[k];
  }
  return v;
}
const text = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** A stretch of the log where sampling dropped routine events (one `sampling.summary`). */
export interface SampledRange {
  seq: number;
  rule: string;
  every: number;
  matched: number;
  kept: number;
  dropped: number;
  from: string;
  until: string;
  dropped_digest: string;
}

/**
 * The `sampling.summary` events of the log (docs/privacy.md § Sampling): where the log holds 1 in
 * N of some routine events, so a count over them is not the count of what happened.
 *
 * @example
 * for (const r of await sampledRanges(trail)) console.log(r.rule, r.dropped, r.from, r.until);
 */
export async function sampledRanges(trail: AuditTrail): Promise<SampledRange[]> {
  const out: SampledRange[] = [];
  let cursor: string | undefined;
  do {
    const page = await trail.query({ type: 'sampling.summary', limit: 1000, ...(cursor ? { cursor } : {}) });
    for (const e of page.events) {
      const s = get(e, 'metadata.sampling');
      const num = (k: string): number => {
        const v = get(s, k);
        return typeof v === 'number' ? v : 0;
      };
      out.push({
        seq: e.seq,
        rule: text(get(s, 'rule')) ?? '?',
        every: num('every'),
        matched: num('matched'),
        kept: num('kept'),
        dropped: num('dropped'),
        from: text(get(s, 'from')) ?? '',
        until: text(get(s, 'until')) ?? '',
        dropped_digest: text(get(s, 'dropped_digest')) ?? '',
      });
    }
    cursor = page.next_cursor ?? undefined;
  } while (cursor);
  return out;
}

/**
 * Runs every rule over the whole log and returns the findings in seq order.
 *
 * @example
 * const findings = await checkLog(trail, { timeoutMs: 15 * 60_000 });
 * for (const f of findings) console.log(f.seq, f.rule, f.message);
 */
export async function checkLog(trail: AuditTrail, options: CheckOptions = {}): Promise<CheckFinding[]> {
  const timeout = options.timeoutMs ?? 3_600_000;
  const cutoff = new Date((options.now ?? Date.now()) - timeout).toISOString();
  const findings: CheckFinding[] = [];
  const add = (rule: CheckRule, e: RecordedEvent, message: string): void => {
    findings.push({ rule, seq: e.seq, event_id: e.event_id ?? '', message });
  };
  const ids = new Set<string>();
  const intents = new Map<string, RecordedEvent>();
  const decided = new Map<string, RecordedEvent>(); // intent id -> decision
  const resolved = new Set<string>(); // intent ids with an outcome or a refused approval
  const granted = new Set<string>(); // request ids
  const decisionByRequest = new Map<string, RecordedEvent>();
  const grantUsers = new Map<string, string>(); // request id -> intent id of its first execution
  const approvals: RecordedEvent[] = [];
  const scopes = new Map<string, (action: string) => boolean>(); // permissions list -> matcher
  const erasedAt = new Map<number, string>(); // seq of a retention.purged entry -> its ts
  const purged: { e: RecordedEvent; pointer: string; by: number }[] = [];
  let cursor: string | undefined;
  do {
    const page = await trail.query({ limit: 5000, ...(cursor ? { cursor } : {}) });
    for (const e of page.events) {
      const erased = new Set((e.erased ?? []).map((x) => x.pointer));
      if (e.type === 'retention.purged') erasedAt.set(e.seq, e.ts);
      if (options.retentionMs !== undefined)
        for (const x of e.erased ?? [])
          if (x.by_seq !== null) purged.push({ e, pointer: x.pointer, by: x.by_seq });
      for (const path of [...(REQUIRED_FIELDS['*'] ?? []), ...(REQUIRED_FIELDS[e.type] ?? [])]) {
        const pointer = `/${path.split('.').join('/')}`;
        if (get(e, path) === undefined && ![...erased].some((p) => pointer.startsWith(p)))
          add('missing_field', e, `${e.type} lacks ${path}`);
      }
      const parent = text(e.parent_event_id);
      if (parent !== undefined && !ids.has(parent))
        add(
          'session_gap',
          e,
          `its parent event ${parent} is not in the log before it: the timeline has a gap`,
        );
      if (e.event_id) ids.add(e.event_id);
      const requestId = text(get(e, 'approval.request_id'));
      if (e.type === 'action.intent' && e.event_id) intents.set(e.event_id, e);
      else if (e.type === 'policy.decision' && parent) {
        decided.set(parent, e);
        if (get(e, 'policy.decision') === 'deny') resolved.add(parent);
        if (requestId) decisionByRequest.set(requestId, e);
      } else if (e.type === 'approval.granted' || e.type === 'approval.denied') {
        approvals.push(e);
        if (e.type === 'approval.granted' && requestId) granted.add(requestId);
        if (e.type === 'approval.denied' && parent) resolved.add(parent);
      } else if (RESOLUTIONS.has(e.type) && parent) resolved.add(parent);
      if (OUTCOMES.has(e.type) && parent) resolved.add(parent);
      if (EXECUTIONS.has(e.type) && parent && get(e, 'outcome.status') !== 'blocked') {
        const decision = decided.get(parent);
        const enforced = get(decision, 'policy.mode') !== 'shadow';
        // No decision at all: only when its intent is in the log (else session_gap names the gap).
        if (
          (decision === undefined && intents.has(parent)) ||
          (get(decision, 'policy.decision') === 'deny' && enforced)
        )
          add(
            'denied_execution',
            e,
            decision === undefined
              ? `executed with no policy.decision for its intent ${parent} before it`
              : `executed although its decision (seq ${decision.seq}, rule ${String(get(decision, 'policy.matched_rule'))}) denied it`,
          );
        // A delegate acts within the permissions its delegator granted it (the last link of the chain).
        const chain = get(e, 'delegation.chain');
        const link: unknown = Array.isArray(chain) ? chain[chain.length - 1] : undefined;
        const permissions = get(link, 'permissions_granted');
        const actionType = text(get(e, 'action.type')) ?? text(get(intents.get(parent), 'action.type'));
        if (Array.isArray(permissions) && actionType !== undefined) {
          const key = JSON.stringify(permissions);
          let allowed = scopes.get(key);
          if (allowed === undefined) {
            const matchers = permissions.flatMap((g) => {
              try {
                return typeof g === 'string' ? [compileGlob(g)] : [];
              } catch {
                return []; // an invalid pattern grants nothing
              }
            });
            allowed = (a) => matchers.some((m) => m(a));
            scopes.set(key, allowed);
          }
          if (!allowed(actionType))
            add(
              'out_of_scope',
              e,
              `${String(get(e, 'actor.id'))} ran ${actionType}, outside the permissions ${permissions.join(', ')} delegated to it by ${String(get(link, 'agent_id'))}`,
            );
        }
        const needs = get(decision, 'policy.decision') === 'require_approval' && enforced;
        // The grant must be the one for this decision's request, not any grant.
        const rid = text(get(decision, 'approval.request_id')) ?? requestId;
        if (needs && (rid === undefined || !granted.has(rid)))
          add(
            'unapproved_execution',
            e,
            `executed although its decision required approval and no grant${rid ? ` of ${rid}` : ''} precedes it`,
          );
        if (requestId) {
          const first = grantUsers.get(requestId);
          if (first === undefined) grantUsers.set(requestId, parent);
          else if (first !== parent)
            add('grant_reused', e, `grant ${requestId} was already used by the action of intent ${first}`);
        }
      }
    }
    cursor = page.next_cursor ?? undefined;
  } while (cursor);

  for (const [id, intent] of intents) {
    const decision = decided.get(id);
    if (!decision && intent.ts < cutoff)
      add('intent_without_decision', intent, 'no policy.decision names this intent');
    else if (
      decision &&
      !resolved.has(id) &&
      decision.ts < cutoff &&
      get(decision, 'policy.mode') !== 'shadow'
    )
      add(
        'decision_without_outcome',
        decision,
        `decision ${String(get(decision, 'policy.decision'))} of intent ${id} has no outcome after the timeout`,
      );
  }
  for (const a of approvals) {
    const rid = text(get(a, 'approval.request_id'));
    const decision = rid ? decisionByRequest.get(rid) : undefined;
    const version = (e: unknown): unknown =>
      get(e, 'policy.policy_snapshot') ?? get(e, 'policy.policy_version');
    if (version(a) === undefined && version(decision) === undefined)
      add(
        'approval_without_policy_version',
        a,
        `neither the approval nor the decision it answers names a policy version or snapshot`,
      );
  }
  if (options.retentionMs !== undefined) {
    const days = options.retentionMs / 86_400_000;
    for (const { e, pointer, by } of purged) {
      const at = erasedAt.get(by);
      if (at !== undefined && Date.parse(at) - Date.parse(e.ts) < options.retentionMs)
        add(
          'retention_purged_early',
          e,
          `${pointer} was purged by seq ${by} at ${at}, before the ${days}-day retention period ended`,
        );
    }
  }
  return findings.sort((x, y) => x.seq - y.seq);
}
