import { randomBytes } from 'node:crypto';
import { userInfo } from 'node:os';
import { canonicalize } from '../../core/canonical-json.js';
import { AuditError } from '../../errors.js';
import type { Actor, AuditEvent, Decision, RiskLevel } from '../../event/types.js';
import { uuidv7 } from '../../internal/ids.js';
import {
  diffPolicies,
  diffRecord,
  evaluate,
  recordedConditions,
  parsePolicy,
  SOURCE_KEY_PREFIX,
  type PolicyBundle,
  type PolicyDecision,
  type PolicyInput,
} from '../../policy/index.js';
import { Approvals, requestDigest, type ApprovalAction, type ApprovalRequestInfo } from './approvals.js';
import { clockOf, idsOf, redactorOf, storeOf } from '../internals.js';
import { type AuditTrail } from '../audit-trail.js';
import type { HttpClient } from '../remote/http-client.js';
import { REMOTE_CLIENTS, RemoteAuditTrail } from '../remote/remote-trail.js';
import { RemoteGovernance } from './remote-governance.js';
import { DEFAULT_TIERS, responseBook, type ResponseState } from './responses.js';

/** What a governed action is, as the policy sees it. */
export interface ActionSpec {
  type: string;
  target?: string;
  params?: unknown;
  side_effects?: string[];
  /** The agent's "why", stored as an erasable disclosure. */
  reasoning?: string;
  risk?: RiskLevel;
  /** More context for the intent (data classification, subjects, purpose…); policies can read it. */
  context?: Omit<NonNullable<AuditEvent['context']>, 'reasoning'>;
  /** The model that proposed the action, and its token usage, recorded with the intent. */
  model?: AuditEvent['model'];
}

/** A person's verdict on an approval request, given in an app's own approval UI. */
export interface ApprovalVerdict {
  approved: boolean;
  /** Who decided; must be one of the approvers the policy rule names. */
  approver: string;
  reason?: string;
}

/**
 * What a Governor records into: the embedded {@link AuditTrail} or a {@link RemoteAuditTrail}.
 * Both `record` (durable), `emit` (queued) and `drain`; the embedded one also holds approvals
 * and policy state, the remote one reaches the server's (`/v1/decide`, `/v1/approvals`).
 */
export type GovernedTrail = AuditTrail | RemoteAuditTrail;

/** How a {@link Governor} governs: the trail it records to, the policy, the agent it acts for. */
export interface GovernorOptions {
  trail: GovernedTrail;
  /**
   * The policy evaluated here. Required with an embedded trail; with a remote trail, omit it to
   * get decisions from the server's policy (`POST /v1/decide`), or give one to decide locally
   * (allow and deny only: approvals need the server's policy; give the trail a `tenant`).
   */
  policy?: PolicyBundle;
  actor: Actor;
  environment?: string;
  session_id?: string;
  run_id?: string;
  trace_id?: string;
  approvals?: {
    /** Block until the request is decided or expires (default true); false throws ApprovalRequiredError. */
    wait?: boolean;
    /** Called when a request is created (notify a person, open a ticket…). */
    onRequest?: (req: ApprovalRequestInfo) => void | Promise<void>;
    pollMs?: number;
  };
  /** Run actions even when the log cannot be written (default false: fail-closed). */
  failOpen?: boolean;
  /** Await the outcome event's commit before returning (default false: queued, never dropped). */
  durableOutcome?: boolean;
  /**
   * Also record `action.dispatched` as each attempt starts (default false). Without it the
   * dispatch is recorded in the outcome event's `dispatch` block (job id, attempt, duration);
   * turn it on for long-running tools, so that a running action shows in the log.
   */
  recordDispatch?: boolean;
  /** Who loads the policy (recorded with `policy.updated`); default the OS user. */
  loadedBy?: string;
  /**
   * The clock (epoch ms) for the governor's own times and its approvals' expiry; default the
   * trail's clock (so `openAuditTrail({ now })` makes both deterministic).
   */
  now?: () => number;
  /**
   * The id source for every event the governor records and for approval request ids
   * (`apr_` + id); default a UUIDv7 from `now`. `sequentialIds()` from `auditrail/testing` fits.
   */
  ids?: () => string;
  /**
   * Consult the log's active automated responses (`response.applied` not reverted) on every
   * decision (default true): quarantine, rate limit, approval for everything, demoted trust tier.
   */
  responses?: boolean;
  /** @internal delegation chain of a sub-agent governor. */
  delegation?: NonNullable<AuditEvent['delegation']>;
}

/** What the governor decided about one action, with the ids of the events that record it. */
export interface ActionDecision {
  decision: Decision;
  reason: string;
  matched_rule: string | null;
  /** False in shadow mode: the decision was recorded, not enforced. */
  enforced: boolean;
  intent_event_id: string;
  decision_event_id: string;
  /** The W3C span id every event of this action carries (when the governor has a trace id). */
  span_id?: string;
  policy: PolicyDecision;
  approval?: ApprovalRequestInfo;
}

/**
 * The request digest {@link Governor.decide} computed, by decision, with the action it was
 * computed from: `run` executes the action it decided, so the digest is computed once per action.
 */
const DECIDED_DIGESTS = new WeakMap<
  ActionDecision,
  { action: ActionSpec; type: string; target: unknown; params: unknown; digest: string }
>();

/** The request digest of `action` under the decision's policy snapshot (reused from decide when it is the same action). */
function digestFor(decision: ActionDecision, action: ActionSpec): string {
  const d = DECIDED_DIGESTS.get(decision);
  if (
    d &&
    d.action === action &&
    d.type === action.type &&
    d.target === action.target &&
    d.params === action.params
  ) {
    return d.digest;
  }
  return requestDigest(actionOf(action), decision.policy.policy_snapshot);
}

