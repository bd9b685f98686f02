import type { RecordedEvent } from '../event/types.js';
import type { ExportFormat } from './config.js';

/** What every format needs besides the event: who sends it. */
export interface FormatContext {
  /** Host name of the exporter (OCSF src_endpoint.hostname, Splunk host). */
  hostname: string;
  /** auditrail's version (OCSF metadata.product.version). */
  productVersion: string;
}

/** OCSF schema version the records follow. */
export const OCSF_VERSION = '1.8.0';
/** ECS version the records follow. */
export const ECS_VERSION = '9.4.0';

/** The event as `auditrail log --format jsonl` prints it: seq, ts, leaf_hash, log, event_id, type first. */
export function nativeRecord(e: RecordedEvent): Record<string, unknown> {
  const { seq, ts, leaf_hash, log, event_id, type, ...rest } = e;
  return { seq, ts, leaf_hash, log, event_id, type, ...rest };
}

// OCSF severity_id: 1 Informational, 2 Low, 3 Medium, 4 High, 5 Critical.
const OCSF_SEVERITY = { low: 2, medium: 3, high: 4, critical: 5 } as const;
const FAILED = new Set(['failure', 'denied', 'blocked', 'timeout', 'cancelled']);

function eventTime(e: RecordedEvent): number {
  const t = Date.parse(e.time ?? e.ts);
  return Number.isFinite(t) ? t : Date.parse(e.ts);
}

/** One line a person reads in the SIEM: what happened, to what, and the verdict. */
export function summary(e: RecordedEvent): string {
  const parts: string[] = [e.type];
  if (e.action?.type) parts.push(e.action.type);
  if (e.action?.target) parts.push(`on ${e.action.target}`);
  if (e.policy)
    parts.push(`decision ${e.policy.decision}${e.policy.matched_rule ? ` (${e.policy.matched_rule})` : ''}`);
  if (e.approval?.decision) parts.push(`approval ${e.approval.decision}`);
  if (e.outcome) parts.push(`outcome ${e.outcome.status}`);
  return parts.join(' ');
}

/** OCSF status_id: 1 Success, 2 Failure, 0 Unknown. */
function ocsfStatus(e: RecordedEvent): number {
  if (e.outcome) return e.outcome.status === 'success' ? 1 : 2;
  if (e.policy?.decision === 'deny' || e.approval?.decision === 'denied') return 2;
  if (e.policy?.decision === 'allow' || e.approval?.decision === 'granted') return 1;
  return 0;
}

/**
 * OCSF security_control profile: action_id (1 Allowed, 2 Denied, 3 Observed, 99 Other) and
 * disposition_id (1 Allowed, 2 Blocked, 8 Approved, 14 Delayed, 17 Logged, 25 Rejected, 27 Error).
 */
function ocsfDisposition(e: RecordedEvent): { action_id: number; disposition_id: number } {
  const d = e.policy?.decision;
  if (d === 'allow') return { action_id: 1, disposition_id: 1 };
  if (d === 'deny') return { action_id: 2, disposition_id: 2 };
  if (d === 'require_approval') return { action_id: 99, disposition_id: 14 };
  const a = e.approval?.decision;
  if (a === 'granted') return { action_id: 1, disposition_id: 8 };
  if (a === 'denied') return { action_id: 2, disposition_id: 25 };
  const s = e.outcome?.status;
  if (s === 'denied' || s === 'blocked') return { action_id: 2, disposition_id: 2 };
  if (s !== undefined && FAILED.has(s)) return { action_id: 3, disposition_id: 27 };
  return { action_id: 3, disposition_id: 17 };
}

function compact<T extends Record<string, unknown>>(o: T): T {
  for (const k of Object.keys(o)) if (o[k] === undefined || o[k] === null) delete o[k];
  return o;
}

// The OCSF record is written as JSON text directly: a record of the SIEM formats is mostly the
// native event, whose JSON is made once and spliced in, and the mapped fields around it cost a few
// string joins instead of an object tree serialized field by field. Keys are literals of this file.

