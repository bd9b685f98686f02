import { createHash } from 'node:crypto';
import pg from 'pg';
import {
  compileFilterGlob,
  filterGlobPrefix,
  isFilterGlob,
  prefixUpperBound,
  type StringMatcher,
} from '../../core/glob.js';
import { erasedIndexColumns } from '../../core/index-row.js';
import { hasLoneSurrogate } from '../../core/note.js';
import { appendSeeds, partialLeafTile, type TileRow } from '../../core/tiles.js';
import { AuditError, type AuditErrorCode } from '../../errors.js';
import type {
  ApiKeyRow,
  AppendContext,
  AppendPlan,
  ApprovalRow,
  ArchiveRow,
  AuditStore,
  CheckpointRow,
  CursorRow,
  DisclosureRow,
  EntryRow,
  EventFilter,
  ExistingEntry,
  IndexRow,
  ListedEvent,
  LogHead,
  PersonalIndexColumn,
  ReclaimReport,
  ScanRow,
  SideWrites,
  StoredEvent,
  StoredIndexRow,
  TileInfo,
} from '../store.js';
import {
  archiveRowProblem,
  checkCursorName,
  checkCursorSeq,
  PERSONAL_INDEX_COLUMNS,
  tileKey,
} from '../store.js';
import {
  apiKeyOf,
  APPROVAL_COLUMNS,
  approvalOf,
  approvalValues,
  bytes,
  checkpointOf,
  MAX_TILE_LEVEL,
  NO_BYTES,
  type Row,
} from '../sql-rows.js';
import { POSTGRES_MIGRATIONS } from './migrations.js';

type Client = pg.PoolClient;

/** A schema name used unquoted-safe in SQL: lower-case letters, digits and `_`, at most 63. */
const SCHEMA_RE = /^[a-z_][a-z0-9_]{0,62}$/;

export interface PostgresStoreOptions {
  /** The schema holding the tables (created when absent unless read-only); default `auditrail`. */
  schema?: string;
  /** Open read-only: no migration, no log creation; every transaction is `READ ONLY`. */
  readonly?: boolean;
  /** Connections in the pool; default 10. */
  maxConnections?: number;
}

/** The URL as safe to print: no user, password or query (STYLE 5: never echo a connection URL). */
export function displayPostgresUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '(PostgreSQL URL)';
  }
}

/** PostgreSQL error classes (SQLSTATE) that mean something to a caller. */
function codeOf(e: unknown): AuditErrorCode {
  const state = (e as { code?: unknown }).code;
  if (state === '25006') return 'read_only'; // read_only_sql_transaction
  if (state === '57014') return 'timeout'; // query_canceled (statement_timeout)
  if (state === '23505') return 'conflict'; // unique_violation
  return 'store_failure';
}

/** An AuditError as is; a pg or socket error wrapped with `what` (its message names no secret). */
function storeError(e: unknown, what: string): AuditError {
  if (e instanceof AuditError) return e;
  const message = e instanceof Error ? e.message : String(e);
  return new AuditError(codeOf(e), `${what}: ${message}`, { cause: e });
}

// INT8 (oid 20) as a number: every seq, size and id stays below 2^53 (core checks it), and a
// value read back from a tampered row is compared, never used as an index unchecked.
function parserOf(oid: number, format?: 'text' | 'binary'): (v: string) => unknown {
  if (oid === 20) return (v: string) => Number(v);
  return pg.types.getTypeParser(oid, format ?? 'text') as (v: string) => unknown;
}
const TYPES = { getTypeParser: parserOf as typeof pg.types.getTypeParser };

/**
 * Leaf hashes of entry rows (ascending seq from `from`) up to the first missing seq: a deleted
 * entry shortens the level-0 partial tile there instead of shifting later hashes into its place.
 */
function contiguousLeafHashes(rows: readonly Row[], from: number): Buffer[] {
  const out: Buffer[] = [];
  for (const r of rows) {
    if (Number(r['seq']) !== from + out.length) break;
    out.push(bytes(r['leaf_hash']));
  }
  return out;
}

function headOf(r: Row): LogHead {
  return {
    logId: r['log_id'] as number,
    origin: r['origin'] as string,
    tenant: r['tenant'] as string,
    size: r['tree_size'] as number,
    root: bytes(r['root_hash']),
    rightEdge: bytes(r['right_edge']),
    lastTs: (r['last_ts'] as string | null) ?? null,
  };
}

function entryOf(r: Row): EntryRow {
  return {
    seq: r['seq'] as number,
    leaf: bytes(r['leaf']),
    leafHash: bytes(r['leaf_hash']),
    eid: r['eid'] as string,
    type: r['type'] as string,
    ts: r['ts'] as string,
  };
}

function disclosureOf(r: Row): DisclosureRow {
  return {
    seq: r['seq'] as number,
    unit: r['unit'] as number,
    pointer: r['pointer'] as string,
    disclosure: r['disclosure'] === null || r['disclosure'] === undefined ? null : bytes(r['disclosure']),
    erasedBySeq: (r['erased_by_seq'] as number | null) ?? null,
  };
}

/** Joins disclosure rows (sorted by seq, unit) onto entries (sorted by seq). */
function attach(entries: EntryRow[], ds: Row[]): StoredEvent[] {
  const out: StoredEvent[] = [];
  let j = 0;
  for (const entry of entries) {
    while (j < ds.length && (ds[j]!['seq'] as number) < entry.seq) j++;
    const list: DisclosureRow[] = [];
    while (j < ds.length && (ds[j]!['seq'] as number) === entry.seq) list.push(disclosureOf(ds[j++]!));
    out.push({ entry, disclosures: list });
  }
  return out;
}

const INDEX_COLUMNS =
  'seq, ts, type, tenant, session_id, run_id, trace_id, actor_id, action_type, target, decision, status, risk, time, subjects';

function indexRowOf(r: Row): StoredIndexRow {
  return {
    seq: r['seq'],
    ts: r['ts'],
    type: r['type'],
    tenant: r['tenant'],
    session_id: r['session_id'],
    run_id: r['run_id'],
    trace_id: r['trace_id'],
    actor_id: r['actor_id'],
    action_type: r['action_type'],
    target: r['target'],
    decision: r['decision'],
    status: r['status'],
    risk: r['risk'],
    time: r['time'],
    subjects: r['subjects'],
  } as StoredIndexRow;
}

/** Element types of {@link binaryArray}: PostgreSQL type oids. */
const OID = { int4: 23, int8: 20, text: 25, bytea: 17 } as const;

/**
 * A one-dimensional array parameter in PostgreSQL's binary array format (array_recv): the driver
 * sends a Buffer as binary, so the server neither parses array text nor hex-decodes bytea, and
 * this side does not hex-encode and quote (the large arrays of an append). Numbers are safe
 * integers (checked by core); null is SQL NULL.
 */
function binaryArray(oid: number, values: readonly (string | number | Buffer | null | undefined)[]): Buffer {
  // Two passes: the sizes, then one buffer written in place (no allocation per element).
  const fixed = oid === OID.int8 ? 8 : oid === OID.int4 ? 4 : -1;
  let size = 20;
  let nulls = 0;
  for (const v of values) {
    size += 4;
    if (v === null || v === undefined) nulls = 1;
    else if (fixed > 0) size += fixed;
    else size += Buffer.isBuffer(v) ? v.length : Buffer.byteLength(String(v), 'utf8');
  }
  const out = Buffer.allocUnsafe(size);
  out.writeInt32BE(1, 0); // one dimension
  out.writeInt32BE(nulls, 4);
  out.writeUInt32BE(oid, 8);
  out.writeInt32BE(values.length, 12);
  out.writeInt32BE(1, 16); // lower bound
  let at = 20;
  for (const v of values) {
    if (v === null || v === undefined) {
      at = out.writeInt32BE(-1, at);
    } else if (oid === OID.int8) {
      at = out.writeInt32BE(8, at);
      at = out.writeBigInt64BE(BigInt(v as number), at);
    } else if (oid === OID.int4) {
      at = out.writeInt32BE(4, at);
      at = out.writeInt32BE(v as number, at);
    } else if (Buffer.isBuffer(v)) {
      at = out.writeInt32BE(v.length, at);
      at += v.copy(out, at);
    } else {
      const n = out.write(String(v), at + 4, 'utf8');
      out.writeInt32BE(n, at);
      at += 4 + n;
    }
  }
  return out;
}