export interface RunOptions<R> {
  /** Abort the attempt after this many ms (recorded as `action.timed_out`). */
  timeoutMs?: number;
  /** Extra attempts after a failure or timeout; after the last, `action.dead_lettered`. */
  retries?: number;
  /** Delay before retry n is `backoffMs * 2^(n-1)` (default 100). */
  backoffMs?: number;
  /** A compensating function; registers the action for {@link Governor.undo}. */
  undo?: (result: R) => Promise<void>;
  /** Cancels the action (recorded as `action.cancelled`). */
  signal?: AbortSignal;
  /**
   * The decision {@link Governor.decide} recorded for this same action: `run` executes it (after
   * its approval, if one is required) instead of deciding again.
   */
  decision?: ActionDecision;
}

export interface RunResult<R> {
  result: R;
  intent_event_id: string;
  outcome_event_id: string;
  /** Runs the compensating function and records `action.undone` (when `undo` was given). */
  undo?: () => Promise<void>;
}

/**
 * The policy (or an approver) refused the action (code `denied`); the message carries the reason.
 *
 * @example
 * try { await gov.run(action, fn) } catch (e) { if (e instanceof ActionDeniedError) e.decision.matched_rule }
 */
export class ActionDeniedError extends AuditError {
  override name = 'ActionDeniedError';
  declare readonly code: 'denied';
  constructor(
    readonly decision: ActionDecision,
    message = `action denied by ${decision.matched_rule ?? 'the default rule'}: ${decision.reason}`,
  ) {
    super('denied', message);
  }
}

/**
 * The action needs an approval and the governor was told not to wait for it (code
 * `approval_required`); `approval` names the request to decide.
 *
 * @example
 * catch (e) { if (e instanceof ApprovalRequiredError) notify(e.approval.id, e.approval.approvers) }
 */
export class ApprovalRequiredError extends AuditError {
  override name = 'ApprovalRequiredError';
  declare readonly code: 'approval_required';
  constructor(readonly approval: ApprovalRequestInfo) {
    super('approval_required', `approval ${approval.id} required from ${approval.approvers.join(' or ')}`);
  }
}

/**
 * A governed attempt ran longer than its `timeoutMs` (code `timeout`); recorded as
 * `action.timed_out`, and thrown by `run()` when it was the last attempt.
 *
 * @example
 * await gov.run(action, fn, { timeoutMs: 5000 }).catch((e) => e instanceof TimeoutError); // true when slow
 */
export class TimeoutError extends AuditError {
  override name = 'TimeoutError';
  declare readonly code: 'timeout';
  constructor(message: string) {
    super('timeout', message);
  }
}

/**
 * Governs an agent's actions (DESIGN §5): each is policy-checked before it runs, held for a
 * human approval where the policy says so, executed, and recorded — intent and decision are
 * durable before the action runs; if they cannot be written the action does not run.
 *
 * @example
 * const gov = new Governor({ trail, policy: await loadPolicyFile('policy.yaml'), actor: { type: 'agent', id: 'support-bot' } });
 * const refund = guard(gov, issueRefund, (order, amount) => ({ type: 'write:refund', target: `order/${order}`, params: { amount } }));
 * await refund('1042', 120);
 */
export class Governor {
  #approvals: Approvals | null;
  /** Decisions, approvals and outcomes over HTTP, for a remote trail without a local policy. */
  readonly #server: RemoteGovernance | null;
  readonly #http: HttpClient | null;
  /** Whether the policy's `policy.updated` is recorded; shared with {@link withScope} governors. */
  #policyState: { checked: Promise<void> | null; done?: boolean } = { checked: null };
  private readonly undoers = new Map<string, () => Promise<void>>();
  private readonly now: () => number;
  private readonly ids: () => string;

  constructor(readonly options: GovernorOptions) {
    const trail = options.trail;
    if (trail instanceof RemoteAuditTrail) {
      this.#http = REMOTE_CLIENTS.get(trail) ?? null;
      if (options.policy && trail.tenant === undefined) {
        throw new AuditError(
          'invalid_argument',
          'a local policy on a remote trail needs the tenant: openAuditTrail({ url, apiKey, tenant })',
        );
      }
      const now = options.now ?? trail['now'];
      this.now = now;
      this.ids = options.ids ?? trail['ids'];
      this.#approvals = null;
      this.#server = options.policy ? null : new RemoteGovernance(this.#http!);
      return;
    }
    if (!options.policy)
      throw new AuditError('invalid_argument', 'a Governor on an embedded trail needs a policy');
    this.#http = null;
    this.#server = null;
    const now = options.now ?? clockOf(trail);
    this.now = now;
    this.ids = options.ids ?? idsOf(trail) ?? (() => uuidv7(now()));
    this.#approvals = new Approvals(trail, { now, ids: this.ids });
  }

  /**
   * The approvals of an embedded trail. A remote trail's approvals are the server's
   * (`GET /v1/approvals`, `auditrail approvals` on its database): this throws `invalid_argument`.
   */
  get approvals(): Approvals {
    if (!this.#approvals) {
      throw new AuditError(
        'invalid_argument',
        "a remote trail's approvals are on the server: use its /v1/approvals routes",
      );
    }
    return this.#approvals;
  }

  /** The local policy (every caller checked there is one). */
  private get policy(): PolicyBundle {
    const p = this.options.policy;
    if (!p) throw new AuditError('invalid_argument', 'this governor has no local policy');
    return p;
  }