/** `"key":<v as JSON>`, or '' when `v` is undefined or null (the field is left out). */
function field(key: string, v: unknown): string {
  return v === undefined || v === null ? '' : `"${key}":${JSON.stringify(v)}`;
}

/** `"key":<json>` for JSON text already made, or '' when there is none. */
function rawField(key: string, json: string | undefined): string {
  return json === undefined ? '' : `"${key}":${json}`;
}

/** A JSON object of the fields given, those that are '' left out. */
function object(...fields: string[]): string {
  let out = '';
  for (const f of fields) if (f !== '') out = out === '' ? f : `${out},${f}`;
  return `{${out}}`;
}

const OCSF_CLASS = object(
  '"class_uid":6003',
  '"class_name":"API Activity"',
  '"category_uid":6',
  '"category_name":"Application Activity"',
  '"activity_id":99',
  '"activity_name":"Invoke"',
  '"type_uid":600399',
  '"type_name":"API Activity: Invoke"',
).slice(1, -1);
const OCSF_SEVERITY_JSON = {
  none: '"severity_id":1,"severity":"Informational"',
  low: `"severity_id":${OCSF_SEVERITY.low},"severity":"Low"`,
  medium: `"severity_id":${OCSF_SEVERITY.medium},"severity":"Medium"`,
  high: `"severity_id":${OCSF_SEVERITY.high},"severity":"High"`,
  critical: `"severity_id":${OCSF_SEVERITY.critical},"severity":"Critical"`,
} as const;

/** The parts of an OCSF record that depend on the exporter only, made once per context. */
const ocsfContextJson = new WeakMap<FormatContext, { product: string; srcEndpoint: string }>();

function contextJson(ctx: FormatContext): { product: string; srcEndpoint: string } {
  let c = ocsfContextJson.get(ctx);
  if (c === undefined) {
    c = {
      product: object(
        '"name":"auditrail"',
        '"vendor_name":"auditrail"',
        field('version', ctx.productVersion),
      ),
      srcEndpoint: object(field('hostname', ctx.hostname), '"svc_name":"auditrail"'),
    };
    ocsfContextJson.set(ctx, c);
  }
  return c;
}

/** The event as `auditrail log --format jsonl` prints it, as JSON text (see {@link nativeRecord}). */
export function nativeJson(e: RecordedEvent): string {
  return JSON.stringify(nativeRecord(e));
}

/**
 * The event as an OCSF 1.8 API Activity (class 6003) record with the security_control profile, as
 * JSON text. Fields OCSF has no place for stay under `unmapped.auditrail`, the whole event
 * included, so nothing is lost and `auditrail prove <seq>` can be run from the record. `native`
 * is the event's {@link nativeJson}, when the caller has it already.
 *
 * @example
 * JSON.parse(ocsfJson(event, { hostname: 'worker-3', productVersion: '0.1.0' })).class_uid // 6003
 */
