import {
  EVENT_SCHEMA,
  EVENT_TYPES,
  type AuditTrail,
  type QueryOptions,
  type RecordedEvent,
} from '../index.js';
import { oneOf, positiveInt, str, UsageError, type OptionSpec, type Values } from './args.js';

/** The filter flags `log` and `export` share; each maps to one `trail.query()` field. */
export const FILTER_OPTIONS: Record<string, OptionSpec> = {
  session: { type: 'string', value: 'ID', help: 'only this session_id' },
  run: { type: 'string', value: 'ID', help: 'only this run_id' },
  trace: { type: 'string', value: 'HEX', help: 'only this trace_id' },
  actor: { type: 'string', value: 'ID', help: 'only this actor id (agents and users; only users: user:ID)' },
  subject: {
    type: 'string',
    value: 'ID',
    help: 'only events naming this data subject (context.data_subject_ids)',
  },
  type: {
    type: 'string',
    value: 'TYPE',
    help: "only this event type, e.g. action.failed, or a glob: 'action.*'",
  },
  action: {
    type: 'string',
    value: 'TYPE',
    help: "only this action type, e.g. write:refund, or a glob: 'write:*'",
  },
  target: {
    type: 'string',
    value: 'TARGET',
    help: "only this action target, e.g. order/1042, or a glob: 'order/10*'",
  },
  decision: { type: 'string', value: 'D', help: 'only this policy decision: allow, deny, require_approval' },
  status: { type: 'string', value: 'S', help: 'only this outcome status: success, failure, timeout, …' },
  risk: { type: 'string', value: 'LEVEL', help: 'only this risk level: low, medium, high, critical' },
  since: { type: 'string', value: 'TIME', help: 'log time at or after TIME (RFC 3339, or 7d, 24h, 30m ago)' },
  until: { type: 'string', value: 'TIME', help: 'log time before TIME (same forms as --since)' },
  limit: { type: 'string', value: 'N', help: 'at most N events' },
  order: { type: 'string', value: 'asc|desc', help: 'oldest first (asc, default) or newest first' },
};

const DECISIONS = EVENT_SCHEMA.properties.policy.properties.decision.enum;
const STATUSES = EVENT_SCHEMA.properties.outcome.properties.status.enum;
const RISKS = EVENT_SCHEMA.properties.risk_level.enum;
const CUSTOM_TYPE = /^x\.[a-z0-9_]+(\.[a-z0-9_]+)*$/;
/** A type glob as `trail.query({ type })` takes it: `*` any run of characters, `?` one. */
const TYPE_GLOB = /^[a-z0-9_.*?]+$/;

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2}))?$/;

/**
 * Turns a `--since`/`--until` value into a log timestamp bound (RFC 3339 UTC with 6 fractional
 * digits, the form the log stores, so that bounds compare as strings). Accepts RFC 3339
 * date-times with an offset, a bare date (UTC midnight), or an age such as `30m`, `24h`, `7d`.
 */
export function parseTimeBound(flag: string, value: string, now: number): string {
  const rel = /^(\d{1,9})([smhdw])$/.exec(value);
  if (rel) {
    const ms = now - Number(rel[1]) * UNIT_MS[rel[2]!]!;
    return `${new Date(ms).toISOString().slice(0, 23)}000Z`;
  }
  const m = RFC3339.exec(value);
  const bad = (): UsageError =>
    new UsageError(
      `${flag} must be an RFC 3339 time (2025-06-01T12:00:00Z) or an age (30m, 24h, 7d), got '${value}'`,
    );
  if (!m) throw bad();
  const [, y, mo, d, h = '00', mi = '00', s = '00', frac = '', zone = 'Z'] = m;
  const dayOk = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d))).getUTCDate() === Number(d);
  if (Number(mo) < 1 || Number(mo) > 12 || !dayOk || Number(h) > 23 || Number(mi) > 59 || Number(s) > 59)
    throw bad();
  const ms = Date.parse(`${y}-${mo}-${d}T${h}:${mi}:${s}${zone.toUpperCase()}`);
  if (!Number.isFinite(ms)) throw bad();
  return `${new Date(ms).toISOString().slice(0, 19)}.${frac.padEnd(6, '0').slice(0, 6)}Z`;
}

