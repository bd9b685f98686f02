// The OTLP sink writes its JSON itself: held here to the bytes the OpenTelemetry SDK writes for
// the same records (a LoggerProvider's log records through the OTLP exporter's JsonLogsSerializer,
// which is how the sink encoded them before), over events that take every branch of the encoding.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ROOT_CONTEXT, TraceFlags, trace } from '@opentelemetry/api';
import { JsonLogsSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { LoggerProvider, type SdkLogRecord } from '@opentelemetry/sdk-logs';
import type { RecordedEvent } from '../../event/types.js';
import type { ExportRecord } from '../sink.js';
import { otlpAttributes, otlpLogsJson } from './otlp-sink.js';

// The expected mapping, written here from the OTel SeverityNumber table rather than imported, so a
// wrong table in the sink fails this test.
const SEVERITY = {
  low: [5, 'DEBUG'],
  medium: [9, 'INFO'],
  high: [13, 'WARN'],
  critical: [17, 'ERROR'],
} as const;

/** The SDK's encoding of the records: the reference. */
function sdkJson(batch: readonly ExportRecord[], serviceName: string): string {
  const emitted: SdkLogRecord[] = [];
  const provider = new LoggerProvider({
    resource: resourceFromAttributes({ 'service.name': serviceName }),
    processors: [
      {
        onEmit: (r) => void emitted.push(r),
        forceFlush: () => Promise.resolve(),
        shutdown: () => Promise.resolve(),
      },
    ],
  });
  const logger = provider.getLogger('auditrail');
  for (const r of batch) {
    const e = r.event;
    const [severityNumber, severityText] = e.risk_level ? SEVERITY[e.risk_level] : SEVERITY.medium;
    const traceId = e.trace_id?.toLowerCase();
    const spanId = e.span_id?.toLowerCase();
    const valid =
      traceId !== undefined &&
      spanId !== undefined &&
      /^[0-9a-f]{32}$/.test(traceId) &&
      /^[0-9a-f]{16}$/.test(spanId) &&
      !/^0+$/.test(traceId) &&
      !/^0+$/.test(spanId);
    const t = Date.parse(e.time ?? e.ts);
    logger.emit({
      ...(valid
        ? {
            context: trace.setSpanContext(ROOT_CONTEXT, {
              traceId,
              spanId,
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
      body: r.json,
      attributes: otlpAttributes(e),
    });
  }
  return Buffer.from(JsonLogsSerializer.serializeRequest(emitted)!).toString('utf8');
}

function event(seq: number, extra: Partial<RecordedEvent>): ExportRecord {
  const e: RecordedEvent = {
    seq,
    ts: '2026-12-05T10:00:00.500Z',
    leaf_hash: 'ab'.repeat(32),
    log: 'auditrail.local/t/acme/default',
    event_id: `e-${seq}`,
    type: 'action.intent',
    ...extra,
  } as RecordedEvent;
  return { event: e, json: JSON.stringify(e), record: e as unknown as Record<string, unknown> };
}

const EVENTS: ExportRecord[] = [
  event(0, { actor: { type: 'agent', id: 'bot-1', name: 'Bot "one"' }, action: { type: 'db:read' } }),
  event(1, {
    risk_level: 'low',
    tenant: 'acme',
    time: '2026-12-05T09:59:59.001Z',
    trace_id: '0AF7651916CD43DD8448EB211C80319C',
    span_id: 'B7AD6B7169203331',
    session_id: 'sess-1',
    actor: { type: 'agent', id: 'bot-2' },
    action: { type: 'email:send', target: 'to/ü' },
    model: { provider: 'openai', name: 'gpt-x', input_tokens: 120, output_tokens: 7 },
  }),
  event(2, { risk_level: 'high', trace_id: '0af7651916cd43dd8448eb211c80319c', span_id: 'short' }),
  event(3, { risk_level: 'critical', trace_id: '0'.repeat(32), span_id: 'b7ad6b7169203331' }),
  event(4, {
    risk_level: 'medium',
    type: 'policy.decision',
    actor: { type: 'user', id: 'alice@acme', name: 'Alice\n"A" 😀' },
    policy: { decision: 'deny', matched_rule: 'no-prod', policy_id: 'p', reason: 'x' },
  }),
  event(5, {
    type: 'action.failed',
    time: 'not a time',
    outcome: { status: 'failure', error_message: 'boom' },
    context: { conversation_id: 'conv-9' },
    model: { provider: 'anthropic', name: 'm', input_tokens: 1.5 },
  }),
  event(6, {
    actor: { type: 'service', id: 'svc', on_behalf_of: 'bob' },
    session_id: 'lone \ud800 surrogate',
  }),
];

describe('otlp sink encoding', () => {
  it('writes the bytes of the OpenTelemetry SDK serializer for every kind of event', () => {
    assert.equal(otlpLogsJson(EVENTS, 'auditrail'), sdkJson(EVENTS, 'auditrail'));
    assert.equal(otlpLogsJson(EVENTS.slice(1, 2), 'svc "x"'), sdkJson(EVENTS.slice(1, 2), 'svc "x"'));
    for (const r of EVENTS) assert.equal(otlpLogsJson([r], 'auditrail'), sdkJson([r], 'auditrail'));
  });

  it('gives an event time before 1970 as the recorded time (OTLP times are unsigned)', () => {
    const json = otlpLogsJson([event(7, { time: '1960-01-01T00:00:00Z' })], 'auditrail');
    const r = (
      JSON.parse(json) as {
        resourceLogs: {
          scopeLogs: { logRecords: { timeUnixNano: string; observedTimeUnixNano: string }[] }[];
        }[];
      }
    ).resourceLogs[0]!.scopeLogs[0]!.logRecords[0]!;
    assert.equal(r.timeUnixNano, `${Date.parse('2026-12-05T10:00:00.500Z')}000000`);
    assert.equal(r.observedTimeUnixNano, r.timeUnixNano);
  });

  it('writes an empty request for an empty batch, as the SDK does', () => {
    assert.equal(otlpLogsJson([], 'auditrail'), sdkJson([], 'auditrail'));
  });
});
