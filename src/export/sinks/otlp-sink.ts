import type { AnyValue, AnyValueMap } from '@opentelemetry/api-logs';
import type { RecordedEvent } from '../../event/types.js';
import type { OtlpSinkConfig } from '../config.js';
import { post, Utf8Body, type ExportRecord, type SendResult, type Sink } from '../sink.js';

export const OTLP_DEFAULT_URL = 'http://127.0.0.1:4318/v1/logs';

// OTel SeverityNumber: DEBUG 5, INFO 9, WARN 13, ERROR 17.
const SEVERITY = {
  low: [5, 'DEBUG'],
  medium: [9, 'INFO'],
  high: [13, 'WARN'],
  critical: [17, 'ERROR'],
} as const;

/**
 * The attributes of one event's log record: OTel GenAI names (`gen_ai.*`, the semantic
 * conventions' "Development" names, copied here rather than imported from an unstable entry),
 * `trace_id`/`span_id` to join the agent's spans, and what `auditrail prove` needs.
 */
export function otlpAttributes(e: RecordedEvent): AnyValueMap {
  const a: AnyValueMap = {
    'event.name': e.type,
    'auditrail.seq': e.seq,
    'auditrail.event_id': e.event_id,
    'auditrail.leaf_hash': e.leaf_hash,
    'auditrail.log': e.log,
  };
  const set = (k: string, v: string | number | undefined | null): void => {
    if (v !== undefined && v !== null) a[k] = v;
  };
  set('auditrail.risk_level', e.risk_level);
  set('auditrail.tenant', e.tenant);
  set('auditrail.decision', e.policy?.decision);
  set('auditrail.rule', e.policy?.matched_rule);
  set('auditrail.outcome', e.outcome?.status);
  set('trace_id', e.trace_id);
  set('span_id', e.span_id);
  set('session.id', e.session_id);
  if (e.action) set('gen_ai.operation.name', 'execute_tool');
  set('gen_ai.tool.name', e.action?.type);
  set('gen_ai.conversation.id', e.context?.conversation_id ?? e.session_id);
  if (e.actor?.type === 'agent') {
    set('gen_ai.agent.id', e.actor.id);
    set('gen_ai.agent.name', e.actor.name);
  } else {
    set('user.id', e.actor?.id);
    set('user.name', e.actor?.name);
  }
  set('gen_ai.provider.name', e.model?.provider);
  set('gen_ai.request.model', e.model?.name);
  set('gen_ai.usage.input_tokens', e.model?.input_tokens);
  set('gen_ai.usage.output_tokens', e.model?.output_tokens);
  return a;
}

/** The event's W3C trace and span ids, when both are lowercase hex of the right size and not all zeros. */
function spanIdsOf(e: RecordedEvent): { traceId: string; spanId: string } | undefined {
  const traceId = e.trace_id?.toLowerCase();
  const spanId = e.span_id?.toLowerCase();
  if (traceId === undefined || spanId === undefined) return undefined;
  if (!/^[0-9a-f]{32}$/.test(traceId) || !/^[0-9a-f]{16}$/.test(spanId)) return undefined;
  if (/^0+$/.test(traceId) || /^0+$/.test(spanId)) return undefined;
  return { traceId, spanId };
}

/** OTLP/JSON AnyValue of an attribute (proto3 JSON mapping: int64 as a number here, as the SDK does). */
function anyValueJson(v: AnyValue): string {
  switch (typeof v) {
    case 'string':
      return `{"stringValue":${JSON.stringify(v)}}`;
    case 'number':
      return Number.isInteger(v) ? `{"intValue":${v}}` : `{"doubleValue":${JSON.stringify(v)}}`;
    case 'boolean':
      return `{"boolValue":${v}}`;
    default:
      // otlpAttributes makes strings and numbers only.
      return '{}';
  }
}

/** Epoch ms as OTLP's fixed64 nanoseconds, a decimal string in OTLP/JSON. */
function unixNano(ms: number): string {
  return ms === 0 ? '0' : `${ms}000000`;
}

/**
 * One event's OTLP/JSON LogRecord, in pieces around its body (the record's JSON, escaped once):
 * severity from risk (low DEBUG … critical ERROR), `eventName` the event type, attributes from
 * {@link otlpAttributes}, and the event's trace and span ids as the record's own `traceId`/`spanId`.
 * Fields in the order the OpenTelemetry JS exporter's JSON serializer writes them.
 */
function logRecordJson(r: ExportRecord): [start: string, body: string, end: string] {
  const e = r.event;
  const [severityNumber, severityText] = e.risk_level ? SEVERITY[e.risk_level] : SEVERITY.medium;
  const observed = Date.parse(e.ts);
  const t = Date.parse(e.time ?? e.ts);
  const start =
    `{"timeUnixNano":"${unixNano(Number.isFinite(t) ? t : observed)}"` +
    `,"observedTimeUnixNano":"${unixNano(observed)}"` +
    `,"severityNumber":${severityNumber},"severityText":"${severityText}","body":{"stringValue":`;
  let attributes = '';
  const a = otlpAttributes(e);
  for (const k in a) {
    const v = a[k];
    if (v === undefined) continue;
    attributes += `${attributes === '' ? '' : ','}{"key":${JSON.stringify(k)},"value":${anyValueJson(v)}}`;
  }
  const ids = spanIdsOf(e);
  const end =
    `},"eventName":${JSON.stringify(e.type)},"attributes":[${attributes}],"droppedAttributesCount":0` +
    (ids ? `,"flags":1,"traceId":"${ids.traceId}","spanId":"${ids.spanId}"}` : '}');
  return [start, JSON.stringify(r.json), end];
}

/**
 * OpenTelemetry logs over OTLP/HTTP (JSON encoding): each batch is one `POST` of an
 * `ExportLogsServiceRequest` (resource `service.name`, scope `auditrail`) with one log record per
 * event: severity from risk (low DEBUG … critical ERROR), body the record as JSON text,
 * attributes from {@link otlpAttributes}, and the event's trace and span ids as the record's own
 * `traceId`/`spanId` too. The request is written directly as the OpenTelemetry JS SDK
 * (`@opentelemetry/sdk-logs`) and its OTLP exporter's serializer would write it, byte for byte (a
 * test holds the two together), without their per-record object layers. The pipeline retries, as
 * for every sink.
 *
 * @example
 * const sink = otlpSink({ type: 'otlp', url: 'http://collector:4318/v1/logs' });
 */
export function otlpSink(config: OtlpSinkConfig): Sink {
  const head =
    '{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":' +
    `${JSON.stringify(config.service_name ?? 'auditrail')}}}],"droppedAttributesCount":0},` +
    '"scopeLogs":[{"scope":{"name":"auditrail"},"logRecords":[';
  const tail = ']}]}]}';
  const url = config.url ?? OTLP_DEFAULT_URL;
  const headers = { ...config.headers, 'content-type': 'application/json' };
  return {
    limits: {},
    send(batch: readonly ExportRecord[]): Promise<SendResult> {
      const body = new Utf8Body();
      body.push(head);
      batch.forEach((r, i) => {
        const [start, text, end] = logRecordJson(r);
        if (i > 0) body.push(',', 1);
        body.push(start);
        body.push(text);
        body.push(end);
      });
      body.push(tail);
      return post(url, headers, body.toBuffer(), config.timeout_ms ?? 30_000);
    },
    close: () => Promise.resolve(),
  };
}
