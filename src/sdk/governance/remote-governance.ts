import { AuditError } from '../../errors.js';
import type { AuditEvent, RiskLevel } from '../../event/types.js';
import type { PolicyDecision } from '../../policy/index.js';
import { backoffMs, RemoteError, sleep, type HttpClient } from '../remote/http-client.js';
import type { ApprovalRequestInfo } from './approvals.js';
import {
  ActionDeniedError,
  ApprovalRequiredError,
  type ActionSpec,
  type ActionDecision,
  type GovernorOptions,
} from './governor.js';

/** The answer of `POST /v1/decide`. */
interface DecideAnswer {
  decision: ActionDecision['decision'];
  enforced: boolean;
  matched_rule: string | null;
  reason: string;
  risk: RiskLevel | null;
  intent_event_id: string;
  decision_event_id: string;
  approval?: { id: string; approvers: string[]; expires_at: string; request_digest: string };
}

/** The answer of `GET /v1/approvals/{id}`. */
interface ApprovalAnswer {
  id: string;
  status: 'pending' | 'granted' | 'denied' | 'expired' | 'used';
  approvers: string[];
  request_digest: string;
  expires_at: string;
  action: ApprovalRequestInfo['action'] | null;
  matched_rule: string | null;
  reason: string | null;
  decided_by: string | null;
  decided_at: string | null;
  decision_reason: string | null;
}

/** Long-poll length of one approval request (the server caps it at 60 s). */
const APPROVAL_POLL = '30s';
/** How long a decide or outcome request is resent while the server is unreachable. */
const RESEND_FOR_MS = 10_000;

/**
 * The Governor's side of a server's governance (docs/remote.md): decisions from
 * `POST /v1/decide` (intent and decision durable there before the answer), approvals awaited
 * with `GET /v1/approvals/{id}?wait=`, the final outcome through `POST /v1/actions/{id}/outcome`
 * (which uses the grant). Internal: the Governor builds it for a remote trail without a policy.
 */
export class RemoteGovernance {
  constructor(private readonly http: HttpClient) {}

  /** Resends a request whose resend is harmless while the server is unreachable. */
  private async resend<T>(send: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + RESEND_FOR_MS;
    for (let attempt = 1; ; attempt++) {
      try {
        return await send();
      } catch (e) {
        if (!(e instanceof RemoteError) || !e.retryable) throw e;
        const wait = backoffMs(attempt, 100, 2000, e.retryAfterS);
        if (Date.now() + wait > deadline) throw e;
        await sleep(wait);
      }
    }
  }

  async decide(o: GovernorOptions, action: ActionSpec): Promise<ActionDecision> {
    if (o.delegation) {
      throw new AuditError(
        'invalid_argument',
        "the server's /v1/decide takes no delegation chain: give the sub-agent's governor a local policy",
      );
    }
    const body = {
      actor: o.actor,
      action: {
        type: action.type,
        ...(action.target !== undefined ? { target: action.target } : {}),
        ...(action.params !== undefined ? { params: action.params } : {}),
        ...(action.side_effects ? { side_effects: action.side_effects } : {}),
      },
      ...(action.reasoning !== undefined ? { reasoning: action.reasoning } : {}),
      ...(action.risk !== undefined ? { risk: action.risk } : {}),
      ...(action.context !== undefined ? { context: action.context } : {}),
      ...(action.model !== undefined ? { model: action.model } : {}),
      ...(o.session_id ? { session_id: o.session_id } : {}),
      ...(o.run_id ? { run_id: o.run_id } : {}),
      ...(o.trace_id ? { trace_id: o.trace_id } : {}),
      ...(o.environment ? { environment: o.environment } : {}),
    };
    // Only a refused connection is resent: a lost answer would record a second intent.
    let a: DecideAnswer;
    try {
      a = await this.http.request<DecideAnswer>('POST', '/v1/decide', { body });
    } catch (e) {
      if (o.failOpen || !(e instanceof AuditError)) throw e;
      throw new AuditError('store_failure', `audit log unavailable, action not run: ${e.message}`, {
        cause: e,
      });
    }
    // The server's policy is not here: what the answer tells of it.
    const policy: PolicyDecision = {
      decision: a.decision,
      matched_rule: a.matched_rule,
      policy_id: '',
      policy_version: 0,
      policy_snapshot: '',
      conditions_evaluated: [],
      reason: a.reason,
      mode: a.enforced ? 'enforce' : 'shadow',
      evaluation_us: 0,
      ...(a.risk !== null ? { risk: a.risk } : {}),
      ...(a.approval ? { approvers: a.approval.approvers } : {}),
    };
    const decision: ActionDecision = {
      decision: a.decision,
      reason: a.reason,
      matched_rule: a.matched_rule,
      enforced: a.enforced,
      intent_event_id: a.intent_event_id,
      decision_event_id: a.decision_event_id,
      policy,
    };
    if (a.approval) {
      decision.approval = {
        id: a.approval.id,
        approvers: a.approval.approvers,
        expires_at: a.approval.expires_at,
        request_digest: a.approval.request_digest,
        action: body.action,
        matched_rule: a.matched_rule,
        reason: a.reason,
      };
      await o.approvals?.onRequest?.(decision.approval);
    }
    return decision;
  }

