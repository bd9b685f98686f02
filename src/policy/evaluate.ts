/**
 * `evaluate()`: a pure function from (bundle, input) to a decision. Rules run in bundle order and
 * the first rule whose match keys and `when` condition all hold decides; with none, the bundle's
 * default does. A condition that fails at run time decides `deny` (fail-closed), as does an input
 * that is malformed. No I/O, no clock but the injected `now`.
 */
import { CostMeter, DEFAULT_COST_BUDGET, runCondition } from './condition.js';
import type { ConditionVariables } from './condition.js';
import { compiledOf, wildcardCandidates } from './compiled.js';
import type { CompiledRule } from './compiled.js';
import { canonicalTarget } from './path.js';
import type {
  ConditionResult,
  Decision,
  PolicyBundle,
  PolicyDecision,
  PolicyInput,
  PolicyRule,
} from './types.js';

/**
 * Options for {@link evaluate}.
 *
 * @example
 * evaluate(bundle, input, { now: () => clock.micros() }); // a test's fixed clock
 */
export interface EvaluateOptions {
  /** A monotonic clock in microseconds, used only to fill `evaluation_us`. */
  now?: () => number;
  /**
   * CEL cost units this decision may spend, all conditions together (default
   * {@link DEFAULT_COST_BUDGET}); a condition that goes over fails, and the decision denies.
   */
  costBudget?: number;
}

/**
 * Bounds on what conditions read (`params`, `context`, `metadata`, `actor`), checked before any
 * rule runs: the CEL budget bounds the steps, these bound what one step can touch. The
 * characters match the event size limit (an event holding more cannot be recorded anyway).
 */
export const INPUT_LIMITS = Object.freeze({ values: 10_000, depth: 32, characters: 256 * 1024 });

const defaultNow = (): number => performance.now() * 1000;

/** The input's matchable fields, read once and type-checked. */
interface Facts {
  readonly type: string;
  readonly target: string | null;
  readonly actorId: string | null;
  readonly actorType: string | null;
  readonly trustTier: string | null;
  readonly tags: readonly string[] | null;
  readonly tenant: string | null;
  readonly environment: string | null;
  readonly riskLevel: string | null;
  readonly depth: number;
  readonly rootAgent: string | null;
}

type Obj = Record<string, unknown>;

function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// An optional string: `null` when absent, `undefined` when present but not a string. Fields are
// read with dotted access at the call sites (monomorphic, unlike `o[key]`).
function optString(v: unknown): string | null | undefined {
  if (v === undefined || v === null) return null;
  return typeof v === 'string' ? v : undefined;
}

interface RawActor {
  id?: unknown;
  type?: unknown;
  trust_tier?: unknown;
  tags?: unknown;
}
interface RawDelegation {
  chain?: unknown;
  depth?: unknown;
  root_agent?: unknown;
}

/**
 * Reads the fields rules match on. Events are attacker-influenced, so a field that is present
 * but of the wrong type is an error (deny), never silently treated as absent: an absent field can
 * make a restricting rule not match.
 */
function readFacts(input: PolicyInput): Facts | string {
  const raw = input as unknown;
  if (!isObject(raw)) return 'input must be an object';
  const action = input.action as unknown;
  if (!isObject(action)) return 'action must be an object';
  const type = action['type'];
  if (typeof type !== 'string' || type === '') return 'action.type must be a non-empty string';
  const rawTarget = optString(action['target']);
  if (rawTarget === undefined) return 'action.target must be a string';
  let target: string | null = null;
  if (rawTarget !== null) {
    // Rules and conditions see the canonical form; the caller records the raw value.
    const canonical = canonicalTarget(rawTarget);
    if ('error' in canonical) return canonical.error;
    target = canonical.value;
  }
  const tooBig = oversized([action['params'], input.context, input.metadata, input.actor]);
  if (tooBig !== null) return tooBig;

  const actorRaw = input.actor as unknown;
  let actorId: string | null | undefined = null;
  let actorType: string | null | undefined = null;
  let trustTier: string | null | undefined = null;
  let tags: readonly string[] | null = null;
  if (actorRaw !== undefined && actorRaw !== null) {
    if (!isObject(actorRaw)) return 'actor must be an object';
    const actor = actorRaw as RawActor;
    actorId = optString(actor.id);
    if (actorId === undefined) return 'actor.id must be a string';
    actorType = optString(actor.type);
    if (actorType === undefined) return 'actor.type must be a string';
    trustTier = optString(actor.trust_tier);
    if (trustTier === undefined) return 'actor.trust_tier must be a string';
    const t = actor.tags;
    if (t !== undefined && t !== null) {
      if (!Array.isArray(t) || !t.every((x) => typeof x === 'string'))
        return 'actor.tags must be a list of strings';
      tags = t;
    }
  }

  const tenant = optString(input.tenant);
  if (tenant === undefined) return 'tenant must be a string';
  const riskLevel = optString(input.risk_level);
  if (riskLevel === undefined) return 'risk_level must be a string';
  let environment = optString(input.environment);
  if (environment === undefined) return 'environment must be a string';
  if (environment === null) {
    const metadata = input.metadata as unknown;
    const fromMetadata = isObject(metadata) ? metadata['environment'] : undefined;
    if (typeof fromMetadata === 'string') environment = fromMetadata;
  }

  let rootAgent: string | null | undefined = null;
  let depth: number | string = 0;
  const delegationRaw = input.delegation as unknown;
  if (delegationRaw !== undefined && delegationRaw !== null) {
    if (!isObject(delegationRaw)) return 'delegation must be an object';
    const delegation = delegationRaw as RawDelegation;
    rootAgent = optString(delegation.root_agent);
    if (rootAgent === undefined) return 'delegation.root_agent must be a string';
    depth = delegationDepth(delegation);
    if (typeof depth === 'string') return depth;
  }

  return {
    type,
    target,
    actorId,
    actorType,
    trustTier,
    tags,
    tenant,
    environment,
    riskLevel,
    depth,
    rootAgent,
  };
}

