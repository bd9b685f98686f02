/**
 * Anomaly review: the state of each anomaly (open → acknowledged → resolved) is derived from the
 * log alone, from its `anomaly.detected` event and the `anomaly.acknowledged` / `anomaly.resolved`
 * events naming it. Listing only reads; acknowledging or resolving appends one event.
 */
import { AuditError, type AuditTrail, type RecordedEvent, type RiskLevel } from '../index.js';

export const ANOMALY_STATES = ['open', 'acknowledged', 'resolved'] as const;
export type AnomalyState = (typeof ANOMALY_STATES)[number];

/** A review step, as its event records it. */
export interface ReviewStep {
  state: 'acknowledged' | 'resolved';
  by: string;
  reason: string;
  seq: number;
  ts: string;
}

/** One anomaly with its review state. */
export interface AnomalyRecord {
  id: string;
  detector: string;
  agent_id: string;
  score: number;
  threshold: number;
  seqs: number[];
  window: { from: string; to: string };
  summary: string;
  run_id?: string;
  session_id?: string;
  risk_level?: RiskLevel;
  /** Seq and log time of its `anomaly.detected` event. */
  seq: number;
  ts: string;
  state: AnomalyState;
  history: ReviewStep[];
}

const MAX_REASON = 1000;
const PAGE = 10_000;

async function all(trail: AuditTrail, type: string): Promise<RecordedEvent[]> {
  const out: RecordedEvent[] = [];
  let cursor: string | null = null;
  do {
    const page = await trail.query({ type, limit: PAGE, ...(cursor !== null ? { cursor } : {}) });
    out.push(...page.events);
    cursor = page.next_cursor;
  } while (cursor !== null);
  return out;
}

const str = (v: unknown): v is string => typeof v === 'string';
const num = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** The anomaly an `anomaly.detected` event carries, or null when its payload is not one. */
export function anomalyOf(e: RecordedEvent): AnomalyRecord | null {
  const a = (e.metadata as { anomaly?: unknown } | undefined)?.anomaly;
  if (typeof a !== 'object' || a === null) return null;
  const x = a as Record<string, unknown>;
  const w = x['window'] as { from?: unknown; to?: unknown } | undefined;
  if (
    !str(x['id']) ||
    !str(x['detector']) ||
    !str(x['agent_id']) ||
    !num(x['score']) ||
    !num(x['threshold']) ||
    !Array.isArray(x['seqs']) ||
    !x['seqs'].every(num) ||
    !str(x['summary']) ||
    typeof w !== 'object' ||
    w === null ||
    !str(w.from) ||
    !str(w.to)
  )
    return null;
  const r: AnomalyRecord = {
    id: x['id'],
    detector: x['detector'],
    agent_id: x['agent_id'],
    score: x['score'],
    threshold: x['threshold'],
    seqs: x['seqs'],
    window: { from: w.from, to: w.to },
    summary: x['summary'],
    seq: e.seq,
    ts: e.ts,
    state: 'open',
    history: [],
  };
  const run = str(x['run_id']) ? x['run_id'] : e.run_id;
  if (run !== undefined) r.run_id = run;
  if (e.session_id !== undefined) r.session_id = e.session_id;
  if (e.risk_level !== undefined) r.risk_level = e.risk_level;
  return r;
}

/**
 * Every anomaly of the log with its state, newest first (optionally only those in `state`).
 * Reads only.
 *
 * @example
 * const open = await listAnomalies(trail, { state: 'open' });
 */
