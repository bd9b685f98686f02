import pg from 'pg';
import { AuditError } from '../../errors.js';
import type { SqlResult } from '../read-only-sql.js';
import { plainValue } from '../read-only-sql.js';
import { displayPostgresUrl } from './postgres-store.js';

/** INT8 (counts, seqs) as a number when exact, else its text. */
function parserOf(oid: number, format?: 'text' | 'binary'): (v: string) => unknown {
  if (oid === 20) return (v: string) => (Number.isSafeInteger(Number(v)) ? Number(v) : v);
  return pg.types.getTypeParser(oid, format ?? 'text') as (v: string) => unknown;
}

/**
 * One query in a `READ ONLY` transaction with `statement_timeout`, in the schema named by the
 * URL's `schema` parameter (default `auditrail`). The statement is prepared (extended protocol),
 * so it is exactly one statement, and wrapped as a subquery with a row limit.
 */
export async function postgresReadOnlySql(
  location: string,
  query: string,
  timeoutMs: number,
  maxRows: number,
): Promise<SqlResult> {
  const url = new URL(location);
  const schema = url.searchParams.get('schema') ?? 'auditrail';
  url.searchParams.delete('schema');
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema))
    throw new AuditError('invalid_argument', 'schema must be lower-case letters, digits or "_"');
  const client = new pg.Client({
    connectionString: url.toString(),
    connectionTimeoutMillis: 10_000,
    types: { getTypeParser: parserOf as typeof pg.types.getTypeParser },
  });
  client.on('error', () => undefined);
  const where = displayPostgresUrl(location);
  try {
    await client.connect();
  } catch (e) {
    throw new AuditError('store_failure', `cannot connect to ${where}: ${(e as Error).message}`, {
      cause: e,
    });
  }
  try {
    await client.query('BEGIN TRANSACTION READ ONLY');
    await client.query(`SET LOCAL statement_timeout = ${timeoutMs}`);
    await client.query(`SET LOCAL search_path = ${schema}`);
    // The newline before `)` ends a trailing `--` comment of the query.
    const r = await client.query({
      name: 'auditrail_sql',
      text: `SELECT * FROM (\n${query}\n) AS auditrail_sql LIMIT ${maxRows + 1}`,
      rowMode: 'array',
    });
    const rows = (r.rows as unknown[][]).map((row) => row.map(plainValue));
    const truncated = rows.length > maxRows;
    return { columns: r.fields.map((f) => f.name), rows: rows.slice(0, maxRows), truncated };
  } catch (e) {
    const state = (e as { code?: unknown }).code;
    const message = (e as Error).message;
    if (state === '57014')
      throw new AuditError(
        'timeout',
        `the query ran longer than ${timeoutMs} ms and was stopped; narrow it (a WHERE on seq or ts, a LIMIT) or raise --timeout`,
        { cause: e },
      );
    if (state === '25006')
      throw new AuditError('read_only', `the query was refused: ${message} (auditrail sql only reads)`, {
        cause: e,
      });
    throw new AuditError('invalid_argument', `the query failed: ${message}`, { cause: e });
  } finally {
    await client.query('ROLLBACK').catch(() => undefined);
    await client.end().catch(() => undefined);
  }
}
