import type { RecordedEvent } from '../../event/types.js';
import type { OtlpSinkConfig } from '../config.js';
import { encodingSink, post, type EncodingSink, type ExportRecord } from '../sink.js';

export const OTLP_DEFAULT_URL = 'http://127.0.0.1:4318/v1/logs';

// OTel SeverityNumber: DEBUG 5, INFO 9, WARN 13, ERROR 17.
const SEVERITY = {
  low: [5, 'DEBUG'],
  medium: [9, 'INFO'],
  high: [13, 'WARN'],
  critical: [17, 'ERROR'],
} as const;

/**
 * The attributes of one event's log record, in order, each given to `put`: OTel GenAI names
 * (`gen_ai.*`, the semantic conventions' "Development" names, copied here rather than imported
 * from an unstable entry), `trace_id`/`span_id` to join the agent's spans, and what
 * `auditrail prove` needs. Absent values are left out.
 */
function eachAttribute(e: RecordedEvent, put: (key: string, value: string | number) => void): void {
  const set = (k: string, v: string | number | undefined | null): void => {
    if (v !== undefined && v !== null) put(k, v);
  };
  put('event.name', e.type);
  put('auditrail.seq', e.seq);
  put('auditrail.event_id', e.event_id);
  put('auditrail.leaf_hash', e.leaf_hash);
  put('auditrail.log', e.log);
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
}

/** The attributes of one event's log record (see {@link eachAttribute}) as an object. */
export function otlpAttributes(e: RecordedEvent): Record<string, string | number> {
  const a: Record<string, string | number> = {};
  eachAttribute(e, (k, v) => (a[k] = v));
  return a;
}

/** The event's W3C trace and span ids, lowercase, when both are hex of the right size and not all zero. */
function spanIdsOf(e: RecordedEvent): { traceId: string; spanId: string } | undefined {
  const traceId = e.trace_id?.toLowerCase();
  const spanId = e.span_id?.toLowerCase();
  if (traceId === undefined || spanId === undefined) return undefined;
  if (!/^[0-9a-f]{32}$/.test(traceId) || !/^[0-9a-f]{16}$/.test(spanId)) return undefined;
  if (/^0+$/.test(traceId) || /^0+$/.test(spanId)) return undefined;
  return { traceId, spanId };
}

/** `{"key":<key>,"value":` for each attribute key (a fixed few), made once. */
const KEY_JSON = new Map<string, string>();
function keyJson(key: string): string {
  let json = KEY_JSON.get(key);
  if (json === undefined) KEY_JSON.set(key, (json = `{"key":${JSON.stringify(key)},"value":`));
  return json;
}

/** An OTLP AnyValue as JSON text (the attribute values of {@link eachAttribute}: strings, numbers). */
function anyValueJson(v: string | number): string {
  if (typeof v === 'string') return `{"stringValue":${JSON.stringify(v)}}`;
  return `{"${Number.isInteger(v) ? 'intValue' : 'doubleValue'}":${JSON.stringify(v)}}`;
}

/** Epoch milliseconds as OTLP/JSON unix nanoseconds (a decimal string); 0 for no time. */
function unixNanos(ms: number): string {
  if (!Number.isFinite(ms) || ms <= 0) return '0';
  return Number.isSafeInteger(ms) ? `${ms}000000` : (BigInt(Math.trunc(ms)) * 1_000_000n).toString();
}

/**
 * One event's OTLP log record as JSON text, with the fields in the order the SDK's JSON
 * serializer writes them. An event time before 1970 (OTLP times are unsigned) is given as the
 * recorded time; the SDK would stamp the export's own clock instead.
 */
function logRecordJson(r: ExportRecord): string {
  const e = r.event;
  const [severityNumber, severityText] = e.risk_level ? SEVERITY[e.risk_level] : SEVERITY.medium;
  const observed = Math.max(0, Date.parse(e.ts));
  const t = Date.parse(e.time ?? e.ts);
  let attributes = '';
  eachAttribute(e, (key, value) => {
    attributes += `${attributes === '' ? '' : ','}${keyJson(key)}${anyValueJson(value)}}`;
  });
  const ids = spanIdsOf(e);
  return (
    `{"timeUnixNano":"${unixNanos(Number.isFinite(t) && t >= 0 ? t : observed)}"` +
    `,"observedTimeUnixNano":"${unixNanos(observed)}"` +
    `,"severityNumber":${severityNumber},"severityText":"${severityText}"` +
    `,"body":{"stringValue":${JSON.stringify(r.json)}}` +
    (e.type === undefined ? '' : `,"eventName":${JSON.stringify(e.type)}`) +
    `,"attributes":[${attributes}],"droppedAttributesCount":0` +
    (ids ? `,"flags":1,"traceId":"${ids.traceId}","spanId":"${ids.spanId}"` : '') +
    '}'
  );
}

/** What an OTLP/JSON request of `serviceName` holds before its log records, and after them. */
function otlpFrame(serviceName: string): { open: string; close: string } {
  return {
    open:
      `{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":${JSON.stringify(serviceName)}}}],` +
      '"droppedAttributesCount":0},"scopeLogs":[{"scope":{"name":"auditrail"},"logRecords":[',
    close: ']}]}]}',
  };
}

/**
 * A batch as an OTLP/HTTP JSON `ExportLogsServiceRequest`: one resource (`service.name`), one
 * scope (`auditrail`), one log record per event. The same bytes the OpenTelemetry SDK's
 * `JsonLogsSerializer` writes for the same records (a test holds it to that), written as text
 * without the SDK's log record objects in between.
 */
export function otlpLogsJson(batch: readonly ExportRecord[], serviceName: string): string {
  if (batch.length === 0) return '{"resourceLogs":[]}';
  const { open, close } = otlpFrame(serviceName);
  return `${open}${batch.map(logRecordJson).join(',')}${close}`;
}

/**
 * OpenTelemetry logs over OTLP/HTTP (JSON encoding), one POST per batch: each event a log record
 * of resource `service.name`, scope `auditrail`, severity from risk (low DEBUG … critical ERROR),
 * body the record as JSON text, attributes from {@link otlpAttributes}, and the event's trace and
 * span ids as the record's own `traceId`/`spanId` too (see {@link otlpLogsJson}). Each log record
 * is written as the record is read (an {@link EncodingSink}). No exporter retry loop: the
 * pipeline retries, as for every sink.
 *
 * @example
 * const sink = otlpSink({ type: 'otlp', url: 'http://collector:4318/v1/logs' });
 */
export function otlpSink(config: OtlpSinkConfig): EncodingSink {
  const url = config.url ?? OTLP_DEFAULT_URL;
  const { open, close } = otlpFrame(config.service_name ?? 'auditrail');
  const headers = { ...config.headers, 'content-type': 'application/json' };
  return encodingSink({}, logRecordJson, (parts) =>
    parts.length === 0
      ? Promise.resolve({ kind: 'ok' })
      : post(url, headers, parts.pieces(open, ',', close), config.timeout_ms ?? 30_000),
  );
}
