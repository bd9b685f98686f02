/**
 * The policy layer: bundle loading, CEL conditions, a pure `evaluate()`, and diffs between
 * versions. See docs/policy.md.
 */
export { PolicyError, formatIssue, parsePolicy, MAX_POLICY_TEXT, MAX_RULES } from './bundle.js';
export { loadPolicyFile } from './load.js';
export { compileGlob } from './glob.js';
export { evaluate, INPUT_LIMITS } from './evaluate.js';
export type { EvaluateOptions } from './evaluate.js';
export { diffPolicies } from './diff.js';
export {
  DIFF_KEY_PREFIX,
  diffRecord,
  recordedConditions,
  SOURCE_KEY_PREFIX,
  verifyDiffPayload,
  verifySourcePayload,
} from './record.js';
export type { DiffRecord, RecordedConditions } from './record.js';
export { canonicalTarget } from './path.js';
export { CONDITION_VARIABLES, DEFAULT_COST_BUDGET, MAX_REGEX_SIZE } from './condition.js';
export type {
  ConditionResult,
  Decision,
  PolicyBundle,
  PolicyDecision,
  PolicyDiff,
  PolicyInput,
  PolicyIssue,
  PolicyMode,
  PolicyRule,
  RiskLevel,
} from './types.js';