export function ocsfJson(e: RecordedEvent, ctx: FormatContext, native: string = nativeJson(e)): string {
  const c = contextJson(ctx);
  const actor = e.actor;
  const session = e.session_id ? rawField('session', object(field('uid', e.session_id))) : '';
  let actorJson: string;
  if (actor?.type === 'user')
    actorJson = object(
      rawField('user', object(field('uid', actor.id), field('name', actor.name), '"type_id":1')),
      session,
    );
  else if (actor)
    actorJson = object(
      field('app_name', actor.name ?? actor.id),
      field('app_uid', actor.id),
      actor.on_behalf_of ? rawField('user', object(field('uid', actor.on_behalf_of))) : '',
      session,
    );
  else actorJson = object('"app_name":"auditrail"', session);
  const { action_id, disposition_id } = ocsfDisposition(e);
  const p = e.policy;
  const target = e.action?.target;
  const error = e.outcome?.error_message;
  return object(
    OCSF_CLASS,
    OCSF_SEVERITY_JSON[e.risk_level ?? 'none'],
    field('time', eventTime(e)),
    `"status_id":${ocsfStatus(e)}`,
    field('message', summary(e)),
    rawField(
      'metadata',
      object(
        `"version":"${OCSF_VERSION}"`,
        rawField('product', c.product),
        field('uid', e.event_id),
        field('log_name', e.log),
        field('sequence', e.seq),
        field('correlation_uid', e.trace_id),
        field('logged_time', Date.parse(e.ts)),
      ),
    ),
    rawField('actor', actorJson),
    rawField(
      'api',
      object(
        field('operation', e.action?.type ?? e.type),
        target ? rawField('service', object(field('name', target))) : '',
        rawField('request', object(field('uid', e.event_id))),
        error ? rawField('response', object(field('error', e.outcome?.status), field('message', error))) : '',
      ),
    ),
    rawField('src_endpoint', c.srcEndpoint),
    `"action_id":${action_id}`,
    `"disposition_id":${disposition_id}`,
    p
      ? rawField(
          'policy',
          object(
            field('uid', p.policy_id ?? p.matched_rule),
            field('name', p.matched_rule ?? p.policy_id ?? 'policy'),
            field('version', p.policy_snapshot),
            field('desc', p.reason),
            field('is_applied', p.mode !== 'shadow'),
          ),
        )
      : '',
    e.trace_id ? rawField('trace', object(field('uid', e.trace_id))) : '',
    e.model?.name && e.model.provider
      ? rawField('ai_model', object(field('name', e.model.name), field('ai_provider', e.model.provider)))
      : '',
    `"unmapped":{"auditrail":${native}}`,
  );
}

/**
 * The OCSF record of {@link ocsfJson} as an object.
 *
 * @example
 * ocsfRecord(event, { hostname: 'worker-3', productVersion: '0.1.0' }).class_uid // 6003
 */
export function ocsfRecord(e: RecordedEvent, ctx: FormatContext): Record<string, unknown> {
  return JSON.parse(ocsfJson(e, ctx)) as Record<string, unknown>;
}

/** ECS log.level from risk (the same ladder as the stdout sink: low→debug … critical→error). */
export function levelOf(e: RecordedEvent): 'debug' | 'info' | 'warn' | 'error' {
  switch (e.risk_level) {
    case 'low':
      return 'debug';
    case 'high':
      return 'warn';
    case 'critical':
      return 'error';
    default:
      return 'info';
  }
}

function ecsType(e: RecordedEvent): string[] {
  if (e.policy?.decision === 'deny' || e.approval?.decision === 'denied') return ['denied'];
  if (e.policy?.decision === 'allow' || e.approval?.decision === 'granted') return ['allowed'];
  if (e.type === 'action.intent' || e.type === 'delegation.started') return ['start'];
  if (e.outcome || e.type === 'delegation.ended') return ['end'];
  return ['info'];
}

function ecsOutcome(e: RecordedEvent): 'success' | 'failure' | 'unknown' {
  if (e.outcome) return e.outcome.status === 'success' ? 'success' : 'failure';
  if (e.policy?.decision === 'deny' || e.approval?.decision === 'denied') return 'failure';
  if (e.policy?.decision === 'allow' || e.approval?.decision === 'granted') return 'success';
  return 'unknown';
}

