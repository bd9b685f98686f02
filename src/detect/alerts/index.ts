import type { AuditTrail } from '../../index.js';
import type { RecordedEvent } from '../../event/types.js';
import { compileGlobList } from '../../core/glob.js';
import { exportState, type DeadLetter } from '../../sdk/export-state.js';
import { DEFAULT_BATCH } from '../../export/config.js';
import { ExportPipeline, type PipelineConfig, type RunReport } from '../../export/pipeline.js';
import type { Sink } from '../../export/sink.js';
import { webhookSink } from '../../export/sinks/webhook-sink.js';
import { alertOf, type AlertRecord } from './alert.js';
import { anomalyOf, resolutionOf, type Anomaly } from './anomaly.js';
import type { AlertConfig } from './config.js';
import { emailSink } from './channels/email.js';
import { pagerDutySink } from './channels/pagerduty.js';
import { slackSink } from './channels/slack.js';

export { loadAlertConfig, parseAlertConfig, type AlertConfig } from './config.js';
export type { AlertRecord } from './alert.js';
export { slackMessage } from './channels/slack.js';
export { pagerDutyEvent } from './channels/pagerduty.js';
export { emailMessage } from './channels/email.js';

const RISK_RANK = { low: 1, medium: 2, high: 3, critical: 4 } as const;
/** Events read per query while looking for anomalies (most events are not). */
const ALERT_PAGE = 2000;
/** Detected anomalies remembered per channel, so a resolution finds its anomaly without a read. */
const KNOWN_ANOMALIES = 10_000;
/** `anomaly.detected` events read back at most to find the anomaly a resolution names. */
const LOOKBACK = 20_000;

/** The channel's sink: how one alert reaches its receiver. */
export function createAlertSink(config: AlertConfig): Sink {
  switch (config.channel) {
    case 'slack':
      return slackSink(config);
    case 'pagerduty':
      return pagerDutySink(config);
    case 'webhook': {
      // The SIEM webhook as is: a JSON array (of one alert), HMAC-signed.
      const sink = webhookSink({
        type: 'webhook',
        url: config.url,
        secret: config.secret,
        timeout_ms: config.timeout_ms,
        ...(config.headers ? { headers: config.headers } : {}),
      });
      return { ...sink, limits: { maxEvents: 1 } };
    }
    case 'email':
      return emailSink(config);
  }
}

/**
 * The anomaly events of the log as `config` wants them: detected anomalies passing its filter,
 * and (with `resolved`) the resolutions of those. A resolution names only the anomaly id, so its
 * anomaly is looked up: first among those this channel saw, then in the log (bounded).
 */
export function alertTransform(
  trail: AuditTrail,
  config: AlertConfig,
): (e: RecordedEvent) => AlertRecord | null | Promise<AlertRecord | null> {
  const detectors = config.filter.detectors ? compileGlobList(config.filter.detectors) : null;
  const minRisk = config.filter.risk ? RISK_RANK[config.filter.risk] : 0;
  const passes = (a: Anomaly): boolean =>
    (detectors === null || detectors(a.detector)) && RISK_RANK[a.risk_level ?? 'medium'] >= minRisk;
  const known = new Map<string, Anomaly>();
  const remember = (a: Anomaly): void => {
    if (known.size >= KNOWN_ANOMALIES) known.delete(known.keys().next().value!);
    known.set(a.id, a);
  };
  const find = async (id: string, before: number): Promise<Anomaly | null> => {
    const seen = known.get(id);
    if (seen) return seen;
    let cursor: string | undefined = `d${before}`;
    for (let read = 0; cursor !== undefined && read < LOOKBACK;) {
      const page = await trail.query({ type: 'anomaly.detected', order: 'desc', limit: 1000, cursor });
      for (const e of page.events) {
        const a = anomalyOf(e);
        if (a?.id === id) return a;
      }
      read += page.events.length;
      cursor = page.next_cursor ?? undefined;
    }
    return null;
  };
  return (e) => {
    if (e.type === 'anomaly.detected') {
      const a = anomalyOf(e);
      if (a === null) return null;
      remember(a);
      return passes(a) ? alertOf(a, trail.origin, config.dashboard_url) : null;
    }
    if (e.type === 'anomaly.resolved' && config.resolved) {
      const r = resolutionOf(e);
      if (r === null) return null;
      return find(r.anomaly_id, e.seq).then((a) =>
        a !== null && passes(a) ? alertOf(a, trail.origin, config.dashboard_url, r) : null,
      );
    }
    return null;
  };
}

