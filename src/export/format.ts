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

/**
 * The event as an OCSF 1.8 API Activity (class 6003) record with the security_control profile.
 * Fields OCSF has no place for stay under `unmapped.auditrail`, the whole event included, so
 * nothing is lost and `auditrail prove <seq>` can be run from the record.
 *
 * @example
 * ocsfRecord(event, { hostname: 'worker-3', productVersion: '0.1.0' }).class_uid // 6003
 */
export function ocsfRecord(e: RecordedEvent, ctx: FormatContext): Record<string, unknown> {
  const actor = e.actor;
  const ocsfActor: Record<string, unknown> = {};
  if (actor?.type === 'user') ocsfActor['user'] = compact({ uid: actor.id, name: actor.name, type_id: 1 });
  else if (actor) {
    ocsfActor['app_name'] = actor.name ?? actor.id;
    ocsfActor['app_uid'] = actor.id;
    if (actor.on_behalf_of) ocsfActor['user'] = { uid: actor.on_behalf_of };
  } else ocsfActor['app_name'] = 'auditrail';
  if (e.session_id) ocsfActor['session'] = { uid: e.session_id };
  const risk = e.risk_level;
  const rec: Record<string, unknown> = {
    class_uid: 6003,
    class_name: 'API Activity',
    category_uid: 6,
    category_name: 'Application Activity',
    activity_id: 99,
    activity_name: 'Invoke',
    type_uid: 600399,
    type_name: 'API Activity: Invoke',
    severity_id: risk ? OCSF_SEVERITY[risk] : 1,
    severity: risk ? risk[0]!.toUpperCase() + risk.slice(1) : 'Informational',
    time: eventTime(e),
    status_id: ocsfStatus(e),
    message: summary(e),
    metadata: compact({
      version: OCSF_VERSION,
      product: { name: 'auditrail', vendor_name: 'auditrail', version: ctx.productVersion },
      uid: e.event_id,
      log_name: e.log,
      sequence: e.seq,
      correlation_uid: e.trace_id,
      logged_time: Date.parse(e.ts),
    }),
    actor: ocsfActor,
    api: compact({
      operation: e.action?.type ?? e.type,
      service: e.action?.target ? { name: e.action.target } : undefined,
      request: { uid: e.event_id },
      response: e.outcome?.error_message
        ? { error: e.outcome.status, message: e.outcome.error_message }
        : undefined,
    }),
    src_endpoint: { hostname: ctx.hostname, svc_name: 'auditrail' },
    ...ocsfDisposition(e),
  };
  if (e.policy) {
    rec['policy'] = compact({
      uid: e.policy.policy_id ?? e.policy.matched_rule,
      name: e.policy.matched_rule ?? e.policy.policy_id ?? 'policy',
      version: e.policy.policy_snapshot,
      desc: e.policy.reason,
      is_applied: e.policy.mode !== 'shadow',
    });
  }
  if (e.trace_id) rec['trace'] = { uid: e.trace_id };
  if (e.model?.name && e.model.provider)
    rec['ai_model'] = { name: e.model.name, ai_provider: e.model.provider };
  rec['unmapped'] = { auditrail: nativeRecord(e) };
  return rec;
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

/**
 * The event as an Elastic Common Schema 9.4 document (event.*, user.*, rule.*, log.level,
 * gen_ai.*); the whole event stays under `auditrail`.
 *
 * @example
 * ecsRecord(event, ctx)['event'] // { kind: 'event', category: ['api'], type: ['denied'], … }
 */
export function ecsRecord(e: RecordedEvent, ctx: FormatContext): Record<string, unknown> {
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
  rec['auditrail'] = nativeRecord(e);
  return rec;
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
