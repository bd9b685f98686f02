// SIEM export against real receivers on 127.0.0.1: HTTP servers that enforce each vendor's
// documented request rules (Splunk HEC framing and token, Datadog intake v2 limits and gzip, the
// webhook's HMAC signature) and a real SQLite file. Delivery in order, a receiver down then up,
// 503 with Retry-After, a permanent 400 to the dead letters and back by replay, restart from the
// cursor; the OCSF and ECS records checked against JSON Schemas of the targets.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { Ajv2020 } from 'ajv/dist/2020.js';
import * as addFormatsModule from 'ajv-formats';
import { openAuditTrail, type AuditEvent, type AuditTrail } from '../../src/index.js';
import {
  exportStatus,
  openPipeline,
  parseExportConfig,
  webhookSignature,
  type ExportConfig,
} from '../../src/export/index.js';
import { tempDir } from './helpers.js';

type AddFormats = (ajv: Ajv2020, formats: string[]) => Ajv2020;
const addFormats = (addFormatsModule as unknown as { default: AddFormats }).default;
// strictRequired off: OCSF's "at least one of" rules are anyOf over required names.
const ajv = new Ajv2020({ allErrors: true, strict: true, strictRequired: false });
addFormats(ajv, ['date-time']);
const schema = (name: string): object =>
  JSON.parse(readFileSync(new URL(`../fixtures/siem/${name}`, import.meta.url), 'utf8')) as object;
const validOcsf = ajv.compile(schema('ocsf-api-activity.schema.json'));
const validEcs = ajv.compile(schema('ecs.schema.json'));

const CONTEXT = { hostname: 'test-host', productVersion: '0.0.0-test' };
const servers: Server[] = [];
after(() => {
  for (const s of servers) s.close();
});

/** What a receiver does with the next request. */
type Mode = 'ok' | 'drop' | '503' | '400';

interface Receiver {
  url: string;
  mode: Mode;
  /** Modes for the next requests, one each, before `mode` applies again. */
  plan: Mode[];
  /** Events accepted, in arrival order. */
  received: Record<string, unknown>[];
  requests: number;
  /** Refusals the receiver itself made because a request broke the vendor's rules. */
  violations: string[];
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => resolve(Buffer.concat(parts)));
    req.on('error', reject);
  });
}