/** Index rows as column arrays, for one `INSERT ... SELECT FROM unnest(...)`. */
function indexArrays(rows: readonly { x: IndexRow; ts: string; type: string }[]): unknown[][] {
  const cols: unknown[][] = Array.from({ length: 15 }, () => []);
  for (const { x, ts, type } of rows) {
    const values = [
      x.seq,
      ts,
      type,
      x.tenant,
      x.session_id,
      x.run_id,
      x.trace_id,
      x.actor_id,
      x.action_type,
      x.target,
      x.decision,
      x.status,
      x.risk,
      x.time,
      x.subjects,
    ];
    values.forEach((v, i) => cols[i]!.push(v ?? null));
  }
  return cols;
}

const INSERT_EVENTS = `INSERT INTO events (log_id, ${INDEX_COLUMNS})
  SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
    $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[],
    $16::text[])`;

const UPSERT_TILES = `INSERT INTO tiles (log_id, level, idx, width, hashes)
  SELECT $1, * FROM unnest($2::int[], $3::bigint[], $4::int[], $5::bytea[])
  ON CONFLICT (log_id, level, idx) DO UPDATE SET width = EXCLUDED.width, hashes = EXCLUDED.hashes`;

/**
 * What an append reads under the log's lock (see PostgresStore.appendContext), one row per item:
 * `e` an entry stored under one of the event ids $2, `l` a leaf hash of seq $3 … $4 - 1 (the
 * level-0 partial tile; $3 = $4 reads none), `t` a stored tile (level, idx) of $5, $6.
 */
const APPEND_CONTEXT = `SELECT 'e' AS k, NULL::int AS level, seq, eid, leaf_hash AS hash FROM entries
    WHERE log_id = $1 AND eid = ANY($2::text[])
  UNION ALL SELECT 'l', NULL, seq, NULL, leaf_hash FROM entries
    WHERE log_id = $1 AND seq >= $3 AND seq < $4
  UNION ALL SELECT 't', t.level, t.idx, NULL, t.hashes FROM tiles t
    JOIN unnest($5::int[], $6::bigint[]) AS w(level, idx) ON t.level = w.level AND t.idx = w.idx
    WHERE t.log_id = $1
  ORDER BY 1, 3`;

/**
 * Everything an append writes, in one statement: entries ($2-$7), disclosures ($8-$11), index
 * rows ($12-$26), tiles ($27-$30) and the head ($31-$34), moved only from the size it was
 * locked at ($35). The rows of the head update are what the caller checks.
 */
const APPEND_WRITE = `WITH
  e AS (INSERT INTO entries (log_id, seq, leaf, leaf_hash, eid, type, ts)
    SELECT $1, * FROM unnest($2::bigint[], $3::bytea[], $4::bytea[], $5::text[], $6::text[], $7::text[])),
  d AS (INSERT INTO disclosures (log_id, seq, unit, pointer, disclosure)
    SELECT $1, * FROM unnest($8::bigint[], $9::int[], $10::text[], $11::bytea[])),
  x AS (INSERT INTO events (log_id, ${INDEX_COLUMNS})
    SELECT $1, * FROM unnest($12::bigint[], $13::text[], $14::text[], $15::text[], $16::text[], $17::text[],
      $18::text[], $19::text[], $20::text[], $21::text[], $22::text[], $23::text[], $24::text[], $25::text[],
      $26::text[])),
  t AS (INSERT INTO tiles (log_id, level, idx, width, hashes)
    SELECT $1, * FROM unnest($27::int[], $28::bigint[], $29::int[], $30::bytea[])
    ON CONFLICT (log_id, level, idx) DO UPDATE SET width = EXCLUDED.width, hashes = EXCLUDED.hashes)
  UPDATE logs SET tree_size = $31, root_hash = $32, right_edge = $33, last_ts = $34
    WHERE log_id = $1 AND tree_size = $35`;

const FILTER_COLUMNS: Record<keyof EventFilter, string> = {
  tenant: 'tenant',
  session_id: 'session_id',
  run_id: 'run_id',
  trace_id: 'trace_id',
  actor_id: 'actor_id',
  action_type: 'action_type',
  target: 'target',
  type: 'type',
  decision: 'decision',
  status: 'status',
  risk: 'risk',
  since: 'ts',
  until: 'ts',
  subject: 'subjects',
};

/** A WHERE clause with its parameters and the glob tests SQL cannot decide (run here, on candidates). */
interface Where {
  sql: string;
  args: unknown[];
  rest: { column: string; match: StringMatcher }[];
}

/**
 * The PostgreSQL store (scale-out: several collectors on one database). One pool; each append is
 * one transaction that locks the log's row (`SELECT ... FOR UPDATE`), so appends to one log
 * serialize across connections and processes while appends to other logs run in parallel. Commits
 * are durable (`synchronous_commit = on`, set on every connection). Tables live in `schema`.
 *
 * @example
 * const store = await PostgresStore.open('postgres://127.0.0.1:5432/audit', { schema: 'acme' });
 */
export class PostgresStore implements AuditStore {
  readonly kind = 'postgres' as const;
  readonly schema: string;
  readonly readonly: boolean;
  /** The URL without credentials (printed in messages). */
  readonly location: string;
  readonly parallelReads = false;
  readonly pool: pg.Pool;
  private closed = false;
  /**
   * False for a schema opened read-only before migration 3 (no `events.subjects`: it reads as
   * NULL, a subject filter matches nothing) or 4 (no `archives`: nothing is archived).
   */
  private hasSubjects = true;
  private hasArchives = true;

  private constructor(url: string, options: PostgresStoreOptions) {
    const schema = options.schema ?? 'auditrail';
    if (!SCHEMA_RE.test(schema)) {
      throw new AuditError(
        'invalid_argument',
        'schema must be 1-63 characters of lower-case letters, digits or "_", not starting with a digit',
      );
    }
    let protocol = '';
    try {
      protocol = new URL(url).protocol;
    } catch {
      // Not a URL at all: refused below, without echoing it (it may hold a password).
    }
    if (protocol !== 'postgres:' && protocol !== 'postgresql:')
      throw new AuditError('invalid_argument', 'the PostgreSQL location is not a valid postgres:// URL');
    this.schema = schema;
    this.readonly = options.readonly ?? false;
    this.location = displayPostgresUrl(url);
    const settings = [
      `-c search_path=${schema}`,
      // An acknowledged append is on disk (and on a synchronous standby when one is configured).
      '-c synchronous_commit=on',
      ...(this.readonly ? ['-c default_transaction_read_only=on'] : []),
    ];
    this.pool = new pg.Pool({
      connectionString: url,
      max: options.maxConnections ?? 10,
      options: settings.join(' '),
      types: TYPES,
      connectionTimeoutMillis: 10_000,
    });
    // An idle connection that dies (server restart) must not crash the process; the next query reconnects.
    this.pool.on('error', () => undefined);
  }

