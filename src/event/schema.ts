/**
 * Event model v1 — the single source of truth. Published as JSON Schema (draft 2020-12) at
 * `docs/schema/event.v1.schema.json` (written by `npm run schema`; a test keeps them equal).
 */

export const EVENT_TYPES = [
  'action.intent',
  'policy.decision',
  'approval.requested',
  'approval.granted',
  'approval.denied',
  'approval.expired',
  'action.dispatched',
  'action.succeeded',
  'action.failed',
  'action.retried',
  'action.timed_out',
  'action.dead_lettered',
  'action.cancelled',
  'action.undone',
  'delegation.started',
  'delegation.ended',
  'context.accessed',
  'anomaly.detected',
  'anomaly.acknowledged',
  'anomaly.resolved',
  'response.applied',
  'response.reverted',
  'policy.updated',
  'agent.lifecycle',
  'data.erased',
  'retention.purged',
  'hold.placed',
  'hold.released',
  'sampling.summary',
  'archive.created',
  'archive.restored',
  'key.added',
  'key.retired',
  'key.compromised',
  'key.created',
  'key.revoked',
  'report.generated',
] as const;

export const RISK_LEVELS = ['low', 'medium', 'high', 'critical'] as const;
export const DATA_CLASSIFICATIONS = ['public', 'internal', 'confidential', 'pii', 'phi'] as const;
export const OUTCOME_STATUSES = ['success', 'failure', 'denied', 'blocked', 'timeout', 'cancelled'] as const;
export const DECISIONS = ['allow', 'deny', 'require_approval'] as const;

const shortText = { type: 'string', minLength: 1, maxLength: 256 } as const;
const id = { type: 'string', minLength: 1, maxLength: 128, pattern: '^[\\x21-\\x7e]+$' } as const;
const text = { type: 'string', maxLength: 16384 } as const;
const time = { type: 'string', format: 'date-time', maxLength: 40 } as const;
const tags = { type: 'array', maxItems: 64, items: shortText } as const;

