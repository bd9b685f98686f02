import type { RecordedEvent } from '../../event/types.js';
import type { AuditTrail, QueryOptions } from '../../sdk/audit-trail.js';
import type { EventFilter } from '../../store/store.js';
import {
  diffPolicies,
  DIFF_KEY_PREFIX,
  parsePolicy,
  SOURCE_KEY_PREFIX,
  verifyDiffPayload,
  verifySourcePayload,
} from '../../policy/index.js';
import type { PolicyDiff } from '../../policy/types.js';
import { storeOf } from '../../sdk/internals.js';
import { groupTimeline } from '../routes/events.js';

/** Events per hour of the last 24 hours (oldest first), by the log's receive time. */
export interface HourBucket {
  start: string;
  count: number;
}

export interface Overview {
  size: number;
  hours: HourBucket[];
  counts: { allowed: number; denied: number; held: number; failed: number };
  /** Denial rate by agent over the latest {@link RECENT_DECISIONS} decisions. */
  agents: { id: string; decisions: number; denied: number }[];
  checkpoint: CheckpointInfo | null;
}

export interface CheckpointInfo {
  size: number;
  root: string;
  origin: string;
  createdAt: string;
  /** Signer names and their 4-byte key ids (hex), from the note's signature lines. */
  signers: { name: string; keyId: string }[];
}

/** How many of the latest decisions the per-agent denial rates are computed from. */
export const RECENT_DECISIONS = 5000;
/** How many of the latest matching events the runs list groups into runs. */
export const RECENT_EVENTS = 2000;

const HOUR = 3_600_000;

