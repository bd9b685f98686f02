import type { RiskLevel } from '../../event/types.js';
import type { Anomaly, AnomalyResolution } from './anomaly.js';

/** Links for a person: the run's timeline, the anomaly event, the events that triggered it. */
export interface AlertLinks {
  run?: string;
  anomaly?: string;
  events: string[];
}

/**
 * What every channel is handed for one anomaly event: the generic webhook sends it as is, the
 * other channels render it in their own format.
 */
export interface AlertRecord {
  kind: 'triggered' | 'resolved';
  anomaly_id: string;
  detector: string;
  agent_id: string;
  score: number;
  threshold: number;
  summary: string;
  risk_level: RiskLevel;
  /** Seqs of the triggering events. */
  seqs: number[];
  window?: { from: string; to: string };
  run_id?: string;
  session_id?: string;
  /** The seq and time of the `anomaly.detected` (or `anomaly.resolved`) event. */
  seq: number;
  time: string;
  log: string;
  links: AlertLinks;
  resolved_by?: string;
  reason?: string;
}

/** Links listed per alert at most (the webhook's `seqs` holds them all). */
const MAX_EVENT_LINKS = 5;

/**
 * The alert for a detected anomaly (`resolution` given: for its resolution).
 *
 * @example
 * alertOf(anomaly, 'auditrail.local/t/default/main', 'https://audit.example.com')
 */
export function alertOf(
  a: Anomaly,
  log: string,
  dashboard: string | undefined,
  resolution?: AnomalyResolution,
): AlertRecord {
  const links: AlertLinks = { events: [] };
  if (dashboard !== undefined) {
    if (a.run_id !== undefined) links.run = `${dashboard}/runs/${encodeURIComponent(a.run_id)}`;
    links.anomaly = `${dashboard}/events/${a.seq}`;
    links.events = a.seqs.slice(0, MAX_EVENT_LINKS).map((s) => `${dashboard}/events/${s}`);
  }
  return {
    kind: resolution ? 'resolved' : 'triggered',
    anomaly_id: a.id,
    detector: a.detector,
    agent_id: a.agent_id,
    score: a.score,
    threshold: a.threshold,
    summary: a.summary,
    risk_level: a.risk_level ?? 'medium',
    seqs: a.seqs,
    ...(a.window ? { window: a.window } : {}),
    ...(a.run_id !== undefined ? { run_id: a.run_id } : {}),
    ...(a.session_id !== undefined ? { session_id: a.session_id } : {}),
    seq: resolution?.seq ?? a.seq,
    time: resolution?.time ?? a.time,
    log,
    links,
    ...(resolution ? { resolved_by: resolution.by, reason: resolution.reason } : {}),
  };
}

/** A score as people read it: up to 3 decimals, no trailing zeros. */
export function formatScore(n: number): string {
  return String(Math.round(n * 1000) / 1000);
}

/** One line for a subject, a fallback text or a PagerDuty summary. */
export function headline(a: AlertRecord): string {
  const what = `${a.detector} on agent ${a.agent_id}`;
  return a.kind === 'resolved'
    ? `Resolved: ${what}`
    : `${a.risk_level.toUpperCase()} anomaly: ${what} (score ${formatScore(a.score)} vs threshold ${formatScore(a.threshold)})`;
}
