/**
 * LangChain v1 (`langchain` 1.x, `createAgent`) adapter: a middleware whose `wrapToolCall` governs
 * every tool call of the agent. `require_approval` uses LangChain's documented human-in-the-loop
 * flow: the call pauses with a LangGraph `interrupt()` and resumes with `Command({ resume })`; the
 * person's decision is recorded through the governor's approvals (approver checked against the
 * rule) before the call may run, and the grant is used once, for this call.
 *
 * `langchain`, `@langchain/langgraph` and `@langchain/core` are optional peers: only this module
 * imports the first two.
 */
import { ToolMessage } from '@langchain/core/messages';
import { interrupt, isGraphInterrupt, type Command } from '@langchain/langgraph';
import { createMiddleware, type AgentMiddleware } from 'langchain';
import {
  Governor,
  toolCallToAction,
  type ActionDecision,
  type ActionSpec,
  type Actor,
  type ApprovalRequestInfo,
  type AuditTrail,
  type PolicyBundle,
  type RunOptions,
  type ToolActionOptions,
  type ToolCallInput,
} from '../index.js';
import { DecisionCache, isRefusal, needsHumanApproval, recordVerdict, refusalText } from './tool-action.js';

export { toolCallToAction, type ToolActions, type ToolActionOptions, type ToolCallInput } from '../index.js';

/** What the middleware governs with: a governor, or what to build one from. */
export type AuditrailMiddlewareTarget =
  | { governor: Governor }
  | {
      trail: AuditTrail;
      policy: PolicyBundle;
      /** Who acts (default `{ type: 'agent', id: 'langchain-agent' }`). */
      actor?: Actor;
      session_id?: string;
      run_id?: string;
      environment?: string;
    };

export type AuditrailMiddlewareOptions = AuditrailMiddlewareTarget &
  ToolActionOptions & {
    /**
     * How a tool call becomes the action the policy sees; replaces the default mapping
     * ({@link toolCallToAction} with `actions` and `prefix`).
     */
    toolToAction?: (call: ToolCallInput) => ActionSpec;
    /** Per-attempt timeout (recorded as `action.timed_out`). */
    timeoutMs?: number;
    /** Extra attempts after a failure (recorded as `action.retried`). */
    retries?: number;
  };

/**
 * The value of the interrupt a `require_approval` call raises (`result.__interrupt__[i].value`).
 * The parameters are redacted by the trail's redactor: the checkpointer stores this value.
 */
export interface ApprovalInterrupt {
  kind: 'auditrail.approval';
  /** The approval request to answer; echo it back as `request_id` in the resume value. */
  request_id: string;
  /** `sha256:` over the action, its parameters and the policy snapshot; the grant is bound to it. */
  request_digest: string;
  tool_call: { id?: string; name: string };
  action: { type: string; target?: string };
  params?: unknown;
  approvers: string[];
  expires_at: string;
  matched_rule: string | null;
  reason: string;
}

/**
 * The resume value that answers an {@link ApprovalInterrupt}:
 * `new Command({ resume: { decision: 'approve', approver: 'finance_lead', request_id } })`.
 */
export interface ApprovalResume {
  decision: 'approve' | 'reject';
  /** Who decided; must be one of the approvers the rule names. */
  approver: string;
  reason?: string;
  /** The request answered (from the interrupt); when given it must be this call's request. */
  request_id?: string;
}

/** Whether `value` is an interrupt raised by this middleware. */
export function isApprovalInterrupt(value: unknown): value is ApprovalInterrupt {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as { kind?: unknown }).kind === 'auditrail.approval' &&
    typeof (value as { request_id?: unknown }).request_id === 'string'
  );
}

// What the governor records as the outcome: the content, not LangChain's serialized message.
class ToolOutcome {
  constructor(readonly value: ToolMessage | Command) {}
  toJSON(): unknown {
    const v = this.value;
    if (ToolMessage.isInstance(v)) {
      return {
        content: v.content,
        status: v.status ?? 'success',
        ...(v.artifact !== undefined ? { artifact: v.artifact as unknown } : {}),
      };
    }
    return { command: { update: v.update as unknown, goto: v.goto as unknown } };
  }
}

interface CallLike {
  id?: string | undefined;
  name: string;
  args?: unknown;
}

// Bounds what a resume value may carry into the log (it comes from the app, maybe from a browser).
const MAX_APPROVER = 256;
const MAX_REASON = 2000;
const MAX_ID = 128;
const PAUSED_LIMIT = 10_000;

