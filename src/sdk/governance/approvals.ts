import { hash } from 'node:crypto';
import { canonicalize } from '../../core/canonical-json.js';
import { AuditError } from '../../errors.js';
import type { Actor } from '../../event/types.js';
import { uuidv7 } from '../../internal/ids.js';
import type { ApprovalRow } from '../../store/store.js';
import { clockOf, idsOf, recordWithSideWrites, redactorOf, storeOf, tagOf } from '../internals.js';
import { type AuditTrail } from '../audit-trail.js';

/** The action a request is about, as the policy saw it. */
export interface ApprovalAction {
  type: string;
  target?: string;
  params?: unknown;
  side_effects?: string[];
}

/** A pending approval, as callbacks and adapters see it. */
export interface ApprovalRequestInfo {
  id: string;
  approvers: string[];
  expires_at: string;
  /** `sha256:` of JCS({action: {type, target, params}, policy_snapshot}); the grant is bound to it. */
  request_digest: string;
  action: ApprovalAction;
  matched_rule: string | null;
  reason: string;
}

/**
 * Raised when an approval cannot be given or used; `code` tells why: `not_found`, `conflict`
 * (already decided, used, expired, bound to another action), `invalid_argument` (an approver the
 * rule does not name), `closed` (the wait was cancelled).
 *
 * @example
 * try { await approvals.approve(id, { as: 'bob' }) } catch (e) { if (e instanceof ApprovalError) e.code } // 'invalid_argument'
 */
export class ApprovalError extends AuditError {
  override name = 'ApprovalError';
}

/** Where approvals take the time and new request ids from (tests inject fixed ones). */
export interface ApprovalsOptions {
  /** Epoch ms; default the trail's clock. */
  now?: () => number;
  /** Request ids are `apr_` + one of these (then `request_id` may be any such id); default a UUIDv7 from `now`. */
  ids?: () => string;
}

/**
 * The digest an approval is bound to: the action, its parameters and the policy snapshot that
 * asked for the approval. A grant for one request cannot authorise a different action.
 */
export function requestDigest(action: ApprovalAction, policySnapshot: string): string {
  const body = canonicalize({
    action: { type: action.type, target: action.target ?? null, params: action.params ?? null },
    policy_snapshot: policySnapshot,
  });
  return `sha256:${hash('sha256', body, 'hex')}`;
}

// `apr_` + a UUID; with an injected id source, `apr_` + any id of a safe alphabet (no spaces or
// quotes, so it can be pasted into `auditrail approvals approve <id>` as is).
const APPROVAL_ID = /^apr_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const INJECTED_APPROVAL_ID = /^apr_[A-Za-z0-9._:-]{1,120}$/;

// The waits of this process, by request id: a decision made in this process wakes them at once;
// one made by another process (the CLI, the dashboard) is seen by the next poll of the store.
const waiters = new Map<string, Set<() => void>>();

function wakeWaiters(id: string): void {
  for (const wake of waiters.get(id) ?? []) wake();
}

/** Resolves after `ms`, when this process decides `id`, or on abort, whichever comes first. */
function sleepUntilDecided(id: string, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    let set = waiters.get(id);
    if (set === undefined) waiters.set(id, (set = new Set()));
    const mine = set;
    const wake = (): void => {
      clearTimeout(timer);
      mine.delete(wake);
      if (mine.size === 0 && waiters.get(id) === mine) waiters.delete(id);
      signal?.removeEventListener('abort', wake);
      resolve();
    };
    const timer = setTimeout(wake, ms);
    mine.add(wake);
    signal?.addEventListener('abort', wake, { once: true });
  });
}

/** An actor id as the approvals table holds it: a user as `user:<tag>` (the log's index key). */
function personColumn(trail: AuditTrail, type: string, id: string): string {
  const tag = tagOf(trail);
  return type === 'user' && tag ? `user:${tag(id)}` : id;
}

/** The action of a stored request, as it was asked for (redacted). */
function actionOf(row: ApprovalRow): ApprovalAction {
  return {
    type: row.actionType,
    ...(row.target !== null ? { target: row.target } : {}),
    ...(row.params !== undefined ? { params: row.params } : {}),
    ...(row.sideEffects !== null ? { side_effects: row.sideEffects } : {}),
  };
}

function infoOf(row: ApprovalRow): ApprovalRequestInfo {
  return {
    id: row.id,
    approvers: row.approvers,
    expires_at: row.expiresAt,
    request_digest: row.requestDigest,
    action: actionOf(row),
    matched_rule: row.matchedRule,
    reason: row.requestReason,
  };
}

