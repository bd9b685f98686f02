/**
 * Vercel AI SDK (`ai` v6) adapter: governs a tools object. The blocking seams are the tool's own
 * `needsApproval` (the SDK's human-approval pause) and `execute` (deny); the SDK's callbacks and
 * telemetry swallow errors, so nothing here relies on them (docs/integrations.md).
 *
 * `ai` is an optional peer: this module imports only its types.
 */
import type { ModelMessage, ToolApprovalResponse, ToolExecutionOptions, ToolSet } from 'ai';
import {
  AuditError,
  type ApprovalVerdict,
  type Governor,
  type RunOptions,
  type ToolActionOptions,
} from '../index.js';
import {
  assertApprovalRecorded,
  DecisionCache,
  findPendingApproval,
  needsHumanApproval,
  recordVerdict,
  refusedOutright,
  toolAction,
} from './tool-action.js';

export interface AiSdkGovernanceOptions extends ToolActionOptions {
  /**
   * Where a `require_approval` decision pauses.
   * - `sdk` (default): the AI SDK's own tool approval — the tool reports `needsApproval`, the
   *   result carries a `tool-approval-request` part, and the app records the person's verdict with
   *   {@link resolveAiSdkApproval} (or {@link recordAiSdkApprovalResponses}) before resuming.
   * - `wait`: `execute` blocks until the request is decided elsewhere (`auditrail approvals
   *   approve`, the dashboard) or expires.
   */
  approvals?: 'sdk' | 'wait';
  /** Per-attempt timeout for each tool execution (recorded as `action.timed_out`). */
  timeoutMs?: number;
  /** Extra attempts after a failure (recorded as `action.retried`). */
  retries?: number;
}

export type { ApprovalVerdict } from '../index.js';

/** The part of a `tool-approval-request` output the helpers read. */
export interface AiSdkApprovalRequest {
  approvalId: string;
  toolCall: { toolCallId: string; toolName: string; input: unknown };
}

interface Governance {
  governor: Governor;
  cache: DecisionCache;
  options: AiSdkGovernanceOptions;
}

// The SDK's tool shape, loosely: its generics are `any`, and a wrapper treats every tool alike.
interface LooseTool {
  type?: string;
  execute?: (input: unknown, options: ToolExecutionOptions) => unknown;
  needsApproval?:
    | boolean
    | ((
        input: unknown,
        options: { toolCallId: string; messages: ModelMessage[]; experimental_context?: unknown },
      ) => boolean | PromiseLike<boolean>);
}

const governed = new WeakMap<object, Governance>();

function isAsyncIterable(v: unknown): v is AsyncIterable<unknown> {
  return typeof v === 'object' && v !== null && Symbol.asyncIterator in v;
}

// A streaming tool yields preliminary results; the audit record keeps the final one.
async function runTool(tool: LooseTool, input: unknown, options: ToolExecutionOptions): Promise<unknown> {
  const out = tool.execute!(input, options);
  if (!isAsyncIterable(out)) return await out;
  let last: unknown;
  for await (const v of out) last = v;
  return last;
}

/**
 * Wraps an AI SDK tools object so every tool call is governed: intent and decision are recorded
 * before the tool runs, a denied call does not run (the model receives a `tool-error` whose text
 * names the rule and reason), and a `require_approval` call pauses in the SDK's own approval flow.
 * Tools without `execute` (client-side, provider-executed) are passed through unchanged.
 *
 * @example
 * const tools = governAiSdkTools(governor, { getWeather, refund });
 * const result = await generateText({ model, tools, prompt: 'Refund order 1042' });
 * for (const part of result.content) {
 *   if (part.type === 'tool-approval-request') {
 *     const response = await resolveAiSdkApproval(tools, part, { approved: true, approver: 'finance_lead' });
 *     messages.push(...result.response.messages, { role: 'tool', content: [response] });
 *   }
 * }
 */