export async function listAnomalies(
  trail: AuditTrail,
  options: { state?: AnomalyState; agent?: string } = {},
): Promise<AnomalyRecord[]> {
  const byId = new Map<string, AnomalyRecord>();
  for (const e of await all(trail, 'anomaly.detected')) {
    const a = anomalyOf(e);
    // The first event of an id is the anomaly (a second one with the same id adds nothing).
    if (a !== null && !byId.has(a.id)) byId.set(a.id, a);
  }
  const steps = [
    ...(await all(trail, 'anomaly.acknowledged')).map((e) => ['acknowledged', e] as const),
    ...(await all(trail, 'anomaly.resolved')).map((e) => ['resolved', e] as const),
  ].sort((x, y) => x[1].seq - y[1].seq);
  for (const [state, e] of steps) {
    const m = e.metadata as { anomaly_id?: unknown; by?: unknown; reason?: unknown } | undefined;
    const a = str(m?.anomaly_id) ? byId.get(m.anomaly_id) : undefined;
    // A step counts only after its anomaly, and only forward (open → acknowledged → resolved).
    if (a === undefined || e.seq < a.seq || a.state === 'resolved' || a.state === state) continue;
    a.state = state;
    a.history.push({
      state,
      by: str(m?.by) ? m.by : e.actor.id,
      reason: str(m?.reason) ? m.reason : '',
      seq: e.seq,
      ts: e.ts,
    });
  }
  return [...byId.values()]
    .filter(
      (a) =>
        (options.state === undefined || a.state === options.state) &&
        (options.agent === undefined || a.agent_id === options.agent),
    )
    .sort((x, y) => y.seq - x.seq);
}

/** One anomaly by id, with its state; undefined when the log has none with that id. */
export async function getAnomaly(trail: AuditTrail, id: string): Promise<AnomalyRecord | undefined> {
  return (await listAnomalies(trail)).find((a) => a.id === id);
}

async function review(
  trail: AuditTrail,
  id: string,
  to: 'acknowledged' | 'resolved',
  by: string,
  reason: string,
): Promise<{ anomaly: AnomalyRecord; seq: number }> {
  if (id === '' || id.length > 512)
    throw new AuditError('invalid_argument', 'anomaly id: must be 1-512 characters');
  const why = reason.trim();
  if (why === '') throw new AuditError('invalid_argument', 'reason: say why (--reason "…"); it is recorded');
  if (why.length > MAX_REASON)
    throw new AuditError('invalid_argument', `reason: at most ${MAX_REASON} characters`);
  if (!/^[\x21-\x7e]{1,128}$/.test(by))
    throw new AuditError(
      'invalid_argument',
      `by: '${by.slice(0, 64)}' is not a principal name (1-128 printable characters, no spaces)`,
    );
  const anomaly = await getAnomaly(trail, id);
  if (anomaly === undefined)
    throw new AuditError('not_found', `no anomaly '${id}' in this log (see: auditrail anomalies list)`);
  if (anomaly.state === 'resolved') throw new AuditError('conflict', `anomaly '${id}' is already resolved`);
  if (anomaly.state === to) throw new AuditError('conflict', `anomaly '${id}' is already ${to}`);
  const receipt = await trail.record({
    type: to === 'acknowledged' ? 'anomaly.acknowledged' : 'anomaly.resolved',
    actor: { type: 'user', id: by },
    ...(anomaly.session_id !== undefined ? { session_id: anomaly.session_id } : {}),
    ...(anomaly.run_id !== undefined ? { run_id: anomaly.run_id } : {}),
    metadata: { anomaly_id: id, by, reason: why },
  });
  anomaly.history.push({ state: to, by, reason: why, seq: receipt.seq, ts: new Date().toISOString() });
  anomaly.state = to;
  return { anomaly, seq: receipt.seq };
}

/**
 * Records that `by` has seen anomaly `id` and is on it (`anomaly.acknowledged`).
 *
 * @example
 * await acknowledgeAnomaly(trail, id, 'alice', 'looking at the run');
 */
export function acknowledgeAnomaly(
  trail: AuditTrail,
  id: string,
  by: string,
  reason: string,
): Promise<{ anomaly: AnomalyRecord; seq: number }> {
  return review(trail, id, 'acknowledged', by, reason);
}

/**
 * Records that anomaly `id` is closed (`anomaly.resolved`), from open or acknowledged.
 *
 * @example
 * await resolveAnomaly(trail, id, 'alice', 'expected: batch import');
 */
export function resolveAnomaly(
  trail: AuditTrail,
  id: string,
  by: string,
  reason: string,
): Promise<{ anomaly: AnomalyRecord; seq: number }> {
  return review(trail, id, 'resolved', by, reason);
}