// Walks the values conditions can read, stopping at the first limit passed: O(limits), whatever
// the input (a cyclic object is nested too deep). Recursive, at most INPUT_LIMITS.depth + 1 calls
// deep, so the walk allocates nothing per value: every decision with parameters runs it.
function oversized(roots: readonly unknown[]): string | null {
  const size: InputSize = { values: 0, characters: 0 };
  for (const root of roots) {
    const error = walkInput(root, 1, size);
    if (error !== null) return error;
  }
  return null;
}

interface InputSize {
  values: number;
  characters: number;
}

const TOO_MANY_VALUES = `input has more than ${INPUT_LIMITS.values} values`;
const TOO_DEEP = `input is nested deeper than ${INPUT_LIMITS.depth} levels`;
const TOO_MUCH_TEXT = `input has more than ${INPUT_LIMITS.characters} characters of text`;

function walkInput(v: unknown, depth: number, size: InputSize): string | null {
  if (++size.values > INPUT_LIMITS.values) return TOO_MANY_VALUES;
  if (typeof v === 'string') {
    size.characters += v.length;
    return size.characters > INPUT_LIMITS.characters ? TOO_MUCH_TEXT : null;
  }
  if (typeof v !== 'object' || v === null) return null;
  if (depth > INPUT_LIMITS.depth) return TOO_DEEP;
  if (Array.isArray(v)) {
    if (v.length > INPUT_LIMITS.values) return TOO_MANY_VALUES;
    for (let i = 0; i < v.length; i++) {
      const error = walkInput(v[i], depth + 1, size);
      if (error !== null) return error;
    }
    return null;
  }
  for (const key in v) {
    if (!Object.hasOwn(v, key)) continue;
    size.characters += key.length;
    if (size.characters > INPUT_LIMITS.characters) return TOO_MUCH_TEXT;
    if (++size.values > INPUT_LIMITS.values) return TOO_MANY_VALUES;
    const error = walkInput((v as Obj)[key], depth + 1, size);
    if (error !== null) return error;
  }
  return null;
}

// DESIGN.md §2: delegation.depth; without it, the chain's length; without a chain, 0 (the actor
// acts for itself).
function delegationDepth(delegation: RawDelegation): number | string {
  const depth = delegation.depth;
  if (depth !== undefined && depth !== null) {
    return typeof depth === 'number' && Number.isSafeInteger(depth) && depth >= 0
      ? depth
      : 'delegation.depth must be a non-negative integer';
  }
  const chain = delegation.chain;
  if (chain === undefined || chain === null) return 0;
  return Array.isArray(chain) ? chain.length : 'delegation.chain must be a list';
}

// Match keys only: cheap string tests, run before any CEL.
function matches(r: CompiledRule, f: Facts, actionChecked: boolean): boolean {
  if (!actionChecked && r.action !== null && !r.action(f.type)) return false;
  if (r.target !== null && (f.target === null || !r.target(f.target))) return false;
  if (r.actorId !== null && (f.actorId === null || !r.actorId(f.actorId))) return false;
  if (r.actorType !== null && (f.actorType === null || !r.actorType(f.actorType))) return false;
  if (r.trustTier !== null && (f.trustTier === null || !r.trustTier(f.trustTier))) return false;
  if (r.actorTags !== null) {
    const tags = f.tags;
    if (tags === null) return false;
    for (const t of r.actorTags) if (!tags.includes(t)) return false;
  }
  if (r.tenant !== null && (f.tenant === null || !r.tenant(f.tenant))) return false;
  if (r.environment !== null && (f.environment === null || !r.environment(f.environment))) return false;
  if (r.riskLevel !== null && (f.riskLevel === null || !r.riskLevel(f.riskLevel))) return false;
  if (r.depthMin !== null && f.depth < r.depthMin) return false;
  if (r.depthMax !== null && f.depth > r.depthMax) return false;
  if (r.rootAgent !== null && (f.rootAgent === null || !r.rootAgent(f.rootAgent))) return false;
  return true;
}