  get actor(): Actor {
    return this.options.actor;
  }

  private base(span?: string): Omit<AuditEvent, 'type'> {
    const o = this.options;
    return {
      actor: o.actor,
      ...(o.session_id ? { session_id: o.session_id } : {}),
      ...(o.run_id ? { run_id: o.run_id } : {}),
      ...(o.trace_id ? { trace_id: o.trace_id, span_id: span ?? newSpanId() } : {}),
      ...(o.delegation ? { delegation: o.delegation } : {}),
      ...(o.environment ? { metadata: { environment: o.environment } } : {}),
    };
  }

  /** Records `policy.updated` with a diff when this bundle differs from the one last loaded. */
  private ensurePolicyRecorded(): Promise<void> {
    const state = this.#policyState;
    state.checked ??= (async () => {
      const p = this.policy;
      const key = `policy:${p.policyId}`;
      const trail = this.options.trail;
      if (trail instanceof RemoteAuditTrail) return this.recordRemotePolicy(trail, p);
      const prev = await storeOf(trail).getMeta(key);
      const prevState = prev ? (JSON.parse(prev) as { snapshot: string; source: unknown }) : null;
      if (prevState?.snapshot === p.snapshot) return;
      let previous: PolicyBundle | null = null;
      if (prevState) {
        try {
          previous = parsePolicy(JSON.stringify(prevState.source));
        } catch {
          previous = null;
        }
      }
      // Any size of diff: the payload is stored apart (written first, so no event names a missing
      // one), the event holds its digest and counts (docs/policy.md "What is recorded").
      // Stored outside the log, so through the same redactor as everything else (a bundle may
      // compare a parameter with a literal credential).
      const redact = redactorOf(trail);
      const diff = diffRecord(redact(diffPolicies(previous, p)).value);
      await storeOf(trail).setMeta(diff.key, diff.payload);
      // Every version's source by its snapshot, so any two versions can be compared later.
      await storeOf(trail).setMeta(`${SOURCE_KEY_PREFIX}${p.snapshot}`, canonicalize(redact(p.source).value));
      await trail.record({
        event_id: this.ids(),
        type: 'policy.updated',
        actor: { type: 'user', id: this.options.loadedBy ?? safeUser() },
        action: { type: 'policy.load', target: p.policyId, params: diff.params },
        policy: {
          decision: 'allow',
          policy_id: p.policyId,
          policy_version: p.version,
          policy_snapshot: p.snapshot,
          reason: previous
            ? `version ${previous.version} -> ${p.version}`
            : `first load of version ${p.version}`,
          mode: p.mode,
        },
      });
      await storeOf(trail).setMeta(
        key,
        JSON.stringify({ snapshot: p.snapshot, source: redact(p.source).value }),
      );
    })();
    // A failed write is retried on the next decision, not cached.
    const checked = state.checked;
    checked.then(
      () => {
        if (state.checked === checked) state.done = true;
      },
      () => {
        if (state.checked === checked) state.checked = null;
      },
    );
    return checked;
  }

  /**
   * A local policy on a remote trail: `policy.updated` when the log's latest one for this policy
   * names another snapshot. The diff's counts and digest are recorded; its payload is not kept
   * (the server holds no meta rows for a client).
   */
  private async recordRemotePolicy(trail: RemoteAuditTrail, p: PolicyBundle): Promise<void> {
    const page = await trail.query({ type: 'policy.updated', target: p.policyId, order: 'desc', limit: 1 });
    const last = page.events[0]?.policy;
    if (last?.policy_snapshot === p.snapshot) return;
    const diff = diffRecord(redactorOf(trail)(diffPolicies(null, p)).value);
    const { evidence: _payloadNotKept, ...params } = diff.params;
    await trail.record({
      event_id: this.ids(),
      type: 'policy.updated',
      actor: { type: 'user', id: this.options.loadedBy ?? safeUser() },
      action: { type: 'policy.load', target: p.policyId, params },
      policy: {
        decision: 'allow',
        policy_id: p.policyId,
        policy_version: p.version,
        policy_snapshot: p.snapshot,
        reason: last
          ? `version ${last.policy_version ?? '?'} -> ${p.version} (loaded by a remote governor)`
          : `first load of version ${p.version} (by a remote governor)`,
        mode: p.mode,
      },
    });
  }

  private async write(events: AuditEvent[]): Promise<void> {
    try {
      await Promise.all(events.map((e) => this.options.trail.record(this.withId(e))));
    } catch (e) {
      if (!this.options.failOpen) {
        throw new AuditError(
          'store_failure',
          `audit log unavailable, action not run: ${(e as Error).message}`,
          { cause: e },
        );
      }
      process.emitWarning(
        `auditrail: running action without a durable record (failOpen): ${(e as Error).message}`,
      );
    }
  }