/** An HTTP receiver on 127.0.0.1 (port 0); `check` parses one request into events or refuses it. */
async function receiver(
  check: (
    req: IncomingMessage,
    body: Buffer,
  ) => { status: number; text: string; events?: Record<string, unknown>[] },
): Promise<Receiver> {
  const r: Receiver = { url: '', mode: 'ok', plan: [], received: [], requests: 0, violations: [] };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    void readBody(req).then((body) => {
      r.requests++;
      const mode = r.plan.shift() ?? r.mode;
      if (mode === 'drop') return req.socket.destroy();
      if (mode === '503') {
        res.writeHead(503, { 'retry-after': '1', 'content-type': 'application/json' });
        return res.end('{"text":"Server is busy","code":9}');
      }
      if (mode === '400') {
        res.writeHead(400, { 'content-type': 'application/json' });
        return res.end('{"text":"Invalid data format","code":6}');
      }
      const out = check(req, body);
      if (out.status >= 400) r.violations.push(out.text);
      if (out.events) r.received.push(...out.events);
      res.writeHead(out.status, { 'content-type': 'application/json' });
      res.end(out.text);
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  r.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return r;
}

const HEC_TOKEN = '6b2f1c9e-hec-token-0001';

/** Splunk HEC: /services/collector/event, `Authorization: Splunk <token>`, concatenated objects each with `event`. */
function splunkReceiver(): Promise<Receiver> {
  return receiver((req, body) => {
    if (req.method !== 'POST' || req.url !== '/services/collector/event')
      return { status: 404, text: '{"text":"The requested URL was not found on this server.","code":404}' };
    if (req.headers['authorization'] !== `Splunk ${HEC_TOKEN}`)
      return { status: 401, text: '{"text":"Invalid token","code":4}' };
    const events: Record<string, unknown>[] = [];
    const text = body.toString('utf8');
    if (text.trimStart().startsWith('['))
      return { status: 400, text: '{"text":"Invalid data format","code":6}' };
    // Concatenated JSON objects: read one after the other.
    let i = 0;
    while (i < text.length) {
      while (i < text.length && /\s/.test(text[i]!)) i++;
      if (i >= text.length) break;
      let depth = 0;
      let inStr = false;
      let j = i;
      for (; j < text.length; j++) {
        const c = text[j]!;
        if (inStr) {
          if (c === '\\') j++;
          else if (c === '"') inStr = false;
        } else if (c === '"') inStr = true;
        else if (c === '{') depth++;
        else if (c === '}' && --depth === 0) break;
      }
      const obj = JSON.parse(text.slice(i, j + 1)) as Record<string, unknown>;
      if (obj['event'] === undefined)
        return { status: 400, text: '{"text":"Event field is required","code":12}' };
      if (typeof obj['time'] !== 'number')
        return { status: 400, text: '{"text":"Invalid data format","code":6}' };
      events.push(obj);
      i = j + 1;
    }
    if (events.length === 0) return { status: 400, text: '{"text":"No data","code":5}' };
    return { status: 200, text: '{"text":"Success","code":0}', events };
  });
}

const DD_KEY = 'dd-api-key-0123456789abcdef';

/** Datadog Logs intake v2: DD-API-KEY, gzip, a JSON array of ≤ 1,000 entries, ≤ 5 MB, ≤ 1 MB each. */
function datadogReceiver(): Promise<Receiver> {
  return receiver((req, body) => {
    if (req.url !== '/api/v2/logs') return { status: 404, text: '{}' };
    if (req.headers['dd-api-key'] !== DD_KEY) return { status: 403, text: '{"errors":["Forbidden"]}' };
    if (req.headers['content-encoding'] !== 'gzip')
      return { status: 400, text: '{"errors":["expected gzip"]}' };
    const raw = gunzipSync(body);
    if (raw.length > 5_000_000) return { status: 413, text: '{"errors":["Payload too large"]}' };
    const items = JSON.parse(raw.toString('utf8')) as Record<string, unknown>[];
    if (!Array.isArray(items) || items.length > 1000)
      return { status: 400, text: '{"errors":["too many entries"]}' };
    for (const it of items) {
      if (typeof it['message'] !== 'string') return { status: 400, text: '{"errors":["message required"]}' };
      if (Buffer.byteLength(JSON.stringify(it)) > 1_000_000)
        return { status: 400, text: '{"errors":["entry too large"]}' };
    }
    return { status: 202, text: '{}', events: items };
  });
}

const HOOK_SECRET = 'whsec-test-0123456789';

/** The webhook receiver checks the signature and that the timestamp is within 5 minutes. */
function webhookReceiver(): Promise<Receiver> {
  return receiver((req, body) => {
    const ts = String(req.headers['x-auditrail-timestamp'] ?? '');
    const sig = String(req.headers['x-auditrail-signature'] ?? '');
    if (Math.abs(Date.now() / 1000 - Number(ts)) > 300) return { status: 401, text: 'stale timestamp' };
    if (sig !== webhookSignature(HOOK_SECRET, ts, body.toString('utf8')))
      return { status: 401, text: 'bad signature' };
    return {
      status: 200,
      text: 'ok',
      events: JSON.parse(body.toString('utf8')) as Record<string, unknown>[],
    };
  });
}

function event(i: number): AuditEvent {
  const risks = ['low', 'medium', 'high', 'critical'] as const;
  const base: AuditEvent = {
    type: i % 2 === 0 ? 'policy.decision' : 'action.succeeded',
    actor: i % 5 === 0 ? { type: 'user', id: `u-${i}`, name: 'alice' } : { type: 'agent', id: 'billing-bot' },
    action: { type: 'write:refund', target: `order/${i}`, params: { amount: i } },
    risk_level: risks[i % 4]!,
    session_id: 'sess-1',
    trace_id: '4bf92f3577b34da6a3ce929d0e0e4736',
  };
  if (i % 2 === 0)
    base.policy = {
      decision: i % 4 === 0 ? 'deny' : 'allow',
      matched_rule: 'refund-limit',
      policy_id: 'billing',
      reason: 'limit',
    };
  else base.outcome = { status: i % 3 === 0 ? 'failure' : 'success', duration_ms: 5 };
  return base;
}

async function freshTrail(dir: string, n: number): Promise<AuditTrail> {
  const trail = await openAuditTrail({ tenant: 'acme', db: join(dir, 'audit.db') });
  await trail.recordBatch(Array.from({ length: n }, (_, i) => event(i)));
  return trail;
}

function config(yaml: string, env: NodeJS.ProcessEnv = {}): ExportConfig {
  const [c] = parseExportConfig(yaml, env);
  return c!;
}

/** Sleeps recorded, not waited (backoff and Retry-After are asserted from them). */
function fakeSleep(): { waits: number[]; sleep: (ms: number) => Promise<void> } {
  const waits: number[] = [];
  return {
    waits,
    sleep: (ms) => {
      waits.push(ms);
      return new Promise((r) => setTimeout(r, 5));
    },
  };
}

/** Seqs the receiver got, from the record each format carries. */
function seqsOf(received: Record<string, unknown>[], pick: (r: Record<string, unknown>) => number): number[] {
  return received.map(pick);
}

describe('SIEM export to real receivers', () => {
  it('delivers every event to Splunk HEC in order, as OCSF records that pass the OCSF schema', async () => {
    const dir = tempDir();
    const trail = await freshTrail(dir, 1200);
    const hec = await splunkReceiver();
    const c = config(
      `exports:\n  - name: splunk\n    sink: { type: splunk, url: "${hec.url}", token: "\${HEC}", index: ai_audit, sourcetype: "ocsf:6003" }\n    format: ocsf\n    batch: { max_events: 250 }\n`,
      { HEC: HEC_TOKEN },
    );
    const { pipeline, sink } = openPipeline(trail, c, { context: CONTEXT });
    const report = await pipeline.run();
    await sink.close();
    assert.deepEqual(hec.violations, []);
    assert.equal(report.delivered, 1200);
    assert.equal(report.batches, 5);
    assert.equal(hec.requests, 5);
    const seqs = seqsOf(
      hec.received,
      (r) => (r['event'] as { metadata: { sequence: number } }).metadata.sequence,
    );
    assert.deepEqual(
      seqs,
      Array.from({ length: 1200 }, (_, i) => i),
    );
    for (const r of hec.received) {
      assert.equal(r['index'], 'ai_audit');
      assert.equal(r['sourcetype'], 'ocsf:6003');
      const ok = validOcsf(r['event']);
      assert.ok(ok, JSON.stringify(validOcsf.errors));
    }
    const denied = hec.received.find(
      (r) => (r['event'] as { unmapped: { auditrail: { seq: number } } }).unmapped.auditrail.seq === 0,
    )!['event'] as Record<string, unknown>;
    assert.equal(denied['action_id'], 2);
    assert.equal(denied['disposition_id'], 2);
    assert.equal(denied['status_id'], 2);
    assert.equal(denied['severity_id'], 2);
    // Each record names seq and leaf hash, so `auditrail prove` runs from it.
    const native = (denied['unmapped'] as { auditrail: { leaf_hash: string } }).auditrail;
    assert.match(native.leaf_hash, /^[0-9a-f]{64}$/);
    assert.equal((await exportStatus(trail, [c]))[0]!.lag, 0);
    await trail.close();
  });

  it('sends Datadog at most 1,000 gzipped entries a request, with its key', async () => {
    const dir = tempDir();
    const trail = await freshTrail(dir, 2500);
    const dd = await datadogReceiver();
    const c = config(
      `exports:\n  - name: dd\n    sink: { type: datadog, url: "${dd.url}/api/v2/logs", api_key: "\${DD}", service: billing, ddtags: "env:test" }\n    format: ecs\n    batch: { max_events: 5000, max_bytes: 50000000 }\n`,
      { DD: DD_KEY },
    );
    const { pipeline } = openPipeline(trail, c, { context: CONTEXT });
    const report = await pipeline.run();
    assert.deepEqual(dd.violations, []);
    assert.equal(report.delivered, 2500);
    assert.equal(dd.requests, 3, 'batches capped at Datadog’s 1,000 entries');
    const records = dd.received.map((it) => JSON.parse(it['message'] as string) as Record<string, unknown>);
    assert.deepEqual(
      records.map((r) => (r['event'] as { sequence: number }).sequence),
      Array.from({ length: 2500 }, (_, i) => i),
    );
    for (const r of records) assert.ok(validEcs(r), JSON.stringify(validEcs.errors));
    assert.equal(dd.received[0]!['service'], 'billing');
    assert.match(dd.received[0]!['ddtags'] as string, /^env:test,seq:0,type:policy\.decision$/);
    const deny = records[0]!;
    assert.deepEqual((deny['event'] as { type: string[] }).type, ['denied']);
    assert.equal((deny['event'] as { outcome: string }).outcome, 'failure');
    assert.equal((deny['log'] as { level: string }).level, 'debug');
    assert.equal((deny['rule'] as { id: string }).id, 'refund-limit');
    await trail.close();
  });

  it('signs webhook bodies; a receiver with another secret refuses them and they go to the dead letters', async () => {
    const dir = tempDir();
    const trail = await freshTrail(dir, 40);
    const hook = await webhookReceiver();
    const good = config(
      `exports:\n  - name: hook\n    sink: { type: webhook, url: "${hook.url}/in", secret: "\${S}" }\n    format: native\n    filter: { types: ["policy.*"], risk: medium }\n`,
      { S: HOOK_SECRET },
    );
    const r1 = await openPipeline(trail, good, { context: CONTEXT }).pipeline.run();
    // Even seqs are policy.decision; risk ≥ medium drops i % 4 === 0.
    const expected = Array.from({ length: 40 }, (_, i) => i).filter((i) => i % 2 === 0 && i % 4 !== 0);
    assert.deepEqual(
      hook.received.map((r) => r['seq']),
      expected,
    );
    assert.equal(r1.delivered, expected.length);
    const forged = config(
      `exports:\n  - name: hook2\n    sink: { type: webhook, url: "${hook.url}/in", secret: wrong-secret }\n`,
    );
    const r2 = await openPipeline(trail, forged, { context: CONTEXT }).pipeline.run();
    assert.equal(r2.delivered, 0);
    assert.equal(r2.dead_lettered, 40);
    const status = await exportStatus(trail, [good, forged]);
    const dead = status.find((s) => s.name === 'hook2')!.dead_letters;
    assert.equal(dead.length, 1);
    assert.equal(dead[0]!.status, 401);
    assert.doesNotMatch(JSON.stringify(status), /wrong-secret/);
    await trail.close();
  });

  it('keeps everything while the receiver is down, then delivers all of it in order', async () => {
    const dir = tempDir();
    const trail = await freshTrail(dir, 300);
    const hec = await splunkReceiver();
    hec.mode = 'drop';
    const c = config(
      `exports:\n  - name: s\n    sink: { type: splunk, url: "${hec.url}", token: ${HEC_TOKEN} }\n    batch: { max_events: 100, max_wait_ms: 10 }\n    retry: { initial_ms: 1, max_ms: 20 }\n`,
    );
    const stop = new AbortController();
    const lines: string[] = [];
    const { pipeline } = openPipeline(trail, c, { context: CONTEXT, log: (l) => lines.push(l) });
    const running = pipeline.run({ follow: true, signal: stop.signal });
    while (hec.requests < 5) await new Promise((r) => setTimeout(r, 10));
    assert.equal(hec.received.length, 0);
    // Events recorded while the receiver is down are not slowed and not lost.
    await trail.recordBatch(Array.from({ length: 50 }, (_, i) => event(300 + i)));
    hec.mode = 'ok';
    while (hec.received.length < 350) await new Promise((r) => setTimeout(r, 10));
    stop.abort();
    const report = await running;
    assert.equal(report.cursor, 350);
    const seqs = hec.received.map((r) => (r['event'] as { seq: number }).seq);
    assert.deepEqual(
      seqs,
      Array.from({ length: 350 }, (_, i) => i),
    );
    assert.ok(lines.some((l) => l.includes('not delivered')));
    assert.ok(
      lines.every((l) => !l.includes(HEC_TOKEN)),
      'the token never appears in a log line',
    );
    await trail.close();
  });

  it('honours Retry-After on 503, then delivers', async () => {
    const dir = tempDir();
    const trail = await freshTrail(dir, 10);
    const hec = await splunkReceiver();
    hec.mode = '503';
    const c = config(
      `exports:\n  - name: s\n    sink: { type: splunk, url: "${hec.url}", token: ${HEC_TOKEN} }\n    retry: { initial_ms: 50, max_attempts: 5 }\n`,
    );
    const fake = fakeSleep();
    const { pipeline } = openPipeline(trail, c, {
      context: CONTEXT,
      sleep: async (ms) => {
        await fake.sleep(ms);
        if (fake.waits.length === 2) hec.mode = 'ok';
      },
    });
    const report = await pipeline.run();
    assert.deepEqual(fake.waits, [1000, 1000]);
    assert.equal(report.delivered, 10);
    await trail.close();
  });

  it('backs off exponentially with jitter and stops after max_attempts without moving the cursor', async () => {
    const dir = tempDir();
    const trail = await freshTrail(dir, 10);
    const hec = await splunkReceiver();
    hec.mode = 'drop';
    const c = config(
      `exports:\n  - name: s\n    sink: { type: splunk, url: "${hec.url}", token: ${HEC_TOKEN} }\n    retry: { initial_ms: 100, max_ms: 400, max_attempts: 5 }\n`,
    );
    const fake = fakeSleep();
    const { pipeline } = openPipeline(trail, c, { context: CONTEXT, sleep: fake.sleep, random: () => 0.5 });
    await assert.rejects(pipeline.run(), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'timeout');
      assert.match(e.message, /cursor stays at seq 0/);
      assert.doesNotMatch(e.message, new RegExp(HEC_TOKEN));
      return true;
    });
    // backoff = min(400, 100·2^(n-1)); wait = backoff/2 + 0.5·backoff/2.
    assert.deepEqual(fake.waits, [75, 150, 300, 300]);
    assert.equal((await exportStatus(trail, [c]))[0]!.cursor, 0);
    await trail.close();
  });

  it('dead-letters a batch refused with 400, goes on, and replays it once the receiver accepts', async () => {
    const dir = tempDir();
    const trail = await freshTrail(dir, 30);
    const hec = await splunkReceiver();
    const c = config(
      `exports:\n  - name: s\n    sink: { type: splunk, url: "${hec.url}", token: ${HEC_TOKEN} }\n    batch: { max_events: 10 }\n`,
    );
    const { pipeline } = openPipeline(trail, c, {
      context: CONTEXT,
      sleep: () => Promise.resolve(),
    });
    // The second batch is refused for good.
    hec.plan = ['ok', '400'];
    const first = await pipeline.run();
    assert.deepEqual([first.delivered, first.dead_lettered], [20, 10]);
    const real = hec.received;
    const status = (await exportStatus(trail, [c]))[0]!;
    assert.equal(status.cursor, 30);
    assert.equal(status.dead_letters.length, 1);
    const letter = status.dead_letters[0]!;
    assert.deepEqual([letter.from_seq, letter.to_seq, letter.status], [10, 19, 400]);
    assert.match(letter.response, /Invalid data format/);
    const missing = Array.from({ length: 10 }, (_, i) => letter.from_seq + i);
    const got = real.map((r) => (r['event'] as { seq: number }).seq);
    for (const m of missing) assert.ok(!got.includes(m));
    const replay = await pipeline.replay();
    assert.deepEqual(replay, { replayed: 1, events: 10, still_dead: 0 });
    const all = hec.received.map((r) => (r['event'] as { seq: number }).seq).sort((a, b) => a - b);
    assert.deepEqual(
      all,
      Array.from({ length: 30 }, (_, i) => i),
    );
    assert.equal((await exportStatus(trail, [c]))[0]!.dead_letters.length, 0);
    await trail.close();
  });

  it('resumes from the stored cursor after a restart', async () => {
    const dir = tempDir();
    let trail = await freshTrail(dir, 20);
    const hook = await webhookReceiver();
    const c = config(
      `exports:\n  - name: h\n    sink: { type: webhook, url: "${hook.url}", secret: ${HOOK_SECRET} }\n`,
    );
    await openPipeline(trail, c, { context: CONTEXT }).pipeline.run();
    await trail.close();
    trail = await openAuditTrail({ tenant: 'acme', db: join(dir, 'audit.db') });
    await trail.recordBatch(Array.from({ length: 5 }, (_, i) => event(20 + i)));
    const r = await openPipeline(trail, c, { context: CONTEXT }).pipeline.run();
    assert.equal(r.delivered, 5);
    assert.deepEqual(
      hook.received.map((e) => e['seq']),
      Array.from({ length: 25 }, (_, i) => i),
    );
    await trail.close();
  });

  it('writes JSON Lines and rotates the file by size', async () => {
    const dir = tempDir();
    const trail = await freshTrail(dir, 100);
    const path = join(dir, 'out', 'audit.jsonl');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(join(dir, 'out'));
    const c = config(
      `exports:\n  - name: f\n    sink: { type: file, path: "${path}", max_bytes: 20000 }\n    batch: { max_events: 10 }\n`,
    );
    const { pipeline, sink } = openPipeline(trail, c, { context: CONTEXT });
    await pipeline.run();
    await sink.close();
    const files = readdirSync(join(dir, 'out')).sort();
    assert.ok(files.length > 1, `rotated: ${files.join(', ')}`);
    const lines = files
      .flatMap((f) =>
        readFileSync(join(dir, 'out', f), 'utf8')
          .trim()
          .split('\n'),
      )
      .map((l) => JSON.parse(l) as { seq: number; leaf_hash: string });
    assert.deepEqual(
      lines.map((l) => l.seq).sort((a, b) => a - b),
      Array.from({ length: 100 }, (_, i) => i),
    );
    for (const f of files) assert.ok(readFileSync(join(dir, 'out', f)).length <= 20000);
    await trail.close();
  });
});

