/**
 * Alert channels against real receivers on 127.0.0.1 and a real SQLite file: HTTP servers that
 * enforce Slack's incoming-webhook rules (Block Kit limits), PagerDuty's Events API v2 schema and
 * the webhook's HMAC signature, and smtp-server receiving the e-mail (parsed here). Anomalies
 * recorded in the log as the detectors record them; a receiver down, then delivered, nothing lost.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { SMTPServer } from 'smtp-server';
import { openAuditTrail, type AuditTrail } from '../../src/index.js';
import { webhookSignature } from '../../src/export/index.js';
import {
  alertStatus,
  parseAlertConfig,
  runAlertChannel,
  openAlertPipeline,
} from '../../src/detect/alerts/index.js';
import { tempDir } from './helpers.js';

const servers: { close(): void }[] = [];
after(() => {
  for (const s of servers) {
    (s as Partial<Server>).closeAllConnections?.();
    s.close();
  }
});

interface Receiver {
  url: string;
  /** Answer the next requests with these statuses first (0: drop the connection). */
  plan: number[];
  bodies: unknown[];
  headers: IncomingMessage['headers'][];
  violations: string[];
}

/** An HTTP receiver on 127.0.0.1 (port 0); `check` returns a refusal reason or null. */
async function receiver(
  check: (req: IncomingMessage, body: unknown, raw: string) => string | null,
  ok = 200,
  okText = 'ok',
): Promise<Receiver> {
  const r: Receiver = { url: '', plan: [], bodies: [], headers: [], violations: [] };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      const planned = r.plan.shift();
      if (planned === 0) return req.socket.destroy();
      if (planned !== undefined) {
        res.writeHead(planned, planned === 429 ? { 'retry-after': '0' } : {});
        return res.end('busy');
      }
      const raw = Buffer.concat(parts).toString('utf8');
      let body: unknown;
      try {
        body = JSON.parse(raw);
      } catch {
        r.violations.push('not JSON');
        res.writeHead(400);
        return res.end('invalid_payload');
      }
      const why = check(req, body, raw);
      if (why !== null) {
        r.violations.push(why);
        res.writeHead(400);
        return res.end(why);
      }
      r.bodies.push(body);
      r.headers.push(req.headers);
      res.writeHead(ok, { 'content-type': 'text/plain' });
      res.end(okText);
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  r.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return r;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Slack incoming webhook: `text` or `blocks`; header plain_text ≤ 150; mrkdwn ≤ 3000; fields ≤ 10 of ≤ 2000; ≤ 50 blocks. */
function slackCheck(_req: IncomingMessage, body: unknown): string | null {
  if (!isObj(body)) return 'invalid_payload';
  if (typeof body['text'] !== 'string' && !Array.isArray(body['blocks'])) return 'no_text';
  const blocks = body['blocks'];
  if (!Array.isArray(blocks) || blocks.length > 50) return 'invalid_blocks';
  for (const b of blocks) {
    if (!isObj(b)) return 'invalid_blocks';
    const t = b['text'] as Obj | undefined;
    if (b['type'] === 'header') {
      if (t?.['type'] !== 'plain_text' || typeof t['text'] !== 'string' || t['text'].length > 150)
        return 'invalid_blocks';
    } else if (b['type'] === 'section') {
      if (
        t &&
        (typeof t['text'] !== 'string' ||
          t['text'].length > 3000 ||
          !['mrkdwn', 'plain_text'].includes(t['type'] as string))
      )
        return 'invalid_blocks';
      const f = b['fields'];
      if (
        f !== undefined &&
        (!Array.isArray(f) ||
          f.length > 10 ||
          f.some((x: Obj) => typeof x['text'] !== 'string' || x['text'].length > 2000))
      )
        return 'invalid_blocks';
    } else if (b['type'] === 'context') {
      if (!Array.isArray(b['elements']) || b['elements'].length > 10) return 'invalid_blocks';
    } else return 'invalid_blocks';
  }
  return null;
}

const ROUTING_KEY = 'R0123456789abcdef0123456789abcde';
/** PagerDuty Events API v2: routing_key, event_action, dedup_key; a trigger needs payload.summary/source/severity. */
function pagerDutyCheck(req: IncomingMessage, body: unknown): string | null {
  if (req.url !== '/v2/enqueue' || req.headers['content-type'] !== 'application/json')
    return 'wrong endpoint';
  if (!isObj(body)) return 'Event object is invalid';
  if (body['routing_key'] !== ROUTING_KEY) return 'Invalid routing key';
  if (!['trigger', 'acknowledge', 'resolve'].includes(body['event_action'] as string))
    return "'event_action' is invalid";
  const dedup = body['dedup_key'];
  if (typeof dedup !== 'string' || dedup.length === 0 || dedup.length > 255) return "'dedup_key' is invalid";
  if (body['event_action'] === 'trigger') {
    const p = body['payload'];
    if (!isObj(p)) return "'payload' is missing";
    if (typeof p['summary'] !== 'string' || p['summary'].length === 0 || p['summary'].length > 1024)
      return "'payload.summary' is invalid";
    if (typeof p['source'] !== 'string' || p['source'].length === 0) return "'payload.source' is missing";
    if (!['critical', 'error', 'warning', 'info'].includes(p['severity'] as string))
      return "'payload.severity' is invalid";
    if (p['timestamp'] !== undefined && !Number.isFinite(Date.parse(p['timestamp'] as string)))
      return "'payload.timestamp' is invalid";
  }
  return null;
}

const HOOK_SECRET = 'hook-secret-value-0001';
function webhookCheck(req: IncomingMessage, _body: unknown, raw: string): string | null {
  const ts = req.headers['x-auditrail-timestamp'];
  const sig = req.headers['x-auditrail-signature'];
  if (typeof ts !== 'string' || sig !== webhookSignature(HOOK_SECRET, ts, raw)) return 'bad signature';
  return null;
}

async function open(): Promise<AuditTrail> {
  return openAuditTrail({ tenant: 'acme', db: join(tempDir(), 'audit.db'), checkpointIntervalMs: 0 });
}

async function anomaly(
  trail: AuditTrail,
  id: string,
  detector = 'denial_spike',
  risk: 'high' | 'low' = 'high',
) {
  const a = await trail.record({
    type: 'anomaly.detected',
    actor: { type: 'system', id: 'auditrail-detect' },
    risk_level: risk,
    run_id: 'run-42',
    metadata: {
      anomaly: {
        id,
        detector,
        agent_id: 'support-bot<script>',
        score: 7.25,
        threshold: 3,
        seqs: [0, 1],
        window: { from: '2026-12-05T10:00:00Z', to: '2026-12-05T10:05:00Z' },
        summary: '12 denials in 5 min against a baseline of 1.1 <b>',
      },
    },
  });
  return a.seq;
}

async function resolve(trail: AuditTrail, id: string): Promise<void> {
  await trail.record({
    type: 'anomaly.resolved',
    actor: { type: 'user', id: 'alice' },
    metadata: { anomaly_id: id, by: 'alice', reason: 'load test' },
  });
}

const noWait = (): Promise<void> => Promise.resolve();

describe('alert channels', { timeout: 120_000 }, () => {
  it('Slack: a Block Kit message with detector, agent, score vs threshold, summary and links; escaped', async () => {
    const slack = await receiver(slackCheck);
    const trail = await open();
    await trail.record({
      type: 'action.intent',
      actor: { type: 'agent', id: 'support-bot' },
      action: { type: 'read:x' },
    });
    const seq = await anomaly(trail, 'an-1');
    await anomaly(trail, 'an-low', 'denial_spike', 'low');
    await anomaly(trail, 'an-other', 'off_hours');
    const [config] = parseAlertConfig(
      `alerts:
  - name: oncall
    channel: slack
    url: \${SLACK_URL}
    dashboard_url: https://audit.example.com/
    start: beginning
    filter: { detectors: [denial_*], risk: high }
`,
      { SLACK_URL: `${slack.url}/services/T000/B000/XXXX` },
    );
    const r = await runAlertChannel(trail, config!);
    assert.equal(r.delivered, 1);
    assert.deepEqual(slack.violations, []);
    const msg = slack.bodies[0] as { text: string; blocks: Obj[] };
    assert.match(
      msg.text,
      /HIGH anomaly: denial_spike on agent support-bot&lt;script&gt; \(score 7.25 vs threshold 3\)/,
    );
    const all = JSON.stringify(msg.blocks);
    assert.ok(all.includes('support-bot&lt;script&gt;'), 'agent id escaped in mrkdwn');
    assert.ok(all.includes('baseline of 1.1 &lt;b&gt;'));
    assert.ok(all.includes('<https://audit.example.com/runs/run-42|Run timeline>'));
    assert.ok(all.includes(`<https://audit.example.com/events/${seq}|Anomaly event>`));
    assert.ok(all.includes('<https://audit.example.com/events/0|Event seq 0>'));
    // Resolved: a second message for the same anomaly.
    await resolve(trail, 'an-1');
    await resolve(trail, 'an-other');
    assert.equal((await runAlertChannel(trail, config!)).delivered, 1);
    assert.match((slack.bodies[1] as { text: string }).text, /^Resolved: denial_spike/);
    await trail.close();
  });

  it('PagerDuty: trigger then resolve with the anomaly id as dedup_key; 429 retried, receiver down then up', async () => {
    const pd = await receiver(pagerDutyCheck, 202, '{"status":"success","message":"Event processed"}');
    const trail = await open();
    const [config] = parseAlertConfig(
      `alerts:
  - name: pd
    channel: pagerduty
    url: ${pd.url}/v2/enqueue
    routing_key: \${PD_KEY}
    dashboard_url: https://audit.example.com
    retry: { max_attempts: 5, initial_ms: 1, max_ms: 5 }
`,
      { PD_KEY: ROUTING_KEY },
    );
    // start: end (the default) — a new channel begins at the log's end.
    await anomaly(trail, 'an-old');
    assert.equal((await runAlertChannel(trail, config!)).delivered, 0);
    await anomaly(trail, 'an-2');
    pd.plan = [0, 429, 503];
    const r = await runAlertChannel(trail, config!, { sleep: noWait });
    assert.equal(r.delivered, 1);
    assert.deepEqual(pd.violations, []);
    const trigger = pd.bodies[0] as Obj;
    assert.equal(trigger['event_action'], 'trigger');
    assert.equal(trigger['dedup_key'], 'an-2');
    assert.equal((trigger['payload'] as Obj)['severity'], 'error');
    assert.deepEqual((trigger['links'] as Obj[])[0], {
      href: 'https://audit.example.com/runs/run-42',
      text: 'Run timeline',
    });
    // Down for longer than a run's attempts: the run stops, the cursor stays; the next run delivers.
    await resolve(trail, 'an-2');
    pd.plan = [0, 0, 0, 0, 0];
    await assert.rejects(
      runAlertChannel(trail, config!, { sleep: noWait }),
      /not delivered after 5 attempts.*nothing is skipped/,
    );
    const [st] = await alertStatus(trail, [config!]);
    assert.ok(st!.lag > 0);
    assert.equal((await runAlertChannel(trail, config!, { sleep: noWait })).delivered, 1);
    assert.deepEqual(pd.bodies[1], { routing_key: ROUTING_KEY, event_action: 'resolve', dedup_key: 'an-2' });
    assert.equal((await alertStatus(trail, [config!]))[0]!.lag, 0);
    await trail.close();
  });

  it('webhook: HMAC-signed like the SIEM webhook; a permanent 400 is a dead letter, replayed later', async () => {
    const hook = await receiver(webhookCheck);
    const trail = await open();
    const [config] = parseAlertConfig(
      `alerts:
  - name: hook
    channel: webhook
    url: ${hook.url}/alerts
    secret: \${HOOK_SECRET}
    start: beginning
`,
      { HOOK_SECRET },
    );
    await anomaly(trail, 'an-3');
    hook.plan = [400];
    const r = await runAlertChannel(trail, config!);
    assert.equal(r.dead_lettered, 1);
    const [st] = await alertStatus(trail, [config!]);
    assert.equal(st!.dead_letters.length, 1);
    assert.ok(!JSON.stringify(st).includes(HOOK_SECRET));
    const { pipeline } = openAlertPipeline(trail, config!);
    assert.deepEqual(await pipeline.replay(), { replayed: 1, events: 1, still_dead: 0 });
    assert.deepEqual(hook.violations, []);
    const [alert] = hook.bodies[0] as Obj[];
    assert.equal(alert!['kind'], 'triggered');
    assert.equal(alert!['anomaly_id'], 'an-3');
    assert.equal(alert!['score'], 7.25);
    assert.deepEqual(alert!['seqs'], [0, 1]);
    await trail.close();
  });

  it('e-mail over SMTP: received by smtp-server and parsed; a 451 is retried, nothing lost', async () => {
    const mails: string[] = [];
    let refuse = 1;
    const smtp = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS', 'AUTH'],
      logger: false,
      onData(stream, _session, cb) {
        let text = '';
        stream.setEncoding('utf8');
        stream.on('data', (d: string) => (text += d));
        stream.on('end', () => {
          if (refuse-- > 0) {
            const e = new Error('try again later') as Error & { responseCode: number };
            e.responseCode = 451;
            return cb(e);
          }
          mails.push(text);
          cb();
        });
      },
    });
    servers.push(smtp);
    await new Promise<void>((ok) => smtp.listen(0, '127.0.0.1', ok));
    const port = (smtp.server.address() as AddressInfo).port;
    const trail = await open();
    const [config] = parseAlertConfig(`alerts:
  - name: mail
    channel: email
    smtp: { host: 127.0.0.1, port: ${port} }
    from: auditrail@example.com
    to: [oncall@example.com, sec@example.com]
    dashboard_url: https://audit.example.com
    start: beginning
`);
    await anomaly(trail, 'an-4');
    const r = await runAlertChannel(trail, config!, { sleep: noWait });
    assert.equal(r.delivered, 1);
    assert.equal(mails.length, 1);
    // RFC 5322 unfolding of the headers, RFC 2045 quoted-printable body.
    const [head, ...rest] = mails[0]!.split('\r\n\r\n');
    const headers = head!.replace(/\r\n[ \t]+/g, ' ');
    const mail = rest
      .join('\r\n\r\n')
      .replace(/=\r\n/g, '')
      .replace(/=([0-9A-F]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16)));
    const header = (name: string) => new RegExp(`^${name}: (.*)$`, 'mi').exec(headers)?.[1];
    assert.equal(header('From'), 'auditrail@example.com');
    assert.equal(header('To'), 'oncall@example.com, sec@example.com');
    assert.match(header('Subject') ?? '', /\[auditrail\] HIGH anomaly: denial_spike on agent/);
    assert.equal(header('X-Auditrail-Anomaly'), 'an-4');
    assert.match(mail, /Score: +7\.25 \(threshold 3\)/);
    assert.match(mail, /Run timeline: https:\/\/audit\.example\.com\/runs\/run-42/);
    await trail.close();
  });

  it('refuses bad configs naming the field, never echoing a secret', () => {
    assert.throws(
      () => parseAlertConfig('alerts:\n  - name: x\n    channel: sms\n'),
      /alerts\[0\]\.channel must be one of/,
    );
    assert.throws(
      () => parseAlertConfig('alerts:\n  - name: x\n    channel: pagerduty\n    routing_key: ${K}\n', {}),
      /routing_key names environment variable K, which is not set/,
    );
    assert.throws(
      () =>
        parseAlertConfig('alerts:\n  - name: x\n    channel: pagerduty\n    routing_key: short-secret-key\n'),
      (e: unknown) => /routing_key must be 32/.test(String(e)) && !String(e).includes('short-secret-key'),
    );
    assert.throws(
      () =>
        parseAlertConfig(
          'alerts:\n  - name: x\n    channel: email\n    smtp: { host: h, port: 25 }\n    from: a@b\n    to: "x@y\\r\\nBcc: z@w"\n',
        ),
      /to\[0\] must be one e-mail address/,
    );
  });
});