  /**
   * Records intent and decision (durably; concurrent writes share one commit) and returns the
   * decision, creating an approval request when the policy asks for one. Nothing runs: pass the
   * decision to {@link run} (`options.decision`) to execute the action. For frameworks with their
   * own approval UI.
   *
   * @example
   * const d = await gov.decide({ type: 'write:refund', params: { amount: 900 } });
   * if (d.decision === 'require_approval') showApprovalUi(d.approval);
   */
  async decide(action: ActionSpec): Promise<ActionDecision> {
    if (this.#server) return this.#server.decide(this.options, action);
    // Once recorded, nothing more to wait for on each action.
    if (this.#policyState.done !== true) {
      await this.ensurePolicyRecorded().catch((e: unknown) => {
        if (!this.options.failOpen) throw e;
      });
    }
    const context = contextOf(action);
    // The action as the policy sees it and the events record it, built once.
    const eventAction = actionOf(action);
    const input = this.policyInput(eventAction, context);
    let policy = evaluate(this.policy, input);
    const trail = this.options.trail;
    if (this.options.responses !== false && !(trail instanceof RemoteAuditTrail)) {
      const book = responseBook(trail);
      try {
        await book.refresh();
      } catch (e) {
        // Fail-closed like the log itself: a quarantine that cannot be read is not ignored.
        if (!this.options.failOpen)
          throw new AuditError(
            'store_failure',
            `active responses could not be read, action not run: ${(e as Error).message}`,
            { cause: e },
          );
      }
      const active = book.active(this.options.actor.id);
      if (active.length > 0) policy = await this.underResponses(policy, input, active);
    }
    const intentId = this.ids();
    const span = this.options.trace_id ? newSpanId() : undefined;
    const decisionId = this.ids();
    const risk = action.risk ?? policy.risk;
    const enforced = policy.mode === 'enforce';
    // The approval this decision is held for is named in the decision itself: a grant kept from
    // an earlier attempt (a resumed or restored run) or the id of the request made below.
    // A remote trail holds no approval requests of a local policy: the action is refused in run.
    const binding =
      policy.decision === 'require_approval' && enforced && this.#approvals !== null
        ? await this.approvalBinding(eventAction, policy.policy_snapshot)
        : undefined;
    const ids = { intentId, decisionId, ...(span ? { span } : {}) };
    await this.write([
      this.intentEvent(action, eventAction, ids, risk, context),
      this.decisionEvent(action, policy, ids, risk, binding),
    ]);
    const decision: ActionDecision = {
      decision: policy.decision,
      reason: policy.reason,
      matched_rule: policy.matched_rule,
      enforced,
      intent_event_id: intentId,
      decision_event_id: decisionId,
      ...(span ? { span_id: span } : {}),
      policy,
    };
    if (binding) {
      DECIDED_DIGESTS.set(decision, {
        action,
        type: action.type,
        target: action.target,
        params: action.params,
        digest: binding.digest,
      });
      decision.approval = binding.reusable ?? (await this.requestApproval(eventAction, policy, binding, ids));
    }
    return decision;
  }

  /**
   * The decision under the agent's active responses (docs/detection.md, "Automated responses"):
   * demote evaluates the policy again one trust tier lower; then quarantine denies, an exceeded
   * rate limit denies, require_approval turns an allow into an approval. The reason names the
   * response; a response that decides is the matched rule (`response:<id>`).
   */
  private async underResponses(
    policy: PolicyDecision,
    input: PolicyInput,
    active: readonly ResponseState[],
  ): Promise<PolicyDecision> {
    const named = (r: ResponseState): string => `response ${r.id} (anomaly ${r.anomaly_id}, ${r.detector})`;
    const demote = active.filter((r) => r.kind === 'demote');
    let out = policy;
    if (demote.length > 0) {
      let tier = input.actor?.trust_tier;
      for (const r of demote) {
        const tiers: readonly string[] = r.params.tiers ?? DEFAULT_TIERS;
        const at = tier === undefined ? -1 : tiers.indexOf(tier);
        // An unknown or absent tier falls to the lowest: demotion never raises an agent.
        tier = at < 0 ? tiers[tiers.length - 1] : tiers[Math.min(at + 1, tiers.length - 1)];
      }
      const from = input.actor?.trust_tier ?? '(none)';
      const again = evaluate(this.policy, { ...input, actor: { ...input.actor, trust_tier: tier! } });
      out = {
        ...again,
        reason: `${again.reason}; trust tier ${from} -> ${tier!} by ${demote.map(named).join(', ')}`,
      };
    }
    const override = (
      r: ResponseState,
      decision: 'deny' | 'require_approval',
      why: string,
    ): PolicyDecision => ({
      ...out,
      decision,
      matched_rule: `response:${r.id}`,
      reason: `${why} by ${named(r)}`,
      ...(decision === 'deny' ? { risk: out.risk ?? 'high' } : {}),
    });
    const quarantine = active.find((r) => r.kind === 'quarantine');
    if (quarantine) return override(quarantine, 'deny', `agent ${this.options.actor.id} is quarantined`);
    for (const r of active) {
      if (r.kind !== 'rate_limit' || out.decision === 'deny') continue;
      const limit = r.params.per_minute ?? 1;
      // Intents of this agent in the last minute, from the log: every process's actions count.
      // Intents are durable before decide returns, so the store holds every one: no flush needed.
      const trail = this.options.trail as AuditTrail;
      const recent = await storeOf(trail).countEvents(trail['head'].logId, {
        type: 'action.intent',
        actor_id: this.options.actor.id,
        since: new Date(this.now() - 60_000).toISOString(),
      });
      if (recent >= limit)
        return override(
          r,
          'deny',
          `rate limit of ${limit} actions per minute reached (${recent} in the last minute)`,
        );
    }
    const approval = active.find((r) => r.kind === 'require_approval');
    if (approval && out.decision === 'allow') {
      const o = override(approval, 'require_approval', 'every action of this agent needs an approval');
      o.approvers = [...(approval.params.approvers ?? this.policy.defaultApprovers ?? [])];
      o.approval_ttl_ms = approval.params.ttl_ms ?? this.policy.defaultApprovalTtlMs ?? 15 * 60_000;
      return o;
    }
    return out;
  }

  /** What the policy evaluates: the action, the governor's actor and scope, the action's context. */
  private policyInput(action: ApprovalAction, context: IntentContext | undefined): PolicyInput {
    const o = this.options;
    return {
      action,
      actor: {
        id: o.actor.id,
        type: o.actor.type,
        ...(o.actor.trust_tier ? { trust_tier: o.actor.trust_tier } : {}),
        ...(o.actor.tags ? { tags: o.actor.tags } : {}),
        ...(o.actor.name ? { name: o.actor.name } : {}),
      },
      tenant: o.trail.tenant ?? '',
      ...(o.environment ? { environment: o.environment } : {}),
      ...(o.delegation ? { delegation: o.delegation } : {}),
      ...(o.session_id ? { session_id: o.session_id } : {}),
      ...(o.run_id ? { run_id: o.run_id } : {}),
      ...(context ? { context } : {}),
    };
  }

  /** The digest a required approval is bound to, a grant kept for it, and the request's id. */
  private async approvalBinding(eventAction: ApprovalAction, snapshot: string): Promise<ApprovalBinding> {
    const digest = requestDigest(eventAction, snapshot);
    const reusable = await this.approvals.findGranted(digest);
    return { digest, reusable, id: reusable?.id ?? `apr_${this.ids()}` };
  }

  private intentEvent(
    action: ActionSpec,
    eventAction: ApprovalAction,
    ids: DecisionIds,
    risk: RiskLevel | undefined,
    context: IntentContext | undefined,
  ): AuditEvent {
    return {
      ...this.base(ids.span),
      type: 'action.intent',
      event_id: ids.intentId,
      action: eventAction,
      ...(risk ? { risk_level: risk } : {}),
      ...(context ? { context } : {}),
      ...(action.model ? { model: action.model } : {}),
    };
  }

  private decisionEvent(
    action: ActionSpec,
    policy: PolicyDecision,
    ids: DecisionIds,
    risk: RiskLevel | undefined,
    binding: ApprovalBinding | undefined,
  ): AuditEvent {
    const enforced = policy.mode === 'enforce';
    return {
      ...this.base(ids.span),
      type: 'policy.decision',
      event_id: ids.decisionId,
      parent_event_id: ids.intentId,
      action: { type: action.type, ...(action.target !== undefined ? { target: action.target } : {}) },
      ...(risk ? { risk_level: risk } : {}),
      policy: {
        decision: policy.decision,
        matched_rule: policy.matched_rule,
        policy_id: policy.policy_id,
        policy_version: policy.policy_version,
        policy_snapshot: policy.policy_snapshot,
        ...recordedConditions(this.policy, policy),
        reason: policy.reason,
        mode: policy.mode,
        evaluation_us: policy.evaluation_us,
        ...(policy.risk ? { risk: policy.risk } : {}),
        ...(policy.approvers ? { approvers: policy.approvers } : {}),
      },
      ...(policy.decision === 'deny' && enforced
        ? { outcome: { status: 'denied' as const, error_message: policy.reason } }
        : {}),
      ...(binding
        ? {
            approval: {
              required: true,
              request_id: binding.id,
              request_digest: binding.digest,
              decision: binding.reusable ? ('granted' as const) : ('pending' as const),
            },
          }
        : {}),
    };
  }

  /** Creates the approval request a decision is held for and tells `approvals.onRequest`. */
  private async requestApproval(
    eventAction: ApprovalAction,
    policy: PolicyDecision,
    binding: ApprovalBinding,
    ids: DecisionIds,
  ): Promise<ApprovalRequestInfo> {
    const o = this.options;
    const request = await this.approvals.request(
      eventAction,
      {
        snapshot: policy.policy_snapshot,
        matched_rule: policy.matched_rule,
        reason: policy.reason,
        approvers: policy.approvers ?? [],
        ttlMs: policy.approval_ttl_ms ?? 15 * 60_000,
        digest: binding.digest,
      },
      {
        actor: o.actor,
        request_id: binding.id,
        parent_event_id: ids.intentId,
        ...(o.trace_id ? { trace_id: o.trace_id } : {}),
        ...(ids.span ? { span_id: ids.span } : {}),
        ...(o.session_id ? { session_id: o.session_id } : {}),
        ...(o.run_id ? { run_id: o.run_id } : {}),
      },
    );
    await o.approvals?.onRequest?.(request);
    return request;
  }

  /**
   * Records a person's verdict, given in a framework's own approval UI, on the pending request.
   *
   * @example
   * await gov.resolveApproval(d.approval.id, { approved: true, approver: 'finance_lead', reason: 'verified' });
   */
  async resolveApproval(id: string, verdict: ApprovalVerdict): Promise<void> {
    if (this.#http) {
      await RemoteGovernance.resolve(this.#http, id, verdict);
      return;
    }
    const by = { as: verdict.approver, ...(verdict.reason !== undefined ? { reason: verdict.reason } : {}) };
    if (verdict.approved) await this.approvals.approve(id, by);
    else await this.approvals.deny(id, by);
  }

  /**
   * The full governed life of one action: intent, decision, approval wait, dispatch, execution
   * with timeout and retries, outcome. Throws {@link ActionDeniedError} when denied. With
   * `options.decision` (from {@link decide} for the same action) the intent and decision already
   * recorded are used and the action runs from there (after its approval, if one was required).
   *
   * @example
   * const { result, outcome_event_id } = await gov.run({ type: 'read:order', target: 'order/1042' }, () => db.order(1042));
   */
  async run<R>(
    action: ActionSpec,
    fn: (signal: AbortSignal) => Promise<R>,
    options: RunOptions<R> = {},
  ): Promise<RunResult<R>> {
    const decision = options.decision ?? (await this.decide(action));
    if (decision.enforced && decision.decision === 'deny') throw new ActionDeniedError(decision);
    if (this.#server) {
      const grant = await this.#server.awaitApproval(decision, this.options.approvals, options.signal);
      return this.dispatch(decision, action, fn, options, grant);
    }
    if (decision.enforced && decision.decision === 'require_approval') {
      const grant = await this.awaitGrant(decision, action, options.signal);
      return this.dispatch(decision, action, fn, options, grant);
    }
    return this.dispatch(decision, action, fn, options);
  }

  /**
   * Waits for the approval `decision` is held for, checks it was asked for this very action, and
   * uses it (once); returns the grant every execution event names. Throws ActionDeniedError when
   * it was denied or expired, ApprovalRequiredError when the governor must not wait.
   */
  private async awaitGrant(
    decision: ActionDecision,
    action: ActionSpec,
    signal: AbortSignal | undefined,
  ): Promise<NonNullable<AuditEvent['approval']>> {
    const req = decision.approval;
    if (!req) {
      throw new ActionDeniedError(
        decision,
        this.#approvals
          ? 'approval required but no request exists'
          : "approval required, and a remote trail's approvals need the server's policy (omit the local policy)",
      );
    }
    // The grant is bound to the action it was asked for: a different action cannot use it.
    const digest = digestFor(decision, action);
    if (digest !== req.request_digest) {
      throw new ActionDeniedError(decision, `approval ${req.id} was requested for a different action`);
    }
    if (this.options.approvals?.wait === false) {
      const row = await this.approvals.get(req.id);
      if (row?.status !== 'granted') throw new ApprovalRequiredError(req);
    }
    const row = await this.approvals.wait(req.id, {
      ...(this.options.approvals?.pollMs !== undefined ? { pollMs: this.options.approvals.pollMs } : {}),
      ...(signal ? { signal } : {}),
    });
    if (row.status === 'denied') {
      throw new ActionDeniedError(
        decision,
        `approval ${req.id} denied by ${row.decidedBy ?? 'an approver'}${row.reason ? `: ${row.reason}` : ''}`,
      );
    }
    if (row.status === 'expired')
      throw new ActionDeniedError(decision, `approval ${req.id} expired before anyone decided`);
    const used = await this.approvals.consume(req.id, digest);
    // Every execution event names the grant that allowed it (and, by its parent, the intent).
    return {
      required: true,
      request_id: used.id,
      request_digest: used.requestDigest,
      decision: 'granted',
      ...(used.decidedBy ? { approver: used.decidedBy } : {}),
      ...(used.decidedAt ? { decided_at: used.decidedAt } : {}),
    };
  }

  /**
   * Records that an execution was refused before it ran (outcome `blocked`), e.g. a framework
   * said "approved" but the trail holds no grant: the refused attempt is part of the story.
   */
  async recordBlocked(decision: ActionDecision, action: ActionSpec, message: string): Promise<void> {
    await this.write([
      {
        ...this.base(decision.span_id),
        type: 'action.cancelled',
        parent_event_id: decision.intent_event_id,
        action: { type: action.type, ...(action.target !== undefined ? { target: action.target } : {}) },
        ...(decision.approval
          ? {
              approval: {
                required: true,
                request_id: decision.approval.id,
                request_digest: decision.approval.request_digest,
              },
            }
          : {}),
        outcome: { status: 'blocked', error_message: message.slice(0, 4000) },
      },
    ]);
  }

  /** Runs the attempts of an allowed action, recording each, until one succeeds or the last fails. */
  private async dispatch<R>(
    decision: ActionDecision,
    action: ActionSpec,
    fn: (signal: AbortSignal) => Promise<R>,
    options: RunOptions<R>,
    grant?: NonNullable<AuditEvent['approval']>,
  ): Promise<RunResult<R>> {
    const attempts = 1 + Math.max(0, options.retries ?? 0);
    let lastError: unknown;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      const at: Attempt = { decision, action, grant, attempt, attempts };
      if (this.options.recordDispatch) {
        // Intent and decision are already durable; the dispatch record travels with the outcome's commit.
        await this.outcome(this.attemptEvent(at, 'action.dispatched', 'running'));
      }
      const started = performance.now();
      const controller = new AbortController();
      const onAbort = () => controller.abort(options.signal?.reason);
      options.signal?.addEventListener('abort', onAbort, { once: true });
      const timer: { id?: NodeJS.Timeout } = {};
      try {
        const result = await runAttempt(fn, options, controller, timer);
        return await this.succeeded(at, result, round(performance.now() - started), options.undo);
      } catch (e) {
        lastError = e;
        const last = await this.failed(at, e, round(performance.now() - started), options.signal);
        if (last) throw e;
        await new Promise((r) => setTimeout(r, (options.backoffMs ?? 100) * 2 ** (attempt - 1)));
      } finally {
        if (timer.id) clearTimeout(timer.id);
        options.signal?.removeEventListener('abort', onAbort);
      }
    }
    throw lastError;
  }

  /** An event of one attempt: the action, its dispatch block, the grant it ran under. */
  private attemptEvent(
    at: Attempt,
    type: AuditEvent['type'],
    status: 'running' | 'done' | 'failed' | 'retrying' | 'dead_lettered',
  ): AuditEvent {
    return {
      ...this.base(at.decision.span_id),
      type,
      parent_event_id: at.decision.intent_event_id,
      ...(at.grant ? { approval: at.grant } : {}),
      action: {
        type: at.action.type,
        ...(at.action.target !== undefined ? { target: at.action.target } : {}),
      },
      dispatch: {
        job_id: at.decision.intent_event_id,
        status,
        attempt: at.attempt,
        max_attempts: at.attempts,
      },
    };
  }

  /** Records `action.succeeded` and registers the undo, when one was given. */
  private async succeeded<R>(
    at: Attempt,
    result: R,
    durationMs: number,
    undo: RunOptions<R>['undo'],
  ): Promise<RunResult<R>> {
    const outcomeId = this.ids();
    const event = this.attemptEvent(at, 'action.succeeded', 'done');
    await this.finalOutcome(at.decision, {
      ...event,
      event_id: outcomeId,
      action: {
        ...event.action!,
        ...(at.action.side_effects ? { side_effects: at.action.side_effects } : {}),
      },
      outcome: {
        status: 'success',
        ...(result !== undefined ? { result: jsonSafe(result) } : {}),
        duration_ms: durationMs,
      },
    });
    const out: RunResult<R> = {
      result,
      intent_event_id: at.decision.intent_event_id,
      outcome_event_id: outcomeId,
    };
    if (undo) {
      const action = {
        type: at.action.type,
        ...(at.action.target !== undefined ? { target: at.action.target } : {}),
      };
      out.undo = () => this.runUndo(outcomeId, action, () => undo(result));
      this.undoers.set(at.decision.intent_event_id, out.undo);
    }
    return out;
  }

  /**
   * Records a failed attempt (cancelled, timed out, failed, or retried) and, after the last of
   * several, `action.dead_lettered`. Returns true when no attempt follows.
   */
  private async failed(
    at: Attempt,
    e: unknown,
    durationMs: number,
    signal: AbortSignal | undefined,
  ): Promise<boolean> {
    const cancelled = signal?.aborted === true;
    const timedOut = e instanceof TimeoutError;
    const message = e instanceof Error ? e.message : String(e);
    const last = at.attempt === at.attempts || cancelled;
    const type = cancelled
      ? 'action.cancelled'
      : timedOut
        ? 'action.timed_out'
        : last
          ? 'action.failed'
          : 'action.retried';
    await (last ? this.finalOutcome.bind(this, at.decision) : this.outcome.bind(this))({
      ...this.attemptEvent(at, type, last ? 'failed' : 'retrying'),
      outcome: {
        status: cancelled ? 'cancelled' : timedOut ? 'timeout' : 'failure',
        error_message: message.slice(0, 4000),
        duration_ms: durationMs,
      },
    });
    if (timedOut && !last) await this.outcome(this.attemptEvent(at, 'action.retried', 'retrying'));
    if (last && at.attempts > 1 && !cancelled) {
      await this.outcome({
        ...this.attemptEvent(at, 'action.dead_lettered', 'dead_lettered'),
        outcome: {
          status: 'failure',
          error_message: `gave up after ${at.attempt} attempts: ${message.slice(0, 2000)}`,
        },
      });
    }
    return last;
  }

  // Every event the governor writes takes its id from the injected source.
  private withId(event: AuditEvent): AuditEvent {
    return event.event_id === undefined ? { event_id: this.ids(), ...event } : event;
  }

  /** The outcome that ends an action: through the server's outcome route when it decided. */
  private async finalOutcome(decision: ActionDecision, input: AuditEvent): Promise<void> {
    if (!this.#server) return this.outcome(input);
    const event = this.withId(input);
    try {
      await this.#server.outcome(decision.intent_event_id, event);
    } catch (e) {
      if (!(e instanceof AuditError) || (e.code !== 'store_failure' && e.code !== 'queue_full')) throw e;
      // The server stays unreachable: the outcome is kept as an ordinary event (spooled or
      // queued, never dropped); the route's approval bookkeeping is what is lost.
      process.emitWarning(`auditrail: outcome sent as an event (${e.message})`, 'AuditTrailWarning');
      await this.outcome(event);
    }
  }

  private async outcome(input: AuditEvent): Promise<void> {
    const trail = this.options.trail;
    const event = this.withId(input);
    if (this.options.durableOutcome) {
      await this.write([event]);
      return;
    }
    try {
      // Queued, committed with the next batch; never dropped (retried on failure).
      if (!trail.emit(event)) await trail.drain();
    } catch (e) {
      if (e instanceof AuditError && e.code === 'queue_full') await this.write([event]);
      else throw e;
    }
  }

  private async runUndo(
    ofEventId: string,
    action: { type: string; target?: string },
    compensate: () => Promise<void>,
  ): Promise<void> {
    const started = performance.now();
    try {
      await compensate();
    } catch (e) {
      await this.write([
        {
          ...this.base(),
          type: 'action.failed',
          parent_event_id: ofEventId,
          action: { ...action, type: `${action.type}` },
          undo: { of_event_id: ofEventId, reason: 'compensation failed' },
          outcome: {
            status: 'failure',
            error_message: (e as Error).message,
            duration_ms: round(performance.now() - started),
          },
        },
      ]);
      throw e;
    }
    await this.write([
      {
        ...this.base(),
        type: 'action.undone',
        parent_event_id: ofEventId,
        action,
        undo: { of_event_id: ofEventId },
        outcome: { status: 'success', duration_ms: round(performance.now() - started) },
      },
    ]);
  }

  /** Undoes an action run with an `undo` option, by its intent event id. */
  async undo(intentEventId: string): Promise<void> {
    const u = this.undoers.get(intentEventId);
    if (!u) throw new AuditError('not_found', `no undo registered for ${intentEventId}`);
    this.undoers.delete(intentEventId);
    await u();
  }

  /**
   * A governor for a sub-agent this one hands work to: the delegation chain (who delegated what
   * permissions to whom, depth, root) is recorded on every event and policies can match on it.
   */
  async delegate(subAgent: Actor, permissions: string[]): Promise<Governor> {
    const parent = this.options.delegation;
    const link = {
      agent_id: this.options.actor.id,
      delegated_at: new Date(Math.floor(this.now())).toISOString(),
      permissions_granted: permissions,
    };
    const delegation = {
      chain: [...(parent?.chain ?? []), link],
      depth: (parent?.depth ?? 0) + 1,
      root_agent: parent?.root_agent ?? this.options.actor.id,
    };
    await this.write([
      {
        ...this.base(),
        type: 'delegation.started',
        action: { type: 'agent.delegate', target: subAgent.id, params: { permissions } },
        delegation,
      },
    ]);
    return new Governor({ ...this.options, actor: subAgent, delegation });
  }

  /**
   * A governor deciding for another actor and scope with this one's policy, log and approvals,
   * sharing its state: the policy is checked against the log once for all of them, not per
   * governor. For a service deciding on behalf of many agents (`POST /v1/decide`).
   *
   * @example
   * const shared = new Governor({ trail, policy, actor: { type: 'service', id: 'gateway' } });
   * const d = await shared.withScope({ actor: { type: 'agent', id: 'bot-7' }, run_id: 'r1' }).decide(action);
   */
  withScope(
    scope: Pick<GovernorOptions, 'actor' | 'session_id' | 'run_id' | 'trace_id' | 'environment'>,
  ): Governor {
    const {
      session_id: _s,
      run_id: _r,
      trace_id: _t,
      environment: _e,
      delegation: _d,
      ...options
    } = this.options;
    const g = new Governor({ ...options, ...scope });
    g.#policyState = this.#policyState;
    g.#approvals = this.#approvals;
    return g;
  }

  /** Records the end of this sub-agent's delegation. */
  async endDelegation(): Promise<void> {
    if (!this.options.delegation) throw new AuditError('invalid_argument', 'this governor is not a delegate');
    await this.write([
      {
        ...this.base(),
        type: 'delegation.ended',
        action: { type: 'agent.delegate', target: this.options.actor.id },
      },
    ]);
  }
}

/** One attempt of a dispatched action: what the events of that attempt are about. */
interface Attempt {
  decision: ActionDecision;
  action: ActionSpec;
  /** The approval the action runs under, named on every execution event. */
  grant: NonNullable<AuditEvent['approval']> | undefined;
  attempt: number;
  attempts: number;
}

/** The approval a decision is held for: its digest, a grant kept from earlier, and the request id. */
interface ApprovalBinding {
  digest: string;
  reusable: ApprovalRequestInfo | undefined;
  id: string;
}

/** The ids one decision's events carry. */
interface DecisionIds {
  intentId: string;
  decisionId: string;
  span?: string;
}

type IntentContext = NonNullable<AuditEvent['context']>;

/** The intent's context: the action's context with its reasoning, when it has either. */
function contextOf(action: ActionSpec): IntentContext | undefined {
  return action.context || action.reasoning
    ? { ...action.context, ...(action.reasoning ? { reasoning: action.reasoning } : {}) }
    : undefined;
}

/** The action as events record it and the policy sees it. */
function actionOf(action: ActionSpec): ApprovalAction {
  return {
    type: action.type,
    ...(action.target !== undefined ? { target: action.target } : {}),
    ...(action.params !== undefined ? { params: action.params } : {}),
    ...(action.side_effects ? { side_effects: action.side_effects } : {}),
  };
}

/**
 * Runs one attempt of `fn`, racing it against `options.timeoutMs` (which aborts the attempt with
 * a TimeoutError) and the caller's signal (which cancels it); `timer` is left for the caller to clear.
 */
function runAttempt<R>(
  fn: (signal: AbortSignal) => Promise<R>,
  options: RunOptions<R>,
  controller: AbortController,
  timer: { id?: NodeJS.Timeout },
): Promise<R> {
  const run = fn(controller.signal);
  if (options.timeoutMs === undefined && !options.signal) return run;
  return Promise.race([
    run,
    new Promise<never>((_, reject) => {
      if (options.timeoutMs !== undefined) {
        timer.id = setTimeout(() => {
          const err = new TimeoutError(`timed out after ${options.timeoutMs} ms`);
          controller.abort(err);
          reject(err);
        }, options.timeoutMs);
      }
      if (options.signal?.aborted) reject(new AuditError('closed', 'cancelled'));
      options.signal?.addEventListener('abort', () => reject(new AuditError('closed', 'cancelled')), {
        once: true,
      });
    }),
  ]);
}

function newSpanId(): string {
  return randomBytes(8).toString('hex');
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

function safeUser(): string {
  try {
    return userInfo().username || 'unknown';
  } catch {
    return 'unknown';
  }
}

function jsonSafe(v: unknown): unknown {
  try {
    return JSON.parse(JSON.stringify(v)) as unknown;
  } catch {
    return String(v);
  }
}

/**
 * Wraps any async function as a governed action (see {@link Governor.run}).
 *
 * @example
 * const deleteRow = guard(gov, db.deleteRow, (table, id) => ({ type: 'db.delete', target: `prod/${table}/${id}` }));
 * await deleteRow('users', 7); // throws ActionDeniedError if the policy says no
 */
export function guard<A extends unknown[], R>(
  governor: Governor,
  fn: (...args: A) => Promise<R>,
  spec: ActionSpec | ((...args: A) => ActionSpec),
  options: RunOptions<R> = {},
): (...args: A) => Promise<R> {
  return async (...args: A) =>
    (await governor.run(typeof spec === 'function' ? spec(...args) : spec, () => fn(...args), options))
      .result;
}
