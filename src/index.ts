/**
 * auditrail — a tamper-evident, verifiable audit trail for AI agents.
 *
 * @example
 * import { openAuditTrail } from 'auditrail';
 * const trail = await openAuditTrail({ tenant: 'acme' });
 * await trail.record({ type: 'action.intent', actor: { type: 'agent', id: 'support-bot' },
 *   action: { type: 'read:order', target: 'order/1042' } });
 * console.log((await trail.verify()).ok);
 * await trail.close();
 */
export { AuditTrail, type AuditTrailOptions, type QueryOptions, type QueryPage } from './sdk/audit-trail.js';
export { openAuditTrail, originOf, resolveDb, DEFAULT_DB } from './sdk/open.js';
export { toRecordedEvent } from './sdk/internals.js';
export {
  RemoteAuditTrail,
  type RemoteAuditTrailOptions,
  type SpooledReceipt,
} from './sdk/remote/remote-trail.js';
export { RemoteError } from './sdk/remote/http-client.js';
export { Spool, DEFAULT_SPOOL, type SpoolStatus } from './sdk/remote/spool.js';
export { verifyStoredLog, type VerifyOptions } from './sdk/verify.js';
export type { Receipt } from './core/append-plan.js';
export { listLogs, type LogSummary } from './sdk/list-logs.js';
export { REBUILDABLE_KINDS, type RebuildReport } from './sdk/verify-derived.js';
export { KeyRing } from './sdk/keys.js';
export {
  AuditError,
  ValidationError,
  AUDIT_ERROR_HTTP_STATUS,
  type AuditErrorCode,
  type ValidationIssue,
} from './errors.js';
export type {
  AuditEvent,
  RecordedEvent,
  Actor,
  EventType,
  RiskLevel,
  Decision,
  OutcomeStatus,
} from './event/types.js';
export { EVENT_SCHEMA, EVENT_TYPES } from './event/schema.js';
export { validateEvent } from './event/validate.js';
export { verifyProofBundle, type ProofBundle, type ProofBundleResult } from './core/proof-bundle.js';
export { verifyConsistency, type ConsistencyBundle, type ConsistencyResult } from './core/consistency.js';
export type { VerifyReport, VerifyFailure, FailureKind } from './core/verify-log.js';
export { createRedactor, REDACTED, type RedactionOptions, type Redactor } from './redact/index.js';
export { openStore } from './store/open-store.js';
export type { AuditStore, EventFilter } from './store/store.js';
export {
  Governor,
  guard,
  ActionDeniedError,
  ApprovalRequiredError,
  TimeoutError,
  type ActionSpec,
  type Decision as ActionDecision,
  type GovernorOptions,
  type GovernedTrail,
  type RunOptions,
  type RunResult,
} from './sdk/governance/governor.js';
export {
  Approvals,
  ApprovalError,
  requestDigest,
  type ApprovalRequestInfo,
  type ApprovalsOptions,
} from './sdk/governance/approvals.js';
export {
  toolCallToAction,
  type ToolActions,
  type ToolActionOptions,
  type ToolCallInput,
} from './integrations/tool-action.js';
export {
  parsePolicy,
  loadPolicyFile,
  evaluate,
  diffPolicies,
  PolicyError,
  type PolicyBundle,
  type PolicyDecision,
  type PolicyDiff,
  type PolicyInput,
} from './policy/index.js';
export { replayPolicy, type ReplayReport, type ReplayChange } from './sdk/governance/policy-replay.js';
