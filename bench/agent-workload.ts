/**
 * A realistic, deterministic stream of agent events for the benchmarks: many agent sessions run
 * at once and interleave in the log, each exactly {@link SESSION_EVENTS} events long, made of tool
 * calls (intent → policy decision → outcome), approvals by people, denials, failures with
 * retries, context reads, and the session's start and end. Intents carry params, model usage and
 * reasoning; outcomes carry results or errors; about one event in 500 leaks a credential (the
 * redactor's real work).
 */
import type { AuditEvent, Decision, RiskLevel } from '../src/index.js';

/** Bump when the generated events change: cached logs built from older versions are rebuilt. */
export const WORKLOAD_VERSION = 1;

/** Events per session, so that a session's timeline is one `query({ session_id, limit: 100 })`. */
export const SESSION_EVENTS = 100;

/** Sessions open at once (their events interleave in the log). */
const CONCURRENT_SESSIONS = 64;

/** mulberry32: a small seeded PRNG, so every run generates the same workload. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const AGENTS = [
  'support-bot',
  'billing-agent',
  'devops-copilot',
  'sales-assistant',
  'research-agent',
  'hr-helper',
];
const PEOPLE = ['alice@example.com', 'bob@example.com', 'carol@example.com', 'dan@example.com'];
const WORDS = (
  'the customer asked about order status refund policy delivery window invoice total account ' +
  'balance previous ticket escalation database replica latency error budget deployment rollback ' +
  'because the request is within limits and the user is verified so I will call the tool next'
).split(' ');

interface Tool {
  action: string;
  target: (r: () => number) => string;
  params: (r: () => number) => Record<string, unknown>;
  result: (r: () => number) => unknown;
  risk: RiskLevel;
}

const int = (r: () => number, n: number): number => Math.floor(r() * n);

const TOOLS: Tool[] = [
  {
    action: 'read:order',
    target: (r) => `order/${100000 + int(r, 900000)}`,
    params: (r) => ({ order_id: 100000 + int(r, 900000), include: ['items', 'shipping'] }),
    result: (r) => ({
      status: ['shipped', 'pending', 'delivered'][int(r, 3)],
      items: int(r, 5) + 1,
      eta: '2026-02-03',
    }),
    risk: 'low',
  },
  {
    action: 'write:refund',
    target: (r) => `order/${100000 + int(r, 900000)}`,
    params: (r) => ({ amount: Math.round(r() * 50000) / 100, currency: 'EUR', reason: 'damaged item' }),
    result: (r) => ({ refund_id: `rf_${int(r, 1e9).toString(36)}`, state: 'issued' }),
    risk: 'high',
  },
  {
    action: 'search:kb',
    target: () => 'kb/support',
    params: (r) => ({ query: `${WORDS[int(r, WORDS.length)]} ${WORDS[int(r, WORDS.length)]}`, top_k: 5 }),
    result: (r) => ({
      hits: Array.from({ length: 5 }, (_, i) => ({ doc: `kb-${int(r, 5000)}`, score: 0.9 - i * 0.1 })),
    }),
    risk: 'low',
  },
  {
    action: 'exec:sql',
    target: () => 'db/analytics-replica',
    params: (r) => ({
      sql: `SELECT count(*) FROM orders WHERE created_at > now() - interval '${int(r, 30)} days'`,
    }),
    result: (r) => ({ rows: 1, value: int(r, 100000), elapsed_ms: int(r, 900) }),
    risk: 'medium',
  },
  {
    action: 'send:email',
    target: (r) => `customer/${int(r, 1e6)}`,
    params: (r) => ({
      template: 'order-update',
      locale: 'en',
      vars: { first_name: 'Sam', order: int(r, 1e6) },
    }),
    result: (r) => ({ message_id: `<${int(r, 1e9)}@mail.example.com>`, queued: true }),
    risk: 'medium',
  },
  {
    action: 'deploy:service',
    target: (r) => `prod/service-${int(r, 40)}`,
    params: (r) => ({ version: `1.${int(r, 50)}.${int(r, 10)}`, strategy: 'canary', percent: 10 }),
    result: () => ({ rollout: 'started', healthy: true }),
    risk: 'critical',
  },
];

function hex(r: () => number, chars: number): string {
  let s = '';
  while (s.length < chars) s += int(r, 0x100000000).toString(16).padStart(8, '0');
  return s.slice(0, chars);
}

function sentence(r: () => number, words: number): string {
  const out: string[] = [];
  for (let i = 0; i < words; i++) out.push(WORDS[int(r, WORDS.length)]!);
  return out.join(' ');
}

/** One session: a start, tool-call cycles of varied shapes, and an end, SESSION_EVENTS in all. */
function sessionEvents(r: () => number, sessionId: string): AuditEvent[] {
  const agent = AGENTS[int(r, AGENTS.length)]!;
  const actor = { type: 'agent' as const, id: agent, trust_tier: r() < 0.7 ? 'standard' : 'trusted' };
  const base = { session_id: sessionId, run_id: `run-${sessionId}` };
  const model = { provider: 'anthropic', name: 'claude-sonnet-4' };
  const out: AuditEvent[] = [
    {
      ...base,
      type: 'agent.lifecycle',
      actor,
      metadata: { phase: 'started', model: model.name, channel: 'chat' },
      context: { user_message: sentence(r, 12), conversation_id: `conv-${hex(r, 12)}` },
    },
  ];
  while (out.length < SESSION_EVENTS - 1) {
    const tool = TOOLS[int(r, TOOLS.length)]!;
    const trace = { trace_id: hex(r, 32) };
    const target = tool.target(r);
    const action = { type: tool.action, target };
    const params = tool.params(r);
    // About one event in 500 carries a credential the redactor must remove before storage.
    if (r() < 0.008) params['api_key'] = `sk_live_${hex(r, 32)}`;
    const shape = r();
    if (shape < 0.1) {
      out.push({
        ...base,
        ...trace,
        type: 'context.accessed',
        actor,
        context: { data_accessed: [target], data_classification: 'internal', purpose: 'answer the user' },
      });
      continue;
    }
    out.push({
      ...base,
      ...trace,
      type: 'action.intent',
      actor,
      action: { ...action, params },
      risk_level: tool.risk,
      model: { ...model, input_tokens: 500 + int(r, 4000), output_tokens: 50 + int(r, 600) },
      context: { reasoning: sentence(r, 20 + int(r, 30)) },
    });
    const decision: Decision =
      tool.risk === 'critical' || (tool.risk === 'high' && shape < 0.5)
        ? 'require_approval'
        : shape > 0.95
          ? 'deny'
          : 'allow';
    out.push({
      ...base,
      ...trace,
      type: 'policy.decision',
      actor: { type: 'system', id: 'policy-engine' },
      action,
      policy: {
        decision,
        matched_rule: `${tool.action.split(':')[0]}-${decision}`,
        policy_id: 'default',
        policy_version: 7,
        conditions_evaluated: [{ expression: 'params.amount < 1000.0', result: decision === 'allow' }],
        reason: decision === 'deny' ? 'outside business hours' : 'rule matched',
        evaluation_us: 20 + int(r, 200),
        risk: tool.risk,
      },
    });
    if (decision === 'deny') {
      out.push({ ...base, ...trace, type: 'action.cancelled', actor, action, outcome: { status: 'denied' } });
      continue;
    }
    if (decision === 'require_approval') {
      const person = PEOPLE[int(r, PEOPLE.length)]!;
      const requestId = `apr-${hex(r, 16)}`;
      out.push({
        ...base,
        ...trace,
        type: 'approval.requested',
        actor,
        action,
        approval: { required: true, request_id: requestId, approvers: ['oncall_sre', 'finance_lead'] },
      });
      const granted = r() < 0.8;
      out.push({
        ...base,
        ...trace,
        type: granted ? 'approval.granted' : 'approval.denied',
        actor: { type: 'user', id: person, name: person.split('@')[0]! },
        approval: { request_id: requestId, approver: person, decision: granted ? 'granted' : 'denied' },
      });
      if (!granted) continue;
    }
    if (r() < 0.12) {
      out.push({
        ...base,
        ...trace,
        type: 'action.failed',
        actor,
        action,
        outcome: { status: 'failure', error_message: 'upstream timed out after 3000 ms', duration_ms: 3000 },
      });
      out.push({
        ...base,
        ...trace,
        type: 'action.retried',
        actor,
        action,
        dispatch: { attempt: 2, max_attempts: 3 },
      });
    }
    out.push({
      ...base,
      ...trace,
      type: 'action.succeeded',
      actor,
      action,
      outcome: { status: 'success', result: tool.result(r), duration_ms: 5 + int(r, 800) },
    });
  }
  out.length = SESSION_EVENTS - 1;
  out.push({ ...base, type: 'agent.lifecycle', actor, metadata: { phase: 'ended', tool_calls: 30 } });
  return out;
}

