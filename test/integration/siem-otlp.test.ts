// OpenTelemetry logs export against a real OTLP/HTTP receiver on 127.0.0.1 that enforces the
// OTLP/HTTP rules (POST /v1/logs, JSON content type, an ExportLogsServiceRequest body, decoded with
// the OpenTelemetry proto types of @opentelemetry/otlp-transformer) and a real SQLite log: every
// event once, in order, with gen_ai.* and trace_id/span_id attributes; 503 + Retry-After honoured
// by the pipeline (the exporter itself never retries); a 400 becomes a dead letter.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type {
  IAnyValue,
  IKeyValue,
} from '@opentelemetry/otlp-transformer/build/src/common/internal-types.js';
import type {
  IExportLogsServiceRequest,
  ILogRecord,
} from '@opentelemetry/otlp-transformer/build/src/logs/internal-types.js';
import { openAuditTrail, type AuditEvent, type AuditTrail } from '../../src/index.js';
import { exportStatus, openPipeline, parseExportConfig, type ExportConfig } from '../../src/export/index.js';
import { tempDir } from './helpers.js';

const CONTEXT = { hostname: 'test-host', productVersion: '0.0.0-test' };
const servers: Server[] = [];
after(() => {
  for (const s of servers) s.close();
});

interface Otlp {
  url: string;
  /** Statuses for the next requests, one each, before 200 applies. */
  plan: number[];
  requests: number;
  records: { resource: Record<string, unknown>; scope: string; record: ILogRecord }[];
  violations: string[];
}

function value(v: IAnyValue | undefined): unknown {
  if (!v) return undefined;
  if (v.stringValue !== undefined && v.stringValue !== null) return v.stringValue;
  if (v.intValue !== undefined && v.intValue !== null) return Number(v.intValue);
  if (v.doubleValue !== undefined && v.doubleValue !== null) return v.doubleValue;
  if (v.boolValue !== undefined && v.boolValue !== null) return v.boolValue;
  return v;
}

function attrs(list: IKeyValue[] | undefined): Record<string, unknown> {
  return Object.fromEntries((list ?? []).map((kv) => [kv.key, value(kv.value)]));
}

