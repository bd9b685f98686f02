import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ValidationError } from '../../errors.js';
import type { AuditEvent, RecordedEvent } from '../../event/types.js';
import type { QueryOptions } from '../../sdk/audit-trail.js';
import { principalOf, type ServerContext } from '../context.js';
import { fail, problem } from '../problem.js';
import { EVENT_REF, RECEIPT_REF } from '../schemas.js';

/** Largest batch `POST /v1/events` takes. */
export const MAX_BATCH = 1000;

const FILTERS = [
  'session_id',
  'run_id',
  'trace_id',
  'actor_id',
  'action_type',
  'target',
  'type',
  'decision',
  'status',
  'risk',
] as const;

const filterText = { type: 'string', minLength: 1, maxLength: 256 } as const;
const timeBound = { type: 'string', format: 'date-time', maxLength: 40 } as const;

const LIST_QUERY = {
  type: 'object',
  additionalProperties: false,
  properties: {
    ...Object.fromEntries(FILTERS.map((f) => [f, filterText])),
    since: { ...timeBound, description: 'log time at or after (RFC 3339)' },
    until: { ...timeBound, description: 'log time before (RFC 3339)' },
    limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
    order: { type: 'string', enum: ['asc', 'desc'], default: 'asc' },
    cursor: { type: 'string', pattern: '^[ad][0-9]{1,16}$', description: 'from the previous page' },
  },
} as const;

const COUNT_QUERY = {
  type: 'object',
  additionalProperties: false,
  properties: {
    ...Object.fromEntries(FILTERS.map((f) => [f, filterText])),
    since: LIST_QUERY.properties.since,
    until: LIST_QUERY.properties.until,
  },
} as const;

const SEQ_PARAMS = {
  type: 'object',
  required: ['seq'],
  properties: { seq: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER } },
} as const;

const ID = { type: 'string', minLength: 1, maxLength: 128, pattern: '^[\\x21-\\x7e]+$' } as const;

/** A log time bound in the stored form (6 fractional digits, UTC), so bounds compare as strings. */
function logTime(value: string): string {
  const ms = Date.parse(value);
  if (!Number.isFinite(ms)) fail('invalid_argument', `not an RFC 3339 time: ${value.slice(0, 40)}`);
  return `${new Date(ms).toISOString().slice(0, 23)}000Z`;
}

function queryOf(q: Record<string, unknown>): QueryOptions {
  const out: QueryOptions = {};
  for (const f of FILTERS) if (typeof q[f] === 'string') out[f] = q[f];
  if (typeof q['since'] === 'string') out.since = logTime(q['since']);
  if (typeof q['until'] === 'string') out.until = logTime(q['until']);
  if (typeof q['limit'] === 'number') out.limit = q['limit'];
  if (q['order'] === 'asc' || q['order'] === 'desc') out.order = q['order'];
  if (typeof q['cursor'] === 'string') out.cursor = q['cursor'];
  return out;
}

/** The `Link` header of the next page: the same query with the new cursor. */
function nextLink(req: FastifyRequest, cursor: string): string {
  const url = new URL(req.url, 'http://x');
  url.searchParams.set('cursor', cursor);
  return `<${url.pathname}${url.search}>; rel="next"`;
}

/** One action's life in a timeline: the intent and what followed it (parent_event_id). */
interface ActionGroup {
  intent_event_id: string;
  action: RecordedEvent['action'] | null;
  intent: RecordedEvent | null;
  decision: RecordedEvent | null;
  approvals: RecordedEvent[];
  outcomes: RecordedEvent[];
}

/** Groups a run's events into actions: intent → decision → approval → outcome. */
export function groupTimeline(events: RecordedEvent[]): ActionGroup[] {
  const groups = new Map<string, ActionGroup>();
  const group = (id: string): ActionGroup => {
    let g = groups.get(id);
    if (!g) {
      g = { intent_event_id: id, action: null, intent: null, decision: null, approvals: [], outcomes: [] };
      groups.set(id, g);
    }
    return g;
  };
  for (const e of events) {
    if (e.type === 'action.intent' && e.event_id !== undefined) {
      const g = group(e.event_id);
      g.intent = e;
      g.action = e.action ?? null;
      continue;
    }
    const parent = e.parent_event_id;
    if (parent === undefined || !groups.has(parent)) continue;
    const g = group(parent);
    if (e.type === 'policy.decision') g.decision = e;
    else if (e.type.startsWith('approval.')) g.approvals.push(e);
    else if (e.type.startsWith('action.')) g.outcomes.push(e);
  }
  return [...groups.values()];
}