/** The correlation fields every approval event of a request carries, from its row. */
function correlationOf(row: ApprovalRow): {
  session_id?: string;
  run_id?: string;
  parent_event_id?: string;
  trace_id?: string;
  span_id?: string;
} {
  return {
    ...(row.sessionId ? { session_id: row.sessionId } : {}),
    ...(row.runId ? { run_id: row.runId } : {}),
    ...(row.parentEventId ? { parent_event_id: row.parentEventId } : {}),
    ...(row.traceId ? { trace_id: row.traceId } : {}),
    ...(row.spanId ? { span_id: row.spanId } : {}),
  };
}

/**
 * The stored part of a request: redacted by the log's rules as one document (so a rule keyed on
 * a path sees the same paths as before), then one field per column.
 */
function requestColumns(
  trail: AuditTrail,
  action: ApprovalAction,
  policy: { matched_rule: string | null; reason: string },
  ctx: ApprovalContext,
): Pick<
  ApprovalRow,
  | 'actionType'
  | 'target'
  | 'params'
  | 'sideEffects'
  | 'matchedRule'
  | 'requestReason'
  | 'actorType'
  | 'actorId'
  | 'sessionId'
  | 'runId'
  | 'parentEventId'
  | 'traceId'
  | 'spanId'
> {
  const r = redactorOf(trail)({
    action,
    matched_rule: policy.matched_rule,
    reason: policy.reason,
    ctx,
  }).value;
  const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
  return {
    actionType: r.action.type,
    target: str(r.action.target),
    ...(r.action.params !== undefined ? { params: r.action.params } : {}),
    sideEffects: Array.isArray(r.action.side_effects) ? r.action.side_effects : null,
    matchedRule: r.matched_rule,
    requestReason: r.reason,
    actorType: r.ctx.actor.type,
    // A person is kept as in the query index: by keyed hash (docs/storage.md), never in plain.
    actorId: personColumn(trail, r.ctx.actor.type, r.ctx.actor.id),
    sessionId: str(r.ctx.session_id),
    runId: str(r.ctx.run_id),
    parentEventId: str(r.ctx.parent_event_id),
    traceId: str(r.ctx.trace_id),
    spanId: str(r.ctx.span_id),
  };
}

export interface ApprovalContext {
  actor: Actor;
  session_id?: string;
  run_id?: string;
  parent_event_id?: string;
  /** The id to give the request (`apr_` + an id), when the decision event already names it. */
  request_id?: string;
  /** W3C trace context of the action, carried by every approval event of the request. */
  trace_id?: string;
  span_id?: string;
}

/**
 * Persisted human approvals (DESIGN §5): a request is stored (it survives a restart), bound to
 * its request digest, expires, can be used once, and only by an approver the rule names. Every
 * step is recorded in the trail: `approval.requested`, `.granted`, `.denied`, `.expired`.
 *
 * @example
 * const approvals = new Approvals(trail);
 * await approvals.approve(id, { as: 'finance_lead', reason: 'refund verified with the customer' });
 */
export class Approvals {
  private readonly now: () => number;
  private readonly ids: () => string;
  private readonly idPattern: RegExp;

  constructor(
    readonly trail: AuditTrail,
    /** Options, or (as before options existed) the clock alone. */
    options: ApprovalsOptions | (() => number) = {},
  ) {
    if (typeof options === 'function') options = { now: options };
    const now = options.now ?? clockOf(trail);
    this.now = now;
    const ids = options.ids ?? idsOf(trail);
    this.ids = ids ?? (() => uuidv7(now()));
    this.idPattern = ids ? INJECTED_APPROVAL_ID : APPROVAL_ID;
  }

