/**
 * The documented views `auditrail sql` reads (docs/sql.md), one SQL text for both backends: the
 * same columns, names and meaning on SQLite and PostgreSQL. Created by SQLite migration 5 and
 * PostgreSQL migration 5; a change here is a new migration, never an edit (checksums).
 */
export const SQL_VIEWS = `
CREATE VIEW events_v AS
  SELECT l.origin AS log, l.tenant AS log_tenant, v.seq, v.ts, v.type, e.eid AS event_id, v.tenant,
    v.session_id, v.run_id, v.trace_id, v.actor_id, v.action_type, v.target, v.decision, v.status,
    v.risk, v.time
  FROM events v
  JOIN logs l ON l.log_id = v.log_id
  JOIN entries e ON e.log_id = v.log_id AND e.seq = v.seq;
CREATE VIEW decisions_v AS
  SELECT log, seq, ts, event_id, tenant, session_id, run_id, trace_id, actor_id, action_type, target,
    decision, risk
  FROM events_v WHERE type = 'policy.decision';
CREATE VIEW approvals_v AS
  SELECT id, log_origin AS log, status, request_digest, approvers, expires_at, created_at, action_type,
    target, matched_rule, request_reason, actor_type, actor_id, session_id, run_id, trace_id,
    decided_by, decided_at, reason
  FROM approvals;
`;

/** The view names, as documented. */
export const SQL_VIEW_NAMES = ['events_v', 'decisions_v', 'approvals_v'] as const;
