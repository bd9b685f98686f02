import type {
  DATA_CLASSIFICATIONS,
  DECISIONS,
  EVENT_TYPES,
  OUTCOME_STATUSES,
  RISK_LEVELS,
} from './schema.js';

export type EventType = (typeof EVENT_TYPES)[number] | `x.${string}`;
export type RiskLevel = (typeof RISK_LEVELS)[number];
export type Decision = (typeof DECISIONS)[number];
export type OutcomeStatus = (typeof OUTCOME_STATUSES)[number];
export type DataClassification = (typeof DATA_CLASSIFICATIONS)[number];

export interface Actor {
  type: 'agent' | 'user' | 'service' | 'system';
  id: string;
  name?: string;
  trust_tier?: string;
  tags?: string[];
  on_behalf_of?: string;
  auth_method?: string;
}

export interface DelegationLink {
  agent_id: string;
  delegated_at?: string;
  permissions_granted?: string[];
}

/**
 * One step of an action's life, as a producer sends it. The log adds `seq` and `ts`.
 * See docs/concepts.md and docs/schema/event.v1.schema.json.
 *
 * @example
 * const e: AuditEvent = { type: 'action.intent', actor: { type: 'agent', id: 'support-bot' },
 *   action: { type: 'write:refund', target: 'order/1042', params: { amount: 120 } } };
 */
export interface AuditEvent {
  schema_version?: 1;
  event_id?: string;
  type: EventType;
  level?: 'pipeline' | 'agent' | 'decision';
  time?: string;
  tenant?: string;
  session_id?: string;
  run_id?: string;
  trace_id?: string;
  span_id?: string;
  parent_event_id?: string;
  actor: Actor;
  delegation?: { chain?: DelegationLink[]; depth?: number; root_agent?: string };
  action?: { type: string; target?: string; params?: unknown; side_effects?: string[] };
  risk_level?: RiskLevel;
  policy?: {
    decision: Decision;
    matched_rule?: string | null;
    policy_id?: string;
    policy_version?: number;
    policy_snapshot?: string;
    conditions_evaluated?: { expression: string; result: boolean | string }[];
    /** The other conditions run (of rules that did not decide): how many, and their digest. */
    conditions_omitted?: { count: number; digest: string };
    reason?: string;
    mode?: 'enforce' | 'shadow';
    evaluation_us?: number;
    risk?: RiskLevel;
    approvers?: string[];
  };
  approval?: {
    required?: boolean;
    request_id?: string;
    request_digest?: string;
    approver?: string;
    approvers?: string[];
    decision?: 'granted' | 'denied' | 'expired' | 'pending';
    decided_at?: string;
    reason?: string;
    expires_at?: string;
  };
  dispatch?: { topic?: string; job_id?: string; status?: string; attempt?: number; max_attempts?: number };
  outcome?: { status: OutcomeStatus; result?: unknown; error_message?: string; duration_ms?: number };
  undo?: { of_event_id: string; reason?: string };
  context?: {
    reasoning?: string;
    user_message?: string;
    conversation_id?: string;
    data_accessed?: string[];
    data_classification?: DataClassification;
    data_subject_ids?: string[];
    purpose?: string;
  };
  model?: { provider?: string; name?: string; input_tokens?: number; output_tokens?: number };
  metadata?: Record<string, unknown>;
  /** Set by the log: JSON pointers whose values were redacted before storage. */
  redacted?: string[];
}

/** An event as stored: the producer's fields plus what the log assigned. */
export interface RecordedEvent extends AuditEvent {
  event_id: string;
  seq: number;
  ts: string;
  leaf_hash: string;
  log: string;
  /** Pointers of fields whose plaintext was erased, with the seq of the erasure event. */
  erased?: { pointer: string; by_seq: number | null }[];
  /**
   * Set when the event's fields moved to a cold archive: the archived range (seq `from..to-1`),
   * the seq of the `archive.created` event that vouches for it and the manifest's SHA-256.
   */
  archived?: { from: number; to: number; by_seq: number; manifest_sha256: string };
}