/** The log's stored time form (6 fractional digits, UTC), so bounds compare as strings. */
export function logTime(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 23)}000Z`;
}

/** The parts of a C2SP signed note a reviewer reads: origin, size, root and who signed. */
export function parseCheckpoint(note: string, createdAt: string): CheckpointInfo | null {
  const [body, sigs = ''] = note.split('\n\n');
  const lines = (body ?? '').split('\n');
  const size = Number(lines[1]);
  if (lines.length < 3 || !Number.isSafeInteger(size)) return null;
  const signers = sigs
    .split('\n')
    .map((l) => /^\u2014 (\S+) ([A-Za-z0-9+/=]+)$/.exec(l))
    .flatMap((m) =>
      m ? [{ name: m[1]!, keyId: Buffer.from(m[2]!, 'base64').subarray(0, 4).toString('hex') }] : [],
    );
  return { origin: lines[0]!, size, root: lines[2]!, createdAt, signers };
}

/** The figures of the overview page. */
export async function overview(trail: AuditTrail, now: number): Promise<Overview> {
  const top = Math.ceil(now / HOUR) * HOUR;
  const hours: HourBucket[] = [];
  for (let i = 24; i > 0; i--) {
    const start = top - i * HOUR;
    hours.push({
      start: new Date(start).toISOString(),
      count: await trail.count({ since: logTime(start), until: logTime(start + HOUR) }),
    });
  }
  const [allowed, denied, held, failed] = await Promise.all([
    trail.count({ type: 'policy.decision', decision: 'allow' }),
    trail.count({ type: 'policy.decision', decision: 'deny' }),
    trail.count({ type: 'policy.decision', decision: 'require_approval' }),
    trail.count({ status: 'failure' }),
  ]);
  const recent = await trail.query({ type: 'policy.decision', order: 'desc', limit: RECENT_DECISIONS });
  const byAgent = new Map<string, { id: string; decisions: number; denied: number }>();
  for (const e of recent.events) {
    const a = byAgent.get(e.actor.id) ?? { id: e.actor.id, decisions: 0, denied: 0 };
    a.decisions++;
    if (e.policy?.decision === 'deny') a.denied++;
    byAgent.set(e.actor.id, a);
  }
  const info = await trail.latestCheckpointInfo();
  return {
    size: trail.size,
    hours,
    counts: { allowed, denied, held, failed },
    agents: [...byAgent.values()].sort((a, b) => b.denied / b.decisions - a.denied / a.decisions),
    checkpoint: info ? parseCheckpoint(info.note, info.created_at) : null,
  };
}

/** The filters of the runs page (each optional; mirrored in the URL). */
export interface RunFilters {
  agent?: string;
  session?: string;
  since?: string;
  until?: string;
  outcome?: string;
  risk?: string;
}

export interface RunSummary {
  runId: string;
  first: string;
  last: string;
  agents: string[];
  sessions: string[];
  events: number;
  failed: number;
  denied: number;
}

/** Runs among the latest {@link RECENT_EVENTS} events that match the filters, newest first. */
export async function runs(trail: AuditTrail, f: RunFilters): Promise<RunSummary[]> {
  const q: QueryOptions = { order: 'desc', limit: RECENT_EVENTS };
  if (f.agent) q.actor_id = f.agent;
  if (f.session) q.session_id = f.session;
  if (f.since) q.since = logTime(Date.parse(f.since));
  if (f.until) q.until = logTime(Date.parse(f.until));
  if (f.outcome) q.status = f.outcome;
  if (f.risk) q.risk = f.risk;
  const page = await trail.query(q);
  const out = new Map<string, RunSummary>();
  for (const e of page.events) {
    if (e.run_id === undefined) continue;
    let r = out.get(e.run_id);
    if (!r) {
      r = {
        runId: e.run_id,
        first: e.ts,
        last: e.ts,
        agents: [],
        sessions: [],
        events: 0,
        failed: 0,
        denied: 0,
      };
      out.set(e.run_id, r);
    }
    r.events++;
    if (e.ts < r.first) r.first = e.ts;
    if (e.ts > r.last) r.last = e.ts;
    if (!r.agents.includes(e.actor.id)) r.agents.push(e.actor.id);
    if (e.session_id !== undefined && !r.sessions.includes(e.session_id)) r.sessions.push(e.session_id);
    if (e.outcome?.status === 'failure' || e.outcome?.status === 'timeout') r.failed++;
    if (e.policy?.decision === 'deny') r.denied++;
  }
  return [...out.values()];
}

/** Largest run timeline shown on one page. */
export const MAX_TIMELINE = 10_000;

/** Every event of a run (up to {@link MAX_TIMELINE}) and its actions grouped. */
export async function timeline(
  trail: AuditTrail,
  runId: string,
): Promise<{ events: RecordedEvent[]; actions: ReturnType<typeof groupTimeline>; truncated: boolean }> {
  const events: RecordedEvent[] = [];
  let cursor: string | null = null;
  do {
    const page = await trail.query({ run_id: runId, limit: 1000, ...(cursor !== null ? { cursor } : {}) });
    events.push(...page.events);
    cursor = page.next_cursor;
  } while (cursor !== null && events.length < MAX_TIMELINE);
  return { events, actions: groupTimeline(events), truncated: cursor !== null };
}

/** How many `policy.updated` events the policies page lists (the latest). */
export const MAX_POLICY_VERSIONS = 500;

/** One loaded version of a bundle, as its `policy.updated` event records it. */
export interface PolicyVersion {
  seq: number;
  ts: string;
  policyId: string;
  version: number | null;
  snapshot: string;
  mode: string | null;
  loadedBy: string;
  reason: string | null;
  /** Rules added, removed and changed against the version loaded before it. */
  counts: { added: number; removed: number; changed: number } | null;
  diffDigest: string | null;
}

/** The latest {@link MAX_POLICY_VERSIONS} `policy.updated` events of the log, oldest first. */
export async function policyVersions(trail: AuditTrail): Promise<PolicyVersion[]> {
  const page = await trail.query({ type: 'policy.updated', order: 'desc', limit: MAX_POLICY_VERSIONS });
  const out: PolicyVersion[] = [];
  for (const e of page.events.reverse()) {
    const p = e.policy;
    if (p?.policy_id === undefined || p.policy_snapshot === undefined) continue;
    const params = (e.action?.params ?? {}) as Record<string, unknown>;
    const n = (k: string): number | null => (typeof params[k] === 'number' ? params[k] : null);
    const [added, removed, changed] = [n('added'), n('removed'), n('changed')];
    out.push({
      seq: e.seq,
      ts: e.ts,
      policyId: p.policy_id,
      version: p.policy_version ?? null,
      snapshot: p.policy_snapshot,
      mode: p.mode ?? null,
      loadedBy: e.actor.id,
      reason: p.reason ?? null,
      counts: added !== null && removed !== null && changed !== null ? { added, removed, changed } : null,
      diffDigest: typeof params['diff_digest'] === 'string' ? params['diff_digest'] : null,
    });
  }
  return out;
}

/** A version's source, read from the store and checked against the snapshot its event names. */
export async function policySource(trail: AuditTrail, snapshot: string): Promise<unknown> {
  return verifySourcePayload(snapshot, await storeOf(trail).getMeta(`${SOURCE_KEY_PREFIX}${snapshot}`));
}

/** The changes between two versions, and what they were checked against. */
export type PolicyChanges = { ok: true; diff: PolicyDiff; basis: string } | { ok: false; reason: string };

/**
 * What changed from one version to another: the diff recorded with `to` when `from` is the
 * version it was recorded against (its payload checked against the digest the event holds),
 * else a diff of the two stored sources, each checked against its snapshot.
 */
export async function policyChanges(
  trail: AuditTrail,
  from: PolicyVersion,
  to: PolicyVersion,
): Promise<PolicyChanges> {
  if (from.policyId !== to.policyId) {
    return { ok: false, reason: `these are versions of two policies (${from.policyId}, ${to.policyId})` };
  }
  if (to.diffDigest !== null) {
    const recorded = verifyDiffPayload(
      to.diffDigest,
      await storeOf(trail).getMeta(`${DIFF_KEY_PREFIX}${to.diffDigest}`),
    );
    if (
      recorded !== null &&
      recorded.from_snapshot === from.snapshot &&
      recorded.to_snapshot === to.snapshot
    ) {
      return {
        ok: true,
        diff: recorded,
        basis: `the diff recorded with seq ${to.seq}, matching the digest that event holds`,
      };
    }
  }
  const [a, b] = [await policySource(trail, from.snapshot), await policySource(trail, to.snapshot)];
  const missing = [a === null ? from : null, b === null ? to : null].filter((v) => v !== null);
  if (missing.length > 0) {
    return {
      ok: false,
      reason:
        `no stored source matching the snapshot of ${missing.map((v) => `seq ${v.seq}`).join(' and ')} ` +
        '(sources are kept from this version of auditrail on; a source with redacted values cannot ' +
        'match its snapshot)',
    };
  }
  try {
    const diff = diffPolicies(parsePolicy(JSON.stringify(a)), parsePolicy(JSON.stringify(b)));
    return {
      ok: true,
      diff,
      basis: `the stored sources of seq ${from.seq} and seq ${to.seq}, each matching its snapshot`,
    };
  } catch (e) {
    return { ok: false, reason: `a stored source no longer parses: ${(e as Error).message}` };
  }
}

/** The filters of the search page, as named in its URL (each optional). */
export const SEARCH_FIELDS = {
  type: 'type',
  agent: 'actor_id',
  action: 'action_type',
  target: 'target',
  session: 'session_id',
  run: 'run_id',
  trace: 'trace_id',
  decision: 'decision',
  status: 'status',
  risk: 'risk',
  since: 'since',
  until: 'until',
} as const satisfies Record<string, keyof EventFilter>;

export type SearchFilters = Partial<Record<keyof typeof SEARCH_FIELDS, string>>;

/** Events per page of search results. */
export const SEARCH_PAGE = 100;

/** The query filter of a search (since/until as `YYYY-MM-DDTHH:MM` UTC from the form). */
export function searchFilter(f: SearchFilters): EventFilter {
  const out: EventFilter = {};
  for (const [k, field] of Object.entries(SEARCH_FIELDS) as [keyof SearchFilters, keyof EventFilter][]) {
    const v = f[k];
    if (v === undefined) continue;
    out[field] = field === 'since' || field === 'until' ? logTime(Date.parse(`${v}Z`)) : v;
  }
  return out;
}

/** What a search row and a live-tail message show of an event. */
export interface EventSummary {
  seq: number;
  ts: string;
  type: string;
  actor: string;
  action: string | null;
  target: string | null;
  decision: string | null;
  status: string | null;
  risk: string | null;
  run: string | null;
}

export function summarize(e: RecordedEvent): EventSummary {
  return {
    seq: e.seq,
    ts: e.ts,
    type: e.type,
    actor: e.actor.id,
    action: e.action?.type ?? null,
    target: e.action?.target ?? null,
    decision: e.policy?.decision ?? null,
    status: e.outcome?.status ?? null,
    risk: e.risk_level ?? null,
    run: e.run_id ?? null,
  };
}
