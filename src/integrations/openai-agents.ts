/**
 * OpenAI Agents SDK (`@openai/agents` 0.20) adapter. The blocking seams are the tool's
 * `needsApproval` (a run pauses with `result.interruptions`; the app answers with
 * `state.approve()` / `state.reject()`) and the tool's `execute` / `invoke` (deny). Trace
 * processors and run hooks only observe, so nothing here relies on them.
 *
 * `@openai/agents` is an optional peer: only this module imports it.
 */
import {
  tool,
  type FunctionTool,
  type RunContext,
  type RunToolApprovalItem,
  type ToolInputParameters,
  type ToolOptions,
  type ToolOutputSchema,
  type UnknownContext,
} from '@openai/agents';
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
  isRefusal,
  needsHumanApproval,
  recordVerdict,
  refusalText,
  refusedOutright,
  toolAction,
  type CachedDecision,
} from './tool-action.js';

export interface OpenAIAgentsGovernanceOptions extends ToolActionOptions {
  /**
   * Where a `require_approval` decision pauses.
   * - `sdk` (default): the run is interrupted (`result.interruptions`); answer with
   *   {@link resolveOpenAIAgentsApproval}, which records the approver and calls
   *   `state.approve()` / `state.reject()`.
   * - `wait`: the tool call blocks until the request is decided elsewhere (`auditrail approvals
   *   approve`, the dashboard) or expires.
   */
  approvals?: 'sdk' | 'wait';
  /** Per-attempt timeout (recorded as `action.timed_out`); the SDK's own `timeoutMs` also applies. */
  timeoutMs?: number;
  /** Extra attempts after a failure (recorded as `action.retried`). */
  retries?: number;
}

/** A person's verdict on an interruption: the governor's {@link ApprovalVerdict}, and what the model reads. */
export interface InterruptionVerdict extends ApprovalVerdict {
  /** Text the model reads when rejected (default: the approver and reason). */
  message?: string;
}

/** The two RunState methods the approval helper calls. */
export interface ApprovableState {
  approve(item: RunToolApprovalItem, options?: { alwaysApprove?: boolean }): void;
  reject(item: RunToolApprovalItem, options?: { alwaysReject?: boolean; message?: string }): void;
}

// One registry per governor: interruptions name a call id and a tool, not a governed tool object.
interface Registry {
  cache: DecisionCache;
  actions: Map<string, ToolActionOptions>;
}
const registries = new WeakMap<Governor, Registry>();

function registryOf(governor: Governor): Registry {
  let r = registries.get(governor);
  if (!r) {
    r = { cache: new DecisionCache(), actions: new Map() };
    registries.set(governor, r);
  }
  return r;
}

function runOptionsOf(
  options: OpenAIAgentsGovernanceOptions,
  signal: AbortSignal | undefined,
): RunOptions<unknown> {
  return {
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
    ...(options.retries !== undefined ? { retries: options.retries } : {}),
    ...(signal ? { signal } : {}),
  };
}

function approvalHook(
  governor: Governor,
  name: string,
  options: OpenAIAgentsGovernanceOptions,
  own: unknown,
): (runContext: RunContext, input: unknown, callId?: string) => Promise<boolean> {
  const { cache } = registryOf(governor);
  return async (runContext, input, callId) => {
    const entry = await cache.decide(governor, callId, toolAction(name, input, options));
    if ((options.approvals ?? 'sdk') === 'sdk' && needsHumanApproval(entry)) return true;
    if (refusedOutright(entry)) return false;
    if (typeof own === 'function') {
      return await (own as (c: RunContext, i: unknown, id?: string) => Promise<boolean>)(
        runContext,
        input,
        callId,
      );
    }
    return own === true;
  };
}

// Shared by both wrappers: the cached decision, checked; throws a refusal when the call may not run.
async function admitted(
  governor: Governor,
  options: OpenAIAgentsGovernanceOptions,
  entry: CachedDecision,
): Promise<Extract<CachedDecision, { decision: unknown }>> {
  if ('error' in entry) throw entry.error;
  if ((options.approvals ?? 'sdk') === 'sdk' && needsHumanApproval(entry)) {
    await assertApprovalRecorded(governor, entry.decision);
  }
  return entry;
}

// The SDK's default `errorFunction` text for tools without an output schema.
const TOOL_ERROR_TEXT = 'An error occurred while running the tool. Please try again.';

/**
 * `tool()` from `@openai/agents`, governed: intent and decision are recorded before `execute`
 * runs; a denied call does not run and the model reads the rule and reason as the tool output; a
 * `require_approval` call interrupts the run like `needsApproval: true` does. Failures of
 * `execute` are recorded as `action.failed` before the tool's `errorFunction` sees them.
 *
 * @example
 * const refund = governedTool(governor, {
 *   name: 'refund', description: 'Refund an order', parameters: z.object({ order: z.string(), amount: z.number() }),
 *   execute: async ({ order, amount }) => payments.refund(order, amount),
 * });
 * const agent = new Agent({ name: 'support', instructions: '…', tools: [refund] });
 */
export function governedTool<
  TParameters extends ToolInputParameters = undefined,
  Context = UnknownContext,
  TOutputSchema extends ToolOutputSchema | undefined = undefined,
