/**
 * LangChain.js (`@langchain/core` 1.x) adapter: a governed tool wrapper (the blocking seam) and a
 * callback handler that adds what the agent read and what its model calls cost (observe-only:
 * LangChain logs and swallows handler errors, so the handler never decides anything).
 *
 * `@langchain/core` is an optional peer: only this module imports it.
 */
import { BaseCallbackHandler } from '@langchain/core/callbacks/base';
import type { Serialized } from '@langchain/core/load/serializable';
import { ToolMessage } from '@langchain/core/messages';
import type { LLMResult } from '@langchain/core/outputs';
import {
  DynamicStructuredTool,
  type StructuredToolInterface,
  type ToolRunnableConfig,
} from '@langchain/core/tools';
import type { Actor, AuditEvent, GovernedTrail, Governor, RunOptions, ToolActionOptions } from '../index.js';
import { isRefusal, refusalText, toolAction } from './tool-action.js';

/** Marks a governed tool's runs, so {@link AuditCallbackHandler} does not record them twice. */
export const GOVERNED_METADATA_KEY = 'auditrail_governed';

export interface LangChainGovernanceOptions extends ToolActionOptions {
  /**
   * What a plain invocation (`tool.invoke(args)`, no tool call) gets when governance refuses:
   * `message` (default) returns the refusal text, `throw` rethrows the error. Invoked with a tool
   * call (`tool.invoke(toolCall)`, `ToolNode`), a refusal is always a `ToolMessage` with
   * `status: 'error'`, which the model reads.
   */
  onRefusal?: 'message' | 'throw';
  /** Per-attempt timeout (recorded as `action.timed_out`). */
  timeoutMs?: number;
  /** Extra attempts after a failure (recorded as `action.retried`). */
  retries?: number;
}

interface ToolCallLike {
  id?: string;
  name: string;
  args: Record<string, unknown>;
  type?: 'tool_call';
}

// What the governor records as the outcome: the content, not LangChain's serialized message.
class ToolOutcome {
  constructor(readonly value: unknown) {}
  toJSON(): unknown {
    const v = this.value;
    if (v instanceof ToolMessage) {
      return {
        content: v.content,
        status: v.status ?? 'success',
        ...(v.artifact !== undefined ? { artifact: v.artifact as unknown } : {}),
      };
    }
    return v;
  }
}

/**
 * Wraps a LangChain tool so each invocation is governed: intent and decision are recorded before
 * it runs; a denied call does not run and the model receives a `ToolMessage` (status `error`)
 * naming the rule and reason. LangChain core has no approval pause, so `require_approval` waits
 * for the governor (approve with `auditrail approvals approve ID --as NAME`); with the governor's
 * `approvals.wait: false` the model is told the call awaits approval instead, and a retry after
 * the grant runs (the grant is bound to the exact action).
 *
 * @example
 * const search = governLangChainTool(governor, tool(async ({ q }) => db.search(q), { name: 'search', schema: z.object({ q: z.string() }) }));
 * const ai = await model.bindTools([search]).invoke(messages);
 * for (const call of ai.tool_calls ?? []) messages.push(await search.invoke(call));
 */
export function governLangChainTool(
  governor: Governor,
  tool: StructuredToolInterface,
  options: LangChainGovernanceOptions = {},
): DynamicStructuredTool {
  const runOptions: RunOptions<ToolOutcome> = {
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
    ...(options.retries !== undefined ? { retries: options.retries } : {}),
  };
  const inner = tool as unknown as {
    invoke(input: unknown, config?: ToolRunnableConfig): Promise<unknown>;
    metadata?: Record<string, unknown>;
    returnDirect?: boolean;
  };
  return new DynamicStructuredTool({
    name: tool.name,
    description: tool.description,
    schema: tool.schema as Record<string, unknown>,
    returnDirect: inner.returnDirect ?? false,
    metadata: { ...inner.metadata, [GOVERNED_METADATA_KEY]: true },
    func: async (input: unknown, runManager, config?: ToolRunnableConfig) => {
      const call = (config as { toolCall?: ToolCallLike } | undefined)?.toolCall;
      // The policy sees the arguments as the model sent them; the inner tool validates them again.
      const args: unknown = call?.args ?? input;
      const child: ToolRunnableConfig = {
        ...(config?.signal ? { signal: config.signal } : {}),
        ...(config?.configurable ? { configurable: config.configurable as Record<string, unknown> } : {}),
        ...(runManager ? { callbacks: runManager.getChild() } : {}),
      };
      try {
        const outcome = await governor.run(
          toolAction(tool.name, args, options),
          async () =>
            new ToolOutcome(
              // With a tool call, the inner tool builds the ToolMessage itself (artifact included).
              await inner.invoke(call?.id !== undefined ? { ...call, type: 'tool_call' } : args, child),
            ),
          { ...runOptions, ...(config?.signal ? { signal: config.signal } : {}) },
        );
        return outcome.result.value;
      } catch (error) {
        if (!isRefusal(error)) throw error;
        if (call?.id !== undefined) {
          return new ToolMessage({
            content: refusalText(error),
            tool_call_id: call.id,
            name: tool.name,
            status: 'error',
          });
        }
        if (options.onRefusal === 'throw') throw error;
        return refusalText(error);
      }
    },
  });
}

