import { randomBytes } from 'node:crypto';
import type { Actor, AuditEvent } from '../index.js';

/**
 * The demo's secrets. They are fake, and assembled from parts so that secret scanners do not
 * flag this repository; the redactor must catch them all before anything is stored (the e2e
 * test searches the database file for each of them).
 */
export const DEMO_SECRETS = {
  /** A Stripe-style secret key, sent as `api_key` to the payments tool. */
  stripeKey: ['sk', 'live', '51Hq3xAcmeDem0K3yN0tR3al9vZ'].join('_'),
  /** An OAuth access token, sent in an `Authorization: Bearer` header and echoed by an error. */
  bearerToken: ['acme', 'at', '7Qm2vX9pL4sN8wR1zK6tY3'].join('_'),
  /** A password a customer asked the agent to set. */
  password: ['Tr0ub4dor', '3xample', 'Acme!'].join('&'),
} as const;

/** Events in one demo session (the script below). */
export const DEMO_SESSION_EVENTS = 64;

const hex = (bytes: number): string => randomBytes(bytes).toString('hex');

/** RFC 9562 §5.7 UUIDv7 at `ms`: time-ordered, as the event model asks of event ids. */
function uuidv7(ms: number): string {
  const b = randomBytes(16);
  b.writeUIntBE(Math.floor(ms), 0, 6);
  b[6] = (b[6]! & 0x0f) | 0x70;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

type Draft = Omit<AuditEvent, 'event_id' | 'time' | 'session_id' | 'trace_id'>;

/** Builds one session's events on a simulated clock. */
class Session {
  readonly events: AuditEvent[] = [];
  private clock: number;
  readonly sessionId: string;
  private readonly traceId = hex(16);

  constructor(start: number) {
    this.clock = start;
    this.sessionId = `sess-${hex(4)}`;
  }

  /** Adds an event `afterMs` after the previous one; returns its event id. */
  add(afterMs: number, draft: Draft): string {
    this.clock += afterMs * (0.8 + Math.random() * 0.4);
    const event_id = uuidv7(this.clock);
    this.events.push({
      event_id,
      time: new Date(this.clock).toISOString(),
      session_id: this.sessionId,
      trace_id: this.traceId,
      span_id: draft.span_id ?? hex(8),
      ...draft,
    });
    return event_id;
  }
}

const SUPPORT: Actor = { type: 'agent', id: 'acme-support', name: 'Acme Support', trust_tier: 'standard' };
const RESEARCHER: Actor = {
  type: 'agent',
  id: 'kb-researcher',
  name: 'KB Researcher',
  on_behalf_of: 'acme-support',
};
const POLICY: Actor = { type: 'system', id: 'policy-engine' };
const GATEWAY: Actor = { type: 'service', id: 'tool-gateway' };
const MONITOR: Actor = { type: 'system', id: 'guardrails' };
const LEAD: Actor = { type: 'user', id: 'maria.chen', name: 'Maria Chen', auth_method: 'sso' };

const SONNET = { provider: 'anthropic', name: 'claude-sonnet-4-5' };
const HAIKU = { provider: 'anthropic', name: 'claude-haiku-4-5' };

/**
 * One realistic session of the fictional "Acme Support" agent, helping a customer who was
 * charged twice and is waiting for a prescription refill. It covers allows and denials with
 * reasons, an approval, a failure and a retry, a timeout, an undo, a delegation to a sub-agent,
 * secrets that must be redacted, PHI, token usage and trace context.
 *
 * @example
 * const events = demoSession(Date.now() - 5 * 60_000, 0); // 64 events, times over ~4 minutes
 */
export function demoSession(start: number, index: number): AuditEvent[] {
  const s = new Session(start);
  const n = index;
  const ticket = `ticket/T-${4821 + n}`;
  const customer = `cust-${8841 + n}`;
  const order = 1042 + 2 * n;
  const wrongOrder = order + 1;
  const run = (k: number): string => `${s.sessionId.replace('sess', 'run')}-${k}`;
  const tokens = (base: number): { input_tokens: number; output_tokens: number } => ({
    input_tokens: base + Math.floor(Math.random() * 400),
    output_tokens: 60 + Math.floor(Math.random() * 240),
  });

  /** intent → policy decision; returns the intent's span so later steps share it. */
  const decide = (
    afterMs: number,
    runId: string,
    actor: Actor,
    action: NonNullable<AuditEvent['action']>,
    policy: NonNullable<AuditEvent['policy']>,
    extra: Partial<Draft> = {},
  ): string => {
    const span = hex(8);
    const risk = policy.risk ?? 'low';
    s.add(afterMs, {
      type: 'action.intent',
      run_id: runId,
      span_id: span,
      actor,
      action,
      risk_level: risk,
      model: { ...(actor === RESEARCHER ? HAIKU : SONNET), ...tokens(actor === RESEARCHER ? 900 : 2400) },
      ...extra,
    });
    s.add(3, {
      type: 'policy.decision',
      run_id: runId,
      span_id: span,
      actor: POLICY,
      action: { type: action.type, ...(action.target !== undefined ? { target: action.target } : {}) },
      policy: {
        policy_id: 'acme-support',
        policy_version: 7,
        mode: 'enforce',
        evaluation_us: 40 + Math.floor(Math.random() * 200),
        ...policy,
      },
      ...(extra.delegation ? { delegation: extra.delegation } : {}),
    });
    return span;
  };
  const done = (
    afterMs: number,
    runId: string,
    span: string,
    actor: Actor,
    action: AuditEvent['action'],
    result: unknown,
  ): string =>
    s.add(afterMs, {
      type: 'action.succeeded',
      run_id: runId,
      span_id: span,
      actor,
      ...(action ? { action } : {}),
      outcome: { status: 'success', result, duration_ms: Math.round(afterMs * (0.7 + Math.random() * 0.3)) },
    });
  const allowRead = {
    decision: 'allow',
    matched_rule: 'allow-support-reads',
    reason: 'support agents may read support data',
    risk: 'low',
  } as const;

  // Run 1: triage — the session starts, the agent reads the ticket, the customer, the order.
  s.add(0, {
    type: 'agent.lifecycle',
    run_id: run(1),
    actor: SUPPORT,
    context: {
      conversation_id: `conv-${hex(6)}`,
      user_message: `Hi, I was charged twice for order #${order} and my prescription refill still hasn't shipped.`,
      purpose: 'customer support',
    },
    metadata: { phase: 'started', agent_version: '2.4.1', environment: 'production', channel: 'chat' },
  });
  let span = decide(1800, run(1), SUPPORT, { type: 'read:ticket', target: ticket }, allowRead, {
    context: { reasoning: 'Load the ticket to see the history of this conversation.' },
  });
  done(
    45,
    run(1),
    span,
    SUPPORT,
    { type: 'read:ticket', target: ticket },
    { status: 'open', priority: 'normal' },
  );
  span = decide(1200, run(1), SUPPORT, { type: 'read:customer', target: customer }, allowRead);
  done(60, run(1), span, SUPPORT, { type: 'read:customer', target: customer }, { tier: 'gold', since: 2019 });
  span = decide(900, run(1), SUPPORT, { type: 'read:order', target: `order/${order}` }, allowRead);
  done(
    80,
    run(1),
    span,
    SUPPORT,
    { type: 'read:order', target: `order/${order}` },
    { status: 'shipped', total: 49.99, charges: 2 },
  );

  // Run 2: the payments API fails once, the gateway retries, the second attempt works.
  const charges = { type: 'stripe:charges.list', target: customer };
  span = decide(
    1500,
    run(2),
    SUPPORT,
    { ...charges, params: { customer, limit: 10, api_key: DEMO_SECRETS.stripeKey } },
    {
      decision: 'allow',
      matched_rule: 'allow-payments-read',
      reason: 'read-only payment lookups are allowed',
      risk: 'medium',
    },
    { context: { reasoning: 'Two charges on one order: list the charges to confirm the duplicate.' } },
  );
  const job = `job-${hex(4)}`;
  s.add(5, {
    type: 'action.dispatched',
    run_id: run(2),
    span_id: span,
    actor: GATEWAY,
    action: charges,
    dispatch: { topic: 'tools.payments', job_id: job, attempt: 1, max_attempts: 3, status: 'sent' },
  });
  s.add(1500, {
    type: 'action.failed',
    run_id: run(2),
    span_id: span,
    actor: GATEWAY,
    action: charges,
    dispatch: { job_id: job, attempt: 1, max_attempts: 3 },
    outcome: {
      status: 'failure',
      error_message: 'HTTP 503 from payments API: upstream connect timeout',
      duration_ms: 1502,
    },
  });
  s.add(800, {
    type: 'action.retried',
    run_id: run(2),
    span_id: span,
    actor: GATEWAY,
    action: charges,
    dispatch: { topic: 'tools.payments', job_id: job, attempt: 2, max_attempts: 3, status: 'sent' },
    metadata: { backoff_ms: 800 },
  });
  done(390, run(2), span, GATEWAY, charges, {
    charges: [
      { id: `ch_${hex(6)}`, amount: 4999, currency: 'usd' },
      { id: `ch_${hex(6)}`, amount: 4999, currency: 'usd' },
    ],
  });

  // Run 3: the prescription record is PHI; reading it needs a stated purpose.
  const rx = { type: 'read:rx', target: `rx/RX-${55120 + n}` };
  const phi: NonNullable<AuditEvent['context']> = {
    data_classification: 'phi',
    data_subject_ids: [`patient-${20931 + n}`],
    purpose: 'answer the customer’s question about a refill delivery',
  };
  span = decide(
    2100,
    run(3),
    SUPPORT,
    rx,
    {
      decision: 'allow',
      matched_rule: 'phi-minimum-necessary',
      reason: 'PHI read allowed with a stated purpose (minimum necessary)',
      risk: 'high',
    },
    {
      context: { ...phi, reasoning: 'The customer asked where the refill is; the prescription status says.' },
    },
  );
  s.add(30, {
    type: 'context.accessed',
    run_id: run(3),
    span_id: span,
    actor: SUPPORT,
    action: rx,
    context: { ...phi, data_accessed: [rx.target] },
  });
  done(70, run(3), span, SUPPORT, rx, { status: 'awaiting_pharmacist_review', refills_left: 2 });

  // Run 4: the carrier API times out; a retry is refused with an expired token (echoed in the error).
  const track = { type: 'ups:track', target: `1Z${hex(4).toUpperCase()}` };
  span = decide(
    1300,
    run(4),
    SUPPORT,
    {
      ...track,
      params: { carrier: 'ups', headers: { Authorization: `Bearer ${DEMO_SECRETS.bearerToken}` } },
    },
    {
      decision: 'allow',
      matched_rule: 'allow-carrier-lookups',
      reason: 'carrier tracking is read-only',
      risk: 'low',
    },
  );
  const trackJob = `job-${hex(4)}`;
  s.add(5, {
    type: 'action.dispatched',
    run_id: run(4),
    span_id: span,
    actor: GATEWAY,
    action: track,
    dispatch: { topic: 'tools.shipping', job_id: trackJob, attempt: 1, max_attempts: 2, status: 'sent' },
  });
  s.add(30_000, {
    type: 'action.timed_out',
    run_id: run(4),
    span_id: span,
    actor: GATEWAY,
    action: track,
    dispatch: { job_id: trackJob, attempt: 1, max_attempts: 2 },
    outcome: {
      status: 'timeout',
      error_message: 'carrier API did not answer within 30 s',
      duration_ms: 30_000,
    },
  });
  s.add(1000, {
    type: 'action.retried',
    run_id: run(4),
    span_id: span,
    actor: GATEWAY,
    action: track,
    dispatch: { topic: 'tools.shipping', job_id: trackJob, attempt: 2, max_attempts: 2, status: 'sent' },
  });
  s.add(240, {
    type: 'action.failed',
    run_id: run(4),
    span_id: span,
    actor: GATEWAY,
    action: track,
    dispatch: { job_id: trackJob, attempt: 2, max_attempts: 2 },
    outcome: {
      status: 'failure',
      error_message: `401 Unauthorized: token expired (Authorization: Bearer ${DEMO_SECRETS.bearerToken})`,
      duration_ms: 240,
    },
  });
  span = decide(900, run(4), SUPPORT, { type: 'http:get', target: 'status.ups.example' }, allowRead);
  done(
    300,
    run(4),
    span,
    SUPPORT,
    { type: 'http:get', target: 'status.ups.example' },
    { incident: 'regional delays', eta_days: 2 },
  );

  // Run 5: a refund above the limit needs a team lead's approval.
  const refund = { type: 'write:refund', target: `order/${order}` };
  span = decide(
    2600,
    run(5),
    SUPPORT,
    { ...refund, params: { amount: 49.99, currency: 'USD', reason: 'duplicate charge' } },
    {
      decision: 'require_approval',
      matched_rule: 'refunds-need-lead-approval',
      reason: 'refunds above $25 need a team lead',
      risk: 'high',
      approvers: ['maria.chen'],
    },
    { context: { reasoning: 'Both charges are for the same order; refund the second one.' } },
  );
  const request = `apr-${hex(6)}`;
  s.add(20, {
    type: 'approval.requested',
    run_id: run(5),
    span_id: span,
    actor: SUPPORT,
    action: refund,
    risk_level: 'high',
    approval: {
      required: true,
      request_id: request,
      approvers: ['maria.chen'],
      decision: 'pending',
      expires_at: new Date(start + 3_600_000).toISOString(),
    },
  });
  s.add(95_000, {
    type: 'approval.granted',
    run_id: run(5),
    span_id: span,
    actor: LEAD,
    action: refund,
    approval: {
      request_id: request,
      approver: 'maria.chen',
      decision: 'granted',
      reason: 'duplicate charge confirmed in the payments log',
    },
  });
  s.add(10, {
    type: 'action.dispatched',
    run_id: run(5),
    span_id: span,
    actor: GATEWAY,
    action: refund,
    dispatch: {
      topic: 'tools.payments',
      job_id: `job-${hex(4)}`,
      attempt: 1,
      max_attempts: 1,
      status: 'sent',
    },
  });
  done(650, run(5), span, GATEWAY, refund, { refund_id: `re_${hex(6)}`, status: 'succeeded' });

  // Run 6: deleting a payment method is never an agent's call; the agent hands off instead.
  decide(
    1700,
    run(6),
    SUPPORT,
    { type: 'delete:card', target: `${customer}/4242` },
    {
      decision: 'deny',
      matched_rule: 'no-agent-payment-method-deletes',
      reason: 'agents may not delete payment methods; hand off to a human',
      risk: 'high',
    },
    { context: { reasoning: 'The customer wants the old card removed.' } },
  );
  span = decide(
    800,
    run(6),
    SUPPORT,
    { type: 'write:handoff', target: ticket, params: { queue: 'billing-humans' } },
    { decision: 'allow', matched_rule: 'allow-handoffs', risk: 'low' },
  );
  done(
    120,
    run(6),
    span,
    SUPPORT,
    { type: 'write:handoff', target: ticket },
    { queue: 'billing-humans', position: 3 },
  );

  // Run 7: the agent cancels the wrong order; the monitor notices and the agent undoes it.
  const cancel = { type: 'write:cancel', target: `order/${wrongOrder}` };
  span = decide(
    1400,
    run(7),
    SUPPORT,
    cancel,
    {
      decision: 'allow',
      matched_rule: 'allow-cancel-unshipped',
      reason: 'unshipped orders may be cancelled',
      risk: 'medium',
    },
    {
      context: { reasoning: 'Cancel the duplicate order so it is not charged again.' },
    },
  );
  const cancelled = done(210, run(7), span, SUPPORT, cancel, { status: 'cancelled' });
  s.add(400, {
    type: 'anomaly.detected',
    run_id: run(7),
    actor: MONITOR,
    action: cancel,
    risk_level: 'medium',
    context: {
      reasoning: `order ${wrongOrder} is a different product; the duplicate was a charge, not an order`,
    },
    metadata: { detector: 'intent-drift', score: 0.91 },
  });
  const restore = { type: 'write:restore', target: `order/${wrongOrder}` };
  span = decide(1100, run(7), SUPPORT, restore, {
    decision: 'allow',
    matched_rule: 'allow-undo-own-actions',
    reason: 'agents may undo their own actions',
    risk: 'low',
  });
  s.add(260, {
    type: 'action.undone',
    run_id: run(7),
    span_id: span,
    actor: SUPPORT,
    action: restore,
    undo: { of_event_id: cancelled, reason: 'cancelled the wrong order; restored it' },
    outcome: { status: 'success', duration_ms: 240 },
  });

  // Run 8: a research sub-agent looks up the shipping-delay policy; one fetch is off-limits.
  const chain = {
    chain: [
      {
        agent_id: 'acme-support',
        delegated_at: new Date(start + 200_000).toISOString(),
        permissions_granted: ['search:kb', 'http:get'],
      },
      { agent_id: 'kb-researcher' },
    ],
    depth: 1,
    root_agent: 'acme-support',
  };
  s.add(1500, {
    type: 'delegation.started',
    run_id: run(8),
    actor: SUPPORT,
    action: { type: 'delegate', target: 'kb-researcher' },
    delegation: chain,
    context: { reasoning: 'Find the current policy on shipping delays for prescriptions.' },
  });
  span = decide(700, run(8), RESEARCHER, { type: 'search:kb', target: 'kb/shipping-delays' }, allowRead, {
    delegation: chain,
  });
  done(
    150,
    run(8),
    span,
    RESEARCHER,
    { type: 'search:kb', target: 'kb/shipping-delays' },
    { articles: ['KB-311', 'KB-207'] },
  );
  decide(
    600,
    run(8),
    RESEARCHER,
    { type: 'http:get', target: 'pastebin.example/8f2k' },
    {
      decision: 'deny',
      matched_rule: 'egress-allowlist',
      reason: 'pastebin.example is not on the egress allowlist',
      risk: 'high',
    },
    { delegation: chain },
  );
  s.add(900, {
    type: 'delegation.ended',
    run_id: run(8),
    actor: RESEARCHER,
    delegation: chain,
    outcome: {
      status: 'success',
      result: { summary: 'KB-311: refills delayed by carrier incidents ship free next-day' },
      duration_ms: 2300,
    },
  });

  // Run 9: a password reset is denied (the new password in the params is redacted), then the
  // agent confirms the refund by email and updates the ticket.
  decide(
    1600,
    run(9),
    SUPPORT,
    {
      type: 'write:password',
      target: `account/${customer}`,
      params: { new_password: DEMO_SECRETS.password, notify: true },
    },
    {
      decision: 'deny',
      matched_rule: 'identity-verification-required',
      reason: 'password changes need identity verification by a human',
      risk: 'critical',
    },
    { context: { reasoning: 'The customer asked to set a new password in the chat.' } },
  );
  const email = { type: 'send:email', target: customer };
  span = decide(
    1100,
    run(9),
    SUPPORT,
    { ...email, params: { template: 'refund_confirmation', order } },
    { decision: 'allow', matched_rule: 'allow-templated-email', risk: 'low' },
  );
  s.add(10, {
    type: 'action.dispatched',
    run_id: run(9),
    span_id: span,
    actor: GATEWAY,
    action: email,
    dispatch: { topic: 'tools.email', job_id: `job-${hex(4)}`, attempt: 1, max_attempts: 5, status: 'sent' },
  });
  done(420, run(9), span, GATEWAY, email, { message_id: `msg-${hex(6)}` });
  const update = { type: 'write:ticket', target: ticket };
  span = decide(
    900,
    run(9),
    SUPPORT,
    { ...update, params: { status: 'pending_customer' } },
    { decision: 'allow', matched_rule: 'allow-ticket-updates', risk: 'low' },
  );
  done(90, run(9), span, SUPPORT, update, { status: 'pending_customer' });
  s.add(500, {
    type: 'agent.lifecycle',
    run_id: run(9),
    actor: SUPPORT,
    metadata: {
      phase: 'finished',
      resolution: 'refund issued, refill delay explained, handed off card removal',
    },
  });
  return s.events;
}

/** Simulated length of one session, for spreading repeated sessions over time. */
export const DEMO_SESSION_SPAN_MS = 4 * 60_000;
