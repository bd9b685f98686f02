import { randomBytes } from 'node:crypto';
import { userInfo } from 'node:os';
import { AuditError } from '../../errors.js';
import type { Actor, AuditEvent, RiskLevel } from '../../event/types.js';
import { uuidv7 } from '../../internal/ids.js';
import {
  diffPolicies,
  diffRecord,
  evaluate,
  recordedConditions,
  parsePolicy,
  type PolicyBundle,
  type PolicyDecision,
} from '../../policy/index.js';
import { Approvals, requestDigest, type ApprovalRequestInfo } from './approvals.js';
import { clockOf, idsOf, redactorOf, storeOf } from '../internals.js';
import { type AuditTrail } from '../audit-trail.js';

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

export interface GovernorOptions {
  trail: AuditTrail;
  policy: PolicyBundle;
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
  /** @internal delegation chain of a sub-agent governor. */
  delegation?: NonNullable<AuditEvent['delegation']>;
}

export interface Decision {
  decision: 'allow' | 'deny' | 'require_approval';
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
  Decision,
  { action: ActionSpec; type: string; target: unknown; params: unknown; digest: string }
>();

/** The request digest of `action` under the decision's policy snapshot (reused from decide when it is the same action). */
function digestFor(decision: Decision, action: ActionSpec): string {
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
  return requestDigest(
    {
      type: action.type,
      ...(action.target !== undefined ? { target: action.target } : {}),
      ...(action.params !== undefined ? { params: action.params } : {}),
      ...(action.side_effects ? { side_effects: action.side_effects } : {}),
    },
    decision.policy.policy_snapshot,
  );
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
    readonly decision: Decision,
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
  readonly approvals: Approvals;
  private policyChecked: Promise<void> | null = null;
  private readonly undoers = new Map<string, () => Promise<void>>();
  private readonly now: () => number;
  private readonly ids: () => string;

  constructor(readonly options: GovernorOptions) {
    const now = options.now ?? clockOf(options.trail);
    this.now = now;
    this.ids = options.ids ?? idsOf(options.trail) ?? (() => uuidv7(now()));
    this.approvals = new Approvals(options.trail, { now, ids: this.ids });
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
    this.policyChecked ??= (async () => {
      const p = this.options.policy;
      const key = `policy:${p.policyId}`;
      const trail = this.options.trail;
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
    this.policyChecked.catch(() => (this.policyChecked = null));
    return this.policyChecked;
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
   * Records intent and decision (durably; concurrent writes share one commit) and returns the decision, creating
   * an approval request when the policy asks for one. For frameworks with their own approval UI.
   */
  async decide(action: ActionSpec): Promise<Decision> {
    await this.ensurePolicyRecorded().catch((e: unknown) => {
      if (!this.options.failOpen) throw e;
    });
    const o = this.options;
    const context =
      action.context || action.reasoning
        ? { ...action.context, ...(action.reasoning ? { reasoning: action.reasoning } : {}) }
        : undefined;
    const policy = evaluate(o.policy, {
      action: {
        type: action.type,
        ...(action.target !== undefined ? { target: action.target } : {}),
        ...(action.params !== undefined ? { params: action.params } : {}),
        ...(action.side_effects ? { side_effects: action.side_effects } : {}),
      },
      actor: {
        id: o.actor.id,
        type: o.actor.type,
        ...(o.actor.trust_tier ? { trust_tier: o.actor.trust_tier } : {}),
        ...(o.actor.tags ? { tags: o.actor.tags } : {}),
        ...(o.actor.name ? { name: o.actor.name } : {}),
      },
      tenant: o.trail.tenant,
      ...(o.environment ? { environment: o.environment } : {}),
      ...(o.delegation ? { delegation: o.delegation } : {}),
      ...(o.session_id ? { session_id: o.session_id } : {}),
      ...(o.run_id ? { run_id: o.run_id } : {}),
      ...(context ? { context } : {}),
    });
    const intentId = this.ids();
    const span = o.trace_id ? newSpanId() : undefined;
    const decisionId = this.ids();
    const eventAction = {
      type: action.type,
      ...(action.target !== undefined ? { target: action.target } : {}),
      ...(action.params !== undefined ? { params: action.params } : {}),
      ...(action.side_effects ? { side_effects: action.side_effects } : {}),
    };
    const risk = (action.risk ?? policy.risk) as RiskLevel | undefined;
    const enforced = policy.mode === 'enforce';
    // The approval this decision is held for is named in the decision itself: a grant kept from
    // an earlier attempt (a resumed or restored run) or the id of the request made below.
    const needsApproval = policy.decision === 'require_approval' && enforced;
    const digest = needsApproval ? requestDigest(eventAction, policy.policy_snapshot) : '';
    const reusable = needsApproval ? await this.approvals.findGranted(digest) : undefined;
    const approvalId = needsApproval ? (reusable?.id ?? `apr_${this.ids()}`) : undefined;
    const intent: AuditEvent = {
      ...this.base(span),
      type: 'action.intent',
      event_id: intentId,
      action: eventAction,
      ...(risk ? { risk_level: risk } : {}),
      ...(context ? { context } : {}),
      ...(action.model ? { model: action.model } : {}),
    };
    const decisionEvent: AuditEvent = {
      ...this.base(span),
      type: 'policy.decision',
      event_id: decisionId,
      parent_event_id: intentId,
      action: { type: action.type, ...(action.target !== undefined ? { target: action.target } : {}) },
      ...(risk ? { risk_level: risk } : {}),
      policy: {
        decision: policy.decision,
        matched_rule: policy.matched_rule,
        policy_id: policy.policy_id,
        policy_version: policy.policy_version,
        policy_snapshot: policy.policy_snapshot,
        ...recordedConditions(o.policy, policy),
        reason: policy.reason,
        mode: policy.mode,
        evaluation_us: policy.evaluation_us,
        ...(policy.risk ? { risk: policy.risk as RiskLevel } : {}),
        ...(policy.approvers ? { approvers: policy.approvers } : {}),
      },
      ...(policy.decision === 'deny' && enforced
        ? { outcome: { status: 'denied' as const, error_message: policy.reason } }
        : {}),
      ...(approvalId
        ? {
            approval: {
              required: true,
              request_id: approvalId,
              request_digest: digest,
              decision: reusable ? ('granted' as const) : ('pending' as const),
            },
          }
        : {}),
    };
    await this.write([intent, decisionEvent]);
    const decision: Decision = {
      decision: policy.decision,
      reason: policy.reason,
      matched_rule: policy.matched_rule,
      enforced,
      intent_event_id: intentId,
      decision_event_id: decisionId,
      ...(span ? { span_id: span } : {}),
      policy,
    };
    if (approvalId) {
      DECIDED_DIGESTS.set(decision, {
        action,
        type: action.type,
        target: action.target,
        params: action.params,
        digest,
      });
      decision.approval =
        reusable ??
        (await this.approvals.request(
          eventAction,
          {
            snapshot: policy.policy_snapshot,
            matched_rule: policy.matched_rule,
            reason: policy.reason,
            approvers: policy.approvers ?? [],
            ttlMs: policy.approval_ttl_ms ?? 15 * 60_000,
            digest,
          },
          {
            actor: o.actor,
            request_id: approvalId,
            parent_event_id: intentId,
            ...(o.trace_id ? { trace_id: o.trace_id } : {}),
            ...(span ? { span_id: span } : {}),
            ...(o.session_id ? { session_id: o.session_id } : {}),
            ...(o.run_id ? { run_id: o.run_id } : {}),
          },
        ));
      if (!reusable) await o.approvals?.onRequest?.(decision.approval);
    }
    return decision;
  }

  /** Records a decision made in a framework's own approval UI against the pending request. */
  async resolveApproval(
    id: string,
    verdict: { approved: boolean; approver: string; reason?: string },
  ): Promise<void> {
    const by = { as: verdict.approver, ...(verdict.reason !== undefined ? { reason: verdict.reason } : {}) };
    if (verdict.approved) await this.approvals.approve(id, by);
    else await this.approvals.deny(id, by);
  }

  /**
   * The full governed life of one action: intent, decision, approval wait, dispatch, execution
   * with timeout and retries, outcome. Throws {@link ActionDeniedError} when denied.
   */
  async run<R>(
    action: ActionSpec,
    fn: (signal: AbortSignal) => Promise<R>,
    options: RunOptions<R> = {},
  ): Promise<R> {
    return (await this.runDetailed(action, fn, options)).result;
  }

  /** {@link run}, returning the event ids and the undo handle too. */
  async runDetailed<R>(
    action: ActionSpec,
    fn: (signal: AbortSignal) => Promise<R>,
    options: RunOptions<R> = {},
  ): Promise<RunResult<R>> {
    const decision = await this.decide(action);
    return this.execute(decision, action, fn, options);
  }

  /** Runs an action whose decision was recorded by {@link decide} (after approval, if any). */
  async execute<R>(
    decision: Decision,
    action: ActionSpec,
    fn: (signal: AbortSignal) => Promise<R>,
    options: RunOptions<R> = {},
  ): Promise<RunResult<R>> {
    if (decision.enforced && decision.decision === 'deny') throw new ActionDeniedError(decision);
    if (decision.enforced && decision.decision === 'require_approval') {
      const req = decision.approval;
      if (!req) throw new ActionDeniedError(decision, 'approval required but no request exists');
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
        ...(options.signal ? { signal: options.signal } : {}),
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
      return this.dispatch(decision, action, fn, options, {
        required: true,
        request_id: used.id,
        request_digest: used.requestDigest,
        decision: 'granted',
        ...(used.decidedBy ? { approver: used.decidedBy } : {}),
        ...(used.decidedAt ? { decided_at: used.decidedAt } : {}),
      });
    }
    return this.dispatch(decision, action, fn, options);
  }

  /**
   * Records that an execution was refused before it ran (outcome `blocked`), e.g. a framework
   * said "approved" but the trail holds no grant: the refused attempt is part of the story.
   */
  async recordBlocked(decision: Decision, action: ActionSpec, message: string): Promise<void> {
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

  private async dispatch<R>(
    decision: Decision,
    action: ActionSpec,
    fn: (signal: AbortSignal) => Promise<R>,
    options: RunOptions<R>,
    grant?: NonNullable<AuditEvent['approval']>,
  ): Promise<RunResult<R>> {
    const attempts = 1 + Math.max(0, options.retries ?? 0);
    const approval = grant ? { approval: grant } : {};
    const jobId = decision.intent_event_id;
    const eventAction = {
      type: action.type,
      ...(action.target !== undefined ? { target: action.target } : {}),
    };
    let lastError: unknown;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      if (this.options.recordDispatch) {
        // Intent and decision are already durable; the dispatch record travels with the outcome's commit.
        await this.outcome({
          ...this.base(decision.span_id),
          type: 'action.dispatched',
          parent_event_id: decision.intent_event_id,
          ...approval,
          action: eventAction,
          dispatch: { job_id: jobId, status: 'running', attempt, max_attempts: attempts },
        });
      }
      const started = performance.now();
      const controller = new AbortController();
      const onAbort = () => controller.abort(options.signal?.reason);
      options.signal?.addEventListener('abort', onAbort, { once: true });
      let timer: NodeJS.Timeout | undefined;
      try {
        const run = fn(controller.signal);
        const result = await (options.timeoutMs === undefined && !options.signal
          ? run
          : Promise.race([
              run,
              new Promise<never>((_, reject) => {
                if (options.timeoutMs !== undefined) {
                  timer = setTimeout(() => {
                    const err = new TimeoutError(`timed out after ${options.timeoutMs} ms`);
                    controller.abort(err);
                    reject(err);
                  }, options.timeoutMs);
                }
                if (options.signal?.aborted) reject(new AuditError('closed', 'cancelled'));
                options.signal?.addEventListener(
                  'abort',
                  () => reject(new AuditError('closed', 'cancelled')),
                  { once: true },
                );
              }),
            ]));
        const outcomeId = this.ids();
        await this.outcome({
          ...this.base(decision.span_id),
          type: 'action.succeeded',
          event_id: outcomeId,
          parent_event_id: decision.intent_event_id,
          ...approval,
          action: { ...eventAction, ...(action.side_effects ? { side_effects: action.side_effects } : {}) },
          dispatch: { job_id: jobId, status: 'done', attempt, max_attempts: attempts },
          outcome: {
            status: 'success',
            ...(result !== undefined ? { result: jsonSafe(result) } : {}),
            duration_ms: round(performance.now() - started),
          },
        });
        const out: RunResult<R> = {
          result,
          intent_event_id: decision.intent_event_id,
          outcome_event_id: outcomeId,
        };
        if (options.undo) {
          const undo = options.undo;
          out.undo = () => this.runUndo(outcomeId, eventAction, () => undo(result));
          this.undoers.set(decision.intent_event_id, out.undo);
        }
        return out;
      } catch (e) {
        lastError = e;
        const duration = round(performance.now() - started);
        const cancelled = options.signal?.aborted === true;
        const timedOut = e instanceof TimeoutError;
        const message = e instanceof Error ? e.message : String(e);
        const last = attempt === attempts || cancelled;
        const type = cancelled
          ? 'action.cancelled'
          : timedOut
            ? 'action.timed_out'
            : last
              ? 'action.failed'
              : 'action.retried';
        await this.outcome({
          ...this.base(decision.span_id),
          type,
          parent_event_id: decision.intent_event_id,
          ...approval,
          action: eventAction,
          dispatch: { job_id: jobId, status: last ? 'failed' : 'retrying', attempt, max_attempts: attempts },
          outcome: {
            status: cancelled ? 'cancelled' : timedOut ? 'timeout' : 'failure',
            error_message: message.slice(0, 4000),
            duration_ms: duration,
          },
        });
        if (timedOut && !last) {
          await this.outcome({
            ...this.base(decision.span_id),
            type: 'action.retried',
            parent_event_id: decision.intent_event_id,
            ...approval,
            action: eventAction,
            dispatch: { job_id: jobId, status: 'retrying', attempt, max_attempts: attempts },
          });
        }
        if (last) {
          if (attempts > 1 && !cancelled) {
            await this.outcome({
              ...this.base(decision.span_id),
              type: 'action.dead_lettered',
              parent_event_id: decision.intent_event_id,
              ...approval,
              action: eventAction,
              dispatch: { job_id: jobId, status: 'dead_lettered', attempt, max_attempts: attempts },
              outcome: {
                status: 'failure',
                error_message: `gave up after ${attempt} attempts: ${message.slice(0, 2000)}`,
              },
            });
          }
          throw e;
        }
        await new Promise((r) => setTimeout(r, (options.backoffMs ?? 100) * 2 ** (attempt - 1)));
      } finally {
        if (timer) clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
      }
    }
    throw lastError;
  }

  // Every event the governor writes takes its id from the injected source.
  private withId(event: AuditEvent): AuditEvent {
    return event.event_id === undefined ? { event_id: this.ids(), ...event } : event;
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
  return (...args: A) =>
    governor.run(typeof spec === 'function' ? spec(...args) : spec, () => fn(...args), options);
}
