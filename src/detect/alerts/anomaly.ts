import type { RecordedEvent, RiskLevel } from '../../event/types.js';

/**
 * An `anomaly.detected` event as alerts and responses read it. The event comes from the log, so
 * from whoever could record there: every field is checked and bounded, anything else is dropped.
 */
export interface Anomaly {
  id: string;
  detector: string;
  agent_id: string;
  score: number;
  threshold: number;
  summary: string;
  /** Seqs of the events that triggered it (at most {@link MAX_SEQS}). */
  seqs: number[];
  window?: { from: string; to: string };
  run_id?: string;
  session_id?: string;
  risk_level?: RiskLevel;
  /** The anomaly event itself. */
  seq: number;
  time: string;
}

/** An `anomaly.resolved` event: which anomaly, who, why. */
export interface AnomalyResolution {
  anomaly_id: string;
  by: string;
  reason: string;
  seq: number;
  time: string;
}

export const MAX_SEQS = 50;
const MAX_TEXT = 1000;
const RISKS: readonly string[] = ['low', 'medium', 'high', 'critical'];

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const idText = (v: unknown): string | undefined =>
  typeof v === 'string' && v.length > 0 && v.length <= 256 ? v : undefined;
const text = (v: unknown): string | undefined =>
  typeof v === 'string' ? (v.length > MAX_TEXT ? `${v.slice(0, MAX_TEXT - 1)}…` : v) : undefined;
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/**
 * The anomaly an `anomaly.detected` event reports, or null when the event is another type or
 * lacks an id, a detector or an agent (nothing to alert on or respond to).
 *
 * @example
 * const a = anomalyOf(event); // { id: 'an_1', detector: 'denial_spike', agent_id: 'bot', … }
 */
export function anomalyOf(e: RecordedEvent): Anomaly | null {
  if (e.type !== 'anomaly.detected') return null;
  const m = e.metadata?.['anomaly'];
  if (!isObj(m)) return null;
  const id = idText(m['id']);
  const detector = idText(m['detector']);
  const agent = idText(m['agent_id']);
  if (id === undefined || detector === undefined || agent === undefined) return null;
  const seqs = Array.isArray(m['seqs'])
    ? m['seqs'].filter((s): s is number => Number.isSafeInteger(s) && (s as number) >= 0).slice(0, MAX_SEQS)
    : [];
  const w = m['window'];
  const runId = idText(e.run_id) ?? idText(m['run_id']);
  const risk = e.risk_level !== undefined && RISKS.includes(e.risk_level) ? e.risk_level : undefined;
  return {
    id,
    detector,
    agent_id: agent,
    score: num(m['score']) ?? 0,
    threshold: num(m['threshold']) ?? 0,
    summary: text(m['summary']) ?? `${detector} on ${agent}`,
    seqs,
    ...(isObj(w) && typeof w['from'] === 'string' && typeof w['to'] === 'string'
      ? { window: { from: w['from'].slice(0, 40), to: w['to'].slice(0, 40) } }
      : {}),
    ...(runId !== undefined ? { run_id: runId } : {}),
    ...(idText(e.session_id) !== undefined ? { session_id: e.session_id! } : {}),
    ...(risk !== undefined ? { risk_level: risk } : {}),
    seq: e.seq,
    time: e.time ?? e.ts,
  };
}

/**
 * The resolution an `anomaly.resolved` event records, or null for another event.
 *
 * @example
 * resolutionOf(event)?.anomaly_id // 'an_1'
 */
export function resolutionOf(e: RecordedEvent): AnomalyResolution | null {
  if (e.type !== 'anomaly.resolved') return null;
  const m = e.metadata;
  const id = idText(m?.['anomaly_id']);
  if (id === undefined) return null;
  return {
    anomaly_id: id,
    by: idText(m?.['by']) ?? e.actor.id,
    reason: text(m?.['reason']) ?? '',
    seq: e.seq,
    time: e.time ?? e.ts,
  };
}
