/**
 * What the framework adapters share: how a tool call becomes the action the policy sees, a
 * bounded per-call decision cache (frameworks ask "needs approval?" and "execute" separately,
 * sometimes more than once per call), and the text a model reads when a call is refused.
 */
import {
  ActionDeniedError,
  ApprovalError,
  ApprovalRequiredError,
  AuditError,
  requestDigest,
  toolCallToAction,
  type ActionDecision,
  type ActionSpec,
  type ApprovalRequestInfo,
  type ApprovalVerdict,
  type Governor,
  type ToolActionOptions,
} from '../index.js';

/** The action a call of `name` with `input` is, under `options` (see `toolCallToAction`). */
export function toolAction(name: string, input: unknown, options: ToolActionOptions = {}): ActionSpec {
  return toolCallToAction({ name, args: input }, options);
}

/** One tool call's decision, kept between the framework's approval check and its execution. */
export type CachedDecision =
  { action: ActionSpec; decision: ActionDecision } | { action: ActionSpec; error: unknown };

/**
 * A bounded map of tool-call id to decision. Frameworks call the approval hook once per call
 * and again when a run resumes; the cache keeps one intent/decision pair per call. Bounded so a
 * run whose calls are never executed (rejected approvals, abandoned runs) cannot grow it forever.
 */
export class DecisionCache {
  private readonly entries = new Map<string, CachedDecision>();
  constructor(private readonly max = 10_000) {}

  get(id: string): CachedDecision | undefined {
    return this.entries.get(id);
  }

  set(id: string, entry: CachedDecision): void {
    this.entries.delete(id);
    this.entries.set(id, entry);
    if (this.entries.size > this.max) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
  }

  delete(id: string): void {
    this.entries.delete(id);
  }

  /**
   * The decision for call `id`, deciding (and recording intent + decision) on first use. A
   * failure to record is kept too, so the execute step can report it to the model instead of
   * the approval hook crashing the whole run.
   */
  async decide(governor: Governor, id: string | undefined, action: ActionSpec): Promise<CachedDecision> {
    const known = id !== undefined ? this.get(id) : undefined;
    if (known && sameAction(known.action, action)) return known;
    let entry: CachedDecision;
    try {
      entry = { action, decision: await governor.decide(action) };
    } catch (error) {
      entry = { action, error };
    }
    if (id !== undefined) this.set(id, entry);
    return entry;
  }
}

// The policy decided on one exact action; a resumed call whose input changed is a new action.
function sameAction(a: ActionSpec, b: ActionSpec): boolean {
  try {
    return JSON.stringify(a) === JSON.stringify(b);
  } catch {
    return false;
  }
}

/** True when the framework should pause the call for a person (enforced `require_approval`). */
export function needsHumanApproval(entry: CachedDecision): boolean {
  return 'decision' in entry && entry.decision.enforced && entry.decision.decision === 'require_approval';
}

/**
 * True when the call will be refused whatever a person says (an enforced `deny`, or a decision
 * that could not be recorded): asking for a human approval first would only waste their time.
 */
export function refusedOutright(entry: CachedDecision): boolean {
  return 'error' in entry || (entry.decision.enforced && entry.decision.decision === 'deny');
}

/**
 * The text a model reads when a call is not run. It names the rule and the reason so the model
 * can explain or choose another way; it never includes the call's arguments.
 */
export function refusalText(error: unknown): string {
  if (error instanceof ActionDeniedError) return `Not run: ${error.message}`;
  if (error instanceof ApprovalRequiredError) return `Not run yet: ${error.message}`;
  if (error instanceof AuditError) return `Not run: ${error.message}`;
  return `Not run: ${error instanceof Error ? error.message : String(error)}`;
}

/** Whether `error` means governance refused the call (as opposed to the tool itself failing). */
export function isRefusal(error: unknown): boolean {
  return (
    error instanceof ActionDeniedError ||
    error instanceof ApprovalRequiredError ||
    error instanceof ApprovalError ||
    (error instanceof AuditError && error.code === 'store_failure')
  );
}

/**
 * Finds the pending approval request for `action` by its digest (the digest binds the action,
 * its parameters and the policy snapshot), for approvals given after a restart, when the
 * in-memory cache no longer knows the request id.
 */
export async function findPendingApproval(
  governor: Governor,
  action: ActionSpec,
): Promise<ApprovalRequestInfo | undefined> {
  const digest = requestDigest(
    {
      type: action.type,
      ...(action.target !== undefined ? { target: action.target } : {}),
      ...(action.params !== undefined ? { params: action.params } : {}),
    },
    governor.options.policy?.snapshot ?? '',
  );
  const pending = await governor.approvals.list('pending');
  // The newest request for this exact action: an older one may be for an earlier attempt.
  return pending.filter((p) => p.request_digest === digest).pop();
}

/**
 * Records a person's verdict on a governor approval request, idempotently: recording the same
 * verdict twice (an app that records, then replays the message history) is not an error.
 */
export async function recordVerdict(
  governor: Governor,
  approvalId: string,
  verdict: ApprovalVerdict,
): Promise<void> {
  const row = await governor.approvals.get(approvalId);
  const want = verdict.approved ? 'granted' : 'denied';
  if (row && row.status !== 'pending') {
    const same = row.status === want || (verdict.approved && row.status === 'used');
    if (same && row.decidedBy === verdict.approver) return;
  }
  await governor.resolveApproval(approvalId, verdict);
}

/**
 * Fails closed when a framework says a call was approved but the governor's request is still
 * pending: the approval happened in the app's UI and was never recorded, so there is no approver
 * on record. The refused attempt is recorded (`action.cancelled`, outcome `blocked`, naming the
 * request). (A request granted elsewhere — the CLI, the dashboard — passes.)
 */
export async function assertApprovalRecorded(governor: Governor, decision: ActionDecision): Promise<void> {
  const req = decision.approval;
  if (!req) return;
  const row = await governor.approvals.get(req.id);
  if (row?.status === 'pending') {
    const refused = new ActionDeniedError(
      decision,
      `approval ${req.id} is still pending in the audit trail: the approval given in the app was not recorded ` +
        `(record it with the adapter's approval helper, naming the approver)`,
    );
    // The refused attempt is part of the action's story: record it (outcome `blocked`).
    await governor.recordBlocked(decision, req.action, refused.message);
    throw refused;
  }
}
