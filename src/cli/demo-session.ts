import { randomBytes } from 'node:crypto';
import {
  ActionDeniedError,
  Approvals,
  Governor,
  parsePolicy,
  type ActionSpec,
  type Actor,
  type AuditEvent,
  type AuditTrail,
  type PolicyBundle,
} from '../index.js';

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

/** Where the demo's policy is published, for `auditrail policy test` (a test keeps them equal). */
export const DEMO_POLICY_FILE = 'examples/policies/support-agent.yaml';

/** The text of {@link DEMO_POLICY_FILE}; carried here so an installed CLI needs no examples folder. */
export const DEMO_POLICY_YAML = `# The policy of the fictional "Acme Support" agent that 'auditrail demo' runs under.
# Try it: auditrail demo && auditrail policy test examples/policies/support-agent.yaml
#
# Rules are tried in order; the first that matches decides. Nothing matched: the default (deny).
policy_id: acme-support
version: 7
default: deny
mode: enforce
rules:
  # Reads of support data: tickets, customers, orders, the knowledge base.
  - id: allow-support-reads
    match: { action: ['read:ticket', 'read:customer', 'read:order', 'search:kb'] }
    effect: allow
    risk: low
    reason: support agents may read support data

  # Prescriptions are PHI: readable only with a stated purpose (minimum necessary).
  - id: phi-minimum-necessary
    match: { action: 'read:rx' }
    when: "has(context.purpose) && context.purpose != ''"
    effect: allow
    risk: high
    reason: PHI read allowed with a stated purpose (minimum necessary)

  - id: allow-payments-read
    match: { action: 'stripe:charges.list' }
    effect: allow
    risk: medium
    reason: read-only payment lookups are allowed

  - id: allow-carrier-lookups
    match: { action: 'ups:track' }
    effect: allow
    risk: low
    reason: carrier tracking is read-only

  # Outbound HTTP only to the hosts on the allowlist.
  - id: allow-status-pages
    match: { action: 'http:get', target: ['status.*.example', 'status.*.com'] }
    effect: allow
    risk: low
    reason: public status pages are on the egress allowlist
  - id: egress-allowlist
    match: { action: 'http:get' }
    effect: deny
    risk: high
    reason: the host is not on the egress allowlist

  # Money: small refunds run, larger ones wait for a team lead.
  - id: refunds-need-lead-approval
    match: { action: 'write:refund' }
    when: 'params.amount > 25.0'
    effect: require_approval
    approvers: [maria.chen, oncall_lead]
    approval_ttl: 1h
    risk: high
    reason: refunds above $25 need a team lead
  - id: allow-small-refunds
    match: { action: 'write:refund' }
    effect: allow
    risk: medium
    reason: refunds up to $25 are within the agent's limit

  - id: no-agent-payment-method-deletes
    match: { action: 'delete:card' }
    effect: deny
    risk: high
    reason: agents may not delete payment methods; hand off to a human

  - id: identity-verification-required
    match: { action: 'write:password' }
    effect: deny
    risk: critical
    reason: password changes need identity verification by a human

  - id: allow-cancel-unshipped
    match: { action: 'write:cancel', target: 'order/*' }
    effect: allow
    risk: medium
    reason: unshipped orders may be cancelled

  - id: allow-handoffs
    match: { action: 'write:handoff' }
    effect: allow
    risk: low
    reason: handing a conversation to a human is always allowed

  - id: allow-templated-email
    match: { action: 'send:email' }
    effect: allow
    risk: low
    reason: templated emails to the customer of the ticket

  - id: allow-ticket-updates
    match: { action: 'write:ticket', target: 'ticket/*' }
    effect: allow
    risk: low
    reason: agents keep their tickets up to date
`;

let parsed: PolicyBundle | undefined;

/**
 * The demo's policy bundle (parsed once).
 *
 * @example
 * demoPolicy().policyId; // 'acme-support'
 */
export function demoPolicy(): PolicyBundle {
  parsed ??= parsePolicy(DEMO_POLICY_YAML, DEMO_POLICY_FILE);
  return parsed;
}

/** Events in one demo session (the script below), not counting a first `policy.updated`. */
export const DEMO_SESSION_EVENTS = 73;

const hex = (bytes: number): string => randomBytes(bytes).toString('hex');

/** Waits `ms`, or rejects as soon as `signal` aborts (a tool that honours cancellation). */
const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
      },
      { once: true },
    );
  });

const SUPPORT: Actor = { type: 'agent', id: 'acme-support', name: 'Acme Support', trust_tier: 'standard' };
const RESEARCHER: Actor = {
  type: 'agent',
  id: 'kb-researcher',
  name: 'KB Researcher',
  on_behalf_of: 'acme-support',
};
const MONITOR: Actor = { type: 'system', id: 'guardrails' };
/** The team lead the refund rule names as approver. */
const LEAD = 'maria.chen';

const SONNET = { provider: 'anthropic', name: 'claude-sonnet-4-5' };
const HAIKU = { provider: 'anthropic', name: 'claude-haiku-4-5' };

