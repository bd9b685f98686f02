import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { AuditError } from '../errors.js';
import { PostgresStore } from './postgres/postgres-store.js';
import { SqliteStore } from './sqlite/sqlite-store.js';

/** How many rows of each table were copied. */
export interface CopyCounts {
  logs: number;
  entries: number;
  disclosures: number;
  events: number;
  tiles: number;
  checkpoints: number;
  approvals: number;
  cursors: number;
  meta: number;
  apiKeys: number;
  archives: number;
}

/** Rows read from SQLite and written to PostgreSQL per statement. */
const CHUNK = 2000;

type Row = Record<string, unknown>;

/** One table's copy: the SQLite columns read, the PostgreSQL column types written (for unnest). */
interface TableCopy {
  table: keyof CopyCounts;
  name: string;
  /** Column name → PostgreSQL type; `log_id` is mapped to the new log id. */
  columns: [string, string][];
  /** Columns a file from before their migration lacks: copied as NULL (SQLite `events.subjects`). */
  optional?: string[];
  /** Per log (ordered by its key) or whole. */
  perLog: boolean;
  order: string;
}

const TABLES: TableCopy[] = [
  {
    table: 'entries',
    name: 'entries',
    perLog: true,
    order: 'seq',
    columns: [
      ['seq', 'bigint'],
      ['leaf', 'bytea'],
      ['leaf_hash', 'bytea'],
      ['eid', 'text'],
      ['type', 'text'],
      ['ts', 'text'],
    ],
  },
  {
    table: 'disclosures',
    name: 'disclosures',
    perLog: true,
    order: 'seq, unit',
    columns: [
      ['seq', 'bigint'],
      ['unit', 'int'],
      ['pointer', 'text'],
      ['disclosure', 'bytea'],
      ['erased_by_seq', 'bigint'],
      ['erased_at', 'text'],
    ],
  },
  {
    table: 'events',
    name: 'events',
    perLog: true,
    order: 'seq',
    columns: [
      ['seq', 'bigint'],
      ['ts', 'text'],
      ['type', 'text'],
      ...[
        'tenant',
        'session_id',
        'run_id',
        'trace_id',
        'actor_id',
        'action_type',
        'target',
        'decision',
        'status',
        'risk',
        'time',
        'subjects',
      ].map((c): [string, string] => [c, 'text']),
    ],
    optional: ['subjects'],
  },
  {
    table: 'archives',
    name: 'archives',
    perLog: true,
    order: 'from_seq',
    columns: [
      ['from_seq', 'bigint'],
      ['to_seq', 'bigint'],
      ['by_seq', 'bigint'],
      ['manifest_sha256', 'text'],
      ['created_at', 'text'],
    ],
  },
  {
    table: 'tiles',
    name: 'tiles',
    perLog: true,
    order: 'level, idx',
    columns: [
      ['level', 'int'],
      ['idx', 'bigint'],
      ['width', 'int'],
      ['hashes', 'bytea'],
    ],
  },
  {
    table: 'checkpoints',
    name: 'checkpoints',
    perLog: true,
    order: 'size',
    columns: [
      ['size', 'bigint'],
      ['root_hash', 'bytea'],
      ['note', 'text'],
      ['created_at', 'text'],
    ],
  },
  {
    table: 'cursors',
    name: 'cursors',
    perLog: true,
    order: 'name',
    columns: [
      ['name', 'text'],
      ['seq', 'bigint'],
    ],
  },
  {
    table: 'approvals',
    name: 'approvals',
    perLog: false,
    order: 'id',
    columns: [
      'id',
      'log_origin',
      'status',
      'request_digest',
      'approvers',
      'expires_at',
      'created_at',
      'action_type',
      'target',
      'params',
      'side_effects',
      'matched_rule',
      'request_reason',
      'actor_type',
      'actor_id',
      'session_id',
      'run_id',
      'parent_event_id',
      'trace_id',
      'span_id',
      'decided_by',
      'decided_at',
      'reason',
    ].map((c): [string, string] => [c, 'text']),
  },
  {
    table: 'meta',
    name: 'meta',
    perLog: false,
    order: 'key',
    columns: [
      ['key', 'text'],
      ['value', 'text'],
    ],
  },
  {
    table: 'apiKeys',
    name: 'api_keys',
    perLog: false,
    order: 'id',
    columns: [
      ['id', 'text'],
      ['hash', 'bytea'],
      ['tenant', 'text'],
      ['name', 'text'],
      ['scopes', 'text'],
      ['created_at', 'text'],
      ['revoked_at', 'text'],
    ],
  },
];

/** An SQLite value's text (a number or bytes in a text column: SQLite is loosely typed). */
function scalarText(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint') return v.toString();
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  return JSON.stringify(v) ?? '';
}

/** A value as the PostgreSQL column takes it (SQLite is loosely typed: stored data is checked here). */
function cell(v: unknown, type: string, where: string): unknown {
  if (v === null || v === undefined) return null;
  if (type === 'bytea') return Buffer.isBuffer(v) ? v : Buffer.from(String(v as string | number), 'utf8');
  if (type === 'bigint' || type === 'int') {
    if (typeof v === 'number' && Number.isSafeInteger(v)) return v;
    if (typeof v === 'bigint') return Number(v);
    throw new AuditError('store_failure', `${where}: ${JSON.stringify(scalarText(v))} is not an integer`);
  }
  const s = scalarText(v);
  // PostgreSQL text holds no NUL character.
  if (s.includes('\0')) throw new AuditError('store_failure', `${where}: a text value holds a NUL character`);
  return s;
}

