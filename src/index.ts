/**
 * auditrail — a tamper-evident, verifiable audit trail for AI agents. This entry is the facade
 * users import: open a trail, record, query, verify and prove; check proofs as an auditor;
 * govern actions with a policy. Store implementers use `auditrail/store`, tests
 * `auditrail/testing`, framework users `auditrail/adapters/*` and `auditrail/mcp`.
 *
 * @example
 * import { openAuditTrail } from 'auditrail';
 * const trail = await openAuditTrail({ tenant: 'acme' });
 * await trail.record({ type: 'action.intent', actor: { type: 'agent', id: 'support-bot' },
 *   action: { type: 'read:order', target: 'order/1042' } });
 * console.log((await trail.verify()).ok);
 * await trail.close();
 */

// The trail: open, record, query, verify, prove.
export {
  AuditTrail,
  type AuditTrailOptions,
  type LogEntry,
  type LogEntryText,
  type QueryOptions,
  type QueryPage,
} from './sdk/audit-trail.js';
export { openAuditTrail } from './sdk/open.js';
export type { VerifyOptions } from './sdk/verify.js';
export type { RebuildReport } from './sdk/verify-derived.js';
export type { Receipt } from './core/append-plan.js';
export { listLogs, type LogSummary } from './sdk/list-logs.js';
export {
  archiveLog,
  archivedRanges,
  restoreArchive,
  verifyArchive,
  type ArchiveFile,
  type ArchiveManifest,
  type ArchiveResult,
  type LocatedArchivedRange,
  type RestoreResult,
} from './sdk/archive.js';

// A trail on an `auditrail serve` process: openAuditTrail({ url, apiKey, spool? }).
export {
  RemoteAuditTrail,
  type RemoteAuditTrailOptions,
  type SpooledReceipt,
} from './sdk/remote/remote-trail.js';
export { NatsAuditTrail, type NatsAuditTrailOptions, type StreamReceipt } from './sdk/remote/nats-trail.js';
export type { NatsStreamOptions } from './sdk/remote/nats-stream.js';
export { RemoteError } from './sdk/remote/http-client.js';
export type { SpoolStatus } from './sdk/remote/spool.js';

// Errors: one class, typed codes.
export {
  AuditError,
  ValidationError,
  AUDIT_ERROR_HTTP_STATUS,
  type AuditErrorCode,
  type ValidationIssue,
} from './errors.js';

// Events.
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
export { REDACTED, type RedactionOptions, type RedactionResult } from './redact/index.js';

// Retention, presets and sampling (docs/privacy.md).
export {
  parsePrivacyConfig,
  loadPrivacyConfig,
  parseDuration,
  PRESETS,
  RETENTION_PRESETS,
  PURGE_MODES,
  NEVER_SAMPLED,
  type Duration,
  type PrivacyConfig,
  type PurgeMode,
  type RetentionPolicy,
  type RetentionPreset,
  type RetentionRule,
  type SamplingPolicy,
  type SamplingRule,
} from './sdk/retention-config.js';
export {
  planRetention,
  applyRetention,
  reclaimSpace,
  RETENTION_PURGED,
  type ApplyOptions,
  type RetentionApplyReport,
  type RetentionOptions,
  type RetentionPlan,
  type RetentionRuleResult,
} from './sdk/retention.js';
export type { ReclaimReport } from './store/store.js';
export { keptBySampling, SAMPLING_SUMMARY, type SamplingSummary } from './sdk/sampling.js';

// For auditors: checks that need nothing but the bundle and a verifier key.
export { verifyProofBundle, type ProofBundle, type ProofBundleResult } from './core/proof-bundle.js';
export { verifyConsistency, type ConsistencyBundle, type ConsistencyResult } from './core/consistency.js';
export type { ArchivedRange, VerifyReport, VerifyFailure, FailureKind } from './core/verify-log.js';
// Evidence packages are checked offline from their files alone (src/report unpacks the archive).
export {
  verifyEvidenceFiles,
  EVIDENCE_FORMAT,
  EVIDENCE_FORMAT_V2,
  type EvidenceFormat,
  type EvidenceReport,
  type EvidenceFailure,
  type EvidenceFailureKind,
  type EvidenceEntry,
  type EvidenceLine,
  type EvidenceRole,
  type EvidenceSummary,
} from './core/evidence.js';

// Policy: parse, load, evaluate, compare, replay.
export {
  parsePolicy,
  loadPolicyFile,
  compileGlob,
  evaluate,
  diffPolicies,
  PolicyError,
  type PolicyBundle,
  type PolicyDecision,
  type PolicyDiff,
  type PolicyInput,
} from './policy/index.js';
export { replayPolicy, type ReplayReport, type ReplayChange } from './sdk/governance/policy-replay.js';

// Privacy: erasure, subject access, legal holds.
export { type SubjectAccessExport, type SubjectApproval } from './sdk/dsar.js';
export {
  MAX_ERASED_PER_EVENT,
  ArchivedDataError,
  type ArchiveSearch,
  type SearchedArchive,
  type ErasureTarget,
  type ErasureRequest,
  type ErasureResult,
  type ErasedDisclosure,
} from './sdk/erasure.js';
export {
  Holds,
  holdCovers,
  normalizeHoldScope,
  describeHold,
  type Hold,
  type HoldScope,
  type HoldRequest,
  type HoldEventFields,
} from './sdk/holds.js';

// Governance: decide and run actions, approvals.
export {
  Governor,
  guard,
  ActionDeniedError,
  ApprovalRequiredError,
  TimeoutError,
  type ActionDecision,
  type ActionSpec,
  type ApprovalVerdict,
  type GovernedTrail,
  type GovernorOptions,
  type RunOptions,
  type RunResult,
} from './sdk/governance/governor.js';
export {
  responseBook,
  applyResponse,
  revertResponse,
  responseId,
  responseAppliedEvent,
  checkResponseParams,
  FULL_READ_MS,
  RESPONSE_KINDS,
  ResponseBook,
  type AppliedResponse,
  type ResponseKind,
  type ResponseParams,
  type ResponseState,
} from './sdk/governance/responses.js';
export {
  Approvals,
  ApprovalError,
  requestDigest,
  type ApprovalAction,
  type ApprovalRequestInfo,
  type ApprovalsOptions,
} from './sdk/governance/approvals.js';
export type { ApprovalRow } from './store/store.js';
export {
  toolCallToAction,
  type ToolActions,
  type ToolActionOptions,
  type ToolCallInput,
} from './sdk/governance/tool-call.js';
export {
  cosignLatest,
  retireSigningKey,
  rotateSigningKey,
  signingKeys,
  type RotationStep,
  type SigningKeyInfo,
} from './sdk/signing-keys.js';
export { Witness, type WitnessResponse } from './sdk/witness.js';