/** The ECS document of {@link ecsRecord} without the native event. */
function ecsHead(e: RecordedEvent, ctx: FormatContext): Record<string, unknown> {
  const actor = e.actor;
  const rec: Record<string, unknown> = {
    '@timestamp': new Date(eventTime(e)).toISOString(),
    ecs: { version: ECS_VERSION },
    message: summary(e),
    event: compact({
      kind: 'event',
      category: ['api'],
      type: ecsType(e),
      action: e.type,
      outcome: ecsOutcome(e),
      id: e.event_id,
      sequence: e.seq,
      dataset: 'auditrail.audit',
      provider: 'auditrail',
      hash: e.leaf_hash,
      created: e.ts,
      reason: e.policy?.reason ?? e.approval?.reason ?? e.outcome?.error_message,
      duration: e.outcome?.duration_ms !== undefined ? Math.round(e.outcome.duration_ms * 1e6) : undefined,
    }),
    log: { level: levelOf(e), logger: e.log },
    host: { hostname: ctx.hostname },
    service: { name: actor?.type === 'agent' ? (actor.name ?? actor.id) : 'auditrail' },
    labels: compact({
      tenant: e.tenant,
      session_id: e.session_id,
      run_id: e.run_id,
      risk_level: e.risk_level,
    }),
  };
  if (actor?.type === 'user') rec['user'] = compact({ id: actor.id, name: actor.name });
  else if (actor?.on_behalf_of) rec['user'] = { id: actor.on_behalf_of };
  if (e.policy) {
    rec['rule'] = compact({
      id: e.policy.matched_rule ?? e.policy.policy_id,
      name: e.policy.matched_rule,
      ruleset: e.policy.policy_id,
      version: e.policy.policy_snapshot,
    });
  }
  if (e.trace_id) rec['trace'] = { id: e.trace_id };
  if (e.span_id) rec['span'] = { id: e.span_id };
  if (actor?.type === 'agent' || e.action) {
    rec['gen_ai'] = compact({
      operation: e.action ? { name: 'execute_tool' } : undefined,
      tool: e.action?.type ? { name: e.action.type } : undefined,
      agent: actor?.type === 'agent' ? compact({ id: actor.id, name: actor.name }) : undefined,
      provider: e.model?.provider ? { name: e.model.provider } : undefined,
      request: e.model?.name ? { model: e.model.name } : undefined,
    });
  }
  return rec;
}

/**
 * The event as an Elastic Common Schema 9.4 document (event.*, user.*, rule.*, log.level,
 * gen_ai.*); the whole event stays under `auditrail`.
 *
 * @example
 * ecsRecord(event, ctx)['event'] // { kind: 'event', category: ['api'], type: ['denied'], … }
 */
export function ecsRecord(e: RecordedEvent, ctx: FormatContext): Record<string, unknown> {
  return { ...ecsHead(e, ctx), auditrail: nativeRecord(e) };
}

/**
 * The ECS document of {@link ecsRecord} as JSON text; `native` is the event's
 * {@link nativeJson}, when the caller has it already.
 *
 * @example
 * JSON.parse(ecsJson(event, ctx)).event.kind // 'event'
 */
export function ecsJson(e: RecordedEvent, ctx: FormatContext, native: string = nativeJson(e)): string {
  // The head always has fields: its closing brace gives way to the native event.
  return `${JSON.stringify(ecsHead(e, ctx)).slice(0, -1)},"auditrail":${native}}`;
}

/**
 * The record of `e` in `format` as JSON text: what every sink sends. The native event's JSON is
 * made once and spliced into the OCSF and ECS records.
 *
 * @example
 * formatJson('ocsf', event, ctx) // '{"class_uid":6003,…,"unmapped":{"auditrail":{"seq":7,…}}}'
 */
export function formatJson(format: ExportFormat, e: RecordedEvent, ctx: FormatContext): string {
  const native = nativeJson(e);
  if (format === 'ocsf') return ocsfJson(e, ctx, native);
  if (format === 'ecs') return ecsJson(e, ctx, native);
  return native;
}

/** The record of `e` in `format`. */
export function formatRecord(
  format: ExportFormat,
  e: RecordedEvent,
  ctx: FormatContext,
): Record<string, unknown> {
  if (format === 'ocsf') return ocsfRecord(e, ctx);
  if (format === 'ecs') return ecsRecord(e, ctx);
  return nativeRecord(e);
}