function parseResume(value: unknown): ApprovalResume | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const v = value as Record<string, unknown>;
  const { decision, approver, reason, request_id: requestId } = v;
  if (decision !== 'approve' && decision !== 'reject') return undefined;
  if (typeof approver !== 'string' || approver.length === 0 || approver.length > MAX_APPROVER)
    return undefined;
  if (reason !== undefined && (typeof reason !== 'string' || reason.length > MAX_REASON)) return undefined;
  if (requestId !== undefined && (typeof requestId !== 'string' || requestId.length > MAX_ID))
    return undefined;
  return {
    decision,
    approver,
    ...(reason !== undefined ? { reason } : {}),
    ...(requestId !== undefined ? { request_id: requestId } : {}),
  };
}

function governorOf(options: AuditrailMiddlewareOptions): Governor {
  if ('governor' in options) return options.governor;
  return new Governor({
    trail: options.trail,
    policy: options.policy,
    actor: options.actor ?? { type: 'agent', id: 'langchain-agent' },
    ...(options.session_id !== undefined ? { session_id: options.session_id } : {}),
    ...(options.run_id !== undefined ? { run_id: options.run_id } : {}),
    ...(options.environment !== undefined ? { environment: options.environment } : {}),
    // The pause is LangGraph's interrupt; the governor never blocks a graph step.
    approvals: { wait: false },
  });
}

function refusalMessage(call: CallLike, text: string): ToolMessage {
  return new ToolMessage({ content: text, tool_call_id: call.id ?? '', name: call.name, status: 'error' });
}

/**
 * A `createAgent` middleware that governs each tool call: intent and decision are recorded
 * before the tool runs; `allow` runs it and records the outcome; `deny` returns a `ToolMessage`
 * (status `error`) naming the rule and reason, and the tool does not run; `require_approval`
 * creates the approval request and pauses the run with `interrupt()` (value: an
 * {@link ApprovalInterrupt}). Resume with `Command({ resume: {@link ApprovalResume} })`: the
 * decision is recorded as `approval.granted` / `approval.denied` by the named approver (who must
 * be one the rule names), then the grant is used once for this call. A resume that cannot be
 * recorded — an approver the rule does not name, another request's id, a malformed value — is
 * refused, and the refused attempt is recorded (`action.cancelled`, outcome `blocked`).
 *
 * A checkpointer is required (LangGraph's rule for interrupts). Paused calls are remembered per
 * thread and tool call id in this process; after a restart a resumed call is decided again.
 *
 * @example
 * const agent = createAgent({
 *   model, tools: [getOrder, refund], checkpointer: new MemorySaver(),
 *   middleware: [auditrailMiddleware({ governor })],
 * });
 * const config = { configurable: { thread_id: 'order-1042' } };
 * let result = await agent.invoke({ messages: [{ role: 'user', content: 'Refund order 1042' }] }, config);
 * const answers: Record<string, ApprovalResume> = {};
 * for (const { id, value } of result.__interrupt__ ?? []) {
 *   if (id === undefined || !isApprovalInterrupt(value)) continue;
 *   const ok = await askAHuman(value); // your UI
 *   answers[id] = { decision: ok ? 'approve' : 'reject', approver: currentUser.id, request_id: value.request_id };
 * }
 * result = await agent.invoke(new Command({ resume: answers }), config); // one answer per paused call
 */