export interface AuditCallbackOptions {
  /** Record tool outputs that entered the model's context (default true). */
  tools?: boolean;
  /** Record retrieved documents (default true). */
  retrievers?: boolean;
  /** Record each model call's token usage as `x.model.usage` (default true). */
  models?: boolean;
}

/** Where the handler writes and as whom, when not given a governor. */
export interface AuditCallbackTarget {
  trail: GovernedTrail;
  actor: Actor;
  session_id?: string;
  run_id?: string;
}

interface Started {
  kind: 'tool' | 'model';
  name: string;
  input?: unknown;
  toolCallId?: string;
  governed: boolean;
  provider?: string;
}

function asRecord(v: unknown): Record<string, unknown> | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
    ? (v as Record<string, unknown>)
    : undefined;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

function count(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : undefined;
}

/**
 * A LangChain callback handler that adds context to the trail: tool outputs that entered the
 * model's context and retrieved documents (`context.accessed`), and each model call's token usage
 * (`x.model.usage`). It observes; it cannot block (use {@link governLangChainTool} for that). Runs
 * of governed tools are skipped — the governor already recorded them. Handlers are awaited, so a
 * record is committed before the run goes on; a failed write is logged by LangChain and the run
 * continues (observation is fail-open by LangChain's design).
 *
 * @example
 * const audit = new AuditCallbackHandler(governor);
 * await model.invoke(messages, { callbacks: [audit] });
 * await agentExecutor.invoke({ input }, { callbacks: [audit] });
 */
export class AuditCallbackHandler extends BaseCallbackHandler {
  name = 'auditrail';
  private readonly target: AuditCallbackTarget;
  private readonly started = new Map<string, Started>();
  private readonly governedRuns = new Set<string>();

  constructor(
    source: Governor | AuditCallbackTarget,
    private readonly options: AuditCallbackOptions = {},
  ) {
    super({ _awaitHandler: true });
    this.target =
      'trail' in source
        ? source
        : {
            trail: source.options.trail,
            actor: source.options.actor,
            ...(source.options.session_id !== undefined ? { session_id: source.options.session_id } : {}),
            ...(source.options.run_id !== undefined ? { run_id: source.options.run_id } : {}),
          };
  }

  private async record(event: Omit<AuditEvent, 'actor'> & { actor?: Actor }): Promise<void> {
    const t = this.target;
    await t.trail.record({
      actor: t.actor,
      ...(t.session_id !== undefined ? { session_id: t.session_id } : {}),
      ...(t.run_id !== undefined ? { run_id: t.run_id } : {}),
      ...event,
    });
  }

  override handleChatModelStart(
    llm: Serialized,
    _messages: unknown,
    runId: string,
    _parentRunId?: string,
    extraParams?: Record<string, unknown>,
    _tags?: string[],
    metadata?: Record<string, unknown>,
  ): void {
    const invocation = asRecord(extraParams?.['invocation_params']);
    const name =
      str(metadata?.['ls_model_name']) ??
      str(invocation?.['model']) ??
      str(invocation?.['model_name']) ??
      llm.id[llm.id.length - 1] ??
      'unknown';
    const provider = str(metadata?.['ls_provider']);
    this.started.set(runId, { kind: 'model', name, governed: false, ...(provider ? { provider } : {}) });
  }

