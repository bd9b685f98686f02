import { createTransport } from 'nodemailer';
import type { ExportRecord, SendResult, Sink } from '../../../export/sink.js';
import { formatScore, headline, type AlertRecord } from '../alert.js';
import type { EmailChannel } from '../config.js';

/** One line: no CR/LF can reach a header. */
const line = (s: string): string => s.replace(/[\r\n\t]+/g, ' ');

/**
 * The subject and plain-text body of one alert's e-mail.
 *
 * @example
 * emailMessage(alert).subject // '[auditrail] HIGH anomaly: denial_spike on agent bot (score 9 vs threshold 3)'
 */
export function emailMessage(a: AlertRecord): { subject: string; text: string } {
  const rows = [
    headline(a),
    '',
    a.kind === 'resolved'
      ? `Resolved by ${a.resolved_by ?? 'someone'}${a.reason ? `: ${a.reason}` : ''}`
      : a.summary,
    '',
    `Detector:  ${a.detector}`,
    `Agent:     ${a.agent_id}`,
    `Score:     ${formatScore(a.score)} (threshold ${formatScore(a.threshold)})`,
    `Risk:      ${a.risk_level}`,
    ...(a.run_id !== undefined ? [`Run:       ${a.run_id}`] : []),
    ...(a.window ? [`Window:    ${a.window.from} to ${a.window.to}`] : []),
    `Events:    seq ${a.seqs.join(', ') || '(none named)'}`,
    `Anomaly:   ${a.anomaly_id} (seq ${a.seq} of ${a.log}, ${a.time})`,
    ...(a.links.run ? ['', `Run timeline: ${a.links.run}`] : []),
    ...(a.links.anomaly ? [`Anomaly event: ${a.links.anomaly}`] : []),
    ...a.links.events.map((u, i) => `Event seq ${a.seqs[i] ?? ''}: ${u}`),
  ];
  return { subject: line(`[auditrail] ${headline(a)}`).slice(0, 250), text: `${rows.join('\n')}\n` };
}

interface SmtpError {
  responseCode?: number;
  code?: string;
  message?: string;
}

/**
 * Sends each alert as one e-mail over SMTP (nodemailer). A 5xx reply (other than 503) is a
 * permanent refusal; a 4xx reply, a connection failure or a timeout is retried.
 */
export function emailSink(config: EmailChannel & { timeout_ms: number }): Sink {
  const s = config.smtp;
  const transport = createTransport({
    host: s.host,
    port: s.port,
    secure: s.secure,
    ...(s.user !== undefined && s.password !== undefined ? { auth: { user: s.user, pass: s.password } } : {}),
    connectionTimeout: config.timeout_ms,
    greetingTimeout: config.timeout_ms,
    socketTimeout: config.timeout_ms,
  });
  return {
    limits: { maxEvents: 1 },
    async send(batch: readonly ExportRecord[]): Promise<SendResult> {
      const a = batch[0]!.record as unknown as AlertRecord;
      const m = emailMessage(a);
      try {
        await transport.sendMail({
          from: config.from,
          to: config.to,
          subject: m.subject,
          text: m.text,
          headers: { 'X-Auditrail-Anomaly': line(a.anomaly_id), 'X-Auditrail-Kind': a.kind },
        });
        return { kind: 'ok' };
      } catch (e) {
        const err = e as SmtpError;
        const code = typeof err.responseCode === 'number' ? err.responseCode : null;
        // The message never carries the password: nodemailer reports the reply, not the login.
        const detail = `SMTP ${code ?? err.code ?? 'error'}: ${(err.message ?? '').slice(0, 500)}`;
        if (code !== null && code >= 500 && code !== 503 && code < 600)
          return { kind: 'permanent', status: code, detail };
        return { kind: 'retry', status: code, detail };
      }
    },
    close: () => {
      transport.close();
      return Promise.resolve();
    },
  };
}