export interface Selection {
  filter: Omit<QueryOptions, 'limit' | 'cursor' | 'order'>;
  /** Undefined: everything that matches. */
  limit: number | undefined;
  order: 'asc' | 'desc';
}

/** Reads the filter flags into a query; bad values are usage errors naming the flag. */
export function readSelection(values: Values, now: number, defaultLimit?: number): Selection {
  const filter: Selection['filter'] = {};
  const plain = {
    session: 'session_id',
    run: 'run_id',
    trace: 'trace_id',
    actor: 'actor_id',
    action: 'action_type',
    target: 'target',
    subject: 'subject',
  } as const;
  for (const [flag, field] of Object.entries(plain)) {
    const v = str(values, flag);
    if (v !== undefined) filter[field] = v;
  }
  const type = str(values, 'type');
  if (type !== undefined && /[*?]/.test(type)) {
    // A glob: the SDK matches it against stored types. Its text before the first wildcard must
    // begin a known or custom (`x.`) type, else it is a typo that would silently match nothing.
    const prefix = /^[^*?]*/.exec(type)![0];
    if (
      !TYPE_GLOB.test(type) ||
      ![...EVENT_TYPES, 'x.'].some((t) => t.startsWith(prefix) || prefix.startsWith('x.'))
    ) {
      throw new UsageError(
        `--type '${type}' matches no event type (globs use * and ?, e.g. 'action.*', 'approval.*')`,
      );
    }
    filter.type = type;
  } else if (type !== undefined) {
    if (!(EVENT_TYPES as readonly string[]).includes(type) && !CUSTOM_TYPE.test(type)) {
      const near = EVENT_TYPES.filter((t) => t.includes(type) || type.includes(t.split('.')[1] ?? t));
      throw new UsageError(
        `--type '${type}' is not an event type${near.length > 0 ? ` (did you mean ${near.slice(0, 3).join(', ')}?)` : ''}`,
      );
    }
    filter.type = type;
  }
  const decision = str(values, 'decision');
  if (decision !== undefined) filter.decision = oneOf('--decision', decision, DECISIONS);
  const status = str(values, 'status');
  if (status !== undefined) filter.status = oneOf('--status', status, STATUSES);
  const risk = str(values, 'risk');
  if (risk !== undefined) filter.risk = oneOf('--risk', risk, RISKS);
  const since = str(values, 'since');
  if (since !== undefined) filter.since = parseTimeBound('--since', since, now);
  const until = str(values, 'until');
  if (until !== undefined) filter.until = parseTimeBound('--until', until, now);
  if (filter.since !== undefined && filter.until !== undefined && filter.since >= filter.until) {
    throw new UsageError('--since must be before --until');
  }
  const limitText = str(values, 'limit');
  const limit = limitText !== undefined ? positiveInt('--limit', limitText) : defaultLimit;
  const order = oneOf('--order', str(values, 'order') ?? 'asc', ['asc', 'desc'] as const);
  return { filter, limit, order };
}

/** Largest page asked of the SDK at once (its maximum is 10,000). */
export const PAGE_SIZE = 1000;

/**
 * Pages through a selection with `next_cursor`, yielding one page of events at a time so that
 * callers can stream without holding the whole result. `state.more` tells afterwards whether
 * events beyond the limit exist.
 */
export async function* pages(
  trail: AuditTrail,
  selection: Selection,
  state: { more: boolean } = { more: false },
): AsyncGenerator<RecordedEvent[]> {
  let remaining = selection.limit ?? Number.POSITIVE_INFINITY;
  let cursor: string | null = null;
  do {
    const page = await trail.query({
      ...selection.filter,
      order: selection.order,
      limit: Math.min(PAGE_SIZE, remaining),
      ...(cursor !== null ? { cursor } : {}),
    });
    remaining -= page.events.length;
    cursor = page.next_cursor;
    if (page.events.length > 0) yield page.events;
  } while (cursor !== null && remaining > 0);
  state.more = cursor !== null;
}