/** An OTLP/HTTP logs receiver: only POST /v1/logs with a JSON ExportLogsServiceRequest is taken. */
async function otlpReceiver(): Promise<Otlp> {
  const r: Otlp = { url: '', plan: [], requests: 0, records: [], violations: [] };
  const server = createServer((req: IncomingMessage, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      r.requests++;
      const refuse = (status: number, why: string): void => {
        r.violations.push(why);
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ message: why }));
      };
      if (req.method !== 'POST' || req.url !== '/v1/logs') return refuse(404, `${req.method} ${req.url}`);
      if (req.headers['content-type'] !== 'application/json')
        return refuse(415, `content-type ${req.headers['content-type']}`);
      const planned = r.plan.shift();
      if (planned !== undefined && planned !== 200) {
        res.writeHead(planned, { 'content-type': 'application/json', 'retry-after': '2' });
        return res.end('{"message":"busy"}');
      }
      let body: IExportLogsServiceRequest;
      try {
        body = JSON.parse(Buffer.concat(parts).toString('utf8')) as IExportLogsServiceRequest;
      } catch {
        return refuse(400, 'body is not JSON');
      }
      if (!Array.isArray(body.resourceLogs) || body.resourceLogs.length === 0)
        return refuse(400, 'no resourceLogs');
      for (const rl of body.resourceLogs)
        for (const sl of rl.scopeLogs)
          for (const record of sl.logRecords ?? []) {
            if (typeof record.timeUnixNano !== 'string' || !/^\d+$/.test(record.timeUnixNano))
              return refuse(400, 'timeUnixNano is not a decimal string');
            r.records.push({
              resource: attrs(rl.resource?.attributes),
              scope: sl.scope?.name ?? '',
              record,
            });
          }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"partialSuccess":{}}');
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  r.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/logs`;
  return r;
}

function event(i: number): AuditEvent {
  const risks = ['low', 'medium', 'high', 'critical'] as const;
  return {
    type: i % 2 === 0 ? 'policy.decision' : 'action.succeeded',
    actor: { type: 'agent', id: 'billing-bot', name: 'Billing bot' },
    action: { type: 'db.query', target: `orders/${i}` },
    risk_level: risks[i % 4]!,
    session_id: 'sess-1',
    trace_id: '4bf92f3577b34da6a3ce929d0e0e4736',
    span_id: '00f067aa0ba902b7',
    model: { provider: 'openai', name: 'gpt-5', input_tokens: 12, output_tokens: 3 },
    context: { conversation_id: 'conv-9' },
    ...(i % 2 === 0
      ? { policy: { decision: 'deny' as const, matched_rule: 'no-prod-writes', policy_id: 'p' } }
      : { outcome: { status: 'success' as const } }),
  };
}

async function freshTrail(n: number): Promise<AuditTrail> {
  const trail = await openAuditTrail({ tenant: 'acme', db: join(tempDir(), 'audit.db') });
  await trail.recordBatch(Array.from({ length: n }, (_, i) => event(i)));
  return trail;
}

function config(yaml: string): ExportConfig {
  return parseExportConfig(yaml)[0]!;
}

describe('OTLP/HTTP logs export', () => {
  it('delivers every event once, in order, with severity from risk, gen_ai.* and trace ids', async () => {
    const trail = await freshTrail(700);
    const rx = await otlpReceiver();
    const c = config(
      `exports:\n  - name: otel\n    sink: { type: otlp, url: "${rx.url}", service_name: billing-agent }\n    format: ecs\n    batch: { max_events: 250 }\n`,
    );
    const { pipeline, sink } = openPipeline(trail, c, { context: CONTEXT });
    const report = await pipeline.run();
    await sink.close();
    assert.deepEqual(rx.violations, []);
    assert.equal(report.delivered, 700);
    assert.equal(rx.requests, 3); // 250 + 250 + 200: one POST per batch
    assert.equal(rx.records.length, 700);
    const events = (await trail.query({ limit: 700 })).events;
    rx.records.forEach(({ resource, scope, record }, i) => {
      const e = events[i]!;
      assert.equal(resource['service.name'], 'billing-agent');
      assert.equal(scope, 'auditrail');
      const a = attrs(record.attributes);
      assert.equal(a['auditrail.seq'], i);
      assert.equal(a['auditrail.leaf_hash'], e.leaf_hash);
      assert.equal(a['auditrail.event_id'], e.event_id);
      assert.equal(a['trace_id'], '4bf92f3577b34da6a3ce929d0e0e4736');
      assert.equal(a['span_id'], '00f067aa0ba902b7');
      // …and the record's own trace context, which backends join logs to spans by.
      assert.equal(record.traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
      assert.equal(record.spanId, '00f067aa0ba902b7');
      assert.equal(a['gen_ai.operation.name'], 'execute_tool');
      assert.equal(a['gen_ai.tool.name'], 'db.query');
      assert.equal(a['gen_ai.agent.id'], 'billing-bot');
      assert.equal(a['gen_ai.agent.name'], 'Billing bot');
      assert.equal(a['gen_ai.conversation.id'], 'conv-9');
      assert.equal(a['gen_ai.provider.name'], 'openai');
      assert.equal(a['gen_ai.request.model'], 'gpt-5');
      assert.equal(a['gen_ai.usage.input_tokens'], 12);
      const [num, text] = {
        low: [5, 'DEBUG'],
        medium: [9, 'INFO'],
        high: [13, 'WARN'],
        critical: [17, 'ERROR'],
      }[e.risk_level!] as [number, string];
      assert.equal(record.severityNumber, num);
      assert.equal(record.severityText, text);
      assert.equal(record.eventName, e.type);
      assert.equal(BigInt(record.timeUnixNano as string), BigInt(Date.parse(e.time ?? e.ts)) * 1_000_000n);
      // The body is the record in the sink's format (here ECS), as JSON text.
      const body = JSON.parse(value(record.body) as string) as { event: { sequence: number; hash: string } };
      assert.equal(body.event.sequence, i);
      assert.equal(body.event.hash, e.leaf_hash);
    });
    await trail.close();
  });

  it('sends each batch once per attempt: the pipeline retries after Retry-After, the exporter never does', async () => {
    const trail = await freshTrail(20);
    const rx = await otlpReceiver();
    rx.plan = [503, 429];
    const waits: number[] = [];
    const c = config(`exports:\n  - name: otel\n    sink: { type: otlp, url: "${rx.url}" }\n`);
    const { pipeline, sink } = openPipeline(trail, c, {
      context: CONTEXT,
      sleep: (ms) => (waits.push(ms), Promise.resolve()),
    });
    const report = await pipeline.run();
    await sink.close();
    assert.equal(report.delivered, 20);
    assert.equal(rx.requests, 3);
    assert.deepEqual(waits, [2000, 2000]);
    assert.deepEqual(
      rx.records.map((r) => attrs(r.record.attributes)['auditrail.seq']),
      Array.from({ length: 20 }, (_, i) => i),
    );
    await trail.close();
  });

  it('keeps a batch the collector refuses for good as a dead letter, and goes on', async () => {
    const trail = await freshTrail(30);
    const rx = await otlpReceiver();
    rx.plan = [400];
    const c = config(
      `exports:\n  - name: otel\n    sink: { type: otlp, url: "${rx.url}" }\n    batch: { max_events: 10 }\n`,
    );
    const { pipeline, sink } = openPipeline(trail, c, { context: CONTEXT });
    const report = await pipeline.run();
    await sink.close();
    assert.equal(report.delivered, 20);
    assert.equal(report.dead_lettered, 10);
    const [status] = await exportStatus(trail, [c]);
    assert.equal(status!.dead_letters.length, 1);
    assert.equal(status!.dead_letters[0]!.from_seq, 0);
    assert.equal(status!.dead_letters[0]!.status, 400);
    assert.equal(status!.lag, 0);
    await trail.close();
  });
});
