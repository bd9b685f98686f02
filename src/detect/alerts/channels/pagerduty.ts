import { post, type ExportRecord, type SendResult, type Sink } from '../../../export/sink.js';
import type { RiskLevel } from '../../../event/types.js';
import { headline, type AlertRecord } from '../alert.js';
import type { PagerDutyChannel } from '../config.js';

const SEVERITY: Record<RiskLevel, 'critical' | 'error' | 'warning' | 'info'> = {
  critical: 'critical',
  high: 'error',
  medium: 'warning',
  low: 'info',
};

const cut = (s: string, n: number): string => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

/**
 * The Events API v2 event of one alert: `trigger` for a detected anomaly, `resolve` for its
 * resolution, with the anomaly id as `dedup_key` so both land on one incident.
 *
 * @example
 * pagerDutyEvent(alert, key) // { routing_key, event_action: 'trigger', dedup_key: 'an_1', payload: { summary, source, severity, … } }
 */
export function pagerDutyEvent(a: AlertRecord, routingKey: string): Record<string, unknown> {
  const dedup = cut(a.anomaly_id, 255);
  if (a.kind === 'resolved') return { routing_key: routingKey, event_action: 'resolve', dedup_key: dedup };
  const links = [
    ...(a.links.run ? [{ href: a.links.run, text: 'Run timeline' }] : []),
    ...(a.links.anomaly ? [{ href: a.links.anomaly, text: 'Anomaly event' }] : []),
    ...a.links.events.map((href, i) => ({ href, text: `Event seq ${a.seqs[i] ?? ''}` })),
  ];
  return {
    routing_key: routingKey,
    event_action: 'trigger',
    dedup_key: dedup,
    client: 'auditrail',
    ...(a.links.anomaly ? { client_url: a.links.anomaly } : {}),
    payload: {
      summary: cut(`${headline(a)}: ${a.summary}`, 1024),
      source: cut(a.log, 255),
      severity: SEVERITY[a.risk_level],
      timestamp: a.time,
      component: cut(a.agent_id, 255),
      group: cut(a.detector, 255),
      class: 'anomaly',
      custom_details: {
        anomaly_id: a.anomaly_id,
        detector: a.detector,
        agent_id: a.agent_id,
        score: a.score,
        threshold: a.threshold,
        seqs: a.seqs,
        ...(a.run_id !== undefined ? { run_id: a.run_id } : {}),
        ...(a.window ? { window: a.window } : {}),
        seq: a.seq,
      },
    },
    ...(links.length > 0 ? { links } : {}),
  };
}

/** Sends each alert to PagerDuty's Events API v2 (202 accepted; 400 refused; 429 retried). */
export function pagerDutySink(config: PagerDutyChannel & { timeout_ms: number }): Sink {
  return {
    limits: { maxEvents: 1 },
    send(batch: readonly ExportRecord[]): Promise<SendResult> {
      const a = batch[0]!.record as unknown as AlertRecord;
      return post(
        config.url,
        { 'content-type': 'application/json' },
        JSON.stringify(pagerDutyEvent(a, config.routing_key)),
        config.timeout_ms,
      );
    },
    close: () => Promise.resolve(),
  };
}