export function governAiSdkTools<TOOLS extends ToolSet>(
  governor: Governor,
  tools: TOOLS,
  options: AiSdkGovernanceOptions = {},
): TOOLS {
  const cache = new DecisionCache();
  const mode = options.approvals ?? 'sdk';
  const runOptions: RunOptions<unknown> = {
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
    ...(options.retries !== undefined ? { retries: options.retries } : {}),
  };
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(tools)) {
    const tool = value as unknown as LooseTool;
    if (typeof tool.execute !== 'function') {
      out[name] = value;
      continue;
    }
    const own = tool.needsApproval;
    const wrapped: LooseTool = {
      ...tool,
      needsApproval: async (input, opts) => {
        const entry = await cache.decide(governor, opts.toolCallId, toolAction(name, input, options));
        if (mode === 'sdk' && needsHumanApproval(entry)) return true;
        if (refusedOutright(entry)) return false;
        if (typeof own === 'function') return await own(input, opts);
        return own === true;
      },
      execute: async (input, opts) => {
        const action = toolAction(name, input, options);
        const entry = await cache.decide(governor, opts.toolCallId, action);
        try {
          if ('error' in entry) throw entry.error;
          if (mode === 'sdk' && needsHumanApproval(entry))
            await assertApprovalRecorded(governor, entry.decision);
          const run = await governor.run(
            action,
            (signal) => runTool(tool, input, { ...opts, abortSignal: signal }),
            {
              ...runOptions,
              ...(opts.abortSignal ? { signal: opts.abortSignal } : {}),
              decision: entry.decision,
            },
          );
          return run.result;
        } finally {
          cache.delete(opts.toolCallId);
        }
      },
    };
    out[name] = wrapped;
  }
  governed.set(out, { governor, cache, options });
  return out as TOOLS;
}

function governanceOf(tools: object): Governance {
  const g = governed.get(tools);
  if (!g) throw new AuditError('invalid_argument', 'these tools were not returned by governAiSdkTools()');
  return g;
}

/**
 * Records a person's verdict on a paused call (an AI SDK `tool-approval-request` part) against
 * the governor's approval request, and returns the `tool-approval-response` to append to the
 * messages before resuming. The request is found by tool-call id, or — in another process, after
 * a restart — by the digest of the exact action. Throws when the approver is not one the policy
 * rule names. A call the tool's own `needsApproval` paused (the policy allowed it) has no
 * governor request; the response is returned and nothing is recorded.
 *
 * @example
 * const response = await resolveAiSdkApproval(tools, part, { approved: false, approver: 'oncall_sre', reason: 'wrong order' });
 * messages.push({ role: 'tool', content: [response] });
 */
export async function resolveAiSdkApproval(
  tools: object,
  request: AiSdkApprovalRequest,
  verdict: ApprovalVerdict,
): Promise<ToolApprovalResponse> {
  const { governor, cache, options } = governanceOf(tools);
  const call = request.toolCall;
  const cached = cache.get(call.toolCallId);
  const id =
    cached && 'decision' in cached
      ? cached.decision.approval?.id
      : (await findPendingApproval(governor, toolAction(call.toolName, call.input, options)))?.id;
  if (id !== undefined) await recordVerdict(governor, id, verdict);
  if (!verdict.approved) cache.delete(call.toolCallId);
  return {
    type: 'tool-approval-response',
    approvalId: request.approvalId,
    approved: verdict.approved,
    ...(verdict.reason !== undefined ? { reason: verdict.reason } : {}),
  };
}

/**
 * For chat apps whose client answers approvals (`useChat` → `addToolApprovalResponse`): records
 * every `tool-approval-response` in the last tool message against the governor, as `approver`
 * (the authenticated user of the request — the client's word alone is not an identity). Call it
 * before `streamText`/`generateText` resumes with these messages. Returns how many it recorded.
 *
 * @example
 * const messages = await convertToModelMessages(uiMessages);
 * await recordAiSdkApprovalResponses(tools, messages, { approver: session.user.id });
 * return streamText({ model, tools, messages }).toUIMessageStreamResponse();
 */
export async function recordAiSdkApprovalResponses(
  tools: object,
  messages: ModelMessage[],
  by: { approver: string | ((response: ToolApprovalResponse) => string) },
): Promise<number> {
  const last = messages.at(-1);
  if (last?.role !== 'tool') return 0;
  const calls = new Map<string, { toolCallId: string; toolName: string; input: unknown }>();
  const requests = new Map<string, string>();
  for (const m of messages) {
    if (m.role !== 'assistant' || typeof m.content === 'string') continue;
    for (const part of m.content) {
      if (part.type === 'tool-call') {
        calls.set(part.toolCallId, {
          toolCallId: part.toolCallId,
          toolName: part.toolName,
          input: part.input,
        });
      } else if (part.type === 'tool-approval-request') {
        requests.set(part.approvalId, part.toolCallId);
      }
    }
  }
  let n = 0;
  for (const part of last.content) {
    if (part.type !== 'tool-approval-response') continue;
    const callId = requests.get(part.approvalId);
    const toolCall = callId !== undefined ? calls.get(callId) : undefined;
    if (!toolCall) continue;
    const approver = typeof by.approver === 'function' ? by.approver(part) : by.approver;
    await resolveAiSdkApproval(
      tools,
      { approvalId: part.approvalId, toolCall },
      { approved: part.approved, approver, ...(part.reason !== undefined ? { reason: part.reason } : {}) },
    );
    n++;
  }
  return n;
}
