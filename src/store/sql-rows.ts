/**
 * Row codecs shared by the SQL stores (SQLite and PostgreSQL): the cells of a row as the store
 * contract's types. Stored data is attacker-controlled (anyone with write access to the file or
 * database), so every reader here tolerates a cell of the wrong type, and a JSON column that does
 * not parse is an {@link AuditError}, never a raw `SyntaxError`.
 */
import { AuditError } from '../errors.js';
import type { ApiKeyRow, ApprovalRow, CheckpointRow } from './store.js';

/** A row as the drivers return it, by column name. */
export type Row = Record<string, unknown>;

/** Highest tile level of a tree of up to 2^53 leaves (256^7 > 2^53). */
export const MAX_TILE_LEVEL = 6;

export const NO_BYTES = Buffer.alloc(0);

/** A BLOB/bytea cell as bytes; text and numbers (a mistyped SQLite cell) as their UTF-8 text. */
export function bytes(v: unknown): Buffer {
  if (Buffer.isBuffer(v)) return v;
  if (typeof v === 'string') return Buffer.from(v, 'utf8');
  if (typeof v === 'number' || typeof v === 'bigint') return Buffer.from(v.toString(), 'utf8');
  return NO_BYTES;
}

/** A TEXT cell as a string, whatever type it was stored or parsed as (JSON for a jsonb value). */
export function cellText(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint') return v.toString();
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  return JSON.stringify(v) ?? '';
}

/** A nullable TEXT cell. */
export const text = (v: unknown): string | null => (v === null || v === undefined ? null : cellText(v));

/** A JSON column of an approval row; one that is not JSON is a `store_failure`. */
function jsonColumn(r: Row, column: string): unknown {
  const value = r[column];
  if (value === null || value === undefined) return undefined;
  try {
    return JSON.parse(cellText(value)) as unknown;
  } catch (e) {
    throw new AuditError('store_failure', `approval ${cellText(r['id'])}: column ${column} is not JSON`, {
      cause: e,
    });
  }
}

/** An `approvals` row. */
export function approvalOf(r: Row): ApprovalRow {
  const params = jsonColumn(r, 'params');
  return {
    id: r['id'] as string,
    logOrigin: r['log_origin'] as string,
    status: r['status'] as ApprovalRow['status'],
    requestDigest: r['request_digest'] as string,
    approvers: (jsonColumn(r, 'approvers') as string[] | undefined) ?? [],
    expiresAt: r['expires_at'] as string,
    createdAt: r['created_at'] as string,
    actionType: cellText(r['action_type']),
    target: text(r['target']),
    ...(params !== undefined ? { params } : {}),
    sideEffects: (jsonColumn(r, 'side_effects') as string[] | undefined) ?? null,
    matchedRule: text(r['matched_rule']),
    requestReason: cellText(r['request_reason']),
    actorType: cellText(r['actor_type']),
    actorId: cellText(r['actor_id']),
    sessionId: text(r['session_id']),
    runId: text(r['run_id']),
    parentEventId: text(r['parent_event_id']),
    traceId: text(r['trace_id']),
    spanId: text(r['span_id']),
    decidedBy: text(r['decided_by']),
    decidedAt: text(r['decided_at']),
    reason: text(r['reason']),
  };
}

/**
 * The values of one `approvals` row, in the order of {@link APPROVAL_COLUMNS} (the stores'
 * insert statements).
 */
export function approvalValues(a: ApprovalRow): unknown[] {
  return [
    a.id,
    a.logOrigin,
    a.status,
    a.requestDigest,
    JSON.stringify(a.approvers),
    a.expiresAt,
    a.createdAt,
    a.actionType,
    a.target,
    a.params === undefined ? null : JSON.stringify(a.params),
    a.sideEffects === null ? null : JSON.stringify(a.sideEffects),
    a.matchedRule,
    a.requestReason,
    a.actorType,
    a.actorId,
    a.sessionId,
    a.runId,
    a.parentEventId,
    a.traceId,
    a.spanId,
    a.decidedBy,
    a.decidedAt,
    a.reason,
  ];
}

/** The columns {@link approvalValues} fills, in its order. */
export const APPROVAL_COLUMNS = `id, log_origin, status, request_digest, approvers, expires_at, created_at, action_type,
  target, params, side_effects, matched_rule, request_reason, actor_type, actor_id, session_id, run_id,
  parent_event_id, trace_id, span_id, decided_by, decided_at, reason`;

/** A `checkpoints` row. */
export function checkpointOf(r: Row): CheckpointRow {
  return {
    size: r['size'] as number,
    root: bytes(r['root_hash']),
    note: r['note'] as string,
    createdAt: r['created_at'] as string,
  };
}

/** An `api_keys` row. Scopes that are not a JSON array of strings grant nothing. */
export function apiKeyOf(r: Row): ApiKeyRow {
  let scopes: string[] = [];
  try {
    const parsed = JSON.parse(cellText(r['scopes'])) as unknown;
    if (Array.isArray(parsed)) scopes = parsed.filter((s): s is string => typeof s === 'string');
  } catch {
    // A stored value that is not JSON grants nothing.
  }
  return {
    id: r['id'] as string,
    hash: bytes(r['hash']),
    tenant: r['tenant'] as string,
    name: r['name'] as string,
    scopes,
    createdAt: r['created_at'] as string,
    revokedAt: text(r['revoked_at']),
  };
}