/** Runs `body`; a refusal by the policy is part of the story, anything else is not. */
async function refused(body: () => Promise<unknown>): Promise<void> {
  try {
    await body();
  } catch (e) {
    if (!(e instanceof ActionDeniedError)) throw e;
  }
}

/**
 * One realistic session of the fictional "Acme Support" agent, helping a customer who was
 * charged twice and is waiting for a prescription refill. Every action goes through the real
 * {@link Governor} under {@link DEMO_POLICY_YAML}: reads allowed, a payments call that fails once
 * and is retried, a PHI read with a stated purpose, a carrier call that times out and then fails,
 * a refund held until the team lead approves it, denials (a card delete, a password change, an
 * off-allowlist fetch by a sub-agent), a wrong cancel that is undone, and a delegation. Secrets
 * in parameters and error messages are redacted before storage. Returns the session id.
 *
 * @example
 * const sessionId = await runDemoSession(trail, 0); // ~70 events, every action governed
 */
export async function runDemoSession(
  trail: AuditTrail,
  index: number,
  started?: (sessionId: string) => void,
): Promise<string> {
  const policy = demoPolicy();
  const n = index;
  const sessionId = `sess-${hex(4)}`;
  const traceId = hex(16);
  started?.(sessionId);
  const ticket = `ticket/T-${4821 + n}`;
  const customer = `cust-${8841 + n}`;
  const order = 1042 + 2 * n;
  const wrongOrder = order + 1;
  const run = (k: number): string => `${sessionId.replace('sess', 'run')}-${k}`;
  const usage = (actor: Actor): NonNullable<AuditEvent['model']> => ({
    ...(actor === RESEARCHER ? HAIKU : SONNET),
    input_tokens: (actor === RESEARCHER ? 900 : 2400) + Math.floor(Math.random() * 400),
    output_tokens: 60 + Math.floor(Math.random() * 240),
  });
  // The team lead's side: she sees the request (dashboard, CLI) and decides it, by name.
  const lead = new Approvals(trail);
  const governor = (k: number): Governor =>
    new Governor({
      trail,
      policy,
      actor: SUPPORT,
      session_id: sessionId,
      run_id: run(k),
      trace_id: traceId,
      environment: 'production',
      recordDispatch: true,
      approvals: {
        pollMs: 5,
        onRequest: (req) =>
          lead.approve(req.id, { as: LEAD, reason: 'duplicate charge confirmed in the payments log' }),
      },
    });
  const spec = (actor: Actor, action: ActionSpec): ActionSpec => ({ ...action, model: usage(actor) });
  /** Events the agent's runtime records around the governed actions. */
  const note = (k: number, event: Omit<AuditEvent, 'session_id' | 'run_id' | 'trace_id' | 'span_id'>) =>
    trail.record({ ...event, session_id: sessionId, run_id: run(k), trace_id: traceId, span_id: hex(8) });

  // Run 1: triage — the session starts, the agent reads the ticket, the customer, the order.
  await note(1, {
    type: 'agent.lifecycle',
    actor: SUPPORT,
    context: {
      conversation_id: `conv-${hex(6)}`,
      user_message: `Hi, I was charged twice for order #${order} and my prescription refill still hasn't shipped.`,
      purpose: 'customer support',
    },
    metadata: { phase: 'started', agent_version: '2.4.1', environment: 'production', channel: 'chat' },
  });
  let g = governor(1);
  await g.run(
    spec(SUPPORT, {
      type: 'read:ticket',
      target: ticket,
      reasoning: 'Load the ticket to see the history of this conversation.',
    }),
    () => Promise.resolve({ status: 'open', priority: 'normal' }),
  );
  await g.run(spec(SUPPORT, { type: 'read:customer', target: customer }), () =>
    Promise.resolve({ tier: 'gold', since: 2019 }),
  );
  await g.run(spec(SUPPORT, { type: 'read:order', target: `order/${order}` }), () =>
    Promise.resolve({ status: 'shipped', total: 49.99, charges: 2 }),
  );

  // Run 2: the payments API fails once; the second attempt works.
  g = governor(2);
  let attempts = 0;
  await g.run(
    spec(SUPPORT, {
      type: 'stripe:charges.list',
      target: customer,
      params: { customer, limit: 10, api_key: DEMO_SECRETS.stripeKey },
      reasoning: 'Two charges on one order: list the charges to confirm the duplicate.',
    }),
    () => {
      if (++attempts === 1)
        return Promise.reject(new Error('HTTP 503 from payments API: upstream connect timeout'));
      return Promise.resolve({
        charges: [
          { id: `ch_${hex(6)}`, amount: 4999, currency: 'usd' },
          { id: `ch_${hex(6)}`, amount: 4999, currency: 'usd' },
        ],
      });
    },
    { retries: 2, backoffMs: 5 },
  );

  // Run 3: the prescription record is PHI; the policy lets it be read for a stated purpose.
  g = governor(3);
  const rx = { type: 'read:rx', target: `rx/RX-${55120 + n}` };
  const phi = {
    data_classification: 'phi' as const,
    data_subject_ids: [`patient-${20931 + n}`],
    purpose: 'answer the customer’s question about a refill delivery',
  };
  await g.run(
    spec(SUPPORT, {
      ...rx,
      context: phi,
      reasoning: 'The customer asked where the refill is; the prescription status says.',
    }),
    async () => {
      await note(3, {
        type: 'context.accessed',
        actor: SUPPORT,
        action: rx,
        context: { ...phi, data_accessed: [rx.target] },
      });
      return { status: 'awaiting_pharmacist_review', refills_left: 2 };
    },
  );

  // Run 4: the carrier API times out; the retry is refused with an expired token (echoed in the
  // error); the agent falls back to the carrier's public status page.
  g = governor(4);
  let tracking = 0;
  await g
    .run(
      spec(SUPPORT, {
        type: 'ups:track',
        target: `1Z${hex(4).toUpperCase()}`,
        params: { carrier: 'ups', headers: { Authorization: `Bearer ${DEMO_SECRETS.bearerToken}` } },
      }),
      async (signal) => {
        if (++tracking === 1) await sleep(1000, signal);
        throw new Error(
          `401 Unauthorized: token expired (Authorization: Bearer ${DEMO_SECRETS.bearerToken})`,
        );
      },
      { timeoutMs: 25, retries: 1, backoffMs: 5 },
    )
    .catch(() => undefined);
  await g.run(spec(SUPPORT, { type: 'http:get', target: 'status.ups.example' }), () =>
    Promise.resolve({ incident: 'regional delays', eta_days: 2 }),
  );

  // Run 5: a refund above $25 waits for the team lead's approval, then runs under her grant.
  g = governor(5);
  await g.run(
    spec(SUPPORT, {
      type: 'write:refund',
      target: `order/${order}`,
      params: { amount: 49.99, currency: 'USD', reason: 'duplicate charge' },
      reasoning: 'Both charges are for the same order; refund the second one.',
    }),
    () => Promise.resolve({ refund_id: `re_${hex(6)}`, status: 'succeeded' }),
  );

  // Run 6: deleting a payment method is never an agent's call; the agent hands off instead.
  g = governor(6);
  await refused(() =>
    g.run(
      spec(SUPPORT, {
        type: 'delete:card',
        target: `${customer}/4242`,
        reasoning: 'The customer wants the old card removed.',
      }),
      () => Promise.resolve(),
    ),
  );
  await g.run(
    spec(SUPPORT, { type: 'write:handoff', target: ticket, params: { queue: 'billing-humans' } }),
    () => Promise.resolve({ queue: 'billing-humans', position: 3 }),
  );

  // Run 7: the agent cancels the wrong order; the monitor notices and the agent undoes it.
  g = governor(7);
  const cancel = { type: 'write:cancel', target: `order/${wrongOrder}` };
  const cancelled = await g.run(
    spec(SUPPORT, { ...cancel, reasoning: 'Cancel the duplicate order so it is not charged again.' }),
    () => Promise.resolve({ status: 'cancelled' }),
    { undo: () => Promise.resolve() },
  );
  await note(7, {
    type: 'anomaly.detected',
    actor: MONITOR,
    action: cancel,
    risk_level: 'medium',
    context: {
      reasoning: `order ${wrongOrder} is a different product; the duplicate was a charge, not an order`,
    },
    metadata: { detector: 'intent-drift', score: 0.91 },
  });
  await cancelled.undo?.();

  // Run 8: a research sub-agent looks up the shipping-delay policy; one fetch is off-limits.
  g = governor(8);
  const researcher = await g.delegate(RESEARCHER, ['search:kb', 'http:get']);
  await researcher.run(spec(RESEARCHER, { type: 'search:kb', target: 'kb/shipping-delays' }), () =>
    Promise.resolve({ articles: ['KB-311', 'KB-207'] }),
  );
  await refused(() =>
    researcher.run(spec(RESEARCHER, { type: 'http:get', target: 'pastebin.example/8f2k' }), () =>
      Promise.resolve(),
    ),
  );
  await researcher.endDelegation();

  // Run 9: a password reset is denied (the new password in the params is redacted), then the
  // agent confirms the refund by email and updates the ticket.
  g = governor(9);
  await refused(() =>
    g.run(
      spec(SUPPORT, {
        type: 'write:password',
        target: `account/${customer}`,
        params: { new_password: DEMO_SECRETS.password, notify: true },
        reasoning: 'The customer asked to set a new password in the chat.',
      }),
      () => Promise.resolve(),
    ),
  );
  await g.run(
    spec(SUPPORT, {
      type: 'send:email',
      target: customer,
      params: { template: 'refund_confirmation', order },
    }),
    () => Promise.resolve({ message_id: `msg-${hex(6)}` }),
  );
  await g.run(
    spec(SUPPORT, { type: 'write:ticket', target: ticket, params: { status: 'pending_customer' } }),
    () => Promise.resolve({ status: 'pending_customer' }),
  );
  await note(9, {
    type: 'agent.lifecycle',
    actor: SUPPORT,
    metadata: {
      phase: 'finished',
      resolution: 'refund issued, refill delay explained, handed off card removal',
    },
  });
  return sessionId;
}
