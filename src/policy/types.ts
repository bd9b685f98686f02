/**
 * The policy layer's public types: a bundle as loaded, the input it is evaluated against, and the
 * decision it produces (DESIGN.md §2 `policy` field, §5 governance).
 */

import type { Decision, RiskLevel } from '../event/types.js';

// One of each: what a rule (or the bundle default) decides is the event's `policy.decision`, and
// a rule's risk is the event's `risk_level` (DESIGN.md §2).
export type { Decision, RiskLevel };

/**
 * The keys a rule may have, in the order docs/policy.md lists them. The parser accepts these and
 * no other; the diff compares every one but `id` (a rule is known by its id).
 */
export const RULE_KEYS = [
  'id',
  'description',
  'match',
  'when',
  'effect',
  'risk',
  'reason',
  'approvers',
  'approval_ttl',
] as const;

/** `enforce` blocks on deny / approval; `shadow` decides and records but does not enforce. */
export type PolicyMode = 'enforce' | 'shadow';

/**
 * One rule of a loaded bundle: the parts callers read. The compiled matchers and CEL program live
 * beside it, out of reach, so a rule cannot be edited into disagreeing with the bundle's snapshot.
 *
 * @example
 * const rule = bundle.rules.find((r) => r.id === 'approve-large-refunds');
 * rule?.approvers; // ['oncall_sre', 'finance_lead']
 */
export interface PolicyRule {
  readonly id: string;
  readonly effect: Decision;
  readonly risk?: RiskLevel;
  readonly reason?: string;
  readonly description?: string;
  /** The rule's CEL condition, as written. */
  readonly when?: string;
  readonly approvers?: readonly string[];
  readonly approvalTtlMs?: number;
}

/**
 * A validated, compiled, immutable policy bundle. Produce one with `parsePolicy()` or
 * `loadPolicyFile()`; `evaluate()` accepts nothing else.
 *
 * @example
 * const bundle = parsePolicy('policy_id: p\nversion: 1\nrules: []\n');
 * bundle.defaultEffect; // 'deny' (fail-closed)
 * bundle.snapshot; // 'sha256:…' of the RFC 8785 form of the source
 */
export interface PolicyBundle {
  readonly policyId: string;
  readonly version: number;
  readonly defaultEffect: Decision;
  readonly mode: PolicyMode;
  readonly description?: string;
  /** Risk recorded when the deciding rule (or the default) names none. */
  readonly riskDefaults: Readonly<Partial<Record<Decision, RiskLevel>>>;
  /** Approvers when `default: require_approval` decides. */
  readonly defaultApprovers?: readonly string[];
  readonly defaultApprovalTtlMs?: number;
  readonly rules: readonly PolicyRule[];
  /** `'sha256:' + hex(SHA-256(JCS(source)))`: the bundle's identity in every decision it makes. */
  readonly snapshot: string;
  /** The bundle as parsed (plain JSON values, deep-frozen). */
  readonly source: unknown;
}

/** One problem found while loading a bundle, located in the file when it can be. */
export interface PolicyIssue {
  file?: string;
  /** 1-based. */
  line?: number;
  /** 1-based. */
  column?: number;
  /** Where in the bundle, e.g. `rules[1].effect`; `''` for the whole document. */
  path: string;
  message: string;
}

/**
 * What `evaluate()` looks at: the parts of an event (DESIGN.md §2) a policy can match on.
 *
 * @example
 * const input: PolicyInput = {
 *   action: { type: 'write:refund', params: { amount: 900 } },
 *   actor: { id: 'agent-7', type: 'agent', trust_tier: 'standard' },
 * };
 */
export interface PolicyInput {
  action: { type: string; target?: string; params?: unknown; side_effects?: string[] };
  actor?: { id?: string; type?: string; trust_tier?: string; tags?: string[]; name?: string };
  tenant?: string;
  /** Wins over `metadata.environment`. */
  environment?: string;
  delegation?: { chain?: unknown[]; depth?: number; root_agent?: string };
  context?: unknown;
  risk_level?: string;
  metadata?: Record<string, unknown>;
  session_id?: string;
  run_id?: string;
}

/** One CEL condition run during an evaluation: its result, or the error text when it failed. */
export interface ConditionResult {
  expression: string;
  result: boolean | string;
}

/**
 * The outcome of `evaluate()`; maps 1:1 onto the event's `policy` field (DESIGN.md §2), plus the
 * rule's risk and approval routing.
 *
 * @example
 * const d = evaluate(bundle, { action: { type: 'read:ticket' } });
 * d.decision; // 'allow'
 * d.matched_rule; // 'allow-reads'
 */
export interface PolicyDecision {
  decision: Decision;
  matched_rule: string | null;
  policy_id: string;
  policy_version: number;
  policy_snapshot: string;
  conditions_evaluated: ConditionResult[];
  reason: string;
  mode: PolicyMode;
  evaluation_us: number;
  risk?: RiskLevel;
  approvers?: string[];
  approval_ttl_ms?: number;
}

/**
 * What changed between two versions of a bundle; recorded with `policy.updated` (DESIGN.md §5).
 *
 * @example
 * const d = diffPolicies(v2, v3);
 * d.added; // ['allow-reads']
 * console.log(d.text);
 */
export interface PolicyDiff {
  policy_id: string;
  from_version: number | null;
  to_version: number;
  from_snapshot: string | null;
  to_snapshot: string;
  added: string[];
  removed: string[];
  /** Rules kept by id whose content changed; `position` when they moved relative to the others. */
  changed: { id: string; fields: string[] }[];
  default_changed?: { from: Decision; to: Decision };
  mode_changed?: { from: PolicyMode; to: PolicyMode };
  /** Other top-level keys that changed (`risk_defaults`, `default_approvers`, …). */
  settings_changed?: string[];
  /** A readable, unified-diff-like summary. */
  text: string;
}
