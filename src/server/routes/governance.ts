import type { FastifyInstance } from 'fastify';
import { AuditError } from '../../errors.js';
import { EVENT_SCHEMA } from '../../event/schema.js';
import type { Actor, AuditEvent, RecordedEvent } from '../../event/types.js';
import { validateEvent } from '../../event/validate.js';
import type { AuditTrail } from '../../sdk/audit-trail.js';
import { Approvals, ApprovalError } from '../../sdk/governance/approvals.js';
import { Governor, type ActionSpec } from '../../sdk/governance/governor.js';
import type { PolicyBundle } from '../../policy/index.js';
import type { ApprovalRow } from '../../store/store.js';
import { principalOf, type ServerContext } from '../context.js';
import { fail } from '../problem.js';

const P = EVENT_SCHEMA.properties;
const ID = { type: 'string', minLength: 1, maxLength: 128, pattern: '^[\\x21-\\x7e]+$' } as const;
const APPROVAL_ID = {
  type: 'string',
  minLength: 5,
  maxLength: 160,
  pattern: '^apr_[A-Za-z0-9._:-]+$',
} as const;

const DECIDE_BODY = {
  type: 'object',
  additionalProperties: false,
  required: ['actor', 'action'],
  properties: {
    actor: P.actor,
    action: P.action,
    reasoning: { type: 'string', maxLength: 16384 },
    risk: P.risk_level,
    context: P.context,
    model: P.model,
    session_id: P.session_id,
    run_id: P.run_id,
    trace_id: P.trace_id,
    environment: { type: 'string', minLength: 1, maxLength: 64 },
  },
} as const;

const OUTCOME_BODY = {
  type: 'object',
  additionalProperties: false,
  required: ['status'],
  properties: {
    event_id: ID,
    status: { type: 'string', enum: ['success', 'failure', 'timeout', 'cancelled'] },
    result: {},
    error_message: { type: 'string', maxLength: 4000 },
    duration_ms: { type: 'number', minimum: 0, maximum: 1e12 },
  },
} as const;

const OUTCOME_TYPE = {
  success: 'action.succeeded',
  failure: 'action.failed',
  timeout: 'action.timed_out',
  cancelled: 'action.cancelled',
} as const;

/** Longest `?wait=` of a long-poll. */
export const MAX_WAIT_MS = 60_000;

function waitMs(text: string | undefined): number {
  if (text === undefined) return 0;
  const m = /^(\d{1,6})(ms|s)?$/.exec(text);
  if (!m) fail('invalid_argument', 'wait must be a duration such as 30s or 500ms');
  const ms = Number(m[1]) * (m[2] === 'ms' ? 1 : 1000);
  return Math.min(ms, MAX_WAIT_MS);
}

function approvalJson(row: ApprovalRow): Record<string, unknown> {
  const action: Record<string, unknown> = { type: row.actionType };
  if (row.target !== null) action['target'] = row.target;
  if (row.params !== undefined) action['params'] = row.params;
  if (row.sideEffects !== null) action['side_effects'] = row.sideEffects;
  return {
    id: row.id,
    status: row.status,
    approvers: row.approvers,
    request_digest: row.requestDigest,
    expires_at: row.expiresAt,
    created_at: row.createdAt,
    action,
    matched_rule: row.matchedRule,
    reason: row.requestReason,
    decided_by: row.decidedBy,
    decided_at: row.decidedAt,
    decision_reason: row.reason,
  };
}

/**
 * The policy.decision event recorded for an intent: a governor queues intent and decision
 * together, so the decision is the entry right after the intent (one point lookup, whatever the
 * size of the log). It is read from the log and checked to name the intent as its parent.
 */
async function decisionOf(trail: AuditTrail, intent: RecordedEvent): Promise<RecordedEvent | undefined> {
  const next = await trail.get(intent.seq + 1);
  return next?.type === 'policy.decision' && next.parent_event_id === intent.event_id ? next : undefined;
}