>(
  governor: Governor,
  options: ToolOptions<TParameters, Context, TOutputSchema>,
  governance: OpenAIAgentsGovernanceOptions = {},
): ReturnType<typeof tool<TParameters, Context, string, TOutputSchema>> {
  const name = tool(options).name;
  registryOf(governor).actions.set(name, governance);
  const { cache } = registryOf(governor);
  type Execute = (input: unknown, runContext?: RunContext<Context>, details?: Details) => Promise<unknown>;
  type Details = { toolCall?: { callId?: string }; signal?: AbortSignal };
  type OnError = (runContext: RunContext<Context>, error: unknown, details?: Details) => unknown;
  const loose = options as unknown as {
    execute: Execute;
    errorFunction?: OnError | null;
    needsApproval?: unknown;
  };
  const ownError = loose.errorFunction;
  const execute: Execute = async (input, runContext, details) => {
    const callId = details?.toolCall?.callId;
    const action = toolAction(name, input, governance);
    try {
      const entry = await admitted(governor, governance, await cache.decide(governor, callId, action));
      const run = await governor.run(
        action,
        () => Promise.resolve(loose.execute(input, runContext, details)),
        { ...runOptionsOf(governance, details?.signal), decision: entry.decision },
      );
      return run.result;
    } finally {
      if (callId !== undefined) cache.delete(callId);
    }
  };
  // A refusal is model-visible text. A tool with an output schema cannot return text, so its
  // own errorFunction answers refusals too (none: the run stops, fail-closed). Other errors go to
  // the tool's errorFunction as the SDK documents (undefined: the default text; null: rethrown).
  const structured = options.outputSchema !== undefined;
  const errorFunction: OnError = (runContext, error, details) => {
    if (structured) {
      if (ownError) return ownError(runContext, error, details);
      throw error;
    }
    if (isRefusal(error)) return refusalText(error);
    if (ownError) return ownError(runContext, error, details);
    if (ownError === null) throw error;
    return TOOL_ERROR_TEXT;
  };
  const governed = {
    ...loose,
    name,
    execute,
    errorFunction,
    needsApproval: approvalHook(governor, name, governance, loose.needsApproval),
  };
  return tool<TParameters, Context, string, TOutputSchema>(
    governed as unknown as ToolOptions<TParameters, Context, TOutputSchema>,
  );
}

/**
 * Governs a `FunctionTool` you did not build with {@link governedTool} — an MCP tool
 * (`mcpToFunctionTool`), `agent.asTool()`, a library's tool — by wrapping its `invoke`. The
 * outcome recorded is what `invoke` returned; a tool whose `errorFunction` turns failures into
 * text is recorded as succeeded with that text.
 *
 * @example
 * const tools = (await getAllMcpTools([server])).map((t) => t.type === 'function' ? governFunctionTool(governor, t) : t);
 */
export function governFunctionTool<Context, TParameters extends ToolInputParameters, Result>(
  governor: Governor,
  tool: FunctionTool<Context, TParameters, Result>,
  governance: OpenAIAgentsGovernanceOptions = {},
): FunctionTool<Context, TParameters, Result> {
  const name = tool.name;
  registryOf(governor).actions.set(name, governance);
  const { cache } = registryOf(governor);
  const original = tool.invoke.bind(tool);
  return {
    ...tool,
    needsApproval: approvalHook(governor, name, governance, tool.needsApproval),
    invoke: async (runContext, input, details) => {
      const callId = details?.toolCall?.callId;
      const action = toolAction(name, parseArguments(input), governance);
      try {
        const entry = await admitted(governor, governance, await cache.decide(governor, callId, action));
        const run = await governor.run(action, () => original(runContext, input, details), {
          ...runOptionsOf(governance, details?.signal),
          decision: entry.decision,
        });
        return run.result;
      } catch (error) {
        if (isRefusal(error)) return refusalText(error);
        throw error;
      } finally {
        if (callId !== undefined) cache.delete(callId);
      }
    },
  };
}

// The SDK passes `needsApproval` the parsed arguments; parse the same way so both see one action.
function parseArguments(input: string): unknown {
  try {
    return JSON.parse(input) as unknown;
  } catch {
    return input;
  }
}

/**
 * Answers one interruption: records the person's verdict against the governor's approval
 * request (the approver must be one the policy rule names), then approves or rejects the call in
 * the run state. Resume with `runner.run(agent, result.state)`. A call paused only by the tool's
 * own `needsApproval` (the policy allowed it) has no governor request: nothing is recorded.
 *
 * @example
 * let result = await run(agent, 'Refund order 1042');
 * while (result.interruptions.length > 0) {
 *   for (const item of result.interruptions) {
 *     await resolveOpenAIAgentsApproval(governor, result.state, item, { approved: true, approver: 'finance_lead' });
 *   }
 *   result = await run(agent, result.state);
 * }
 */
export async function resolveOpenAIAgentsApproval(
  governor: Governor,
  state: ApprovableState,
  item: RunToolApprovalItem,
  verdict: InterruptionVerdict,
): Promise<void> {
  const raw = item.rawItem as { type?: string; callId?: string };
  const name = item.name;
  if (raw.type !== 'function_call' || raw.callId === undefined || name === undefined) {
    throw new AuditError('invalid_argument', 'only function tool interruptions are governed by this adapter');
  }
  const { cache, actions } = registryOf(governor);
  const cached = cache.get(raw.callId);
  const id =
    cached && 'decision' in cached
      ? cached.decision.approval?.id
      : (
          await findPendingApproval(
            governor,
            toolAction(name, parseArguments(item.arguments ?? ''), actions.get(name)),
          )
        )?.id;
  if (id !== undefined) {
    await recordVerdict(governor, id, {
      approved: verdict.approved,
      approver: verdict.approver,
      ...(verdict.reason !== undefined ? { reason: verdict.reason } : {}),
    });
  }
  if (verdict.approved) {
    state.approve(item);
    return;
  }
  cache.delete(raw.callId);
  state.reject(item, {
    message:
      verdict.message ??
      `Not run: ${id ?? 'the call'} was rejected by ${verdict.approver}${verdict.reason ? `: ${verdict.reason}` : ''}`,
  });
}