  /** Persists a new request and records `approval.requested`. */
  async request(
    action: ApprovalAction,
    policy: {
      snapshot: string;
      matched_rule: string | null;
      reason: string;
      approvers: string[];
      ttlMs: number;
      /** @internal the governor's {@link requestDigest} of this same action and snapshot (computed once). */
      digest?: string;
    },
    ctx: ApprovalContext,
  ): Promise<ApprovalRequestInfo> {
    if (policy.approvers.length === 0) {
      throw new ApprovalError(
        'invalid_argument',
        `rule ${policy.matched_rule ?? '(default)'} names no approvers`,
      );
    }
    if (ctx.request_id !== undefined && !this.idPattern.test(ctx.request_id)) {
      throw new ApprovalError(
        'invalid_argument',
        this.idPattern === APPROVAL_ID
          ? 'request_id must be apr_ followed by a UUID'
          : 'request_id must be apr_ followed by an id of [A-Za-z0-9._:-]',
      );
    }
    const id = ctx.request_id ?? `apr_${this.ids()}`;
    // Refused before anything is written: the row and its event are committed together, and a
    // refused row would fail the other events of that batch too.
    if ((await storeOf(this.trail).getApproval(id)) !== undefined)
      throw new ApprovalError('conflict', `approval request ${id} exists`);
    const now = this.now();
    const row: ApprovalRow = {
      id,
      logOrigin: this.trail.origin,
      status: 'pending',
      requestDigest: policy.digest ?? requestDigest(action, policy.snapshot),
      approvers: [...policy.approvers],
      expiresAt: new Date(Math.floor(now + policy.ttlMs)).toISOString(),
      createdAt: new Date(Math.floor(now)).toISOString(),
      // Stored beside the log, so redacted by the log's rules; the digest above binds the raw action.
      ...requestColumns(this.trail, action, policy, ctx),
      decidedBy: null,
      decidedAt: null,
      reason: null,
    };
    // The row and `approval.requested` in one transaction: neither is ever stored without the other.
    await recordWithSideWrites(
      this.trail,
      {
        event_id: this.ids(),
        type: 'approval.requested',
        actor: ctx.actor,
        ...(ctx.session_id ? { session_id: ctx.session_id } : {}),
        ...(ctx.run_id ? { run_id: ctx.run_id } : {}),
        ...(ctx.parent_event_id ? { parent_event_id: ctx.parent_event_id } : {}),
        ...(ctx.trace_id ? { trace_id: ctx.trace_id } : {}),
        ...(ctx.span_id ? { span_id: ctx.span_id } : {}),
        action,
        approval: {
          required: true,
          request_id: id,
          request_digest: row.requestDigest,
          approvers: row.approvers,
          decision: 'pending',
          expires_at: row.expiresAt,
          reason: policy.reason,
        },
      },
      { approvals: [row] },
    );
    return infoOf(row);
  }

  /** A granted, unused, unexpired request with this digest (a re-attempt after a restart). */
  async findGranted(digest: string): Promise<ApprovalRequestInfo | undefined> {
    const now = isoNow(this.now);
    const row = (await storeOf(this.trail).listApprovals('granted', this.trail.origin)).find(
      (r) => r.requestDigest === digest && r.expiresAt > now,
    );
    return row ? infoOf(row) : undefined;
  }

  /** Pending requests of this trail's log (expired ones are marked and recorded first). */
  async list(
    status: ApprovalRow['status'] | 'all' = 'pending',
  ): Promise<
    (ApprovalRequestInfo & { status: string; decided_by: string | null; decision_reason: string | null })[]
  > {
    // A read-only trail records nothing: requests whose time is up are shown as expired instead.
    const now = new Date(this.now()).toISOString();
    if (!this.trail.readonly) await this.expireDue();
    const rows = (
      await storeOf(this.trail).listApprovals(status === 'all' ? undefined : status, this.trail.origin)
    ).map((r) => (r.status === 'pending' && r.expiresAt <= now ? { ...r, status: 'expired' as const } : r));
    return rows
      .filter((r) => status === 'all' || r.status === status)
      .map((r) => ({ ...infoOf(r), status: r.status, decided_by: r.decidedBy, decision_reason: r.reason }));
  }

  async get(id: string): Promise<ApprovalRow | undefined> {
    const row = await storeOf(this.trail).getApproval(id);
    return row && row.logOrigin === this.trail.origin ? row : undefined;
  }

  private async load(id: string): Promise<ApprovalRow> {
    const row = await this.get(id);
    if (!row) throw new ApprovalError('not_found', `no approval request ${id}`);
    return row;
  }

  /** Grants a pending request as `as` (who must be one of the rule's approvers). */
  approve(id: string, by: { as: string; reason?: string }): Promise<void> {
    return this.decide(id, 'granted', by);
  }

  /** Denies a pending request as `as` (who must be one of the rule's approvers). */
  deny(id: string, by: { as: string; reason?: string }): Promise<void> {
    return this.decide(id, 'denied', by);
  }