  /**
   * Connects, checks the schema and applies missing migrations (one transaction, under an
   * advisory lock, so processes opening a new database at once apply each exactly once).
   */
  static async open(url: string, options: PostgresStoreOptions = {}): Promise<PostgresStore> {
    const store = new PostgresStore(url, options);
    try {
      await store.prepareSchema();
      return store;
    } catch (e) {
      await store.pool.end().catch(() => undefined);
      throw storeError(e, `cannot open ${store.location} (schema ${store.schema})`);
    }
  }

  private async prepareSchema(): Promise<void> {
    const client = await this.pool.connect();
    try {
      // Everything applied already (the usual open, and the only one an ingest role without
      // CREATE can make): checked without any DDL.
      if ((await this.checkMigrations(client, false)) === 0 || this.readonly) return;
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`auditrail:${this.schema}`]);
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${this.schema}`);
      await this.checkMigrations(client, true);
      await client.query('COMMIT');
    } catch (e) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      client.release();
    }
  }

  /** Refuses a schema of something else or an altered one; applies what is missing when `apply`. */
  private async checkMigrations(client: Client, apply: boolean): Promise<number> {
    const tables = new Set(
      (
        await client.query<{ t: string }>(
          'SELECT table_name AS t FROM information_schema.tables WHERE table_schema = $1',
          [this.schema],
        )
      ).rows.map((r) => r.t),
    );
    if (tables.size === 0 && !apply && this.readonly) {
      throw new AuditError(
        'not_audit_database',
        `schema ${this.schema} of ${this.location} holds no auditrail tables`,
      );
    }
    if (tables.size > 0 && (!tables.has('migrations') || !tables.has('logs'))) {
      throw new AuditError(
        'not_audit_database',
        `schema ${this.schema} of ${this.location} holds tables of something else; refusing to use it`,
      );
    }
    if (tables.size === 0 && !apply) return POSTGRES_MIGRATIONS.length;
    if (apply) {
      await client.query(
        'CREATE TABLE IF NOT EXISTS migrations (id INTEGER PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at TEXT NOT NULL)',
      );
    }
    const applied = new Map(
      (await client.query<{ id: number; checksum: string }>('SELECT id, checksum FROM migrations')).rows.map(
        (r) => [r.id, r.checksum],
      ),
    );
    let pending = 0;
    for (const m of POSTGRES_MIGRATIONS) {
      const checksum = createHash('sha256').update(m.sql).digest('hex');
      const have = applied.get(m.id);
      if (have !== undefined && have !== checksum) {
        throw new AuditError(
          'store_failure',
          `migration ${m.id} (${m.name}) in schema ${this.schema} has checksum ${have}, expected ${checksum}: the schema was altered`,
        );
      }
      if (have === undefined) pending++;
      if (have === undefined && !apply && this.readonly && tables.size > 0) {
        if (m.name === 'subject-tags') this.hasSubjects = false;
        if (m.name === 'cold-archive') this.hasArchives = false;
      }
      if (have === undefined && apply) {
        await client.query(m.sql);
        await client.query(
          'INSERT INTO migrations (id, name, checksum, applied_at) VALUES ($1, $2, $3, $4)',
          [m.id, m.name, checksum, new Date().toISOString()],
        );
      }
    }
    return pending;
  }

  /** Migrations recorded in this schema, with their checksums. */
  async migrations(): Promise<{ id: number; name: string; checksum: string }[]> {
    return this.rows<{ id: number; name: string; checksum: string }>(
      'SELECT id, name, checksum FROM migrations ORDER BY id',
      [],
      'read migrations',
    );
  }

  private async rows<R extends Row = Row>(sql: string, args: unknown[], what: string): Promise<R[]> {
    if (this.closed) throw new AuditError('closed', `cannot ${what}: the store is closed`);
    try {
      return (await this.pool.query<R>(sql, args)).rows;
    } catch (e) {
      throw storeError(e, `cannot ${what}`);
    }
  }

  /** Runs `fn` in one transaction on one connection; rolls back when it throws. */
  private async tx<T>(what: string, fn: (c: Client) => Promise<T>): Promise<T> {
    if (this.closed) throw new AuditError('closed', `cannot ${what}: the store is closed`);
    let client: Client;
    try {
      client = await this.pool.connect();
    } catch (e) {
      throw storeError(e, `cannot ${what}`);
    }
    try {
      await client.query('BEGIN');
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (e) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw storeError(e, `cannot ${what}`);
    } finally {
      client.release();
    }
  }

  private refuseReadonly(what: string): void {
    if (this.readonly)
      throw new AuditError('read_only', `cannot ${what}: ${this.location} is open read-only`);
  }

  async openLog(origin: string, tenant: string, emptyRoot: Buffer): Promise<LogHead> {
    const existing = await this.getLog(origin);
    if (existing) return existing;
    if (this.readonly) {
      const present = (await this.listLogs()).map((h) => h.origin);
      throw new AuditError(
        'not_found',
        `log ${origin} does not exist in ${this.location} (logs present: ${present.length > 0 ? present.join(', ') : 'none'})`,
      );
    }
    // Another process may create it at the same moment: the unique origin lets one insert win.
    await this.rows(
      `INSERT INTO logs (origin, tenant, tree_size, root_hash, right_edge, created_at)
       VALUES ($1, $2, 0, $3, $4, $5) ON CONFLICT (origin) DO NOTHING`,
      [origin, tenant, emptyRoot, NO_BYTES, new Date().toISOString()],
      `open log ${origin}`,
    );
    const head = await this.getLog(origin);
    if (!head) throw new AuditError('store_failure', `log ${origin} was not created`);
    return head;
  }

  async getLog(origin: string): Promise<LogHead | undefined> {
    const r = await this.rows('SELECT * FROM logs WHERE origin = $1', [origin], `read log ${origin}`);
    return r[0] ? headOf(r[0]) : undefined;
  }

  async listLogs(): Promise<LogHead[]> {
    return (await this.rows('SELECT * FROM logs ORDER BY log_id', [], 'list logs')).map(headOf);
  }

  async append<T>(
    origin: string,
    eids: readonly string[],
    plan: (ctx: AppendContext) => { plan: AppendPlan; result: T },
    sideWrites?: SideWrites,
  ): Promise<T> {
    this.refuseReadonly(`append to ${origin}`);
    return this.tx(`append to ${origin}`, async (c) => {
      // The serialisation point of every writer of this log, in any process: its row lock,
      // held until COMMIT. Other logs' rows are not touched, so they append in parallel. Under
      // the lock: this statement, one that reads what the plan needs, one that writes, COMMIT.
      // The reads cannot join the locking statement: in READ COMMITTED its snapshot predates
      // the wait, so it would miss the entries of the writer it waited for.
      const row = (await c.query<Row>('SELECT * FROM logs WHERE origin = $1 FOR UPDATE', [origin])).rows[0];
      if (!row) throw new AuditError('not_found', `log ${origin} does not exist`);
      const head = headOf(row);
      const ctx = await this.appendContext(c, head, eids);
      const { plan: p, result } = plan(ctx);
      await this.write(c, head, p);
      for (const a of sideWrites?.approvals ?? []) await this.insertApproval(c, a);
      return result;
    });
  }

  /**
   * What the planner needs of the locked `head`, in one statement: entries already stored under
   * `eids`, the level-0 partial tile (unless this process's copy is of that head) and the level
   * ≥ 1 partial tiles an append of `eids.length` leaves completes a node of.
   */
  private async appendContext(c: Client, head: LogHead, eids: readonly string[]): Promise<AppendContext> {
    const seeds = appendSeeds(head.size, eids.length);
    const wanted = seeds.filter((t) => t.level > 0);
    const leaf = seeds.find((t) => t.level === 0);
    const known = this.leafTiles.get(head.logId);
    const cached = known && known.size === head.size && known.root.equals(head.root) ? known.hashes : null;
    const readLeaf = leaf !== undefined && leaf.width > 0 && cached === null;
    const existing = new Map<string, ExistingEntry>();
    const partialTiles: TileRow[] = [];
    if (eids.length === 0 && !readLeaf && wanted.length === 0) {
      if (leaf)
        partialTiles.push({ level: 0, index: leaf.index, width: leaf.width, hashes: cached ?? NO_BYTES });
      return { head, existing, partialTiles };
    }
    const from = partialLeafTile(head.size).from;
    const r = await c.query<Row>(APPEND_CONTEXT, [
      head.logId,
      binaryArray(OID.text, eids),
      readLeaf ? from : head.size,
      head.size,
      binaryArray(
        OID.int4,
        wanted.map((t) => t.level),
      ),
      binaryArray(
        OID.int8,
        wanted.map((t) => t.index),
      ),
    ]);
    const byKey = new Map<string, Buffer>();
    const leafRows: Row[] = [];
    for (const x of r.rows) {
      const kind = x['k'] as string;
      if (kind === 'e') {
        existing.set(x['eid'] as string, {
          seq: Number(x['seq']),
          leafHash: bytes(x['hash']),
          eid: x['eid'] as string,
        });
      } else if (kind === 'l') leafRows.push({ seq: Number(x['seq']), leaf_hash: x['hash'] });
      else byKey.set(tileKey(Number(x['level']), Number(x['seq'])), bytes(x['hash']));
    }
    if (leaf) {
      let hashes = cached ?? NO_BYTES;
      if (readLeaf) {
        const list = contiguousLeafHashes(leafRows, from);
        if (list.length !== leaf.width || list.some((h) => h.length !== 32)) {
          throw new AuditError(
            'store_failure',
            `the leaf hashes of entries ${from}…${head.size - 1} of ${head.origin} are missing or malformed (tile 0/${leaf.index})`,
          );
        }
        hashes = Buffer.concat(list);
        this.leafTiles.set(head.logId, { size: head.size, root: head.root, hashes });
      }
      partialTiles.push({ level: 0, index: leaf.index, width: leaf.width, hashes });
    }
    for (const t of wanted) {
      const hashes = byKey.get(tileKey(t.level, t.index));
      if (!hashes)
        throw new AuditError('store_failure', `tile ${t.level}/${t.index} of ${head.origin} is missing`);
      partialTiles.push({ level: t.level, index: t.index, width: hashes.length / 32, hashes });
    }
    return { head, existing, partialTiles };
  }

  /** The rows of an append, its tiles and the new head, in one statement. */
  private async write(c: Client, head: LogHead, p: AppendPlan): Promise<void> {
    if (p.entries.length === 0) return;
    const e = p.entries;
    const d = p.disclosures;
    const rows = p.index.map((x, i) => ({ x, ts: e[i]!.ts, type: e[i]!.type }));
    const tiles = p.tiles.filter((t) => t.level > 0 || t.width === 256);
    const index = indexArrays(rows);
    const r = await c.query(APPEND_WRITE, [
      head.logId,
      binaryArray(
        OID.int8,
        e.map((x) => x.seq),
      ),
      binaryArray(
        OID.bytea,
        e.map((x) => x.leaf),
      ),
      binaryArray(
        OID.bytea,
        e.map((x) => x.leafHash),
      ),
      binaryArray(
        OID.text,
        e.map((x) => x.eid),
      ),
      binaryArray(
        OID.text,
        e.map((x) => x.type),
      ),
      binaryArray(
        OID.text,
        e.map((x) => x.ts),
      ),
      binaryArray(
        OID.int8,
        d.map((x) => x.seq),
      ),
      binaryArray(
        OID.int4,
        d.map((x) => x.unit),
      ),
      binaryArray(
        OID.text,
        d.map((x) => x.pointer),
      ),
      binaryArray(
        OID.bytea,
        d.map((x) => x.disclosure),
      ),
      binaryArray(OID.int8, index[0] as number[]),
      ...index.slice(1).map((col) => binaryArray(OID.text, col as (string | null)[])),
      binaryArray(
        OID.int4,
        tiles.map((t) => t.level),
      ),
      binaryArray(
        OID.int8,
        tiles.map((t) => t.index),
      ),
      binaryArray(
        OID.int4,
        tiles.map((t) => t.width),
      ),
      binaryArray(
        OID.bytea,
        tiles.map((t) => t.hashes),
      ),
      p.head.size,
      p.head.root,
      p.head.rightEdge,
      p.head.lastTs,
      head.size,
    ]);
    if (r.rowCount !== 1) throw new AuditError('conflict', `log ${head.origin} moved during append`);
    // Kept for this process's next append, checked against the locked head then: another
    // collector's commit (or a rollback) only costs a read.
    const leaf = p.tiles.find((t) => t.level === 0 && t.width < 256);
    this.leafTiles.set(head.logId, {
      size: p.head.size,
      root: p.head.root,
      hashes: leaf?.hashes ?? Buffer.alloc(0),
    });
  }

  /** The level-0 partial tile of each log as this process last wrote it, with its head. */
  private readonly leafTiles = new Map<number, { size: number; root: Buffer; hashes: Buffer }>();

  /** Where the level-0 partial tile of a log lies, by its stored head (width 0: none). */
  private async leafTileAt(
    logId: number,
  ): Promise<{ index: number; width: number; from: number; size: number }> {
    const r = await this.rows('SELECT tree_size FROM logs WHERE log_id = $1', [logId], 'read the log head');
    const n = Number(r[0]?.['tree_size'] ?? 0);
    const size = Number.isSafeInteger(n) && n >= 0 ? n : 0;
    return { ...partialLeafTile(size), size };
  }

  private async upsertTiles(c: Client, logId: number, tiles: readonly TileRow[]): Promise<void> {
    await c.query(UPSERT_TILES, [
      logId,
      tiles.map((t) => t.level),
      tiles.map((t) => t.index),
      tiles.map((t) => t.width),
      tiles.map((t) => t.hashes),
    ]);
  }

  private async insertApproval(c: Client, a: ApprovalRow): Promise<void> {
    const r = await c.query(
      `INSERT INTO approvals (${APPROVAL_COLUMNS}) VALUES (${approvalValues(a)
        .map((_, i) => `$${i + 1}`)
        .join(', ')}) ON CONFLICT (id) DO NOTHING`,
      approvalValues(a),
    );
    if (r.rowCount !== 1) throw new AuditError('conflict', `approval ${a.id} exists`);
  }

  private async events(logId: number, where: string, args: unknown[], what: string): Promise<StoredEvent[]> {
    const entries = (
      await this.rows(
        `SELECT seq, leaf, leaf_hash, eid, type, ts FROM entries WHERE log_id = $1 AND ${where} ORDER BY seq`,
        [logId, ...args],
        what,
      )
    ).map(entryOf);
    if (entries.length === 0) return [];
    const from = entries[0]!.seq;
    const to = entries[entries.length - 1]!.seq + 1;
    const ds = await this.rows(
      `SELECT seq, unit, pointer, disclosure, erased_by_seq FROM disclosures
       WHERE log_id = $1 AND seq >= $2 AND seq < $3 ORDER BY seq, unit`,
      [logId, from, to],
      what,
    );
    return attach(entries, ds);
  }

  readEvents(logId: number, from: number, to: number): Promise<StoredEvent[]> {
    return this.events(logId, 'seq >= $2 AND seq < $3', [from, to], 'read events');
  }

  async getBySeq(logId: number, seq: number): Promise<StoredEvent | undefined> {
    return (await this.events(logId, 'seq = $2', [seq], `read entry ${seq}`))[0];
  }

  async getByEid(logId: number, eid: string): Promise<StoredEvent | undefined> {
    if (hasLoneSurrogate(eid)) return undefined;
    return (await this.events(logId, 'eid = $2', [eid], `read event ${eid}`))[0];
  }

  async getByEids(logId: number, eids: readonly string[]): Promise<StoredEvent[]> {
    const ids = eids.filter((e) => !hasLoneSurrogate(e));
    if (ids.length === 0) return [];
    return this.events(logId, 'eid = ANY($2::text[])', [binaryArray(OID.text, ids)], 'read events by id');
  }

  /** The smallest seq whose ts is >= `ts` (the log size when none): ts never decreases along seq. */
  private async firstSeqAtOrAfter(logId: number, ts: string): Promise<number> {
    const r = await this.rows(
      'SELECT min(seq) AS s FROM entries WHERE log_id = $1 AND ts >= $2',
      [logId, ts],
      'find a time bound',
    );
    const size = (
      await this.rows('SELECT tree_size FROM logs WHERE log_id = $1', [logId], 'read the log')
    )[0];
    return (r[0]?.['s'] as number | null) ?? (size?.['tree_size'] as number | undefined) ?? 0;
  }

  private async where(logId: number, filter: EventFilter): Promise<Where> {
    const clauses = ['v.log_id = $1'];
    const args: unknown[] = [logId];
    const rest: Where['rest'] = [];
    const arg = (v: unknown): string => {
      args.push(v);
      return `$${args.length}`;
    };
    for (const [k, v] of Object.entries(filter) as [
      keyof EventFilter,
      string | readonly string[] | undefined,
    ][]) {
      if (v === undefined) continue;
      const col = FILTER_COLUMNS[k];
      if (!col) continue;
      if (typeof v !== 'string') {
        // Any of several values (a person's id in plain and as its tag).
        const vals = v.filter((x) => typeof x === 'string' && !hasLoneSurrogate(x));
        clauses.push(vals.length === 0 ? 'FALSE' : `v.${col} = ANY(${arg(vals)}::text[])`);
        continue;
      }
      if (hasLoneSurrogate(v)) {
        // Stored values are well-formed, so nothing equals or matches it.
        clauses.push('FALSE');
        continue;
      }
      if (k === 'subject') {
        // One tag among the space-separated tags of the row (the partial index skips rows without).
        clauses.push(
          this.hasSubjects
            ? `v.subjects IS NOT NULL AND strpos(' ' || v.subjects || ' ', ${arg(` ${v} `)}) > 0`
            : 'FALSE',
        );
      } else if (k === 'since' || k === 'until') {
        const op = k === 'since' ? '>=' : '<';
        clauses.push(`v.seq ${op} ${arg(await this.firstSeqAtOrAfter(logId, v))} AND v.ts ${op} ${arg(v)}`);
      } else if ((k === 'action_type' || k === 'target' || k === 'type') && isFilterGlob(v)) {
        // Native conditions every match meets (a code point range for the literal prefix, each
        // literal piece occurring), then the shared matcher on what is left.
        const prefix = filterGlobPrefix(v);
        const upper = prefixUpperBound(prefix);
        const c = `v.${col}`;
        clauses.push(prefix !== '' ? `${c} COLLATE "C" >= ${arg(prefix)}` : `${c} IS NOT NULL`);
        if (upper !== null) clauses.push(`${c} COLLATE "C" < ${arg(upper)}`);
        const pieces = [
          ...new Set(
            v
              .slice(prefix.length)
              .split(/[*?]+/)
              .filter((p) => p !== ''),
          ),
        ];
        for (const piece of pieces) clauses.push(`strpos(${c}, ${arg(piece)}) > 0`);
        rest.push({ column: col, match: compileFilterGlob(v) });
      } else clauses.push(`v.${col} = ${arg(v)}`);
    }
    return { sql: clauses.join(' AND '), args, rest };
  }

  /**
   * The seqs of a filtered page. Globs SQL cannot decide are tested here, on keyset pages of
   * candidates (bounded reads, however few rows match).
   */
  private async pageSeqs(
    w: Where,
    options: { after?: number; before?: number; limit: number; order: 'asc' | 'desc' },
  ): Promise<number[]> {
    const dir = options.order === 'desc' ? 'DESC' : 'ASC';
    const bounds = (after: number | undefined, before: number | undefined, args: unknown[]): string => {
      let sql = '';
      if (after !== undefined) {
        args.push(after);
        sql += ` AND v.seq > $${args.length}`;
      }
      if (before !== undefined) {
        args.push(before);
        sql += ` AND v.seq < $${args.length}`;
      }
      return sql;
    };
    if (w.rest.length === 0) {
      const args = [...w.args];
      const b = bounds(options.after, options.before, args);
      args.push(options.limit);
      const r = await this.rows(
        `SELECT v.seq FROM events v WHERE ${w.sql}${b} ORDER BY v.seq ${dir} LIMIT $${args.length}`,
        args,
        'query events',
      );
      return r.map((x) => x['seq'] as number);
    }
    const out: number[] = [];
    let after = options.after;
    let before = options.before;
    const cols = [...new Set(w.rest.map((r) => r.column))].map((c) => `v.${c}`).join(', ');
    const chunk = Math.max(256, options.limit * 4);
    for (;;) {
      const args = [...w.args];
      const b = bounds(after, before, args);
      args.push(chunk);
      const r = await this.rows(
        `SELECT v.seq, ${cols} FROM events v WHERE ${w.sql}${b} ORDER BY v.seq ${dir} LIMIT $${args.length}`,
        args,
        'query events',
      );
      for (const row of r) {
        if (w.rest.every((t) => typeof row[t.column] === 'string' && t.match(row[t.column] as string))) {
          out.push(row['seq'] as number);
          if (out.length >= options.limit) return out;
        }
      }
      if (r.length < chunk) return out;
      const last = r[r.length - 1]!['seq'] as number;
      if (dir === 'ASC') after = last;
      else before = last;
    }
  }

  async query(
    logId: number,
    filter: EventFilter,
    options: { after?: number; before?: number; limit: number; order: 'asc' | 'desc' },
  ): Promise<ListedEvent[]> {
    const w = await this.where(logId, filter);
    const seqs = await this.pageSeqs(w, options);
    if (seqs.length === 0) return [];
    const entries = await this.rows(
      `SELECT e.seq, e.leaf_hash, e.eid, e.type, e.ts FROM entries e
       WHERE e.log_id = $1 AND e.seq = ANY($2::bigint[])`,
      [logId, seqs],
      'query events',
    );
    const ds = await this.rows(
      `SELECT seq, unit, pointer, disclosure, erased_by_seq FROM disclosures
       WHERE log_id = $1 AND seq = ANY($2::bigint[]) ORDER BY seq, unit`,
      [logId, seqs],
      'query events',
    );
    const bySeq = new Map<number, ListedEvent>();
    for (const r of entries) {
      bySeq.set(r['seq'] as number, {
        entry: { ...entryOf({ ...r, leaf: null }), leaf: NO_BYTES },
        disclosures: [],
      });
    }
    for (const r of ds) bySeq.get(r['seq'] as number)?.disclosures.push(disclosureOf(r));
    // An index row without its entry lists nothing (verify reports it as index_extra).
    return seqs.map((s) => bySeq.get(s)).filter((x): x is ListedEvent => x !== undefined);
  }

  async countEvents(logId: number, filter: EventFilter): Promise<number> {
    const w = await this.where(logId, filter);
    if (w.rest.length === 0) {
      const r = await this.rows(`SELECT count(*) AS n FROM events v WHERE ${w.sql}`, w.args, 'count events');
      return r[0]?.['n'] as number;
    }
    let n = 0;
    let after: number | undefined;
    const page = 10_000;
    for (;;) {
      const seqs = await this.pageSeqs(w, {
        ...(after !== undefined ? { after } : {}),
        limit: page,
        order: 'asc',
      });
      n += seqs.length;
      if (seqs.length < page) return n;
      after = seqs[seqs.length - 1]!;
    }
  }

  async eraseDisclosures(
    logId: number,
    units: readonly { seq: number; unit: number }[],
    bySeq: number,
    erasedAt: string,
  ): Promise<number> {
    this.refuseReadonly('erase disclosures');
    if (units.length === 0) return 0;
    return this.tx('erase disclosures', async (c) => {
      // The one update the disclosures_erase_only trigger lets through.
      const r = await c.query<{ seq: number }>(
        `UPDATE disclosures d SET disclosure = NULL, erased_by_seq = $2, erased_at = $3
         FROM unnest($4::bigint[], $5::int[]) AS u(seq, unit)
         WHERE d.log_id = $1 AND d.seq = u.seq AND d.unit = u.unit AND d.disclosure IS NOT NULL
         RETURNING d.seq`,
        [logId, bySeq, erasedAt, units.map((u) => u.seq), units.map((u) => u.unit)],
      );
      // The index columns read from what is now erased go with it, in the same transaction.
      const seqs = [...new Set(r.rows.map((x) => x.seq))];
      if (seqs.length > 0) {
        const erased = await c.query<{ seq: number; pointers: string[] }>(
          `SELECT seq, array_agg(pointer) AS pointers FROM disclosures
           WHERE log_id = $1 AND seq = ANY($2::bigint[]) AND disclosure IS NULL GROUP BY seq`,
          [logId, seqs],
        );
        for (const { seq, pointers } of erased.rows) {
          const cols = erasedIndexColumns(pointers);
          if (cols.length === 0) continue;
          await c.query(
            `UPDATE events SET ${cols.map((col) => `${col} = NULL`).join(', ')} WHERE log_id = $1 AND seq = $2`,
            [logId, seq],
          );
        }
      }
      return r.rowCount ?? 0;
    });
  }

  async listArchives(logId: number): Promise<ArchiveRow[]> {
    if (!this.hasArchives) return [];
    const r = await this.rows(
      'SELECT from_seq, to_seq, by_seq, manifest_sha256, created_at FROM archives WHERE log_id = $1 ORDER BY from_seq',
      [logId],
      'list archives',
    );
    return r.map((x) => ({
      from: x['from_seq'] as number,
      to: x['to_seq'] as number,
      bySeq: x['by_seq'] as number,
      manifestSha256: x['manifest_sha256'] as string,
      createdAt: x['created_at'] as string,
    }));
  }

  async addArchive(logId: number, row: ArchiveRow): Promise<void> {
    this.refuseReadonly('record an archive');
    const problem = archiveRowProblem(row);
    if (problem) throw new AuditError('invalid_argument', problem);
    await this.tx('record an archive', async (c) => {
      // Records of one log are serialised by its row lock, so two overlapping ranges cannot both pass.
      await c.query('SELECT 1 FROM logs WHERE log_id = $1 FOR UPDATE', [logId]);
      const clash = (
        await c.query<Row>(
          'SELECT from_seq, to_seq FROM archives WHERE log_id = $1 AND from_seq < $2 AND to_seq > $3 LIMIT 1',
          [logId, row.to, row.from],
        )
      ).rows[0];
      if (clash) {
        throw new AuditError(
          'conflict',
          `seq ${row.from}..${row.to - 1} overlaps the archived range ${String(clash['from_seq'])}..${Number(clash['to_seq']) - 1}`,
        );
      }
      await c.query(
        `INSERT INTO archives (log_id, from_seq, to_seq, by_seq, manifest_sha256, created_at)
         VALUES ($1, $2, $3, $4, $5, $6)`,
        [logId, row.from, row.to, row.bySeq, row.manifestSha256, row.createdAt],
      );
    });
  }

  async dropArchivedRows(
    logId: number,
    from: number,
    to: number,
  ): Promise<{ disclosures: number; indexRows: number }> {
    this.refuseReadonly('drop archived rows');
    return this.tx('drop archived rows', async (c) => {
      const covering = await c.query(
        'SELECT 1 FROM archives WHERE log_id = $1 AND from_seq <= $2 AND to_seq >= $3 FOR SHARE',
        [logId, from, to],
      );
      if (covering.rows.length === 0) {
        throw new AuditError(
          'invalid_argument',
          `seq ${from}..${to - 1} is not inside one recorded archive: nothing dropped`,
        );
      }
      const d = await c.query('DELETE FROM disclosures WHERE log_id = $1 AND seq >= $2 AND seq < $3', [
        logId,
        from,
        to,
      ]);
      const x = await c.query('DELETE FROM events WHERE log_id = $1 AND seq >= $2 AND seq < $3', [
        logId,
        from,
        to,
      ]);
      return { disclosures: d.rowCount ?? 0, indexRows: x.rowCount ?? 0 };
    });
  }

  async restoreArchivedRows(
    logId: number,
    disclosures: readonly DisclosureRow[],
    index: readonly StoredIndexRow[],
  ): Promise<number> {
    this.refuseReadonly('restore archived rows');
    return this.tx('restore archived rows', async (c) => {
      let n = 0;
      if (disclosures.length > 0) {
        const d = disclosures;
        const r = await c.query(
          `INSERT INTO disclosures (log_id, seq, unit, pointer, disclosure, erased_by_seq)
           SELECT $1, * FROM unnest($2::bigint[], $3::int[], $4::text[], $5::bytea[], $6::bigint[])
           ON CONFLICT (log_id, seq, unit) DO NOTHING`,
          [
            logId,
            d.map((x) => x.seq),
            d.map((x) => x.unit),
            d.map((x) => x.pointer),
            d.map((x) => x.disclosure),
            d.map((x) => x.erasedBySeq),
          ],
        );
        n = r.rowCount ?? 0;
      }
      if (index.length > 0) {
        await c.query(`${INSERT_EVENTS} ON CONFLICT (log_id, seq) DO NOTHING`, [
          logId,
          ...indexArrays(index.map((x) => ({ x, ts: x.ts, type: x.type }))),
        ]);
      }
      return n;
    });
  }

  async removeArchive(logId: number, from: number): Promise<boolean> {
    this.refuseReadonly('remove an archive record');
    const r = await this.tx('remove an archive record', (c) =>
      c.query('DELETE FROM archives WHERE log_id = $1 AND from_seq = $2', [logId, from]),
    );
    return (r.rowCount ?? 0) > 0;
  }

  async getTiles(
    logId: number,
    keys: readonly { level: number; index: number }[],
  ): Promise<Map<string, Buffer>> {
    const out = new Map<string, Buffer>();
    if (keys.length === 0) return out;
    // The level-0 partial tile is read from the entries (a row stored for it before migration 6
    // is not read). The head is read first: entries never change, so a concurrent append can
    // only add rows this read does not ask for.
    const leaf = keys.some((k) => k.level === 0) ? await this.leafTileAt(logId) : undefined;
    const isLeafTile = (k: { level: number; index: number }): boolean =>
      leaf !== undefined && leaf.width > 0 && k.level === 0 && k.index === leaf.index;
    const storedKeys = keys.filter((k) => !isLeafTile(k));
    if (storedKeys.length > 0) {
      const r = await this.rows(
        `SELECT t.level, t.idx, t.hashes FROM tiles t
         JOIN unnest($2::int[], $3::bigint[]) AS k(level, idx) ON t.level = k.level AND t.idx = k.idx
         WHERE t.log_id = $1`,
        [logId, storedKeys.map((k) => k.level), storedKeys.map((k) => k.index)],
        'read tiles',
      );
      for (const t of r) out.set(tileKey(t['level'] as number, Number(t['idx'])), bytes(t['hashes']));
    }
    if (leaf && storedKeys.length < keys.length) {
      const r = await this.rows(
        'SELECT seq, leaf_hash FROM entries WHERE log_id = $1 AND seq >= $2 AND seq < $3 ORDER BY seq',
        [logId, leaf.from, leaf.size],
        'read the leaf hashes',
      );
      const hashes = contiguousLeafHashes(r, leaf.from);
      if (hashes.length > 0) out.set(tileKey(0, leaf.index), Buffer.concat(hashes));
    }
    return out;
  }

  async listTiles(logId: number, fromLeaf = 0): Promise<TileInfo[]> {
    // The level-0 partial tile: as many hashes as there are entries in its range (not stored).
    const leaf = await this.leafTileAt(logId);
    const tiles = (await this.storedTiles(logId, fromLeaf)).filter(
      (t) => !(t.level === 0 && leaf.width > 0 && t.index === leaf.index),
    );
    if (leaf.width > 0) {
      const r = await this.rows(
        'SELECT count(*) AS n FROM entries WHERE log_id = $1 AND seq >= $2 AND seq < $3',
        [logId, leaf.from, leaf.size],
        'count entries',
      );
      let count = Number(r[0]?.['n'] ?? 0);
      if (count !== leaf.width) {
        const seqs = await this.rows(
          'SELECT seq, leaf_hash FROM entries WHERE log_id = $1 AND seq >= $2 AND seq < $3 ORDER BY seq',
          [logId, leaf.from, leaf.size],
          'read the leaf hashes',
        );
        count = contiguousLeafHashes(seqs, leaf.from).length;
      }
      if (count > 0) tiles.push({ level: 0, index: leaf.index, width: count, bytes: count * 32 });
    }
    return tiles.sort((a, b) => a.level - b.level || a.index - b.index);
  }

  private async storedTiles(logId: number, fromLeaf: number): Promise<TileInfo[]> {
    const args: unknown[] = [logId];
    let where = '';
    if (fromLeaf > 0) {
      // Per level, from the tile holding leaf `fromLeaf` on; levels outside 0..6 are listed whole.
      const terms = [`level < 0`, `level > ${MAX_TILE_LEVEL}`];
      for (let level = 0; level <= MAX_TILE_LEVEL; level++) {
        args.push(Math.floor(fromLeaf / 256 ** (level + 1)));
        terms.push(`(level = ${level} AND idx >= $${args.length})`);
      }
      where = ` AND (${terms.join(' OR ')})`;
    }
    const r = await this.rows(
      `SELECT level, idx, width, octet_length(hashes) AS bytes FROM tiles WHERE log_id = $1${where} ORDER BY level, idx`,
      args,
      'list tiles',
    );
    return r.map((t) => ({
      level: t['level'] as number,
      index: t['idx'] as number,
      width: t['width'] as number,
      bytes: (t['bytes'] as number | null) ?? 0,
    }));
  }

  async putTiles(logId: number, tiles: readonly TileRow[]): Promise<void> {
    this.refuseReadonly('write tiles');
    // Not stored: the level-0 partial tile is read from the entries.
    const stored = tiles.filter((t) => t.level > 0 || t.width === 256);
    if (stored.length === 0) return;
    await this.tx('write tiles', (c) => this.upsertTiles(c, logId, stored));
  }

  async addCheckpoint(logId: number, row: CheckpointRow): Promise<void> {
    this.refuseReadonly('store a checkpoint');
    await this.rows(
      `INSERT INTO checkpoints (log_id, size, root_hash, note, created_at) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (log_id, size) DO NOTHING`,
      [logId, row.size, row.root, row.note, row.createdAt],
      'store the checkpoint',
    );
  }

  async listCheckpoints(logId: number): Promise<CheckpointRow[]> {
    return (
      await this.rows(
        'SELECT size, root_hash, note, created_at FROM checkpoints WHERE log_id = $1 ORDER BY size',
        [logId],
        'list checkpoints',
      )
    ).map(checkpointOf);
  }

  async latestCheckpoint(logId: number): Promise<CheckpointRow | undefined> {
    const r = await this.rows(
      'SELECT size, root_hash, note, created_at FROM checkpoints WHERE log_id = $1 ORDER BY size DESC LIMIT 1',
      [logId],
      'read the latest checkpoint',
    );
    return r[0] ? checkpointOf(r[0]) : undefined;
  }

  async *scan(logId: number, from: number, to: number, chunk: number): AsyncIterable<ScanRow[]> {
    for (let a = from; a < to; a += chunk) {
      const b = Math.min(to, a + chunk);
      yield await this.readEvents(logId, a, b);
    }
  }

  async storedSize(logId: number): Promise<{ count: number; maxSeq: number | null }> {
    const r = await this.rows(
      'SELECT count(*) AS n, max(seq) AS m FROM entries WHERE log_id = $1',
      [logId],
      'count entries',
    );
    return { count: r[0]?.['n'] as number, maxSeq: (r[0]?.['m'] as number | null) ?? null };
  }

  async lastSeq(logId: number): Promise<number | null> {
    const r = await this.rows(
      'SELECT max(seq) AS m FROM entries WHERE log_id = $1',
      [logId],
      'read the last seq',
    );
    return (r[0]?.['m'] as number | null) ?? null;
  }

  async readIndex(logId: number, after: number | null, limit: number): Promise<StoredIndexRow[]> {
    const cols = this.hasSubjects ? INDEX_COLUMNS : INDEX_COLUMNS.replace(/subjects$/, 'NULL AS subjects');
    const r =
      after === null
        ? await this.rows(
            `SELECT ${cols} FROM events WHERE log_id = $1 ORDER BY seq LIMIT $2`,
            [logId, limit],
            'read the index',
          )
        : await this.rows(
            `SELECT ${cols} FROM events WHERE log_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`,
            [logId, after, limit],
            'read the index',
          );
    return r.map(indexRowOf);
  }

  async replaceIndex(
    logId: number,
    from: number,
    to: number,
    rows: readonly StoredIndexRow[],
  ): Promise<void> {
    this.refuseReadonly('rebuild the index');
    await this.tx('rebuild the index', async (c) => {
      await c.query('DELETE FROM events WHERE log_id = $1 AND seq >= $2 AND seq < $3', [logId, from, to]);
      if (rows.length > 0)
        await c.query(INSERT_EVENTS, [
          logId,
          ...indexArrays(rows.map((x) => ({ x, ts: x.ts, type: x.type }))),
        ]);
    });
  }

  async clearIndexColumns(
    logId: number,
    seqs: readonly number[],
    columns: readonly PersonalIndexColumn[],
  ): Promise<number> {
    this.refuseReadonly('clear index columns');
    for (const c of columns)
      if (!(PERSONAL_INDEX_COLUMNS as readonly string[]).includes(c))
        throw new AuditError('invalid_argument', `${String(c)} is not a personal index column`);
    if (columns.length === 0 || seqs.length === 0) return 0;
    return this.tx('clear index columns', async (c) => {
      const r = await c.query(
        `UPDATE events SET ${columns.map((col) => `${col} = NULL`).join(', ')}
         WHERE log_id = $1 AND seq = ANY($2::bigint[])`,
        [logId, seqs],
      );
      return r.rowCount ?? 0;
    });
  }

  /**
   * `VACUUM` of the tables a purge shrinks (disclosures, events): their freed space becomes
   * reusable and trailing empty pages go back to the file system. With `compact`, `VACUUM FULL`
   * rewrites them (every freed byte back; the tables are locked meanwhile and need room for a copy).
   * Sizes are the schema's tables with their indexes and TOAST.
   */
  async reclaimSpace(options: { compact?: boolean } = {}): Promise<ReclaimReport> {
    this.refuseReadonly('reclaim space');
    const size = async (): Promise<number> =>
      ((
        await this.rows(
          `SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint AS n FROM pg_class c
           JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind = 'r'`,
          [this.schema],
          'measure the schema',
        )
      )[0]?.['n'] as number | undefined) ?? 0;
    const fileBytesBefore = await size();
    // VACUUM runs outside a transaction block: one statement on a pooled connection.
    await this.rows(`VACUUM ${options.compact ? 'FULL ' : ''}disclosures, events`, [], 'reclaim space');
    const fileBytesAfter = await size();
    return {
      mode: 'vacuum',
      freeBytes: Math.max(0, fileBytesBefore - fileBytesAfter),
      fileBytesBefore,
      fileBytesAfter,
    };
  }

  async pruneIndex(logId: number, size: number): Promise<number> {
    this.refuseReadonly('prune the index');
    return this.tx('prune the index', async (c) => {
      const r = await c.query('DELETE FROM events WHERE log_id = $1 AND NOT (seq >= 0 AND seq < $2)', [
        logId,
        size,
      ]);
      return r.rowCount ?? 0;
    });
  }

  async setHead(
    logId: number,
    head: { size: number; root: Buffer; rightEdge: Buffer; lastTs: string | null },
  ): Promise<void> {
    this.refuseReadonly('set the log head');
    await this.rows(
      'UPDATE logs SET tree_size = $1, root_hash = $2, right_edge = $3, last_ts = $4 WHERE log_id = $5',
      [head.size, head.root, head.rightEdge, head.lastTs, logId],
      'set the log head',
    );
  }

  async putApproval(a: ApprovalRow): Promise<void> {
    this.refuseReadonly('store an approval request');
    await this.tx('store an approval request', (c) => this.insertApproval(c, a));
  }

  async getApproval(id: string): Promise<ApprovalRow | undefined> {
    if (hasLoneSurrogate(id)) return undefined;
    const r = await this.rows('SELECT * FROM approvals WHERE id = $1', [id], `read approval ${id}`);
    return r[0] ? approvalOf(r[0]) : undefined;
  }

  async listApprovals(status?: ApprovalRow['status'], logOrigin?: string): Promise<ApprovalRow[]> {
    const clauses: string[] = [];
    const args: unknown[] = [];
    if (status !== undefined) {
      args.push(status);
      clauses.push(`status = $${args.length}`);
    }
    if (logOrigin !== undefined) {
      args.push(logOrigin);
      clauses.push(`log_origin = $${args.length}`);
    }
    const where = clauses.length > 0 ? `WHERE ${clauses.join(' AND ')}` : '';
    return (
      await this.rows(
        `SELECT * FROM approvals ${where} ORDER BY created_at COLLATE "C", id COLLATE "C"`,
        args,
        'list approvals',
      )
    ).map(approvalOf);
  }

  async updateApproval(
    id: string,
    from: ApprovalRow['status'],
    to: Partial<Pick<ApprovalRow, 'status' | 'decidedBy' | 'decidedAt' | 'reason'>>,
  ): Promise<boolean> {
    this.refuseReadonly('update an approval request');
    const r = await this.tx('update an approval request', (c) =>
      c.query(
        `UPDATE approvals SET status = coalesce($1, status), decided_by = coalesce($2, decided_by),
           decided_at = coalesce($3, decided_at), reason = coalesce($4, reason) WHERE id = $5 AND status = $6`,
        [to.status ?? null, to.decidedBy ?? null, to.decidedAt ?? null, to.reason ?? null, id, from],
      ),
    );
    return r.rowCount === 1;
  }

  async getCursor(logId: number, name: string): Promise<CursorRow | undefined> {
    if (hasLoneSurrogate(name)) return undefined;
    const r = await this.rows(
      'SELECT name, seq FROM cursors WHERE log_id = $1 AND name = $2',
      [logId, name],
      'read a cursor',
    );
    return r[0] ? { name: r[0]['name'] as string, seq: r[0]['seq'] as number } : undefined;
  }

  async setCursor(logId: number, name: string, seq: number, expectedSeq?: number | null): Promise<boolean> {
    const bad =
      checkCursorName(name) ??
      checkCursorSeq(seq) ??
      (expectedSeq === undefined || expectedSeq === null ? null : checkCursorSeq(expectedSeq));
    if (bad) throw new AuditError('invalid_argument', bad);
    this.refuseReadonly('move a cursor');
    let sql: string;
    let args: unknown[];
    if (expectedSeq === undefined) {
      sql = `INSERT INTO cursors (log_id, name, seq) VALUES ($1, $2, $3)
             ON CONFLICT (log_id, name) DO UPDATE SET seq = EXCLUDED.seq`;
      args = [logId, name, seq];
    } else if (expectedSeq === null) {
      sql =
        'INSERT INTO cursors (log_id, name, seq) VALUES ($1, $2, $3) ON CONFLICT (log_id, name) DO NOTHING';
      args = [logId, name, seq];
    } else {
      sql = 'UPDATE cursors SET seq = $1 WHERE log_id = $2 AND name = $3 AND seq = $4';
      args = [seq, logId, name, expectedSeq];
    }
    const r = await this.tx('move a cursor', (c) => c.query(sql, args));
    return r.rowCount === 1;
  }

  async listCursors(logId: number): Promise<CursorRow[]> {
    const r = await this.rows(
      'SELECT name, seq FROM cursors WHERE log_id = $1 ORDER BY name COLLATE "C"',
      [logId],
      'list cursors',
    );
    return r.map((x) => ({ name: x['name'] as string, seq: x['seq'] as number }));
  }

  async getMeta(key: string): Promise<string | undefined> {
    const r = await this.rows('SELECT value FROM meta WHERE key = $1', [key], 'read meta');
    return r[0]?.['value'] as string | undefined;
  }

  async setMeta(key: string, value: string): Promise<void> {
    this.refuseReadonly('write meta');
    await this.rows(
      'INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value',
      [key, value],
      'write meta',
    );
  }

  async addMeta(key: string, value: string): Promise<string> {
    this.refuseReadonly('write meta');
    return this.tx('write meta', async (c) => {
      await c.query('INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING', [
        key,
        value,
      ]);
      const r = await c.query<{ value: string }>('SELECT value FROM meta WHERE key = $1', [key]);
      return r.rows[0]!.value;
    });
  }

  async putApiKey(row: ApiKeyRow): Promise<void> {
    this.refuseReadonly('store an API key');
    const r = await this.tx('store an API key', (c) =>
      c.query(
        `INSERT INTO api_keys (id, hash, tenant, name, scopes, created_at, revoked_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING`,
        [row.id, row.hash, row.tenant, row.name, JSON.stringify(row.scopes), row.createdAt, row.revokedAt],
      ),
    );
    if (r.rowCount !== 1) throw new AuditError('conflict', `API key ${row.id} exists`);
  }

  async getApiKey(id: string): Promise<ApiKeyRow | undefined> {
    if (hasLoneSurrogate(id)) return undefined;
    const r = await this.rows('SELECT * FROM api_keys WHERE id = $1', [id], 'read an API key');
    return r[0] ? apiKeyOf(r[0]) : undefined;
  }

  async listApiKeys(tenant?: string): Promise<ApiKeyRow[]> {
    const r =
      tenant === undefined
        ? await this.rows(
            'SELECT * FROM api_keys ORDER BY created_at COLLATE "C", id COLLATE "C"',
            [],
            'list API keys',
          )
        : await this.rows(
            'SELECT * FROM api_keys WHERE tenant = $1 ORDER BY created_at COLLATE "C", id COLLATE "C"',
            [tenant],
            'list API keys',
          );
    return r.map(apiKeyOf);
  }

  async revokeApiKey(id: string, at: string): Promise<boolean> {
    this.refuseReadonly('revoke an API key');
    const r = await this.tx('revoke an API key', (c) =>
      c.query('UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL', [at, id]),
    );
    return r.rowCount === 1;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }
}