/**
 * Copies every log of an SQLite database into a PostgreSQL schema, row for row: entries (leaf
 * bytes), disclosures (erased ones stay erased, naming their erasure), the query index (with its
 * subject tags), tiles, checkpoints, archived ranges, approvals, cursors, meta and API keys. Nothing is recomputed, so the tree and every
 * signed checkpoint are the same; one transaction, so a failed copy leaves nothing. The target
 * must not hold any of the logs yet. The SQLite file is only read.
 *
 * @example
 * const counts = await copySqliteToPostgres('./.auditrail/audit.db', 'postgres://127.0.0.1/audit');
 */
export async function copySqliteToPostgres(
  sqlitePath: string,
  postgresUrl: string,
  onProgress?: (table: string, rows: number) => void,
): Promise<CopyCounts> {
  const path = resolve(sqlitePath);
  if (!existsSync(path)) throw new AuditError('not_found', `no audit database at ${path}`);
  // Opened through the store first: it refuses what is not an auditrail database.
  await new SqliteStore(path, { readonly: true }).close();
  const src = new Database(path, { readonly: true, fileMustExist: true });
  const url = new URL(postgresUrl);
  const schema = url.searchParams.get('schema') ?? undefined;
  url.searchParams.delete('schema');
  const dst = await PostgresStore.open(url.toString(), schema !== undefined ? { schema } : {});
  const counts: CopyCounts = {
    logs: 0,
    entries: 0,
    disclosures: 0,
    events: 0,
    tiles: 0,
    checkpoints: 0,
    approvals: 0,
    cursors: 0,
    meta: 0,
    apiKeys: 0,
    archives: 0,
  };
  const client = await dst.pool.connect();
  try {
    const tables = new Set(
      src.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all() as string[],
    );
    const logs = src.prepare('SELECT * FROM logs ORDER BY log_id').all() as Row[];
    await client.query('BEGIN');
    const ids = new Map<number, number>();
    for (const l of logs) {
      const r = await client.query<{ log_id: number }>(
        `INSERT INTO logs (origin, tenant, state, tree_size, root_hash, right_edge, last_ts, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (origin) DO NOTHING RETURNING log_id`,
        [
          cell(l['origin'], 'text', 'logs.origin'),
          cell(l['tenant'], 'text', 'logs.tenant'),
          cell(l['state'], 'text', 'logs.state'),
          cell(l['tree_size'], 'bigint', 'logs.tree_size'),
          cell(l['root_hash'], 'bytea', 'logs.root_hash'),
          cell(l['right_edge'], 'bytea', 'logs.right_edge'),
          cell(l['last_ts'], 'text', 'logs.last_ts'),
          cell(l['created_at'], 'text', 'logs.created_at'),
        ],
      );
      if (r.rows.length !== 1)
        throw new AuditError(
          'conflict',
          `log ${String(l['origin'])} exists in ${dst.location} (schema ${dst.schema}) already; migrate into an empty schema`,
        );
      ids.set(l['log_id'] as number, r.rows[0]!.log_id);
      counts.logs++;
    }
    for (const t of TABLES) {
      if (!tables.has(t.name)) continue;
      const cols = t.columns.map((c) => c[0]);
      const present = new Set((src.pragma(`table_info(${t.name})`) as { name: string }[]).map((c) => c.name));
      const reads = cols.map((c) => (t.optional?.includes(c) && !present.has(c) ? 'NULL' : c));
      const insert = `INSERT INTO ${t.name} (${t.perLog ? 'log_id, ' : ''}${cols.join(', ')})
        SELECT ${t.perLog ? '$1::bigint, ' : ''}* FROM unnest(${t.columns
          .map((c, i) => `$${i + (t.perLog ? 2 : 1)}::${c[1]}[]`)
          .join(', ')})`;
      const scopes: [number | null, number | null][] = t.perLog ? [...ids.entries()] : [[null, null]];
      for (const [oldId, newId] of scopes) {
        const read = src
          .prepare(
            `SELECT ${reads.join(', ')} FROM ${t.name}${oldId !== null ? ' WHERE log_id = ?' : ''} ORDER BY ${t.order}`,
          )
          .raw();
        const rows = (oldId !== null ? read.iterate(oldId) : read.iterate()) as IterableIterator<unknown[]>;
        let batch: unknown[][] = t.columns.map(() => []);
        let n = 0;
        const flush = async (): Promise<void> => {
          if (n === 0) return;
          await client.query(insert, newId !== null ? [newId, ...batch] : batch);
          counts[t.table] += n;
          onProgress?.(t.name, counts[t.table]);
          batch = t.columns.map(() => []);
          n = 0;
        };
        for (const row of rows) {
          row.forEach((v, i) => batch[i]!.push(cell(v, t.columns[i]![1], `${t.name}.${cols[i]!}`)));
          if (++n === CHUNK) await flush();
        }
        await flush();
      }
    }
    await client.query('COMMIT');
    return counts;
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    if (e instanceof AuditError) throw e;
    throw new AuditError('store_failure', `cannot copy to ${dst.location}: ${(e as Error).message}`, {
      cause: e,
    });
  } finally {
    client.release();
    src.close();
    await dst.close();
  }
}