  private async decide(
    id: string,
    verdict: 'granted' | 'denied',
    by: { as: string; reason?: string },
  ): Promise<void> {
    const row = await this.load(id);
    if (row.status !== 'pending')
      throw new ApprovalError('conflict', `approval ${id} is already ${row.status}`);
    if (row.expiresAt <= isoNow(this.now)) {
      await this.expire(row);
      throw new ApprovalError('conflict', `approval ${id} expired at ${row.expiresAt}`);
    }
    if (!by.as || !row.approvers.includes(by.as)) {
      throw new ApprovalError(
        'invalid_argument',
        `${JSON.stringify(by.as)} may not decide ${id}; the rule names ${row.approvers.join(', ')}`,
      );
    }
    const decidedAt = isoNow(this.now);
    await this.trail.record({
      event_id: this.ids(),
      type: verdict === 'granted' ? 'approval.granted' : 'approval.denied',
      actor: { type: 'user', id: by.as },
      ...correlationOf(row),
      action: actionOf(row),
      approval: {
        required: true,
        request_id: id,
        request_digest: row.requestDigest,
        approver: by.as,
        decision: verdict,
        decided_at: decidedAt,
        ...(by.reason !== undefined ? { reason: by.reason } : {}),
      },
    });
    // The row changes only after the decision is in the log: an agent polling the row (another
    // process) must never run on a grant the log does not hold yet.
    const ok = await storeOf(this.trail).updateApproval(id, 'pending', {
      status: verdict,
      decidedBy: by.as,
      decidedAt,
      ...(by.reason !== undefined ? { reason: redactorOf(this.trail)(by.reason).value } : {}),
    });
    if (!ok) throw new ApprovalError('conflict', `approval ${id} was decided concurrently`);
    wakeWaiters(id);
  }

  private async expire(row: ApprovalRow): Promise<void> {
    if (!(await storeOf(this.trail).updateApproval(row.id, 'pending', { status: 'expired' }))) return;
    wakeWaiters(row.id);
    await this.trail.record({
      event_id: this.ids(),
      type: 'approval.expired',
      actor: { type: 'system', id: 'auditrail' },
      ...correlationOf(row),
      action: actionOf(row),
      approval: {
        required: true,
        request_id: row.id,
        request_digest: row.requestDigest,
        decision: 'expired',
        expires_at: row.expiresAt,
      },
      outcome: { status: 'cancelled', error_message: 'approval expired' },
    });
  }

  /** Marks and records every pending request of this log whose time is up. */
  async expireDue(): Promise<number> {
    const now = isoNow(this.now);
    let n = 0;
    for (const row of await storeOf(this.trail).listApprovals('pending', this.trail.origin)) {
      if (row.expiresAt <= now) {
        await this.expire(row);
        n++;
      }
    }
    return n;
  }

  /**
   * Waits until the request is decided or expires. A decision made in this process ends the wait
   * at once; one made by another process (the CLI, the dashboard) is seen by polling the store
   * every `pollMs` (default 250). Returns the final row.
   *
   * @example
   * const row = await approvals.wait(id, { pollMs: 1000 }); // row.status: 'granted' | 'denied' | 'expired'
   */
  async wait(id: string, options: { pollMs?: number; signal?: AbortSignal } = {}): Promise<ApprovalRow> {
    const poll = options.pollMs ?? 250;
    for (;;) {
      const row = await this.load(id);
      if (row.status !== 'pending') return row;
      if (row.expiresAt <= isoNow(this.now)) {
        await this.expire(row);
        return this.load(id);
      }
      if (options.signal?.aborted) throw new ApprovalError('closed', `stopped waiting for approval ${id}`);
      await sleepUntilDecided(
        id,
        Math.min(poll, Math.max(1, Date.parse(row.expiresAt) - this.now())),
        options.signal,
      );
    }
  }

  /** Uses a granted request once, checking it is bound to this exact action. */
  async consume(id: string, digest: string): Promise<ApprovalRow> {
    const row = await this.load(id);
    if (row.requestDigest !== digest) {
      throw new ApprovalError('conflict', `approval ${id} was granted for a different action or policy`);
    }
    if (row.status !== 'granted')
      throw new ApprovalError('conflict', `approval ${id} is ${row.status}, not granted`);
    if (!(await storeOf(this.trail).updateApproval(id, 'granted', { status: 'used' }))) {
      throw new ApprovalError('conflict', `approval ${id} was already used`);
    }
    return row;
  }
}

// The trail's clock may have a fractional part (microseconds); stored times keep milliseconds.
function isoNow(now: () => number): string {
  return new Date(Math.floor(now())).toISOString();
}