export function governanceRoutes(app: FastifyInstance, ctx: ServerContext): void {
  // One governor per tenant log and policy, so the policy is checked against the log once, not
  // per request; each request decides through a scoped view of it (its actor, run, trace).
  const governors = new WeakMap<AuditTrail, { policy: PolicyBundle; gov: Governor }>();
  const governorOf = (trail: AuditTrail, policy: PolicyBundle): Governor => {
    let g = governors.get(trail);
    if (g?.policy !== policy) {
      g = {
        policy,
        gov: new Governor({
          trail,
          policy,
          actor: { type: 'service', id: 'auditrail-serve' },
          loadedBy: 'auditrail-serve',
          approvals: { wait: false },
        }),
      };
      governors.set(trail, g);
    }
    return g.gov;
  };
  app.post(
    '/v1/decide',
    {
      config: { scopes: ['decide'] },
      schema: {
        summary: 'Ask the policy about an action; intent and decision are durable before the answer',
        tags: ['governance'],
        body: DECIDE_BODY,
        'x-responses': {
          200: {
            description: 'allow, deny or require_approval (with the approval request to wait for)',
            schema: { type: 'object' },
          },
        },
      },
    },
    async (req) => {
      const p = principalOf(req);
      if (!ctx.policy) fail('not_found', 'the server has no policy loaded (start it with --policy FILE)');
      const b = req.body as {
        actor: Actor;
        action: ActionSpec;
        reasoning?: string;
        risk?: ActionSpec['risk'];
        context?: ActionSpec['context'];
        model?: ActionSpec['model'];
        session_id?: string;
        run_id?: string;
        trace_id?: string;
        environment?: string;
      };
      // The intent must be a valid event: check it here, so a bad actor is a 422, not a log failure.
      validateEvent({
        type: 'action.intent',
        tenant: p.tenant,
        actor: b.actor,
        action: b.action,
        ...(b.session_id ? { session_id: b.session_id } : {}),
        ...(b.run_id ? { run_id: b.run_id } : {}),
        ...(b.trace_id ? { trace_id: b.trace_id } : {}),
        ...(b.context ? { context: b.context } : {}),
        ...(b.model ? { model: b.model } : {}),
      } satisfies AuditEvent);
      const trail = await ctx.trails.get(p.tenant);
      const gov = governorOf(trail, ctx.policy).withScope({
        actor: b.actor,
        ...(b.session_id ? { session_id: b.session_id } : {}),
        ...(b.run_id ? { run_id: b.run_id } : {}),
        ...(b.trace_id ? { trace_id: b.trace_id } : {}),
        ...(b.environment ? { environment: b.environment } : {}),
      });
      const d = await gov.decide({
        ...b.action,
        ...(b.reasoning !== undefined ? { reasoning: b.reasoning } : {}),
        ...(b.risk !== undefined ? { risk: b.risk } : {}),
        ...(b.context !== undefined ? { context: b.context } : {}),
        ...(b.model !== undefined ? { model: b.model } : {}),
      });
      return {
        decision: d.decision,
        enforced: d.enforced,
        matched_rule: d.matched_rule,
        reason: d.reason,
        risk: d.policy.risk ?? null,
        intent_event_id: d.intent_event_id,
        decision_event_id: d.decision_event_id,
        ...(d.approval
          ? {
              approval: {
                id: d.approval.id,
                approvers: d.approval.approvers,
                expires_at: d.approval.expires_at,
                request_digest: d.approval.request_digest,
              },
            }
          : {}),
      };
    },
  );

  app.post(
    '/v1/actions/:intent_event_id/outcome',
    {
      config: { scopes: ['decide'] },
      schema: {
        summary: "Record an action's outcome (after an allow, or a granted approval, which it uses)",
        tags: ['governance'],
        params: { type: 'object', required: ['intent_event_id'], properties: { intent_event_id: ID } },
        body: OUTCOME_BODY,
        'x-responses': {
          201: { description: 'The receipt of the outcome event', schema: { type: 'object' } },
        },
      },
    },
    async (req, reply) => {
      const p = principalOf(req);
      const { intent_event_id: id } = req.params as { intent_event_id: string };
      const b = req.body as {
        event_id?: string;
        status: keyof typeof OUTCOME_TYPE;
        result?: unknown;
        error_message?: string;
        duration_ms?: number;
      };
      const trail = await ctx.trails.get(p.tenant);
      const intent = await trail.get(id);
      if (!intent || intent.type !== 'action.intent')
        fail('not_found', 'no action intent with that id in this log');
      const decision = await decisionOf(trail, intent);
      if (!decision) fail('conflict', `action ${id} has no recorded decision`);
      const verdict = decision.policy?.decision;
      const enforced = decision.policy?.mode !== 'shadow';
      if (enforced && verdict === 'deny') {
        fail('conflict', `action ${id} was denied; its outcome is already recorded`);
      }
      let approval: AuditEvent['approval'] | undefined;
      if (enforced && verdict === 'require_approval') {
        const requestId = decision.approval?.request_id;
        const digest = decision.approval?.request_digest;
        if (requestId === undefined || digest === undefined)
          fail('conflict', `action ${id} has no approval request`);
        try {
          await new Approvals(trail).consume(requestId, digest);
        } catch (e) {
          if (e instanceof ApprovalError) fail('conflict', `action ${id} cannot run: ${e.message}`);
          throw e;
        }
        approval = { required: true, request_id: requestId, request_digest: digest, decision: 'granted' };
      }
      const receipt = await trail.record({
        ...(b.event_id !== undefined ? { event_id: b.event_id } : {}),
        type: OUTCOME_TYPE[b.status],
        actor: intent.actor,
        parent_event_id: id,
        ...(intent.session_id ? { session_id: intent.session_id } : {}),
        ...(intent.run_id ? { run_id: intent.run_id } : {}),
        ...(intent.trace_id ? { trace_id: intent.trace_id } : {}),
        ...(intent.span_id ? { span_id: intent.span_id } : {}),
        ...(intent.action
          ? {
              action: {
                type: intent.action.type,
                ...(intent.action.target !== undefined ? { target: intent.action.target } : {}),
              },
            }
          : {}),
        ...(approval ? { approval } : {}),
        outcome: {
          status: b.status,
          ...(b.result !== undefined ? { result: b.result } : {}),
          ...(b.error_message !== undefined ? { error_message: b.error_message } : {}),
          ...(b.duration_ms !== undefined ? { duration_ms: b.duration_ms } : {}),
        },
      });
      return reply
        .code(201)
        .send({ seq: receipt.seq, event_id: receipt.event_id, leaf_hash: receipt.leaf_hash });
    },
  );

  app.get(
    '/v1/approvals',
    {
      config: { scopes: ['approve', 'read'] },
      schema: {
        summary: 'Approval requests of this tenant (pending by default)',
        tags: ['approvals'],
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            status: {
              type: 'string',
              enum: ['pending', 'granted', 'denied', 'expired', 'used', 'all'],
              default: 'pending',
            },
          },
        },
        'x-responses': { 200: { description: 'The requests', schema: { type: 'object' } } },
      },
    },
    async (req) => {
      const trail = await ctx.trails.get(principalOf(req).tenant);
      const { status } = req.query as { status: ApprovalRow['status'] | 'all' };
      const rows = await new Approvals(trail).list(status);
      return { approvals: rows };
    },
  );

  app.get(
    '/v1/approvals/:id',
    {
      config: { scopes: ['decide', 'approve', 'read'] },
      schema: {
        summary: 'One approval request; ?wait=30s holds the answer until it is decided (long-poll)',
        tags: ['approvals'],
        params: { type: 'object', required: ['id'], properties: { id: APPROVAL_ID } },
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { wait: { type: 'string', pattern: '^[0-9]{1,6}(ms|s)?$' } },
        },
        'x-responses': { 200: { description: 'The request and its status', schema: { type: 'object' } } },
      },
    },
    async (req) => {
      const { id } = req.params as { id: string };
      const wait = waitMs((req.query as { wait?: string }).wait);
      const trail = await ctx.trails.get(principalOf(req).tenant);
      const approvals = new Approvals(trail);
      let row = await approvals.get(id);
      if (!row) fail('not_found', 'no such approval request in this log');
      if (row.status === 'pending' && wait > 0) {
        const gone = new AbortController();
        req.raw.once('close', () => gone.abort());
        const signal = AbortSignal.any([AbortSignal.timeout(wait), ctx.closing, gone.signal]);
        try {
          row = await approvals.wait(id, { signal, pollMs: 250 });
        } catch (e) {
          if (!(e instanceof ApprovalError && e.code === 'closed')) throw e;
          row = (await approvals.get(id)) ?? row;
        }
      }
      return approvalJson(row);
    },
  );

  for (const verdict of ['approve', 'deny'] as const) {
    app.post(
      `/v1/approvals/:id/${verdict}`,
      {
        config: { scopes: ['approve'] },
        schema: {
          summary: `${verdict === 'approve' ? 'Grant' : 'Deny'} a request as the authenticated principal`,
          description:
            "The approver recorded is the API key's name; the body cannot name anyone else, and the rule's approvers list must include it.",
          tags: ['approvals'],
          params: { type: 'object', required: ['id'], properties: { id: APPROVAL_ID } },
          body: {
            type: 'object',
            additionalProperties: false,
            properties: { reason: { type: 'string', maxLength: 4000 } },
          },
          'x-responses': { 200: { description: 'The decided request', schema: { type: 'object' } } },
        },
      },
      async (req) => {
        const p = principalOf(req);
        const { id } = req.params as { id: string };
        const reason = (req.body as { reason?: string } | undefined)?.reason;
        const trail = await ctx.trails.get(p.tenant);
        const approvals = new Approvals(trail);
        const row = await approvals.get(id);
        if (!row) fail('not_found', 'no such approval request in this log');
        if (!row.approvers.includes(p.name)) {
          fail(
            'forbidden',
            `${p.name} is not an approver of ${id} (the rule names ${row.approvers.join(', ')})`,
          );
        }
        const by = { as: p.name, ...(reason !== undefined ? { reason } : {}) };
        if (verdict === 'approve') await approvals.approve(id, by);
        else await approvals.deny(id, by);
        const after = await approvals.get(id);
        if (!after) throw new AuditError('not_found', `no approval request ${id}`);
        return approvalJson(after);
      },
    );
  }
}