/**
 * The event stream: {@link CONCURRENT_SESSIONS} sessions open at once, each next event taken from
 * a random open session, a new session opened when one ends.
 *
 * @example
 * const w = new AgentWorkload(1);
 * const events = w.take(10_000);
 * w.completedSessions(); // ids whose 100 events were all emitted
 */
export class AgentWorkload {
  private readonly random: () => number;
  private readonly open: { id: string; events: AuditEvent[]; next: number }[] = [];
  private readonly completed: string[] = [];
  private sessions = 0;

  constructor(
    seed: number,
    private readonly prefix = 'sess',
  ) {
    this.random = seededRandom(seed);
    for (let i = 0; i < CONCURRENT_SESSIONS; i++) this.open.push(this.newSession());
  }

  private newSession(): { id: string; events: AuditEvent[]; next: number } {
    const id = `${this.prefix}-${this.sessions++}`;
    return { id, events: sessionEvents(this.random, id), next: 0 };
  }

  /** The next event of the stream. */
  next(): AuditEvent {
    const slot = int(this.random, this.open.length);
    const s = this.open[slot]!;
    const e = s.events[s.next++]!;
    if (s.next === s.events.length) {
      this.completed.push(s.id);
      this.open[slot] = this.newSession();
    }
    return e;
  }

  /** The next `n` events. */
  take(n: number): AuditEvent[] {
    const out = new Array<AuditEvent>(n);
    for (let i = 0; i < n; i++) out[i] = this.next();
    return out;
  }

  /** Sessions all of whose events were emitted, in completion order. */
  completedSessions(): readonly string[] {
    return this.completed;
  }
}
