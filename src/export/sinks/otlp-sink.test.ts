import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { ROOT_CONTEXT, TraceFlags, trace } from '@opentelemetry/api';
import { JsonLogsSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { LoggerProvider, type SdkLogRecord } from '@opentelemetry/sdk-logs';
import type { RecordedEvent } from '../../event/types.js';
import type { ExportRecord } from '../sink.js';
import { otlpAttributes, otlpSink } from './otlp-sink.js';

const bodies: Buffer[] = [];
const server = createServer((req, res) => {
  const parts: Buffer[] = [];
  req.on('data', (c: Buffer) => parts.push(c));
  req.on('end', () => {
    bodies.push(Buffer.concat(parts));
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/logs`;
after(() => server.close());

const SEVERITY = {
  low: [5, 'DEBUG'],
  medium: [9, 'INFO'],
  high: [13, 'WARN'],
  critical: [17, 'ERROR'],
} as const;

/** The request the OpenTelemetry JS SDK and its OTLP/JSON serializer make of the same batch. */
function sdkRequest(batch: ExportRecord[], serviceName: string): string {
  const emitted: SdkLogRecord[] = [];
  const provider = new LoggerProvider({
    resource: resourceFromAttributes({ 'service.name': serviceName }),
    processors: [
      { onEmit: (r) => void emitted.push(r), forceFlush: async () => {}, shutdown: async () => {} },
    ],
  });
  const logger = provider.getLogger('auditrail');
  for (const { event: e, json } of batch) {
    const [severityNumber, severityText] = SEVERITY[e.risk_level ?? 'medium'];
    const ok =
      /^[0-9a-f]{32}$/.test(e.trace_id?.toLowerCase() ?? '') &&
      /^[0-9a-f]{16}$/.test(e.span_id?.toLowerCase() ?? '');
    const t = Date.parse(e.time ?? e.ts);
    logger.emit({
      ...(ok
        ? {
            context: trace.setSpanContext(ROOT_CONTEXT, {
              traceId: e.trace_id!.toLowerCase(),
              spanId: e.span_id!.toLowerCase(),
              traceFlags: TraceFlags.SAMPLED,
              isRemote: true,
            }),
          }
        : {}),
      timestamp: Number.isFinite(t) ? t : Date.parse(e.ts),
      observedTimestamp: Date.parse(e.ts),
      severityNumber,
      severityText,
      eventName: e.type,
      body: json,
      attributes: otlpAttributes(e),
    });
  }
  return Buffer.from(JsonLogsSerializer.serializeRequest(emitted)!).toString('utf8');
}

function recorded(i: number, over: Partial<RecordedEvent> = {}): ExportRecord {
  const event: RecordedEvent = {
    seq: i,
    ts: '2026-12-05T10:00:00.123456Z',
    leaf_hash: 'ab'.repeat(32),
    log: 'auditrail.local/t/acme/default',
    event_id: `01JX00000000000000000000${String(i).padStart(2, '0')}`,
    type: 'action.succeeded',
    actor: { type: 'service', id: 'svc' },
    ...over,
  };
  return { event, record: {}, json: JSON.stringify({ seq: i, note: over.context?.reasoning ?? 'x' }) };
}

describe('OTLP/JSON encoding', () => {
  it('writes each batch byte for byte as the OpenTelemetry JS SDK and OTLP serializer do', async () => {
    const batch = [
      recorded(0),
      recorded(1, {
        risk_level: 'critical',
        time: '2026-12-05T09:59:59.001Z',
        trace_id: '4BF92F3577B34DA6A3CE929D0E0E4736',
        span_id: '00f067aa0ba902b7',
        actor: { type: 'agent', id: 'bot', name: 'Bot "β" \u2028' },
        action: { type: 'db.query', target: 'orders/1' },
        model: { provider: 'openai', name: 'gpt-5', input_tokens: 12, output_tokens: 3 },
        policy: { decision: 'deny', matched_rule: 'no-prod' },
        context: { reasoning: 'quotes " and \\ and 🙂 and a lone \ud800 surrogate', conversation_id: 'c' },
      }),
      recorded(2, { risk_level: 'low', trace_id: '0'.repeat(32), span_id: '00f067aa0ba902b7' }),
      recorded(3, {
        risk_level: 'high',
        trace_id: 'not-hex',
        actor: { type: 'user', id: 'u-1', name: 'Zoë' },
      }),
      recorded(4, {
        risk_level: 'medium',
        session_id: 's-1',
        tenant: 'acme',
        outcome: { status: 'failure' },
      }),
    ];
    for (const service of [undefined, 'billing "agent"']) {
      bodies.length = 0;
      const sink = otlpSink({ type: 'otlp', url, ...(service ? { service_name: service } : {}) });
      assert.deepEqual(await sink.send(batch), { kind: 'ok' });
      await sink.close();
      assert.equal(bodies.length, 1);
      assert.equal(bodies[0]!.toString('utf8'), sdkRequest(batch, service ?? 'auditrail'));
    }
  });
});
