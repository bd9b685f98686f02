import { ROOT_CONTEXT, TraceFlags, trace, type Context } from '@opentelemetry/api';
import type { AnyValueMap } from '@opentelemetry/api-logs';
import { JsonLogsSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { LoggerProvider, type LogRecordProcessor, type SdkLogRecord } from '@opentelemetry/sdk-logs';
import type { RecordedEvent } from '../../event/types.js';
import type { OtlpSinkConfig } from '../config.js';
import { post, type ExportRecord, type SendResult, type Sink } from '../sink.js';

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

/**
 * The event's W3C trace and span ids as the log record's own `traceId`/`spanId` (what backends
 * join logs to traces by); none when either is missing or not lowercase hex of the right size.
 */
function spanContextOf(e: RecordedEvent): Context | undefined {
  const traceId = e.trace_id?.toLowerCase();
  const spanId = e.span_id?.toLowerCase();
  if (traceId === undefined || spanId === undefined) return undefined;
  if (!/^[0-9a-f]{32}$/.test(traceId) || !/^[0-9a-f]{16}$/.test(spanId)) return undefined;
  if (/^0+$/.test(traceId) || /^0+$/.test(spanId)) return undefined;
  return trace.setSpanContext(ROOT_CONTEXT, {
    traceId,
    spanId,
    traceFlags: TraceFlags.SAMPLED,
    isRemote: true,
  });
}

/**
 * OpenTelemetry logs over OTLP/HTTP (JSON encoding): each event becomes a log record of the
 * OpenTelemetry SDK (`@opentelemetry/sdk-logs`, resource `service.name`), encoded by the OTLP
 * exporter's serializer, one POST per batch. Severity from risk (low DEBUG … critical ERROR), body
 * the record as JSON text, attributes from {@link otlpAttributes}, and the event's trace and span
 * ids as the record's own `traceId`/`spanId` too. The exporter's own retry loop
 * is not used: the pipeline retries, as for every sink.
 *
 * @example
 * const sink = otlpSink({ type: 'otlp', url: 'http://collector:4318/v1/logs' });
 */
export function otlpSink(config: OtlpSinkConfig): Sink {
  const emitted: SdkLogRecord[] = [];
  const collector: LogRecordProcessor = {
    onEmit: (r) => void emitted.push(r),
    forceFlush: () => Promise.resolve(),
    shutdown: () => Promise.resolve(),
  };
  const provider = new LoggerProvider({
    resource: resourceFromAttributes({ 'service.name': config.service_name ?? 'auditrail' }),
    processors: [collector],
  });
  const logger = provider.getLogger('auditrail');
  const url = config.url ?? OTLP_DEFAULT_URL;
  return {
    limits: {},
    async send(batch: readonly ExportRecord[]): Promise<SendResult> {
      emitted.length = 0;
      let body: Uint8Array | undefined;
      try {
        for (const r of batch) {
          const e = r.event;
          const [severityNumber, severityText] = e.risk_level ? SEVERITY[e.risk_level] : SEVERITY.medium;
          const t = Date.parse(e.time ?? e.ts);
          const context = spanContextOf(e);
          logger.emit({
            ...(context ? { context } : {}),
            timestamp: Number.isFinite(t) ? t : Date.parse(e.ts),
            observedTimestamp: Date.parse(e.ts),
            severityNumber,
            severityText,
            eventName: e.type,
            body: r.json,
            attributes: otlpAttributes(e),
          });
        }
        body = JsonLogsSerializer.serializeRequest(emitted);
      } catch (e) {
        return { kind: 'permanent', status: null, detail: `cannot encode as OTLP: ${(e as Error).message}` };
      } finally {
        emitted.length = 0;
      }
      if (body === undefined)
        return { kind: 'permanent', status: null, detail: 'the OTLP serializer produced nothing' };
      return post(
        url,
        { ...config.headers, 'content-type': 'application/json' },
        Buffer.from(body.buffer, body.byteOffset, body.byteLength),
        config.timeout_ms ?? 30_000,
      );
    },
    close: () => provider.shutdown(),
  };
}