  /**
   * Before an action runs: throws ActionDeniedError when denied (or refused by an approver, or
   * expired), ApprovalRequiredError when the governor does not wait; returns the grant to name
   * in the execution events when one was needed.
   */
  async awaitApproval(
    decision: ActionDecision,
    approvals: GovernorOptions['approvals'],
    signal?: AbortSignal,
  ): Promise<NonNullable<AuditEvent['approval']> | undefined> {
    if (!decision.enforced) return undefined;
    if (decision.decision === 'deny') throw new ActionDeniedError(decision);
    if (decision.decision !== 'require_approval') return undefined;
    const req = decision.approval;
    if (!req) throw new ActionDeniedError(decision, 'approval required but no request exists');
    const path = `/v1/approvals/${encodeURIComponent(req.id)}`;
    let row = await this.resend(() => this.http.request<ApprovalAnswer>('GET', path));
    if (row.status === 'pending' && approvals?.wait === false) throw new ApprovalRequiredError(req);
    while (row.status === 'pending') {
      if (signal?.aborted) throw new AuditError('closed', 'cancelled while waiting for an approval');
      row = await this.resend(() =>
        this.http.request<ApprovalAnswer>('GET', `${path}?wait=${APPROVAL_POLL}`, {
          waitMs: 30_000,
          ...(signal ? { signal } : {}),
        }),
      );
    }
    if (row.status === 'denied') {
      throw new ActionDeniedError(
        decision,
        `approval ${req.id} denied by ${row.decided_by ?? 'an approver'}${row.decision_reason ? `: ${row.decision_reason}` : ''}`,
      );
    }
    if (row.status === 'expired')
      throw new ActionDeniedError(decision, `approval ${req.id} expired before anyone decided`);
    if (row.status === 'used') throw new ActionDeniedError(decision, `approval ${req.id} was already used`);
    return {
      required: true,
      request_id: req.id,
      request_digest: row.request_digest,
      decision: 'granted',
      ...(row.decided_by ? { approver: row.decided_by } : {}),
      ...(row.decided_at ? { decided_at: row.decided_at } : {}),
    };
  }

  /** Records the final outcome through the server's route (it uses the grant, if any). */
  async outcome(intentEventId: string, event: AuditEvent): Promise<void> {
    const o = event.outcome;
    const status =
      o?.status === 'success' ||
      o?.status === 'failure' ||
      o?.status === 'timeout' ||
      o?.status === 'cancelled'
        ? o.status
        : 'failure';
    const body = {
      ...(event.event_id !== undefined ? { event_id: event.event_id } : {}),
      status,
      ...(o?.result !== undefined ? { result: o.result } : {}),
      ...(o?.error_message !== undefined ? { error_message: o.error_message } : {}),
      ...(o?.duration_ms !== undefined ? { duration_ms: o.duration_ms } : {}),
    };
    const path = `/v1/actions/${encodeURIComponent(intentEventId)}/outcome`;
    let resent = false;
    try {
      await this.resend(() => {
        const p = this.http.request('POST', path, { body });
        resent = true;
        return p;
      });
    } catch (e) {
      // A resend after a lost answer finds the grant used: the outcome is there if its id is.
      if (resent && e instanceof RemoteError && e.status === 409 && event.event_id !== undefined) {
        const there = await this.http
          .request('GET', `/v1/events/by-id/${encodeURIComponent(event.event_id)}`)
          .then(() => true)
          .catch(() => false);
        if (there) return;
      }
      throw e;
    }
  }

  /** Grants or denies a request as the API key's principal (the server records who). */
  static async resolve(
    http: HttpClient,
    id: string,
    verdict: { approved: boolean; approver: string; reason?: string },
  ): Promise<void> {
    await http.request(
      'POST',
      `/v1/approvals/${encodeURIComponent(id)}/${verdict.approved ? 'approve' : 'deny'}`,
      {
        body: verdict.reason !== undefined ? { reason: verdict.reason } : {},
      },
    );
  }
}