const EMPTY: Readonly<Obj> = Object.freeze({});
const EMPTY_LIST: readonly unknown[] = Object.freeze([]);

// The CEL variables (docs/policy.md). Absent objects are `{}` and absent strings `null`, so
// `has(actor.trust_tier)` and `tenant == null` work; reading an absent field is an error (deny).
function conditionVariables(input: PolicyInput, f: Facts): ConditionVariables {
  const action = input.action;
  const params = action.params ?? EMPTY;
  const delegation = input.delegation;
  return {
    action: {
      type: action.type,
      target: f.target,
      params,
      side_effects: action.side_effects ?? EMPTY_LIST,
    },
    params,
    actor: input.actor ?? EMPTY,
    tenant: f.tenant,
    environment: f.environment,
    delegation: {
      chain: delegation?.chain ?? EMPTY_LIST,
      depth: f.depth,
      root_agent: f.rootAgent,
    },
    context: input.context ?? EMPTY,
    risk_level: f.riskLevel,
    metadata: input.metadata ?? EMPTY,
    session_id: input.session_id ?? null,
    run_id: input.run_id ?? null,
  };
}

// A plain function, not a closure: the decision path allocates nothing it does not return.
function decide(
  bundle: PolicyBundle,
  conditions: ConditionResult[],
  now: () => number,
  start: number,
  decision: Decision,
  rule: PolicyRule | null,
  reason: string,
): PolicyDecision {
  const out: PolicyDecision = {
    decision,
    matched_rule: rule === null ? null : rule.id,
    policy_id: bundle.policyId,
    policy_version: bundle.version,
    policy_snapshot: bundle.snapshot,
    conditions_evaluated: conditions,
    reason,
    mode: bundle.mode,
    evaluation_us: 0,
  };
  const risk = rule?.risk ?? bundle.riskDefaults[decision];
  if (risk !== undefined) out.risk = risk;
  if (decision === 'require_approval') {
    const approvers = rule === null ? bundle.defaultApprovers : rule.approvers;
    const ttl = rule === null ? bundle.defaultApprovalTtlMs : rule.approvalTtlMs;
    if (approvers !== undefined) out.approvers = [...approvers];
    if (ttl !== undefined) out.approval_ttl_ms = ttl;
  }
  out.evaluation_us = round(now() - start);
  return out;
}

function round(us: number): number {
  return us > 0 ? Math.round(us * 1000) / 1000 : 0;
}

/**
 * Decides an action. Never throws for any input; throws a TypeError only when `bundle` did not
 * come from `parsePolicy()` / `loadPolicyFile()` (a programming error).
 *
 * The result is what happened, whatever the mode: in `shadow` mode the decision is the same and
 * `mode: 'shadow'` tells the caller to record it without enforcing it.
 *
 * @example
 * const d = evaluate(bundle, {
 *   action: { type: 'write:refund', params: { amount: 900 } },
 *   actor: { id: 'agent-7', trust_tier: 'trusted' },
 * });
 * d.decision; // 'require_approval'
 * d.approvers; // ['oncall_sre', 'finance_lead']
 * d.conditions_evaluated; // [{ expression: "params.amount > 500.0 || …", result: true }]
 */
export function evaluate(
  bundle: PolicyBundle,
  input: PolicyInput,
  options: EvaluateOptions = {},
): PolicyDecision {
  const now = options.now ?? defaultNow;
  const start = now();
  const compiled = compiledOf(bundle);
  const conditions: ConditionResult[] = [];

  const facts = readFacts(input);
  if (typeof facts === 'string') {
    return decide(bundle, conditions, now, start, 'deny', null, `invalid input (fail-closed): ${facts}`);
  }

  const exact = compiled.index.exact.get(facts.type);
  const candidates = exact ?? wildcardCandidates(compiled.index, facts.type);
  const actionChecked = exact !== undefined;
  let variables: ConditionVariables | undefined;
  let meter: CostMeter | undefined;

  for (const r of candidates) {
    if (!matches(r, facts, actionChecked)) continue;
    const condition = r.condition;
    if (condition !== null) {
      variables ??= conditionVariables(input, facts);
      meter ??= new CostMeter(options.costBudget ?? DEFAULT_COST_BUDGET);
      const result = runCondition(condition, variables, meter);
      conditions.push({ expression: condition.expression, result });
      if (typeof result === 'string') {
        const reason = `rule "${r.rule.id}": condition failed, denied (fail-closed): ${result}`;
        return decide(bundle, conditions, now, start, 'deny', r.rule, reason);
      }
      if (!result) continue;
    }
    const rule = r.rule;
    return decide(
      bundle,
      conditions,
      now,
      start,
      rule.effect,
      rule,
      rule.reason ?? `matched rule "${rule.id}"`,
    );
  }
  const fallback = bundle.defaultEffect;
  return decide(bundle, conditions, now, start, fallback, null, `no rule matched; default ${fallback}`);
}