export const EVENT_SCHEMA = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: 'https://auditrail.dev/schema/event.v1.json',
  title: 'auditrail event v1',
  description: 'One step of an AI agent action: intent, decision, approval, dispatch, outcome, or context.',
  type: 'object',
  additionalProperties: false,
  required: ['type', 'actor'],
  properties: {
    schema_version: { const: 1 },
    event_id: {
      ...id,
      description:
        'Producer id, time-ordered (UUIDv7/ULID). The idempotency key: a re-sent event is stored once.',
    },
    type: {
      type: 'string',
      maxLength: 64,
      anyOf: [{ enum: [...EVENT_TYPES] }, { pattern: '^x\\.[a-z0-9_]+(\\.[a-z0-9_]+)*$' }],
      description: 'Event type; custom types live under `x.`',
    },
    level: { enum: ['pipeline', 'agent', 'decision'] },
    time: { ...time, description: "Producer's clock (RFC 3339). The log's receive time is `ts`." },
    tenant: id,
    session_id: id,
    run_id: id,
    trace_id: { type: 'string', pattern: '^[0-9a-f]{32}$' },
    span_id: { type: 'string', pattern: '^[0-9a-f]{16}$' },
    parent_event_id: id,
    actor: {
      type: 'object',
      additionalProperties: false,
      required: ['type', 'id'],
      properties: {
        type: { enum: ['agent', 'user', 'service', 'system'] },
        id,
        name: shortText,
        trust_tier: shortText,
        tags,
        on_behalf_of: id,
        auth_method: shortText,
      },
    },
    delegation: {
      type: 'object',
      additionalProperties: false,
      properties: {
        chain: {
          type: 'array',
          maxItems: 32,
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['agent_id'],
            properties: {
              agent_id: id,
              delegated_at: time,
              permissions_granted: { type: 'array', maxItems: 64, items: shortText },
            },
          },
        },
        depth: { type: 'integer', minimum: 0, maximum: 32 },
        root_agent: id,
      },
    },
    action: {
      type: 'object',
      additionalProperties: false,
      required: ['type'],
      properties: {
        type: { ...shortText, description: 'Capability id, e.g. io.fs.write_file, write:refund' },
        target: { type: 'string', maxLength: 1024 },
        params: { description: 'Tool arguments (redacted, stored as an erasable disclosure)' },
        side_effects: { type: 'array', maxItems: 64, items: shortText },
      },
    },
    risk_level: { enum: [...RISK_LEVELS] },
    policy: {
      type: 'object',
      additionalProperties: false,
      required: ['decision'],
      properties: {
        decision: { enum: [...DECISIONS] },
        matched_rule: { anyOf: [shortText, { type: 'null' }] },
        policy_id: shortText,
        policy_version: { type: 'integer', minimum: 0 },
        policy_snapshot: shortText,
        conditions_evaluated: {
          type: 'array',
          maxItems: 256,
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['expression', 'result'],
            properties: { expression: text, result: { type: ['boolean', 'string'] } },
          },
        },
        conditions_omitted: {
          type: 'object',
          additionalProperties: false,
          required: ['count', 'digest'],
          description:
            'Conditions of rules that did not decide: their count and sha256 of the JCS list of {expression, result}',
          properties: { count: { type: 'integer', minimum: 1 }, digest: shortText },
        },
        reason: text,
        mode: { enum: ['enforce', 'shadow'] },
        evaluation_us: { type: 'number', minimum: 0 },
        risk: { enum: [...RISK_LEVELS] },
        approvers: tags,
      },
    },
    approval: {
      type: 'object',
      additionalProperties: false,
      properties: {
        required: { type: 'boolean' },
        request_id: id,
        request_digest: shortText,
        approver: shortText,
        approvers: tags,
        decision: { enum: ['granted', 'denied', 'expired', 'pending'] },
        decided_at: time,
        reason: text,
        expires_at: time,
      },
    },
    dispatch: {
      type: 'object',
      additionalProperties: false,
      properties: {
        topic: shortText,
        job_id: id,
        status: shortText,
        attempt: { type: 'integer', minimum: 1, maximum: 1000 },
        max_attempts: { type: 'integer', minimum: 1, maximum: 1000 },
      },
    },
    outcome: {
      type: 'object',
      additionalProperties: false,
      required: ['status'],
      properties: {
        status: { enum: [...OUTCOME_STATUSES] },
        result: { description: 'Tool output (redacted, stored as an erasable disclosure)' },
        error_message: text,
        duration_ms: { type: 'number', minimum: 0 },
      },
    },
    undo: {
      type: 'object',
      additionalProperties: false,
      required: ['of_event_id'],
      properties: { of_event_id: id, reason: text },
    },
    context: {
      type: 'object',
      additionalProperties: false,
      properties: {
        reasoning: text,
        user_message: text,
        conversation_id: id,
        data_accessed: { type: 'array', maxItems: 256, items: { type: 'string', maxLength: 1024 } },
        data_classification: { enum: [...DATA_CLASSIFICATIONS] },
        data_subject_ids: { type: 'array', maxItems: 256, items: id },
        purpose: text,
      },
    },
    model: {
      type: 'object',
      additionalProperties: false,
      properties: {
        provider: shortText,
        name: shortText,
        input_tokens: { type: 'integer', minimum: 0 },
        output_tokens: { type: 'integer', minimum: 0 },
      },
    },
    metadata: { type: 'object', description: 'Free-form: client_ip, sdk_version, environment …' },
    redacted: {
      type: 'array',
      items: { type: 'string' },
      description: 'Set by the log: JSON pointers whose values were redacted (never the values).',
    },
  },
} as const;

/** Upper bound on one event's canonical size; larger events are rejected, not truncated. */
export const MAX_EVENT_BYTES = 256 * 1024;
