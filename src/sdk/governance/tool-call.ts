/**
 * How a framework's tool call becomes the action the policy sees. Every adapter uses this
 * mapping, and so can code governing a framework auditrail has no adapter for.
 */
import type { ActionSpec } from './governor.js';

/**
 * How one tool's calls map to actions. A partial spec is merged over the default
 * (`{ type: 'tool:<name>', params: input }`); a function replaces it.
 *
 * @example
 * const actions: ToolActions = {
 *   refund: (input) => ({ type: 'write:refund', target: `order/${(input as { order: string }).order}`, params: input }),
 *   search: { type: 'read:search', side_effects: [] },
 * };
 */
export type ToolActions = Record<string, Partial<ActionSpec> | ((input: unknown) => ActionSpec)>;

/** Options every adapter takes. */
export interface ToolActionOptions {
  /** Per-tool mapping to actions (see {@link ToolActions}); tools not named get the default. */
  actions?: ToolActions;
  /** Prefix of the default action type (default `tool:`; the MCP proxy uses `mcp:`). */
  prefix?: string;
}

/** A tool call as agent frameworks describe one: the tool's name and the arguments the model sent. */
export interface ToolCallInput {
  name: string;
  args?: unknown;
  id?: string;
}

/**
 * The action a framework's tool call is, as the policy sees it: `{ type: 'tool:<name>', params:
 * args }` unless `options.actions` maps the tool otherwise. Every adapter uses this mapping; call
 * it to govern a framework auditrail has no adapter for, so its calls match the same policy.
 *
 * @example
 * const action = toolCallToAction({ name: 'refund', args: { order: '1042', amount: 120 } });
 * // { type: 'tool:refund', params: { order: '1042', amount: 120 } }
 * const decision = await governor.decide(action);
 * if (decision.decision === 'allow') await governor.run(action, () => refund('1042', 120), { decision });
 */
export function toolCallToAction(call: ToolCallInput, options: ToolActionOptions = {}): ActionSpec {
  const { name, args: input } = call;
  const base: ActionSpec = { type: `${options.prefix ?? 'tool:'}${name}` };
  if (input !== undefined) base.params = input;
  const mapped = options.actions && Object.hasOwn(options.actions, name) ? options.actions[name] : undefined;
  if (mapped === undefined) return base;
  if (typeof mapped === 'function') return mapped(input);
  const out: ActionSpec = { ...base };
  for (const [k, v] of Object.entries(mapped)) {
    if (v !== undefined) (out as unknown as Record<string, unknown>)[k] = v;
  }
  return out;
}