describe('export config', () => {
  it('names the field at fault and never prints a secret', () => {
    const cases: [string, RegExp][] = [
      ['exports: 3', /exports must be a list/],
      ['exports:\n  - name: a\n    sink: { type: kafka }', /exports\[0\]\.sink\.type must be one of/],
      [
        'exports:\n  - name: a\n    sink: { type: splunk, url: "http://x" }',
        /exports\[0\]\.sink\.token is required/,
      ],
      [
        'exports:\n  - name: a\n    sink: { type: file, path: x }\n    format: cef',
        /exports\[0\]\.format must be one of/,
      ],
      [
        'exports:\n  - name: a\n    sink: { type: file, path: x }\n    filter: { risk: huge }',
        /exports\[0\]\.filter\.risk/,
      ],
      [
        'exports:\n  - name: a\n    sink: { type: file, path: x }\n    filter: { types: ["a[b"] }',
        /exports\[0\]\.filter\.types\[0\] is not a valid glob/,
      ],
      [
        'exports:\n  - name: a\n    sink: { type: file, path: x }\n    batch: { max_events: 0 }',
        /exports\[0\]\.batch\.max_events must be a positive integer/,
      ],
      [
        'exports:\n  - name: a\n    sink: { type: webhook, url: "http://u:p@h", secret: s }',
        /sink\.url must not carry credentials/,
      ],
      [
        'exports:\n  - name: a\n    sink: { type: datadog, api_key: "${NOPE}" }',
        /sink\.api_key names environment variable NOPE, which is not set/,
      ],
      [
        'exports:\n  - name: a\n    sink: { type: file, path: x }\n  - name: a\n    sink: { type: file, path: y }',
        /exports\[1\]\.name 'a' is used twice/,
      ],
      [
        'exports:\n  - name: a\n    sink: { type: file, path: x }\n    retries: {}',
        /exports\[0\]\.retries is not a known field/,
      ],
    ];
    for (const [yaml, re] of cases)
      assert.throws(
        () => parseExportConfig(yaml, {}),
        (e: Error & { code?: string }) => {
          assert.equal(e.code, 'invalid_argument', yaml);
          assert.match(e.message, re);
          return true;
        },
      );
    const [c] = parseExportConfig(
      'exports:\n  - name: a\n    sink: { type: splunk, url: "http://h:8088", token: "${T}" }',
      { T: 'tok-123' },
    );
    assert.deepEqual(c!.secrets, ['tok-123', 'tok-123']);
  });
});
