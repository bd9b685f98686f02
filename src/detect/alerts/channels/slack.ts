import { post, type ExportRecord, type SendResult, type Sink } from '../../../export/sink.js';
import { formatScore, headline, type AlertRecord } from '../alert.js';
import type { SlackChannel } from '../config.js';

/** Slack's mrkdwn: `&`, `<` and `>` are control characters (a `<` would start a link). */
export function slackEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

const cut = (s: string, n: number): string => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

/**
 * The Block Kit message of one alert: a header, the summary, the figures as fields, and the
 * links to the run timeline and the events. Within Slack's limits (header 150, text 3,000 characters).
 *
 * @example
 * slackMessage(alert).blocks[0] // { type: 'header', text: { type: 'plain_text', text: 'HIGH anomaly: …' } }
 */
export function slackMessage(a: AlertRecord): { text: string; blocks: Record<string, unknown>[] } {
  const title = headline(a);
  const fields = [
    `*Detector*\n${slackEscape(a.detector)}`,
    `*Agent*\n${slackEscape(a.agent_id)}`,
    `*Score*\n${formatScore(a.score)} (threshold ${formatScore(a.threshold)})`,
    `*Risk*\n${a.risk_level}`,
    ...(a.run_id !== undefined ? [`*Run*\n${slackEscape(a.run_id)}`] : []),
    ...(a.window ? [`*Window*\n${slackEscape(a.window.from)} – ${slackEscape(a.window.to)}`] : []),
  ].map((text) => ({ type: 'mrkdwn', text: cut(text, 2000) }));
  const links = [
    ...(a.links.run ? [`<${a.links.run}|Run timeline>`] : []),
    ...(a.links.anomaly ? [`<${a.links.anomaly}|Anomaly event>`] : []),
    ...a.links.events.map((u, i) => `<${u}|Event seq ${a.seqs[i] ?? ''}>`),
  ];
  const body =
    a.kind === 'resolved'
      ? `Resolved by ${slackEscape(a.resolved_by ?? 'someone')}${a.reason ? `: ${slackEscape(a.reason)}` : ''}`
      : slackEscape(a.summary);
  const blocks: Record<string, unknown>[] = [
    { type: 'header', text: { type: 'plain_text', text: cut(title, 150) } },
    { type: 'section', text: { type: 'mrkdwn', text: cut(body, 3000) }, fields },
    ...(links.length > 0
      ? [{ type: 'section', text: { type: 'mrkdwn', text: cut(links.join(' · '), 3000) } }]
      : []),
    {
      type: 'context',
      elements: [
        {
          type: 'mrkdwn',
          text: cut(
            `anomaly ${slackEscape(a.anomaly_id)} · seq ${a.seq} of ${slackEscape(a.log)} · ${a.time}`,
            3000,
          ),
        },
      ],
    },
  ];
  // The fallback `text` (notifications) is parsed as mrkdwn: escaped; the header is plain_text.
  return { text: cut(slackEscape(title), 3000), blocks };
}

/** Posts each alert to a Slack incoming webhook as a Block Kit message (one alert per request). */
export function slackSink(config: SlackChannel & { timeout_ms: number }): Sink {
  return {
    limits: { maxEvents: 1 },
    send(batch: readonly ExportRecord[]): Promise<SendResult> {
      const a = batch[0]!.record as unknown as AlertRecord;
      // Slack answers 200 "ok"; refusals are 4xx with a plain-text reason (invalid_blocks,
      // no_service, channel_is_archived…), 429 with Retry-After.
      return post(
        config.url,
        { 'content-type': 'application/json' },
        JSON.stringify(slackMessage(a)),
        config.timeout_ms,
      );
    },
    close: () => Promise.resolve(),
  };
}
