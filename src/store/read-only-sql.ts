import { AuditError } from '../errors.js';
import { isPostgresUrl } from './open-store.js';
import { postgresReadOnlySql } from './postgres/read-only-sql.js';
import { sqliteReadOnlySql } from './sqlite/read-only-sql.js';

/** What `auditrail sql` prints: column names, rows of plain values, and whether rows were cut. */
export interface SqlResult {
  columns: string[];
  /** Each value: null, a number, a string, a boolean; bytes as `\x` and hex. */
  rows: (string | number | boolean | null)[][];
  /** True when the query had more than `maxRows` rows (only the first ones are given). */
  truncated: boolean;
}

export interface SqlOptions {
  /** Longest the statement may run, in ms (default 5000); past it the query is stopped. */
  timeoutMs?: number;
  /** Most rows returned (default 10000). */
  maxRows?: number;
}

export const SQL_DEFAULT_TIMEOUT_MS = 5000;
export const SQL_DEFAULT_MAX_ROWS = 10_000;
/** Longest accepted statement text. */
const MAX_SQL_CHARS = 100_000;

/** A value as JSON can carry it: bytes as `\x…` hex, a bigint as a number when exact, else text. */
export function plainValue(v: unknown): string | number | boolean | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string' || typeof v === 'boolean') return v;
  if (typeof v === 'number') return Number.isFinite(v) ? v : String(v);
  if (typeof v === 'bigint')
    return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= -BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(v)
      : v.toString();
  if (Buffer.isBuffer(v)) return `\\x${v.toString('hex')}`;
  if (v instanceof Date) return v.toISOString();
  return JSON.stringify(v) ?? null;
}

/**
 * The statement, checked: one query (SELECT, WITH, VALUES or TABLE), without a trailing `;`.
 * Both backends also enforce it (one prepared statement, a read-only transaction or connection);
 * this check gives the clear message.
 */
export function checkQuery(sql: string): string {
  if (typeof sql !== 'string' || sql.trim() === '')
    throw new AuditError('invalid_argument', 'give a query, e.g. "SELECT count(*) FROM events_v"');
  if (sql.length > MAX_SQL_CHARS)
    throw new AuditError('invalid_argument', `the query is longer than ${MAX_SQL_CHARS} characters`);
  const body = sql.trim().replace(/;\s*$/, '');
  // Leading comments are skipped to find the first keyword (a linear scan, no backtracking).
  let i = 0;
  for (;;) {
    while (i < body.length && /\s/.test(body[i]!)) i++;
    if (body.startsWith('--', i)) {
      const nl = body.indexOf('\n', i);
      i = nl < 0 ? body.length : nl + 1;
    } else if (body.startsWith('/*', i)) {
      const end = body.indexOf('*/', i + 2);
      i = end < 0 ? body.length : end + 2;
    } else break;
  }
  const word = /^[A-Za-z]+/.exec(body.slice(i, i + 16))?.[0]?.toUpperCase() ?? '';
  if (!['SELECT', 'WITH', 'VALUES', 'TABLE'].includes(word)) {
    throw new AuditError(
      'invalid_argument',
      `only queries run here (SELECT, WITH, VALUES, TABLE), not ${word === '' ? 'this statement' : word}: the database is read only`,
    );
  }
  return body;
}

function bound(name: string, v: number | undefined, fallback: number, max: number): number {
  if (v === undefined) return fallback;
  if (!Number.isSafeInteger(v) || v < 1 || v > max)
    throw new AuditError('invalid_argument', `${name} must be an integer from 1 to ${max}`);
  return v;
}

/**
 * Runs one read-only query over a database's tables and documented views (`events_v`,
 * `decisions_v`, `approvals_v`; docs/sql.md): on PostgreSQL in a `READ ONLY` transaction with a
 * `statement_timeout`; on SQLite on a read-only connection in a child process stopped at the
 * timeout. Nothing is ever written.
 *
 * @example
 * const r = await readOnlySql('./.auditrail/audit.db', 'SELECT decision, count(*) FROM decisions_v GROUP BY 1');
 */
export async function readOnlySql(
  location: string,
  sql: string,
  options: SqlOptions = {},
): Promise<SqlResult> {
  const query = checkQuery(sql);
  const timeoutMs = bound('timeout', options.timeoutMs, SQL_DEFAULT_TIMEOUT_MS, 3_600_000);
  const maxRows = bound('max rows', options.maxRows, SQL_DEFAULT_MAX_ROWS, 1_000_000);
  return isPostgresUrl(location)
    ? postgresReadOnlySql(location, query, timeoutMs, maxRows)
    : sqliteReadOnlySql(location, query, timeoutMs, maxRows);
}