/** What the pipeline needs of an alert channel's config. */
function pipelineConfig(config: AlertConfig): PipelineConfig {
  return {
    name: config.name,
    batch: { ...DEFAULT_BATCH, max_events: 1 },
    retry: config.retry,
    secrets: config.secrets,
  };
}

/**
 * A delivery pipeline from `trail`'s anomalies to one alert channel: the SIEM export's cursor,
 * retries (backoff with jitter, Retry-After) and dead letters, under the cursor `alert:<name>`.
 *
 * @example
 * const { pipeline, sink } = openAlertPipeline(trail, config, { log: console.error });
 * await pipeline.run({ follow: true, signal });
 */
export function openAlertPipeline(
  trail: AuditTrail,
  config: AlertConfig,
  options: { log?: (line: string) => void; sleep?: (ms: number, signal?: AbortSignal) => Promise<void> } = {},
): { pipeline: ExportPipeline; sink: Sink } {
  const sink = createAlertSink(config);
  const transform = alertTransform(trail, config);
  const pipeline = new ExportPipeline(trail, exportState(trail, 'alert'), pipelineConfig(config), sink, {
    context: { hostname: '', productVersion: '' },
    transform: transform as (e: RecordedEvent) => Record<string, unknown> | null,
    pageSize: ALERT_PAGE,
    ...(options.log ? { log: options.log } : {}),
    ...(options.sleep ? { sleep: options.sleep } : {}),
  });
  return { pipeline, sink };
}

/**
 * A channel with `start: end` and no cursor yet begins at the log's end (it alerts on new
 * anomalies, not on the whole history); returns where the channel starts.
 */
export async function placeNewChannel(trail: AuditTrail, config: AlertConfig): Promise<number> {
  const state = exportState(trail, 'alert');
  const at = await state.cursor(config.name);
  if (at !== 0 || config.start === 'beginning' || trail.size === 0) return at;
  const known = (await state.cursors()).some((c) => c.name === config.name);
  if (known) return at;
  await state.advance(config.name, 0, trail.size);
  return trail.size;
}

/**
 * Delivers to one channel from its cursor to the log's end (with `follow`, keeps going until
 * `signal` aborts). The sink is closed after.
 */
export async function runAlertChannel(
  trail: AuditTrail,
  config: AlertConfig,
  options: {
    follow?: boolean;
    signal?: AbortSignal;
    log?: (line: string) => void;
    sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  } = {},
): Promise<RunReport> {
  await placeNewChannel(trail, config);
  const { pipeline, sink } = openAlertPipeline(trail, config, options);
  try {
    return await pipeline.run({
      ...(options.follow !== undefined ? { follow: options.follow } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
  } finally {
    await sink.close();
  }
}

/** Where one alert channel stands. */
export interface ChannelStatus {
  name: string;
  channel: string | null;
  configured: boolean;
  cursor: number;
  /** Events of the log not yet past the cursor. */
  lag: number;
  dead_letters: DeadLetter[];
}

/**
 * Each channel's cursor, lag and dead letters (those of the config and any other with a cursor).
 * Reads only.
 *
 * @example
 * for (const c of await alertStatus(trail, configs)) console.log(c.name, c.lag);
 */
export async function alertStatus(
  trail: AuditTrail,
  configs: readonly AlertConfig[],
): Promise<ChannelStatus[]> {
  const state = exportState(trail, 'alert');
  const cursors = new Map((await state.cursors()).map((c) => [c.name, c.seq]));
  // `~responder` is the responder's cursor (src/detect/responses), not a channel.
  const names = [...new Set([...configs.map((c) => c.name), ...cursors.keys()])].filter(
    (n) => !n.startsWith('~'),
  );
  return Promise.all(
    names.map(async (name) => {
      const cursor = cursors.get(name) ?? 0;
      const c = configs.find((x) => x.name === name);
      return {
        name,
        channel: c?.channel ?? null,
        configured: c !== undefined,
        cursor,
        lag: Math.max(0, trail.size - cursor),
        dead_letters: await state.deadLetters(name),
      };
    }),
  );
}