/**
 * Event types the product acts on when it reads them back: legal holds, erasures and purges
 * (what verify accepts as erased), archives, signing keys, sampling summaries, anomalies and their
 * review, automated responses (what the Governor enforces). Over HTTP only a key with the `admin`
 * scope may record them: an agent's `ingest` key must not lift its own quarantine or place a hold.
 */
const GOVERNING_TYPES: ReadonlySet<string> = new Set([
  'hold.placed',
  'hold.released',
  'data.erased',
  'retention.purged',
  'archive.created',
  'archive.restored',
  'key.added',
  'key.retired',
  'key.compromised',
  'key.created',
  'key.revoked',
  'sampling.summary',
  'anomaly.detected',
  'anomaly.acknowledged',
  'anomaly.resolved',
  'response.applied',
  'response.reverted',
]);

/** Largest timeline returned in one response. */
const MAX_TIMELINE = 10_000;

export function eventRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.post(
    '/v1/events',
    {
      config: { scopes: ['ingest'] },
      schema: {
        summary: 'Record one event or a batch (all-or-nothing validation)',
        description:
          'Responds after the events are durable. A re-sent event_id returns the original receipt. ' +
          'One invalid event rejects the whole batch (422, naming index, field and rule).',
        tags: ['events'],
        body: {
          oneOf: [
            { type: 'object' },
            { type: 'array', minItems: 1, maxItems: MAX_BATCH, items: { type: 'object' } },
          ],
        },
        'x-openapi-body': {
          oneOf: [EVENT_REF, { type: 'array', minItems: 1, maxItems: MAX_BATCH, items: EVENT_REF }],
        },
        'x-responses': {
          201: {
            description: 'The receipts, in the order of the batch',
            schema: {
              type: 'object',
              properties: { receipts: { type: 'array', items: RECEIPT_REF } },
            },
          },
          422: { description: 'An event is invalid: nothing of the batch was stored' },
        },
      },
    },
    async (req, reply) => {
      const p = principalOf(req);
      const batch = Array.isArray(req.body);
      const events = (batch ? req.body : [req.body]) as AuditEvent[];
      if (!p.scopes.includes('admin')) {
        const i = events.findIndex((e) => GOVERNING_TYPES.has(String((e as { type?: unknown }).type)));
        if (i >= 0) {
          fail(
            'forbidden',
            `event ${i}: type ${String(events[i]!.type)} changes what the log enforces or reports ` +
              `(holds, erasures, keys, anomalies, responses): it needs a key with the admin scope; ` +
              `nothing of the batch was stored`,
          );
        }
      }
      const trail = await ctx.trails.get(p.tenant);
      const started = performance.now();
      let receipts;
      try {
        receipts = await trail.recordBatch(events);
      } catch (e) {
        if (e instanceof ValidationError) {
          const errors = e.issues.map((i) => {
            const m = /^\/(\d+)(.*)$/.exec(i.field);
            return { index: Number(m?.[1] ?? 0), field: m?.[2] ?? i.field, rule: i.rule, message: i.message };
          });
          const first = errors[0]!;
          return reply
            .code(422)
            .type('application/problem+json')
            .send(
              problem(
                'invalid_event',
                `event ${first.index}: ${first.field || '(event)'} ${first.message} (${first.rule}); nothing of the batch was stored`,
                { errors },
              ),
            );
        }
        throw e;
      }
      ctx.metrics.commitSeconds.observe((performance.now() - started) / 1000);
      ctx.metrics.ingested.inc(receipts.filter((r) => !r.duplicate).length);
      const out = receipts.map((r) => ({
        seq: r.seq,
        event_id: r.event_id,
        leaf_hash: r.leaf_hash,
        ...(r.sampled_out ? { sampled_out: true } : {}),
      }));
      return reply.code(receipts.every((r) => r.duplicate) ? 200 : 201).send({ receipts: out });
    },
  );

  app.get(
    '/v1/events',
    {
      config: { scopes: ['read'] },
      schema: {
        summary: 'List events with the filters of `auditrail log`, a page at a time',
        tags: ['events'],
        querystring: LIST_QUERY,
        'x-responses': {
          200: {
            description: 'A page; `next_cursor` (and the Link header) lead to the next one',
            schema: {
              type: 'object',
              properties: {
                events: { type: 'array', items: EVENT_REF },
                next_cursor: { type: ['string', 'null'] },
              },
            },
          },
        },
      },
    },
    async (req, reply) => {
      const trail = await ctx.trails.get(principalOf(req).tenant);
      const page = await trail.query(queryOf(req.query as Record<string, unknown>));
      if (page.next_cursor !== null) void reply.header('link', nextLink(req, page.next_cursor));
      return page;
    },
  );

  app.get(
    '/v1/events/count',
    {
      config: { scopes: ['read'] },
      schema: {
        summary: 'Count the events matching the filters of `GET /v1/events`',
        tags: ['events'],
        querystring: COUNT_QUERY,
        'x-responses': {
          200: {
            description: 'The number of matching events',
            schema: {
              type: 'object',
              required: ['count'],
              properties: { count: { type: 'integer', minimum: 0 } },
            },
          },
        },
      },
    },
    async (req) => {
      const trail = await ctx.trails.get(principalOf(req).tenant);
      const { limit: _l, order: _o, cursor: _c, ...filter } = queryOf(req.query as Record<string, unknown>);
      return { count: await trail.count(filter) };
    },
  );

  app.get(
    '/v1/events/:seq',
    {
      config: { scopes: ['read'] },
      schema: {
        summary: 'One event by seq',
        tags: ['events'],
        params: SEQ_PARAMS,
        'x-responses': { 200: { description: 'The event', schema: EVENT_REF } },
      },
    },
    async (req) => {
      const { seq } = req.params as { seq: number };
      const trail = await ctx.trails.get(principalOf(req).tenant);
      const e = await trail.get(seq);
      if (!e) fail('not_found', `no event with seq ${seq}`);
      return e;
    },
  );

  app.get(
    '/v1/events/by-id/:event_id',
    {
      config: { scopes: ['read'] },
      schema: {
        summary: 'One event by event_id',
        tags: ['events'],
        params: { type: 'object', required: ['event_id'], properties: { event_id: ID } },
        'x-responses': { 200: { description: 'The event', schema: EVENT_REF } },
      },
    },
    async (req) => {
      const { event_id } = req.params as { event_id: string };
      const trail = await ctx.trails.get(principalOf(req).tenant);
      const e = await trail.get(event_id);
      if (!e) fail('not_found', 'no event with that event_id in this log');
      return e;
    },
  );

  for (const [path, field] of [
    ['/v1/runs/:run_id/timeline', 'run_id'],
    ['/v1/sessions/:session_id/timeline', 'session_id'],
  ] as const) {
    app.get(
      path,
      {
        config: { scopes: ['read'] },
        schema: {
          summary: `The events of one ${field === 'run_id' ? 'run' : 'session'}, with each action grouped`,
          tags: ['events'],
          params: { type: 'object', required: [field], properties: { [field]: ID } },
          'x-responses': {
            200: {
              description: 'Events in seq order, and actions: intent → decision → approvals → outcomes',
              schema: {
                type: 'object',
                properties: {
                  events: { type: 'array', items: EVENT_REF },
                  actions: { type: 'array', items: { type: 'object' } },
                  truncated: { type: 'boolean' },
                },
              },
            },
          },
        },
      },
      async (req) => {
        const id = (req.params as Record<string, string>)[field]!;
        const trail = await ctx.trails.get(principalOf(req).tenant);
        const events: RecordedEvent[] = [];
        let cursor: string | null = null;
        do {
          const page = await trail.query({
            [field]: id,
            limit: 1000,
            ...(cursor !== null ? { cursor } : {}),
          });
          events.push(...page.events);
          cursor = page.next_cursor;
        } while (cursor !== null && events.length < MAX_TIMELINE);
        if (events.length === 0) fail('not_found', `no events with that ${field} in this log`);
        return { [field]: id, events, actions: groupTimeline(events), truncated: cursor !== null };
      },
    );
  }
}