export function auditrailMiddleware(options: AuditrailMiddlewareOptions): AgentMiddleware {
  const governor = governorOf(options);
  const trail = governor.options.trail;
  // The interrupt value is stored by LangGraph's checkpointer: the trail's own rules apply to it.
  const cache = new DecisionCache();
  // Calls that raised an interrupt: on their re-run, the resume value decides, not the row.
  const paused = new Set<string>();
  const toAction = (call: CallLike): ActionSpec =>
    options.toolToAction
      ? options.toolToAction({
          name: call.name,
          args: call.args,
          ...(call.id !== undefined ? { id: call.id } : {}),
        })
      : toolCallToAction({ name: call.name, args: call.args }, options);
  const runOptions = (signal: AbortSignal | undefined): RunOptions<ToolOutcome> => ({
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
    ...(options.retries !== undefined ? { retries: options.retries } : {}),
    ...(signal ? { signal } : {}),
  });

  /** Records an attempt governance refused after the decision (the decision event already exists). */
  async function refuse(
    decision: ActionDecision,
    action: ActionSpec,
    req: ApprovalRequestInfo,
    call: CallLike,
    why: string,
  ): Promise<ToolMessage> {
    const text = `Not run: ${why}`;
    try {
      // The refused attempt is part of the action's story (outcome `blocked`, naming the request).
      await governor.recordBlocked({ ...decision, approval: req }, action, why);
    } catch (e) {
      process.emitWarning(`auditrail: a refused LangChain resume was not recorded: ${(e as Error).message}`);
      // The model reads this text: say that the record failed, not the store's error.
      return refusalMessage(call, `${text} (the refusal could not be recorded)`);
    }
    return refusalMessage(call, text);
  }

  /**
   * Records the person's answer against the request; returns the decision to execute under, or
   * the refusal when the answer cannot be recorded as given.
   */
  async function admit(
    decision: ActionDecision,
    action: ActionSpec,
    req: ApprovalRequestInfo,
    call: CallLike,
    answer: unknown,
  ): Promise<ActionDecision | ToolMessage> {
    const resume = parseResume(answer);
    if (!resume) {
      return refuse(
        decision,
        action,
        req,
        call,
        `the resume value for approval ${req.id} is not an approval decision ` +
          `(expected { decision: 'approve' | 'reject', approver, reason?, request_id? })`,
      );
    }
    let target = req;
    if (resume.request_id !== undefined && resume.request_id !== req.id) {
      // After a restart the call was decided again with a new request, while the person answered
      // the one they were shown: that one stands if it is for this exact action and still open.
      const named = (await governor.approvals.list('all')).find((r) => r.id === resume.request_id);
      const open = named && (named.status === 'pending' || named.status === 'granted');
      if (!named || !open || named.request_digest !== req.request_digest) {
        return refuse(
          decision,
          action,
          req,
          call,
          `the resume answers approval ${resume.request_id}, but this call waits on ${req.id}`,
        );
      }
      target = named;
    }
    try {
      await recordVerdict(governor, target.id, {
        approved: resume.decision === 'approve',
        approver: resume.approver,
        ...(resume.reason !== undefined ? { reason: resume.reason } : {}),
      });
    } catch (error) {
      if (!isRefusal(error)) throw error;
      return refuse(
        decision,
        action,
        target,
        call,
        `the ${resume.decision === 'approve' ? 'approval' : 'rejection'} of ${target.id} by ` +
          `${JSON.stringify(resume.approver)} was not recorded: ${(error as Error).message}`,
      );
    }
    if (resume.decision === 'reject') {
      const why = resume.reason !== undefined ? `: ${resume.reason}` : '';
      return refusalMessage(call, `Not run: approval ${target.id} rejected by ${resume.approver}${why}`);
    }
    return target === req ? decision : { ...decision, approval: target };
  }

  function interruptValue(req: ApprovalRequestInfo, call: CallLike, action: ActionSpec): ApprovalInterrupt {
    return {
      kind: 'auditrail.approval',
      request_id: req.id,
      request_digest: req.request_digest,
      tool_call: { name: call.name, ...(call.id !== undefined ? { id: call.id } : {}) },
      action: trail.redact({
        type: action.type,
        ...(action.target !== undefined ? { target: action.target } : {}),
      }).value,
      ...(action.params !== undefined ? { params: trail.redact(action.params).value } : {}),
      approvers: req.approvers,
      expires_at: req.expires_at,
      matched_rule: req.matched_rule,
      reason: req.reason,
    };
  }
  return createMiddleware({
    name: 'auditrail',
    wrapToolCall: async (request, handler) => {
      const call: CallLike = request.toolCall;
      const action = toAction(call);
      const conf = request.runtime.configurable;
      const ns = conf?.['checkpoint_ns'];
      // One decision per tool call per thread (and per subgraph: its checkpoint namespace).
      const scope = `${conf?.thread_id ?? ''}\u0000${typeof ns === 'string' ? ns : ''}`;
      const key = call.id !== undefined ? `${scope}\u0000${call.id}` : undefined;
      let settled = true;
      try {
        const entry = await cache.decide(governor, key, action);
        if ('error' in entry) return refusalMessage(call, refusalText(entry.error));
        let decision = entry.decision;
        const req = decision.approval;
        if (needsHumanApproval(entry) && req) {
          const wasPaused = key !== undefined && paused.has(key);
          if (wasPaused || (await governor.approvals.get(req.id))?.status === 'pending') {
            if (key !== undefined) {
              paused.add(key);
              if (paused.size > PAUSED_LIMIT) paused.delete(paused.values().next().value as string);
            }
            settled = false;
            // First run: throws GraphInterrupt (the run pauses). Re-run on resume: the answer.
            const answer: unknown = interrupt(interruptValue(req, call, action));
            settled = true;
            const admitted = await admit(decision, action, req, call, answer);
            if (admitted instanceof ToolMessage) return admitted;
            decision = admitted;
          }
        }
        const run = await governor.run(action, async () => new ToolOutcome(await handler(request)), {
          ...runOptions(request.runtime.signal),
          decision,
        });
        return run.result.value;
      } catch (error) {
        if (isGraphInterrupt(error)) throw error;
        if (isRefusal(error)) return refusalMessage(call, refusalText(error));
        throw error;
      } finally {
        if (settled && key !== undefined) {
          cache.delete(key);
          paused.delete(key);
        }
      }
    },
  });
}