  override handleLLMStart(
    llm: Serialized,
    prompts: string[],
    runId: string,
    parentRunId?: string,
    extraParams?: Record<string, unknown>,
    tags?: string[],
    metadata?: Record<string, unknown>,
  ): void {
    this.handleChatModelStart(llm, prompts, runId, parentRunId, extraParams, tags, metadata);
  }

  override async handleLLMEnd(output: LLMResult, runId: string): Promise<void> {
    const start = this.started.get(runId);
    this.started.delete(runId);
    if (this.options.models === false) return;
    let input: number | undefined;
    let out: number | undefined;
    for (const generation of output.generations.flat()) {
      const usage = asRecord(asRecord((generation as { message?: unknown }).message)?.['usage_metadata']);
      const i = count(usage?.['input_tokens']);
      const o = count(usage?.['output_tokens']);
      if (i !== undefined) input = (input ?? 0) + i;
      if (o !== undefined) out = (out ?? 0) + o;
    }
    if (input === undefined && out === undefined) {
      // Older integrations report usage only in llmOutput.
      const usage = asRecord(output.llmOutput?.['tokenUsage']);
      input = count(usage?.['promptTokens']);
      out = count(usage?.['completionTokens']);
    }
    await this.record({
      type: 'x.model.usage',
      model: {
        name: (start?.name ?? 'unknown').slice(0, 256),
        ...(start?.provider ? { provider: start.provider.slice(0, 256) } : {}),
        ...(input !== undefined ? { input_tokens: input } : {}),
        ...(out !== undefined ? { output_tokens: out } : {}),
      },
      metadata: { langchain_run_id: runId },
    });
  }

  override handleLLMError(_err: unknown, runId: string): void {
    this.started.delete(runId);
  }

  override handleToolStart(
    tool: Serialized,
    input: string,
    runId: string,
    parentRunId?: string,
    _tags?: string[],
    metadata?: Record<string, unknown>,
    runName?: string,
    toolCallId?: string,
  ): void {
    // A governed tool's inner tool runs as its child: skip both.
    const governed =
      metadata?.[GOVERNED_METADATA_KEY] === true ||
      (parentRunId !== undefined && this.governedRuns.has(parentRunId));
    if (governed) this.governedRuns.add(runId);
    let parsed: unknown = input;
    try {
      parsed = JSON.parse(input) as unknown;
    } catch {
      parsed = input;
    }
    this.started.set(runId, {
      kind: 'tool',
      name: runName ?? tool.id[tool.id.length - 1] ?? 'tool',
      input: parsed,
      governed,
      ...(toolCallId !== undefined ? { toolCallId } : {}),
    });
  }

  override async handleToolEnd(output: unknown, runId: string): Promise<void> {
    const start = this.started.get(runId);
    this.started.delete(runId);
    this.governedRuns.delete(runId);
    if (!start || start.governed || this.options.tools === false) return;
    const content = output instanceof ToolMessage ? output.content : output;
    await this.record({
      type: 'context.accessed',
      action: { type: `tool:${start.name}`, ...(start.input !== undefined ? { params: start.input } : {}) },
      outcome: { status: 'success', result: jsonSafe(content) },
      context: { data_accessed: [`tool:${start.name}`.slice(0, 1024)] },
      metadata: {
        source: 'langchain.callback',
        governed: false,
        langchain_run_id: runId,
        ...(start.toolCallId !== undefined ? { tool_call_id: start.toolCallId } : {}),
      },
    });
  }

  override handleToolError(_err: unknown, runId: string): void {
    this.started.delete(runId);
    this.governedRuns.delete(runId);
  }

  override async handleRetrieverEnd(
    documents: { pageContent: string; metadata: Record<string, unknown>; id?: string }[],
    runId: string,
  ): Promise<void> {
    if (this.options.retrievers === false) return;
    const sources = documents
      .map((d, i) => str(d.id) ?? str(d.metadata['source']) ?? str(d.metadata['id']) ?? `document#${i}`)
      .slice(0, 256)
      .map((s) => s.slice(0, 1024));
    await this.record({
      type: 'context.accessed',
      context: { data_accessed: sources },
      metadata: { source: 'langchain.retriever', documents: documents.length, langchain_run_id: runId },
    });
  }
}

function jsonSafe(v: unknown): unknown {
  try {
    return JSON.parse(JSON.stringify(v)) as unknown;
  } catch {
    return String(v);
  }
}
