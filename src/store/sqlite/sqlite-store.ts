import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { closeSync, constants, existsSync, mkdirSync, openSync, readSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { appendSeeds, partialLeafTile } from '../../core/tiles.js';
import {
  compileFilterGlob,
  filterGlobPrefix,
  isFilterGlob,
  prefixUpperBound,
  type StringMatcher,
} from '../../core/glob.js';
import { hasLoneSurrogate } from '../../core/note.js';
import { erasedIndexColumns } from '../../core/index-row.js';
import { PACKED_INDEX_COLUMNS, type PackedIndexValues } from '../../core/verify-index.js';
import { AuditError } from '../../errors.js';
import { acquireWriteThread, type WorkerAppender } from './write-thread.js';
import type {
  AppendContext,
  AppendPlan,
  ApiKeyRow,
  ApprovalRow,
  ArchiveRow,
  AuditStore,
  CheckpointRow,
  CursorRow,
  LeafWriter,
  DisclosureRow,
  EntryRow,
  EntryText,
  EventFilter,
  ExistingEntry,
  LogHead,
  PersonalIndexColumn,
  ReclaimReport,
  ScanRow,
  SideWrites,
  ListedEvent,
  StoredEvent,
  IndexRow,
  StoredIndexRow,
  TileInfo,
} from '../store.js';
import type { TileRow } from '../../core/tiles.js';
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
  cellText,
  checkpointOf,
  MAX_TILE_LEVEL,
  NO_BYTES,
  type Row,
} from '../sql-rows.js';
import { SQLITE_MIGRATIONS, type Migration } from './migrations.js';

export interface SqliteStoreOptions {
  /** Open read-only (verification, export); no migration is applied. */
  readonly?: boolean;
  /**
   * Map the file into memory for reads (default true: large reads without copies). A connection
   * doing only point lookups while others commit is faster without: each read after another
   * connection's commit maps the grown file again (about 50 µs here).
   */
  mmap?: boolean;
}

/** WAL pages (4 KiB) after which a commit checkpoints the WAL into the database (~16 MiB). */
const WAL_AUTOCHECKPOINT_PAGES = 4096;
/**
 * The same bound for a connection whose write thread checkpoints in the background: a safety
 * net that commits reach only when that thread falls behind (~64 MiB).
 */
const WAL_BACKSTOP_PAGES = 4 * WAL_AUTOCHECKPOINT_PAGES;
/** Largest size the WAL file is left at after SQLite restarts it from the beginning. */
const WAL_SIZE_LIMIT_BYTES = 16 * 1024 * 1024;
/** How long a statement waits for another connection's lock before it fails with busy. */
const BUSY_TIMEOUT_MS = 5000;
/** No append commit for this long: the WAL is checkpointed and truncated to 0 bytes. */
export const WAL_IDLE_MS = 1000;
/** How long a truncating checkpoint waits for other connections' readers and writers. */
const WAL_TRUNCATE_BUSY_MS = 100;

/** Compiled filter globs by pattern, for the `auditrail_glob` SQL function (called once per row). */
const filterMatchers = new Map<string, StringMatcher>();
let lastPattern = '';
let lastMatcher: StringMatcher = compileFilterGlob(lastPattern);

/**
 * The SQL function `auditrail_glob(pattern, value)`: 1 when the shared filter matcher
 * (core/glob.ts `compileFilterGlob`, the one every store uses) selects `value`, else 0.
 */
function auditrailGlob(pattern: unknown, value: unknown): number {
  if (typeof pattern !== 'string' || typeof value !== 'string') return 0;
  if (pattern !== lastPattern) {
    let m = filterMatchers.get(pattern);
    if (m === undefined) {
      if (filterMatchers.size >= 64) filterMatchers.clear();
      m = compileFilterGlob(pattern);
      filterMatchers.set(pattern, m);
    }
    lastPattern = pattern;
    lastMatcher = m;
  }
  return lastMatcher(value) ? 1 : 0;
}

/**
 * A filter glob as a WHERE condition on `column`: the rows the shared matcher selects
 * (`auditrail_glob`), behind native conditions every match meets, so that most rows never reach
 * JavaScript. The text before the first wildcard becomes a range, `prefix <= column <
 * prefixUpperBound(prefix)` (code point order, which is SQLite's BINARY collation over UTF-8),
 * so an index on the column narrows the scan; each literal piece after it must occur in the
 * value (`instr`). Two shapes are decided by these alone: a prefix and a trailing `*` (the
 * range), and `*piece*` (the piece occurs).
 */
function globCondition(column: string, pattern: string): { sql: string; args: string[] } {
  // Bound as UTF-8, a lone surrogate would become U+FFFD; the shared matcher matches nothing.
  if (hasLoneSurrogate(pattern)) return { sql: '0', args: [] };
  const prefix = filterGlobPrefix(pattern);
  const upper = prefixUpperBound(prefix);
  const rest = pattern.slice(prefix.length);
  const pieces = [...new Set(rest.split(/[*?]+/).filter((p) => p !== ''))];
  const terms: string[] = [];
  const args: string[] = [];
  if (prefix !== '') {
    terms.push(`${column} >= ?`);
    args.push(prefix);
  } else terms.push(`${column} IS NOT NULL`);
  if (upper !== null) {
    terms.push(`${column} < ?`);
    args.push(upper);
  }
  for (const piece of pieces) {
    terms.push(`instr(${column}, ?) > 0`);
    args.push(piece);
  }
  const decided = pieces.length === 0 ? !rest.includes('?') : /^\*+[^*?]+\*+$/.test(pattern);
  if (!decided) {
    terms.push(`auditrail_glob(?, ${column})`);
    args.push(pattern);
  }
  return { sql: terms.join(' AND '), args };
}

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

function headOf(r: Row): LogHead {
  return {
    logId: r['log_id'] as number,
    origin: r['origin'] as string,
    tenant: r['tenant'] as string,
    size: r['tree_size'] as number,
    root: r['root_hash'] as Buffer,
    rightEdge: r['right_edge'] as Buffer,
    lastTs: (r['last_ts'] as string | null) ?? null,
  };
}

// Stored data is attacker-controlled: a column rewritten as TEXT still reaches the verifier as bytes.
// Zero bytes cannot be changed: one instance serves every empty value (query pages leave leaves out).
function entryOf(r: unknown[]): EntryRow {
  return {
    seq: r[0] as number,
    leaf: bytes(r[1]),
    leafHash: bytes(r[2]),
    eid: r[3] as string,
    type: r[4] as string,
    ts: r[5] as string,
  };
}

// The entry's columns of a listing row, on the row of its first disclosure (unit 0) or when it
// has none; NULL on the rows of its other disclosures (they would be the same values again).
const ENTRY_WITH_FIRST_UNIT = ['e.leaf_hash', 'e.eid', 'e.type', 'e.ts']
  .map((c) => `CASE WHEN d.unit IS NULL OR d.unit = 0 THEN ${c} END`)
  .join(', ');

function listedEntryOf(r: unknown[]): EntryRow {
  return {
    seq: r[0] as number,
    leaf: NO_BYTES,
    leafHash: bytes(r[1]),
    eid: r[2] as string,
    type: r[3] as string,
    ts: r[4] as string,
  };
}

/** Values as stored (verification compares them, so nothing is coerced). */
function indexRowOf(r: unknown[]): StoredIndexRow {
  return {
    seq: r[0],
    ts: r[1],
    type: r[2],
    tenant: r[3],
    session_id: r[4],
    run_id: r[5],
    trace_id: r[6],
    actor_id: r[7],
    action_type: r[8],
    target: r[9],
    decision: r[10],
    status: r[11],
    risk: r[12],
    time: r[13],
    subjects: r[14],
  } as StoredIndexRow;
}

/** The values of one `events` row, in the order of the `insertEvent` statement. */
function eventColumns(logId: number, x: IndexRow, ts: string, type: string): unknown[] {
  return [
    logId,
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
    x.subjects ?? null,
  ];
}

/**
 * A row of a database opened read-only before migration 2 (an auditor's copy of an older file):
 * its request is still one JSON document, split here the way the migration splits it.
 */
function legacyApprovalOf(r: Row): ApprovalRow {
  let req: Record<string, unknown> = {};
  try {
    const parsed = JSON.parse(cellText(r['request'])) as unknown;
    if (parsed !== null && typeof parsed === 'object') req = parsed as Record<string, unknown>;
  } catch {
    // Not JSON: the fields read as absent, as the migration would carry them over.
  }
  const obj = (v: unknown): Record<string, unknown> =>
    v !== null && typeof v === 'object' ? (v as Record<string, unknown>) : {};
  const action = obj(req['action']);
  const ctx = obj(req['ctx']);
  const actor = obj(ctx['actor']);
  const json = (v: unknown): string | null => (v === undefined ? null : JSON.stringify(v));
  return approvalOf({
    ...r,
    action_type: action['type'] ?? '',
    target: action['target'],
    params: json(action['params']),
    side_effects: json(action['side_effects']),
    matched_rule: req['matched_rule'],
    request_reason: req['reason'] ?? '',
    actor_type: actor['type'] ?? '',
    actor_id: actor['id'] ?? '',
    session_id: ctx['session_id'],
    run_id: ctx['run_id'],
    parent_event_id: ctx['parent_event_id'],
    trace_id: ctx['trace_id'],
    span_id: ctx['span_id'],
  });
}

/**
 * Statements of the approval and cursor tables as migration 2 shapes them. A database opened
 * read-only before that migration has neither shape: it gets null (its approvals are read with
 * {@link legacyApprovalOf}, it has no cursors, and it refuses writes anyway).
 */
function concernStatements(db: Database.Database) {
  const hasCursors = db
    .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'cursors'")
    .get();
  if (hasCursors === undefined) return null;
  const approvals = (where: string) => db.prepare(`SELECT * FROM approvals ${where} ORDER BY created_at, id`);
  return {
    putApproval: db.prepare(
      `INSERT INTO approvals (${APPROVAL_COLUMNS})
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    updateApproval: db.prepare(
      `UPDATE approvals SET status = coalesce(?, status), decided_by = coalesce(?, decided_by),
         decided_at = coalesce(?, decided_at), reason = coalesce(?, reason) WHERE id = ? AND status = ?`,
    ),
    // One statement per shape of filter, each on an index.
    listAll: approvals(''),
    listByStatus: approvals('WHERE status = ?'),
    listByLog: approvals('WHERE log_origin = ?'),
    listByLogStatus: approvals('WHERE log_origin = ? AND status = ?'),
    getCursor: db.prepare('SELECT name, seq FROM cursors WHERE log_id = ? AND name = ?'),
    listCursors: db.prepare('SELECT name, seq FROM cursors WHERE log_id = ? ORDER BY name'),
    upsertCursor: db.prepare(
      'INSERT INTO cursors (log_id, name, seq) VALUES (?, ?, ?) ON CONFLICT (log_id, name) DO UPDATE SET seq = excluded.seq',
    ),
    insertCursor: db.prepare('INSERT OR IGNORE INTO cursors (log_id, name, seq) VALUES (?, ?, ?)'),
    casCursor: db.prepare('UPDATE cursors SET seq = ? WHERE log_id = ? AND name = ? AND seq = ?'),
  };
}

/** Statements of the archives table, or null when the file predates migration 4 (read-only). */
function archiveStatements(db: Database.Database) {
  const has = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'archives'").get();
  if (has === undefined) return null;
  return {
    list: db.prepare('SELECT * FROM archives WHERE log_id = ? ORDER BY from_seq'),
    overlap: db.prepare('SELECT * FROM archives WHERE log_id = ? AND from_seq < ? AND to_seq > ? LIMIT 1'),
    covering: db.prepare('SELECT 1 FROM archives WHERE log_id = ? AND from_seq <= ? AND to_seq >= ?'),
    insert: db.prepare(
      'INSERT INTO archives (log_id, from_seq, to_seq, by_seq, manifest_sha256, created_at) VALUES (?, ?, ?, ?, ?, ?)',
    ),
    remove: db.prepare('DELETE FROM archives WHERE log_id = ? AND from_seq = ?'),
    dropDisclosures: db.prepare('DELETE FROM disclosures WHERE log_id = ? AND seq >= ? AND seq < ?'),
    restoreDisclosure: db.prepare(
      'INSERT OR IGNORE INTO disclosures (log_id, seq, unit, pointer, disclosure, erased_by_seq) VALUES (?, ?, ?, ?, ?, ?)',
    ),
    restoreEvent: db.prepare(
      `INSERT OR IGNORE INTO events (log_id, seq, ts, type, tenant, session_id, run_id, trace_id, actor_id, action_type,
         target, decision, status, risk, time, subjects) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
  };
}

/** An AuditError as is; anything else (SqliteError, fs errors) wrapped with `what` and its cause. */
function storeError(e: unknown, what: string): AuditError {
  if (e instanceof AuditError) return e;
  const code = (e as { code?: unknown }).code;
  const readOnly = code === 'SQLITE_READONLY' || code === 'SQLITE_READONLY_DIRECTORY';
  return new AuditError(
    readOnly ? 'read_only' : 'store_failure',
    `${what}: ${(e as Error).message ?? String(e)}`,
    { cause: e },
  );
}

const SQLITE_MAGIC = Buffer.from('SQLite format 3\0', 'latin1');

/**
 * Refuses what cannot be an auditrail database before SQLite touches it: not a regular file
 * (a directory, `/dev/null`), or a non-empty file without the SQLite header. Returns the size.
 */
function checkFile(path: string): number {
  const st = statSync(path);
  if (!st.isFile()) {
    throw new AuditError('not_audit_database', `${path} is not a regular file, so not an auditrail database`);
  }
  if (st.size === 0) return 0;
  const head = Buffer.alloc(16);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, head, 0, 16, 0);
  } finally {
    closeSync(fd);
  }
  if (!head.equals(SQLITE_MAGIC)) {
    throw new AuditError('not_audit_database', `${path} is not an auditrail database (not an SQLite file)`);
  }
  return st.size;
}

function sqliteOpen(name: string, readonly: boolean): Database.Database {
  // URI filenames (for `immutable=1`) are enabled process-wide when the addon loads, from this
  // variable; it is removed again so that child processes do not inherit it.
  const set = process.env['SQLITE_USE_URI'] === undefined;
  if (set) process.env['SQLITE_USE_URI'] = '1';
  try {
    return new Database(name, { readonly, fileMustExist: readonly });
  } finally {
    if (set) delete process.env['SQLITE_USE_URI'];
  }
}

/**
 * Opens an existing database read-only. SQLite reads a WAL-mode file through its `-shm` index,
 * which it must create when absent; where the directory is not writable (an auditor's copy), the
 * file is opened `immutable=1` instead, which needs no side file. That is only correct when no
 * write-ahead log holds unmerged pages, so a non-empty `-wal` there is refused.
 */
function openReadonly(path: string): Database.Database {
  if (path === ':memory:')
    throw new AuditError('invalid_argument', 'an in-memory database cannot be read-only');
  try {
    if (!existsSync(path)) throw new AuditError('not_found', `no audit database at ${path}`);
    if (checkFile(path) === 0) {
      throw new AuditError('not_audit_database', `${path} is empty, not an auditrail database`);
    }
    const db = sqliteOpen(path, true);
    try {
      db.prepare('SELECT count(*) FROM sqlite_master').get();
      return db;
    } catch (e) {
      db.close();
      const code = (e as { code?: unknown }).code;
      if (code !== 'SQLITE_READONLY_DIRECTORY' && code !== 'SQLITE_CANTOPEN') throw e;
    }
    const wal = `${path}-wal`;
    if (existsSync(wal) && statSync(wal).size > 0) {
      throw new AuditError(
        'store_failure',
        `cannot read ${path}: its write-ahead log ${wal} has unmerged pages and the directory is not writable; ` +
          'read it as a user who can write the directory, or copy it first (sqlite3 ' +
          `'${path}' '.backup copy.db')`,
      );
    }
    const uri = `file:${path.split('/').map(encodeURIComponent).join('/')}?immutable=1`;
    const db2 = sqliteOpen(uri, true);
    db2.prepare('SELECT count(*) FROM sqlite_master').get();
    return db2;
  } catch (e) {
    throw storeError(e, `cannot open ${path} read-only`);
  }
}

/**
 * Opens (creating if needed) a database for writing. Only a file created here gets a mode
 * (0600, in a new 0700 directory); an existing file keeps its mode.
 */
function openWritable(path: string): Database.Database {
  try {
    if (path !== ':memory:') {
      const dir = dirname(path);
      if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: 0o700 });
      try {
        closeSync(openSync(path, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, 0o600));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        // An empty file is accepted: another process may be creating the database right now.
        checkFile(path);
      }
    }
    return sqliteOpen(path, false);
  } catch (e) {
    throw storeError(e, `cannot open ${path}`);
  }
}

/**
 * The tables present, after refusing an SQLite file that belongs to something else (tables but
 * none of ours) and, read-only, one with no tables at all.
 */
function checkAuditDatabase(db: Database.Database, path: string, readonly: boolean): Set<string> {
  const tables = new Set(
    db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all() as string[],
  );
  if (tables.size === 0) {
    if (readonly)
      throw new AuditError(
        'not_audit_database',
        `${path} is an empty SQLite database, not an auditrail database`,
      );
    return tables;
  }
  if (!tables.has('migrations') || !tables.has('logs') || !tables.has('meta')) {
    throw new AuditError(
      'not_audit_database',
      `${path} is an SQLite database of something else (no auditrail tables); refusing to use it`,
    );
  }
  return tables;
}

/**
 * The embedded default store: one SQLite file in WAL mode with `synchronous=FULL`, so a commit
 * is on disk before `append` resolves. A file it creates gets mode 0600 (in a new 0700 directory);
 * an existing file's mode is never changed. `readonly` opens with SQLite `readonly`.
 *
 * @example
 * const store = openSqliteStore('./.auditrail/audit.db');
 */
export class SqliteStore implements AuditStore {
  readonly kind = 'sqlite' as const;
  readonly db: Database.Database;
  readonly path: string;
  /** Opened with SQLite `readonly`: no migration, no log creation, every write is refused. */
  readonly readonly: boolean;
  private readonly stmts;
  /** False for a database opened read-only before migration 3 (no `subjects` column). */
  private readonly hasSubjects: boolean;
  /** Approval and cursor statements; null for a database read-only before migration 2. */
  private readonly concern;

  get location(): string {
    return this.path;
  }

  /** Worker threads can open the same file read-only (WAL: readers never block each other). */
  get parallelReads(): boolean {
    return this.path !== ':memory:';
  }

  constructor(path: string, options: SqliteStoreOptions = {}) {
    this.path = path === ':memory:' ? path : resolve(path);
    this.readonly = options.readonly ?? false;
    this.db = this.readonly ? openReadonly(this.path) : openWritable(this.path);
    try {
      this.db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
      const tables = checkAuditDatabase(this.db, this.path, this.readonly);
      if (!this.readonly) {
        // A new database reclaims the pages a purge frees (docs/storage.md § Disk reclaim): the
        // mode can only be chosen before the first table exists (later: one VACUUM, `compact`).
        if (tables.size === 0) this.db.pragma('auto_vacuum = INCREMENTAL');
        this.db.pragma('journal_mode = WAL');
        // FULL: in WAL mode the WAL is fsynced at every commit, so an acknowledged record survives power loss.
        this.db.pragma('synchronous = FULL');
        // Checkpoint the WAL into the database every ~16 MiB (a single-event commit adds ~50 KB of
        // frames), and cut the file back to 16 MiB when it restarts; idle and close truncate it to 0.
        this.db.pragma(`wal_autocheckpoint = ${WAL_AUTOCHECKPOINT_PAGES}`);
        this.db.pragma(`journal_size_limit = ${WAL_SIZE_LIMIT_BYTES}`);
        this.db.pragma('foreign_keys = ON');
        this.migrate(tables);
      }
    } catch (e) {
      this.db.close();
      throw storeError(e, `cannot open ${this.path}`);
    }
    this.db.function('auditrail_glob', { deterministic: true }, auditrailGlob);
    this.db.pragma('cache_size = -65536');
    // Reads (timelines, proofs, verify) go through the OS page cache without copies: the whole
    // file up to SQLite's build limit (SQLITE_MAX_MMAP_SIZE, 0x7fff0000 here), so a 1M-event log
    // (~1.7 GB) is mapped whole rather than its last pages read through the page cache.
    if (options.mmap !== false) this.db.pragma('mmap_size = 2147418112');
    const db = this.db;
    // A database opened read-only before migration 3 has no subjects column: it reads as NULL.
    this.hasSubjects = (db.pragma('table_info(events)') as Row[]).some((c) => c['name'] === 'subjects');
    const subjects = this.hasSubjects ? 'subjects' : 'NULL';
    const packed = PACKED_INDEX_COLUMNS.map((c) => (c === 'subjects' ? subjects : c)).join(', ');
    this.stmts = {
      logByOrigin: db.prepare('SELECT * FROM logs WHERE origin = ?'),
      logById: db.prepare('SELECT * FROM logs WHERE log_id = ?'),
      listLogs: db.prepare('SELECT * FROM logs ORDER BY log_id'),
      insertLog: db.prepare(
        'INSERT INTO logs (origin, tenant, tree_size, root_hash, right_edge, created_at) VALUES (?, ?, 0, ?, ?, ?)',
      ),
      updateLog: db.prepare(
        'UPDATE logs SET tree_size = ?, root_hash = ?, right_edge = ?, last_ts = ? WHERE log_id = ? AND tree_size = ?',
      ),
      eid: db.prepare('SELECT seq, leaf_hash, eid FROM entries WHERE log_id = ? AND eid = ?').raw(),
      insertEntry: db.prepare(
        'INSERT INTO entries (log_id, seq, leaf, leaf_hash, eid, type, ts) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ),
      insertDisclosure: db.prepare(
        'INSERT INTO disclosures (log_id, seq, unit, pointer, disclosure) VALUES (?, ?, ?, ?, ?)',
      ),
      // Never run read-only: without the subjects column, a statement of the same arity that writes nothing.
      insertEvent: db.prepare(
        this.hasSubjects
          ? `INSERT INTO events (log_id, seq, ts, type, tenant, session_id, run_id, trace_id, actor_id, action_type,
           target, decision, status, risk, time, subjects) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
          : `SELECT ${Array(16).fill('?').join(', ')} WHERE 0`,
      ),
      erasedPointers: db
        .prepare('SELECT pointer FROM disclosures WHERE log_id = ? AND seq = ? AND disclosure IS NULL')
        .pluck(),
      upsertTile: db.prepare(
        `INSERT INTO tiles (log_id, level, idx, width, hashes) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (log_id, level, idx) DO UPDATE SET width = excluded.width, hashes = excluded.hashes`,
      ),
      tile: db.prepare('SELECT hashes FROM tiles WHERE log_id = ? AND level = ? AND idx = ?').pluck(),
      // The level-0 partial tile is not stored: it is these leaf hashes (core/tiles.ts partialLeafTile).
      leafHashes: db
        .prepare('SELECT seq, leaf_hash FROM entries WHERE log_id = ? AND seq >= ? AND seq < ? ORDER BY seq')
        .raw(),
      countEntries: db
        .prepare('SELECT count(*) FROM entries WHERE log_id = ? AND seq >= ? AND seq < ?')
        .pluck(),
      entriesRange: db
        .prepare(
          'SELECT seq, leaf, leaf_hash, eid, type, ts FROM entries WHERE log_id = ? AND seq >= ? AND seq < ? ORDER BY seq',
        )
        .raw(),
      disclosuresRange: db
        .prepare(
          'SELECT seq, unit, pointer, disclosure, erased_by_seq FROM disclosures WHERE log_id = ? AND seq >= ? AND seq < ? ORDER BY seq, unit',
        )
        .raw(),
      // Evidence reads the leaf and the disclosures' text only: half the cost of the two above.
      leavesRange: db
        .prepare('SELECT seq, leaf FROM entries WHERE log_id = ? AND seq >= ? AND seq < ? ORDER BY seq')
        .raw(),
      disclosureTextsRange: db
        .prepare(
          'SELECT seq, pointer, CAST(disclosure AS TEXT), erased_by_seq FROM disclosures WHERE log_id = ? AND seq >= ? AND seq < ? ORDER BY seq, unit',
        )
        .raw(),
      entryBySeq: db
        .prepare('SELECT seq, leaf, leaf_hash, eid, type, ts FROM entries WHERE log_id = ? AND seq = ?')
        .raw(),
      entryByEid: db
        .prepare('SELECT seq, leaf, leaf_hash, eid, type, ts FROM entries WHERE log_id = ? AND eid = ?')
        .raw(),
      scanEntries: db
        .prepare(
          'SELECT seq, CAST(leaf AS TEXT), lower(hex(leaf_hash)), eid, type, ts FROM entries WHERE log_id = ? AND seq >= ? AND seq < ? ORDER BY seq',
        )
        .raw(),
      scanDisclosures: db
        .prepare(
          'SELECT seq, unit, pointer, CAST(disclosure AS TEXT), erased_by_seq FROM disclosures WHERE log_id = ? AND seq >= ? AND seq < ? ORDER BY seq, unit',
        )
        .raw(),
      leafBlob: db.prepare('SELECT leaf FROM entries WHERE log_id = ? AND seq = ?').pluck(),
      disclosureBlob: db
        .prepare('SELECT disclosure FROM disclosures WHERE log_id = ? AND seq = ? AND unit = ?')
        .pluck(),
      tsAtOrAfter: db
        .prepare('SELECT ts FROM entries WHERE log_id = ? AND seq >= ? ORDER BY seq LIMIT 1')
        .pluck(),
      storedSize: db.prepare('SELECT count(*) AS n, max(seq) AS m FROM entries WHERE log_id = ?'),
      // One descent of the primary key (count(*) above reads every entry: 0.4 s on 1M entries).
      lastSeq: db.prepare('SELECT max(seq) FROM entries WHERE log_id = ?').pluck(),
      insertCheckpoint: db.prepare(
        'INSERT OR IGNORE INTO checkpoints (log_id, size, root_hash, note, created_at) VALUES (?, ?, ?, ?, ?)',
      ),
      checkpoints: db.prepare(
        'SELECT size, root_hash, note, created_at FROM checkpoints WHERE log_id = ? ORDER BY size',
      ),
      latestCheckpoint: db.prepare(
        'SELECT size, root_hash, note, created_at FROM checkpoints WHERE log_id = ? ORDER BY size DESC LIMIT 1',
      ),
      indexFirstPacked: db
        .prepare(`SELECT seq, json_array(${packed}) FROM events WHERE log_id = ? ORDER BY seq LIMIT ?`)
        .raw(),
      indexAfterPacked: db
        .prepare(
          `SELECT seq, json_array(${packed}) FROM events WHERE log_id = ? AND seq > ? ORDER BY seq LIMIT ?`,
        )
        .raw(),
      indexFirst: db
        .prepare(
          `SELECT seq, ts, type, tenant, session_id, run_id, trace_id, actor_id, action_type, target, decision,
             status, risk, time, ${subjects} FROM events WHERE log_id = ? ORDER BY seq LIMIT ?`,
        )
        .raw(),
      indexAfter: db
        .prepare(
          `SELECT seq, ts, type, tenant, session_id, run_id, trace_id, actor_id, action_type, target, decision,
             status, risk, time, ${subjects} FROM events WHERE log_id = ? AND seq > ? ORDER BY seq LIMIT ?`,
        )
        .raw(),
      deleteIndexRange: db.prepare('DELETE FROM events WHERE log_id = ? AND seq >= ? AND seq < ?'),
      pruneIndex: db.prepare(
        "DELETE FROM events WHERE log_id = ? AND NOT (typeof(seq) = 'integer' AND seq >= 0 AND seq < ?)",
      ),
      listTiles: db.prepare(
        'SELECT level, idx, width, length(hashes) AS bytes FROM tiles WHERE log_id = ? ORDER BY level, idx',
      ),
      listTilesFrom: db.prepare(
        `SELECT level, idx, width, length(hashes) AS bytes FROM tiles WHERE log_id = ? AND level = ? AND idx >= ?
         ORDER BY idx`,
      ),
      // Levels 0..6 hold every tile of a tree of up to 2^53 leaves; anything else is listed whole.
      // Two ranges of the primary key: with `OR` SQLite scanned every tile row of the log (its
      // 16 KB hashes included), 60 ms of an incremental verify on a 1M-entry log.
      listTilesBelow: db.prepare(
        'SELECT level, idx, width, length(hashes) AS bytes FROM tiles WHERE log_id = ? AND level < 0 ORDER BY level, idx',
      ),
      listTilesAbove: db.prepare(
        `SELECT level, idx, width, length(hashes) AS bytes FROM tiles WHERE log_id = ? AND level > ${MAX_TILE_LEVEL}
         ORDER BY level, idx`,
      ),
      setHead: db.prepare(
        'UPDATE logs SET tree_size = ?, root_hash = ?, right_edge = ?, last_ts = ? WHERE log_id = ?',
      ),
      // One descent of the key, then the rows in order: a lookup per tile compares the search key
      // with whole 16 KB rows (a WITHOUT ROWID key is the row), reading their overflow pages.
      tileRange: db
        .prepare(
          'SELECT idx, hashes FROM tiles WHERE log_id = ? AND level = ? AND idx >= ? AND idx < ? ORDER BY idx',
        )
        .raw(),
      // The one update the disclosures_erase_only trigger lets through.
      eraseDisclosure: db.prepare(
        `UPDATE disclosures SET disclosure = NULL, erased_by_seq = ?, erased_at = ?
         WHERE log_id = ? AND seq = ? AND unit = ? AND disclosure IS NOT NULL`,
      ),
      // Read the same before and after migration 2 (SELECT *): see concernStatements.
      getApproval: db.prepare('SELECT * FROM approvals WHERE id = ?'),
      listApprovalsLegacy: db.prepare('SELECT * FROM approvals ORDER BY created_at, id'),
      getMeta: db.prepare('SELECT value FROM meta WHERE key = ?').pluck(),
      setMeta: db.prepare(
        'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
      ),
      addMeta: db.prepare('INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)'),
    };
    this.concern = concernStatements(db);
  }

  /**
   * Applies missing migrations in one `BEGIN IMMEDIATE` transaction, re-checked inside it, so
   * processes opening a new database at the same moment apply each migration exactly once.
   */
  private migrate(tables: ReadonlySet<string>): void {
    if (tables.has('migrations') && this.pendingMigrations().length === 0) return;
    this.db
      .transaction(() => {
        this.db.exec(
          'CREATE TABLE IF NOT EXISTS migrations (id INTEGER PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at TEXT NOT NULL)',
        );
        for (const m of this.pendingMigrations()) {
          this.db.exec(m.sql);
          this.db
            .prepare('INSERT INTO migrations (id, name, checksum, applied_at) VALUES (?, ?, ?, ?)')
            .run(m.id, m.name, m.checksum, new Date().toISOString());
        }
      })
      .immediate();
  }

  /** Migrations not yet applied; throws when an applied one differs from the code's. */
  private pendingMigrations(): (Migration & { checksum: string })[] {
    const applied = new Map(
      (this.db.prepare('SELECT id, checksum FROM migrations').all() as Row[]).map((r) => [
        r['id'] as number,
        r['checksum'] as string,
      ]),
    );
    const out = [];
    for (const m of SQLITE_MIGRATIONS) {
      const checksum = createHash('sha256').update(m.sql).digest('hex');
      const have = applied.get(m.id);
      if (have === undefined) out.push({ ...m, checksum });
      else if (have !== checksum) {
        throw new AuditError(
          'store_failure',
          `migration ${m.id} (${m.name}) in ${this.path} has checksum ${have}, expected ${checksum}: the schema was altered`,
        );
      }
    }
    return out;
  }

  /** Migrations recorded in this database, with their checksums. */
  migrations(): { id: number; name: string; checksum: string }[] {
    return this.db.prepare('SELECT id, name, checksum FROM migrations ORDER BY id').all() as {
      id: number;
      name: string;
      checksum: string;
    }[];
  }

  openLog(origin: string, tenant: string, emptyRoot: Buffer): Promise<LogHead> {
    try {
      const existing = this.stmts.logByOrigin.get(origin) as Row | undefined;
      if (existing) return Promise.resolve(headOf(existing));
      if (this.readonly) {
        const present = (this.stmts.listLogs.all() as Row[]).map((r) => r['origin'] as string);
        throw new AuditError(
          'not_found',
          `log ${origin} does not exist in ${this.path} (logs present: ${present.length > 0 ? present.join(', ') : 'none'})`,
        );
      }
      // Re-checked inside the write transaction: another process may have created it meanwhile.
      this.db
        .transaction(() => {
          if (this.stmts.logByOrigin.get(origin) === undefined)
            this.stmts.insertLog.run(origin, tenant, emptyRoot, Buffer.alloc(0), new Date().toISOString());
        })
        .immediate();
      return Promise.resolve(headOf(this.stmts.logByOrigin.get(origin) as Row));
    } catch (e) {
      return Promise.reject(storeError(e, `cannot open log ${origin}`));
    }
  }

  getLog(origin: string): Promise<LogHead | undefined> {
    const r = this.stmts.logByOrigin.get(origin) as Row | undefined;
    return Promise.resolve(r ? headOf(r) : undefined);
  }

  listLogs(): Promise<LogHead[]> {
    return Promise.resolve((this.stmts.listLogs.all() as Row[]).map(headOf));
  }

  /** Rejects a write on a read-only store with a clear error instead of SQLite's. */
  private refuseReadonly(what: string): Promise<never> | null {
    return this.readonly
      ? Promise.reject(new AuditError('read_only', `cannot ${what}: ${this.path} is open read-only`))
      : null;
  }

  /** The append transaction, built once (better-sqlite3 builds four wrappers per `transaction()`). */
  private appendTxFn: Database.Transaction<
    (
      origin: string,
      eids: readonly string[],
      plan: (ctx: AppendContext) => { plan: AppendPlan; result: unknown },
      lookup: boolean,
      sideWrites: SideWrites | undefined,
    ) => unknown
  > | null = null;

  private get appendTx(): NonNullable<SqliteStore['appendTxFn']> {
    this.appendTxFn ??= this.db.transaction(
      (
        origin: string,
        eids: readonly string[],
        plan: (ctx: AppendContext) => { plan: AppendPlan; result: unknown },
        lookup: boolean,
        sideWrites: SideWrites | undefined,
      ) => {
        const row = this.stmts.logByOrigin.get(origin) as Row | undefined;
        if (!row) throw new AuditError('not_found', `log ${origin} does not exist`);
        const head = headOf(row);
        const existing = new Map<string, ExistingEntry>();
        for (const eid of lookup ? eids : []) {
          const r = this.stmts.eid.get(head.logId, eid) as unknown[] | undefined;
          if (r) existing.set(eid, { seq: r[0] as number, leafHash: r[1] as Buffer, eid });
        }
        const partialTiles: TileRow[] = [];
        for (const t of appendSeeds(head.size, eids.length)) {
          if (t.level === 0) {
            partialTiles.push({ level: 0, index: t.index, width: t.width, hashes: this.leafTileFor(head) });
            continue;
          }
          const raw: unknown = this.stmts.tile.get(head.logId, t.level, t.index);
          const hashes = raw === undefined || raw === null ? undefined : bytes(raw);
          if (!hashes)
            throw new AuditError('store_failure', `tile ${t.level}/${t.index} of ${origin} is missing`);
          partialTiles.push({ level: t.level, index: t.index, width: hashes.length / 32, hashes });
        }
        const { plan: p, result } = plan({ head, existing, partialTiles });
        this.write(head, p);
        for (const a of sideWrites?.approvals ?? []) this.insertApproval(a);
        return result;
      },
    );
    return this.appendTxFn;
  }

  append<T>(
    origin: string,
    eids: readonly string[],
    plan: (ctx: AppendContext) => { plan: AppendPlan; result: T },
    sideWrites?: SideWrites,
  ): Promise<T> {
    const refused = this.refuseReadonly(`append to ${origin}`);
    if (refused) return refused;
    try {
      // Re-sent event ids are rare: insert without looking them up, and only when the unique
      // index refuses one (the whole transaction rolls back) plan again knowing what is stored.
      let result: T;
      try {
        result = this.appendTx.immediate(origin, eids, plan, false, sideWrites) as T;
      } catch (e) {
        if (!isEidConflict(e)) throw e;
        result = this.appendTx.immediate(origin, eids, plan, true, sideWrites) as T;
      }
      this.committed();
      return Promise.resolve(result);
    } catch (e) {
      if (e instanceof AuditError) return Promise.reject(e);
      return Promise.reject(
        new AuditError('store_failure', `append to ${origin} failed: ${(e as Error).message}`, { cause: e }),
      );
    }
  }

  private write(head: LogHead, p: AppendPlan): void {
    const id = head.logId;
    const s = this.stmts;
    for (const e of p.entries) s.insertEntry.run(id, e.seq, e.leaf, e.leafHash, e.eid, e.type, e.ts);
    for (const d of p.disclosures) s.insertDisclosure.run(id, d.seq, d.unit, d.pointer, d.disclosure);
    for (let i = 0; i < p.index.length; i++) {
      const x = p.index[i]!;
      const e = p.entries[i]!;
      s.insertEvent.run(...eventColumns(id, x, e.ts, e.type));
    }
    let leafTile: Buffer | undefined;
    for (const t of p.tiles) {
      if (t.level === 0 && t.width < 256) leafTile = t.hashes;
      else s.upsertTile.run(id, t.level, t.index, t.width, t.hashes);
    }
    if (p.entries.length > 0) {
      const r = s.updateLog.run(p.head.size, p.head.root, p.head.rightEdge, p.head.lastTs, id, head.size);
      if (r.changes !== 1) throw new AuditError('conflict', `log ${head.origin} moved during append`);
      // Kept for the next append on this connection; checked against the locked head then, so a
      // rollback or another writer's commit only costs a read.
      this.leafTiles.set(id, { size: p.head.size, root: p.head.root, hashes: leafTile ?? NO_BYTES });
    }
  }

  /**
   * The level-0 partial tile of each log as this connection last wrote it, with the head it
   * belongs to. Valid only while the stored head has that size and root (then the entries of the
   * tile's range are those this connection appended: the root commits to them).
   */
  private readonly leafTiles = new Map<number, { size: number; root: Buffer; hashes: Buffer }>();

  /**
   * The hashes of the level-0 partial tile of `head` (none when its size is a multiple of 256):
   * from this connection's copy when it belongs to that head, else from the entries' leaf hashes.
   */
  private leafTileFor(head: LogHead): Buffer {
    const known = this.leafTiles.get(head.logId);
    if (known && known.size === head.size && known.root.equals(head.root)) return known.hashes;
    const t = partialLeafTile(head.size);
    if (t.width === 0) return NO_BYTES;
    const hashes = this.leafHashesFrom(head.logId, t.from, head.size);
    if (hashes.length !== t.width || hashes.some((h) => h.length !== 32)) {
      throw new AuditError(
        'store_failure',
        `the leaf hashes of entries ${t.from}…${head.size - 1} of ${head.origin} are missing or malformed (tile 0/${t.index})`,
      );
    }
    const tile = Buffer.concat(hashes);
    this.leafTiles.set(head.logId, { size: head.size, root: head.root, hashes: tile });
    return tile;
  }

  private attach(entries: EntryRow[], logId: number, from: number, to: number): StoredEvent[] {
    if (entries.length === 0) return [];
    const ds = this.stmts.disclosuresRange.all(logId, from, to) as unknown[][];
    return mergeDisclosures(entries, ds);
  }

  readEvents(logId: number, from: number, to: number): Promise<StoredEvent[]> {
    const entries = (this.stmts.entriesRange.all(logId, from, to) as unknown[][]).map(entryOf);
    return Promise.resolve(this.attach(entries, logId, from, to));
  }

  readEntryTexts(logId: number, from: number, to: number): Promise<EntryText[]> {
    const s = this.stmts;
    const leaves = s.leavesRange.all(logId, from, to) as unknown[][];
    const ds = leaves.length === 0 ? [] : (s.disclosureTextsRange.all(logId, from, to) as unknown[][]);
    const out: EntryText[] = [];
    let j = 0;
    for (const r of leaves) {
      const seq = r[0] as number;
      while (j < ds.length && (ds[j]![0] as number) < seq) j++;
      const disclosures: EntryText['disclosures'] = [];
      while (j < ds.length && (ds[j]![0] as number) === seq) {
        const d = ds[j++]!;
        // A text column comes as a string; a BLOB stored in it (never written so) as bytes.
        const text = d[2] === null || d[2] === undefined ? null : d[2];
        disclosures.push({
          pointer: d[1] as string,
          disclosure: text === null ? null : typeof text === 'string' ? text : bytes(text).toString('utf8'),
          erasedBySeq: (d[3] as number | null) ?? null,
        });
      }
      out.push({ seq, leaf: bytes(r[1]), disclosures });
    }
    return Promise.resolve(out);
  }

  getBySeq(logId: number, seq: number): Promise<StoredEvent | undefined> {
    const r = this.stmts.entryBySeq.get(logId, seq) as unknown[] | undefined;
    if (!r) return Promise.resolve(undefined);
    return Promise.resolve(this.attach([entryOf(r)], logId, seq, seq + 1)[0]);
  }

  getByEid(logId: number, eid: string): Promise<StoredEvent | undefined> {
    const r = this.stmts.entryByEid.get(logId, eid) as unknown[] | undefined;
    if (!r) return Promise.resolve(undefined);
    const e = entryOf(r);
    return Promise.resolve(this.attach([e], logId, e.seq, e.seq + 1)[0]);
  }

  async getByEids(logId: number, eids: readonly string[]): Promise<StoredEvent[]> {
    const out: StoredEvent[] = [];
    for (const eid of new Set(eids)) {
      const e = await this.getByEid(logId, eid);
      if (e) out.push(e);
    }
    return out;
  }

  private where(logId: number, filter: EventFilter): { sql: string; args: unknown[] } {
    const clauses = ['v.log_id = ?'];
    const args: unknown[] = [logId];
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
        clauses.push(vals.length === 0 ? '0' : `v.${col} IN (${vals.map(() => '?').join(', ')})`);
        args.push(...vals);
        continue;
      }
      if (k === 'subject') {
        // One tag among the space-separated tags of the row (the partial index skips rows without).
        if (!this.hasSubjects) {
          clauses.push('0');
          continue;
        }
        clauses.push(`v.subjects IS NOT NULL AND instr(' ' || v.subjects || ' ', ?) > 0`);
        args.push(` ${v} `);
        continue;
      }
      if (k === 'since' || k === 'until') {
        // ts never decreases along seq: bound the seq range (primary key) and check ts too.
        clauses.push(`v.seq ${k === 'since' ? '>=' : '<'} ? AND v.ts ${k === 'since' ? '>=' : '<'} ?`);
        args.push(this.firstSeqAtOrAfter(logId, v));
      } else if ((k === 'action_type' || k === 'target' || k === 'type') && isFilterGlob(v)) {
        const g = globCondition(`v.${col}`, v);
        clauses.push(g.sql);
        args.push(...g.args);
        continue;
      } else if (hasLoneSurrogate(v)) {
        // Stored values are well-formed, so nothing equals it; bound as UTF-8 it would turn
        // into U+FFFD and could.
        clauses.push('0');
        continue;
      } else clauses.push(`v.${col} = ?`);
      args.push(v);
    }
    return { sql: clauses.join(' AND '), args };
  }

  /** The smallest seq whose ts is >= `ts` (the log size when none): binary search on the key. */
  private firstSeqAtOrAfter(logId: number, ts: string): number {
    const size =
      ((this.stmts.logById.get(logId) as Row | undefined)?.['tree_size'] as number | undefined) ?? 0;
    let lo = 0;
    let hi = size;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      const at = this.stmts.tsAtOrAfter.get(logId, mid) as string | undefined;
      if (at === undefined || at >= ts) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  query(
    logId: number,
    filter: EventFilter,
    options: { after?: number; before?: number; limit: number; order: 'asc' | 'desc' },
  ): Promise<ListedEvent[]> {
    const w = this.where(logId, filter);
    let sql = w.sql;
    const args = [...w.args];
    if (options.after !== undefined) {
      sql += ' AND v.seq > ?';
      args.push(options.after);
    }
    if (options.before !== undefined) {
      sql += ' AND v.seq < ?';
      args.push(options.before);
    }
    const dir = options.order === 'desc' ? 'DESC' : 'ASC';
    const page = `SELECT v.seq FROM events v WHERE ${sql} ORDER BY v.seq ${dir} LIMIT ?`;
    // One statement, one walk of the index: each entry of the page, then its disclosures by
    // primary key. The entry's columns come with its first disclosure (unit 0) only, and each
    // disclosure as text, so nothing is read into a Buffer to be decoded later. No outer
    // ORDER BY: the nested loops keep the page's order (no temporary sort of the rows);
    // listedEvents() checks it.
    const rows = this.cached(
      `SELECT e.seq, ${ENTRY_WITH_FIRST_UNIT}, d.unit, d.pointer, CAST(d.disclosure AS TEXT), d.erased_by_seq
       FROM (${page}) p
       CROSS JOIN entries e ON e.log_id = ? AND e.seq = p.seq
       LEFT JOIN disclosures d ON d.log_id = e.log_id AND d.seq = e.seq`,
    ).all(...args, options.limit, logId) as unknown[][];
    return Promise.resolve(this.listedEvents(logId, rows, options.order));
  }

  /**
   * Groups the rows of {@link query} into events, in page order. A disclosure whose text holds
   * U+FFFD may not be valid UTF-8 (or may be a rewritten one), so that one is re-read as exact
   * bytes; an entry whose unit 0 is missing is read by seq.
   */
  private listedEvents(logId: number, rows: unknown[][], order: 'asc' | 'desc'): ListedEvent[] {
    const out: ListedEvent[] = [];
    if (rows.length === 0) return out;
    const sign = order === 'asc' ? 1 : -1;
    let ordered = true;
    for (let i = 1; i < rows.length && ordered; i++) {
      const a = rows[i - 1]!;
      const b = rows[i]!;
      const bySeq = sign * ((b[0] as number) - (a[0] as number));
      ordered = bySeq > 0 || (bySeq === 0 && (b[5] as number) > (a[5] as number));
    }
    if (!ordered) {
      const unitOf = (r: unknown[]): number => (typeof r[5] === 'number' ? r[5] : -1);
      rows.sort((a, b) => sign * ((a[0] as number) - (b[0] as number)) || unitOf(a) - unitOf(b));
    }
    let current: ListedEvent | undefined;
    for (const r of rows) {
      const seq = r[0] as number;
      if (current === undefined || current.entry.seq !== seq) {
        current = { entry: r[1] === null ? this.listedEntry(logId, seq) : listedEntryOf(r), disclosures: [] };
        out.push(current);
      }
      const unit = r[5];
      if (unit === null || unit === undefined) continue;
      let disclosure = r[7] as string | Buffer | null;
      if (disclosure !== null && (typeof disclosure !== 'string' || disclosure.includes('\uFFFD'))) {
        disclosure = bytes(this.stmts.disclosureBlob.get(logId, seq, unit));
      }
      current.disclosures.push({
        seq,
        unit: unit as number,
        pointer: r[6] as string,
        disclosure,
        erasedBySeq: (r[8] as number | null) ?? null,
      });
    }
    return out;
  }

  private listedEntry(logId: number, seq: number): EntryRow {
    const r = this.stmts.entryBySeq.get(logId, seq) as unknown[];
    return { ...entryOf(r), leaf: NO_BYTES };
  }

  private readonly statements = new Map<string, Database.Statement>();

  /** Raw prepared statements by SQL text (query shapes repeat: filters vary by value, not by form). */
  private cached(sql: string): Database.Statement {
    let st = this.statements.get(sql);
    if (!st) {
      st = this.db.prepare(sql).raw();
      if (this.statements.size > 256) this.statements.clear();
      this.statements.set(sql, st);
    }
    return st;
  }

  countEvents(logId: number, filter: EventFilter): Promise<number> {
    const w = this.where(logId, filter);
    const r = (
      this.cached(`SELECT count(*) FROM events v WHERE ${w.sql}`).get(...w.args) as unknown[]
    )[0] as number;
    return Promise.resolve(r);
  }

  eraseDisclosures(
    logId: number,
    units: readonly { seq: number; unit: number }[],
    bySeq: number,
    erasedAt: string,
  ): Promise<number> {
    const refused = this.refuseReadonly('erase disclosures');
    if (refused) return refused;
    const erase = this.stmts.eraseDisclosure;
    return this.guard('erase disclosures', () =>
      this.db
        .transaction(() => {
          let n = 0;
          const seqs = new Set<number>();
          for (const u of units) {
            const changed = erase.run(bySeq, erasedAt, logId, u.seq, u.unit).changes;
            if (changed > 0) seqs.add(u.seq);
            n += changed;
          }
          // The index columns read from what is now erased go with it, in the same transaction.
          for (const seq of seqs) {
            const cols = erasedIndexColumns(this.stmts.erasedPointers.all(logId, seq) as string[]).filter(
              (c) => c !== 'subjects' || this.hasSubjects,
            );
            if (cols.length === 0) continue;
            this.db
              .prepare(
                `UPDATE events SET ${cols.map((c) => `${c} = NULL`).join(', ')} WHERE log_id = ? AND seq = ?`,
              )
              .run(logId, seq);
          }
          return n;
        })
        .immediate(),
    );
  }

  /** Statements of the archives table (migration 4); null on a file opened read-only before it. */
  private archiveStmtsCache: ReturnType<typeof archiveStatements> | undefined;
  private get archiveStmts(): ReturnType<typeof archiveStatements> {
    if (this.archiveStmtsCache === undefined) this.archiveStmtsCache = archiveStatements(this.db);
    return this.archiveStmtsCache;
  }

  listArchives(logId: number): Promise<ArchiveRow[]> {
    const st = this.archiveStmts;
    if (!st) return Promise.resolve([]);
    return Promise.resolve(
      (st.list.all(logId) as Row[]).map((r) => ({
        from: r['from_seq'] as number,
        to: r['to_seq'] as number,
        bySeq: r['by_seq'] as number,
        manifestSha256: r['manifest_sha256'] as string,
        createdAt: r['created_at'] as string,
      })),
    );
  }

  addArchive(logId: number, row: ArchiveRow): Promise<void> {
    const refused = this.refuseReadonly('record an archive');
    if (refused) return refused;
    const problem = archiveRowProblem(row);
    if (problem) return Promise.reject(new AuditError('invalid_argument', problem));
    return this.guard('record an archive', () =>
      this.db
        .transaction(() => {
          const st = this.archiveStmts!;
          const clash = st.overlap.get(logId, row.to, row.from) as Row | undefined;
          if (clash) {
            throw new AuditError(
              'conflict',
              `seq ${row.from}..${row.to - 1} overlaps the archived range ${String(clash['from_seq'])}..${Number(clash['to_seq']) - 1}`,
            );
          }
          st.insert.run(logId, row.from, row.to, row.bySeq, row.manifestSha256, row.createdAt);
        })
        .immediate(),
    );
  }

  dropArchivedRows(
    logId: number,
    from: number,
    to: number,
  ): Promise<{ disclosures: number; indexRows: number }> {
    const refused = this.refuseReadonly('drop archived rows');
    if (refused) return refused;
    return this.guard('drop archived rows', () =>
      this.db
        .transaction(() => {
          const st = this.archiveStmts!;
          if (!st.covering.get(logId, from, to)) {
            throw new AuditError(
              'invalid_argument',
              `seq ${from}..${to - 1} is not inside one recorded archive: nothing dropped`,
            );
          }
          const disclosures = st.dropDisclosures.run(logId, from, to).changes;
          const indexRows = this.stmts.deleteIndexRange.run(logId, from, to).changes;
          return { disclosures, indexRows };
        })
        .immediate(),
    );
  }

  restoreArchivedRows(
    logId: number,
    disclosures: readonly DisclosureRow[],
    index: readonly StoredIndexRow[],
  ): Promise<number> {
    const refused = this.refuseReadonly('restore archived rows');
    if (refused) return refused;
    return this.guard('restore archived rows', () =>
      this.db
        .transaction(() => {
          const st = this.archiveStmts!;
          let n = 0;
          for (const d of disclosures) {
            n += st.restoreDisclosure.run(
              logId,
              d.seq,
              d.unit,
              d.pointer,
              d.disclosure,
              d.erasedBySeq,
            ).changes;
          }
          for (const x of index) st.restoreEvent.run(...eventColumns(logId, x, x.ts, x.type));
          return n;
        })
        .immediate(),
    );
  }

  removeArchive(logId: number, from: number): Promise<boolean> {
    const refused = this.refuseReadonly('remove an archive record');
    if (refused) return refused;
    return this.guard(
      'remove an archive record',
      () => this.archiveStmts!.remove.run(logId, from).changes > 0,
    );
  }

  getTiles(logId: number, keys: readonly { level: number; index: number }[]): Promise<Map<string, Buffer>> {
    try {
      return Promise.resolve(this.readTiles(logId, keys));
    } catch (e) {
      return Promise.reject(storeError(e, 'cannot read tiles'));
    }
  }

  /**
   * Stored tiles, and the level-0 partial tile read from the entries (it is not stored; a row a
   * database written before migration 6 still holds for it is not read). One read transaction:
   * the head and the rows are of the same snapshot.
   */
  private readonly readTiles = this.readTx(
    (logId: number, keys: readonly { level: number; index: number }[]): Map<string, Buffer> => {
      const out = new Map<string, Buffer>();
      let leaf: { index: number; width: number; from: number; size: number } | undefined;
      for (const k of keys) {
        if (k.level === 0) {
          leaf ??= this.leafTileAt(logId);
          if (leaf.width > 0 && k.index === leaf.index) {
            const hashes = this.leafHashesFrom(logId, leaf.from, leaf.size);
            if (hashes.length > 0) out.set(tileKey(0, k.index), Buffer.concat(hashes));
            continue;
          }
        }
        // A tile rewritten as TEXT (or a number) still reaches the verifier as bytes, never a crash.
        const h: unknown = this.stmts.tile.get(logId, k.level, k.index);
        if (h !== undefined && h !== null) out.set(tileKey(k.level, k.index), bytes(h));
      }
      return out;
    },
  );

  /**
   * The leaf hashes of entries [from, to) up to the first missing seq: a deleted entry shortens
   * the tile there (verify names it) instead of shifting the hashes after it into its place.
   */
  private leafHashesFrom(logId: number, from: number, to: number): Buffer[] {
    const out: Buffer[] = [];
    for (const [seq, hash] of this.stmts.leafHashes.all(logId, from, to) as [unknown, unknown][]) {
      if (seq !== from + out.length) break;
      out.push(bytes(hash));
    }
    return out;
  }

  /** Where the level-0 partial tile of a log lies, by its stored head (width 0: none). */
  private leafTileAt(logId: number): { index: number; width: number; from: number; size: number } {
    const r = this.stmts.logById.get(logId) as Row | undefined;
    const size = r && typeof r['tree_size'] === 'number' && r['tree_size'] >= 0 ? r['tree_size'] : 0;
    return { ...partialLeafTile(Math.min(size, Number.MAX_SAFE_INTEGER)), size };
  }

  /** A read-only function run in one deferred transaction (one snapshot of the WAL). */
  private readTx<A extends unknown[], R>(fn: (...args: A) => R): (...args: A) => R {
    let tx: Database.Transaction<(...args: A) => R> | undefined;
    return (...args: A): R => {
      tx ??= this.db.transaction(fn);
      return tx.deferred(...args);
    };
  }

  addCheckpoint(logId: number, row: CheckpointRow): Promise<void> {
    const refused = this.refuseReadonly('store a checkpoint');
    if (refused) return refused;
    try {
      this.stmts.insertCheckpoint.run(logId, row.size, row.root, row.note, row.createdAt);
    } catch (e) {
      return Promise.reject(storeError(e, 'cannot store the checkpoint'));
    }
    // A checkpoint is signed on a timer, often after the appends it covers went idle: it must not
    // restart the idle wait, or its own frames outlive the truncation the appends already had.
    this.committed(false);
    return Promise.resolve();
  }

  listCheckpoints(logId: number): Promise<CheckpointRow[]> {
    return Promise.resolve((this.stmts.checkpoints.all(logId) as Row[]).map(checkpointOf));
  }

  latestCheckpoint(logId: number): Promise<CheckpointRow | undefined> {
    const r = this.stmts.latestCheckpoint.get(logId) as Row | undefined;
    return Promise.resolve(r ? checkpointOf(r) : undefined);
  }

  async *scan(logId: number, from: number, to: number, chunk: number): AsyncIterable<ScanRow[]> {
    const s = this.stmts;
    for (let a = from; a < to; a += chunk) {
      const b = Math.min(to, a + chunk);
      // Text is read without copying into Buffers; a value whose text holds U+FFFD may not be
      // valid UTF-8 (or may be a rewritten one), so that one is re-read as exact bytes. The leaf
      // hash comes as hex (its exact bytes, whatever the value's type): a Buffer made from it on
      // this side costs a third of one made by the driver.
      const entries = (s.scanEntries.all(logId, a, b) as unknown[][]).map((r) => {
        let leaf = r[1] as string | Buffer;
        if (typeof leaf !== 'string' || leaf.includes('\uFFFD')) leaf = bytes(s.leafBlob.get(logId, r[0]));
        return {
          seq: r[0] as number,
          leaf,
          leafHash: Buffer.from(r[2] as string, 'hex'),
          leafHashHex: r[2] as string,
          eid: r[3] as string,
          type: r[4] as string,
          ts: r[5] as string,
        };
      });
      const ds = s.scanDisclosures.all(logId, a, b) as unknown[][];
      const out: ScanRow[] = [];
      let j = 0;
      for (const entry of entries) {
        while (j < ds.length && (ds[j]![0] as number) < entry.seq) j++;
        const list: ScanRow['disclosures'] = [];
        while (j < ds.length && (ds[j]![0] as number) === entry.seq) {
          const d = ds[j++]!;
          let disclosure = d[3] as string | Buffer | null;
          if (disclosure !== null && (typeof disclosure !== 'string' || disclosure.includes('\uFFFD'))) {
            disclosure = bytes(s.disclosureBlob.get(logId, d[0], d[1]));
          }
          list.push({
            seq: d[0] as number,
            unit: d[1] as number,
            pointer: d[2] as string,
            disclosure,
            erasedBySeq: (d[4] as number | null) ?? null,
          });
        }
        out.push({ entry, disclosures: list });
      }
      yield out;
      await Promise.resolve();
    }
  }

  storedSize(logId: number): Promise<{ count: number; maxSeq: number | null }> {
    const r = this.stmts.storedSize.get(logId) as Row;
    return Promise.resolve({ count: r['n'] as number, maxSeq: (r['m'] as number | null) ?? null });
  }

  lastSeq(logId: number): Promise<number | null> {
    return Promise.resolve((this.stmts.lastSeq.get(logId) as number | null | undefined) ?? null);
  }

  getTileRange(logId: number, level: number, from: number, to: number): Promise<Map<string, Buffer>> {
    const out = new Map<string, Buffer>();
    for (const r of this.stmts.tileRange.all(logId, level, from, to) as unknown[][]) {
      // As getTiles: a tile rewritten as TEXT (or a number) still reaches the verifier as bytes.
      if (typeof r[0] === 'number' && r[1] !== null) out.set(tileKey(level, r[0]), bytes(r[1]));
    }
    return Promise.resolve(out);
  }

  readIndexPacked(
    logId: number,
    after: number | null,
    limit: number,
  ): Promise<(PackedIndexValues | StoredIndexRow)[]> {
    let raw: unknown[][];
    try {
      raw = (
        after === null
          ? this.stmts.indexFirstPacked.all(logId, limit)
          : this.stmts.indexAfterPacked.all(logId, after, limit)
      ) as unknown[][];
    } catch {
      // JSON cannot hold a BLOB (a rewritten value): this page is read value by value.
      return this.readIndex(logId, after, limit);
    }
    return Promise.resolve(raw.map((r) => ({ seq: r[0], packed: r[1] as string })));
  }

  readIndex(logId: number, after: number | null, limit: number): Promise<StoredIndexRow[]> {
    const raw = (
      after === null
        ? this.stmts.indexFirst.all(logId, limit)
        : this.stmts.indexAfter.all(logId, after, limit)
    ) as unknown[][];
    // Arrays are cheaper to read than row objects; the object is built with one fixed shape.
    return Promise.resolve(raw.map(indexRowOf));
  }

  replaceIndex(logId: number, from: number, to: number, rows: readonly StoredIndexRow[]): Promise<void> {
    return this.guard('rebuild the index', () =>
      this.db
        .transaction(() => {
          this.stmts.deleteIndexRange.run(logId, from, to);
          for (const x of rows) {
            this.stmts.insertEvent.run(...eventColumns(logId, x, x.ts, x.type));
          }
        })
        .immediate(),
    );
  }

  clearIndexColumns(
    logId: number,
    seqs: readonly number[],
    columns: readonly PersonalIndexColumn[],
  ): Promise<number> {
    const refused = this.refuseReadonly('clear index columns');
    if (refused) return refused;
    for (const c of columns)
      if (!(PERSONAL_INDEX_COLUMNS as readonly string[]).includes(c))
        return Promise.reject(
          new AuditError('invalid_argument', `${String(c)} is not a personal index column`),
        );
    if (columns.length === 0 || seqs.length === 0) return Promise.resolve(0);
    const stmt = this.db.prepare(
      `UPDATE events SET ${columns.map((c) => `${c} = NULL`).join(', ')} WHERE log_id = ? AND seq = ?`,
    );
    return this.guard('clear index columns', () =>
      this.db
        .transaction(() => {
          let n = 0;
          for (const seq of seqs) n += stmt.run(logId, seq).changes;
          return n;
        })
        .immediate(),
    );
  }

  reclaimSpace(options: { compact?: boolean } = {}): Promise<ReclaimReport> {
    const refused = this.refuseReadonly('reclaim space');
    if (refused) return refused;
    return this.guard('reclaim space', () => {
      const fileBytes = (): number => (this.path === ':memory:' ? 0 : statSync(this.path).size);
      // Measured with the WAL folded into the file: the purge's writes are in the WAL until then.
      if (this.path !== ':memory:') this.db.pragma('wal_checkpoint(TRUNCATE)');
      const pageSize = this.db.pragma('page_size', { simple: true }) as number;
      const freeBytes = (this.db.pragma('freelist_count', { simple: true }) as number) * pageSize;
      const fileBytesBefore = fileBytes();
      if (options.compact) {
        this.db.pragma('auto_vacuum = INCREMENTAL');
        this.db.exec('VACUUM');
      }
      const mode = this.db.pragma('auto_vacuum', { simple: true }) === 2 ? 'incremental' : 'none';
      if (mode === 'incremental') this.db.pragma('incremental_vacuum');
      // The freed pages leave the database file once the WAL is checkpointed into it.
      if (this.path !== ':memory:') this.db.pragma('wal_checkpoint(TRUNCATE)');
      return { mode, freeBytes, fileBytesBefore, fileBytesAfter: fileBytes() };
    });
  }

  pruneIndex(logId: number, size: number): Promise<number> {
    return this.guard('prune the index', () => this.stmts.pruneIndex.run(logId, size).changes);
  }

  listTiles(logId: number, fromLeaf = 0): Promise<TileInfo[]> {
    try {
      return Promise.resolve(this.listTileRows(logId, fromLeaf));
    } catch (e) {
      return Promise.reject(storeError(e, 'cannot list tiles'));
    }
  }

  /**
   * Stored tiles, with the level-0 partial one as the entries give it (as many hashes as there
   * are entries in its range), in one snapshot with the head that places it.
   */
  private readonly listTileRows = this.readTx((logId: number, fromLeaf: number): TileInfo[] => {
    const leaf = this.leafTileAt(logId);
    const tiles = this.storedTileRows(logId, fromLeaf).filter(
      (t) => !(t.level === 0 && leaf.width > 0 && t.index === leaf.index),
    );
    if (leaf.width > 0) {
      let count = Number(this.stmts.countEntries.get(logId, leaf.from, leaf.size));
      if (count !== leaf.width) count = this.leafHashesFrom(logId, leaf.from, leaf.size).length;
      if (count > 0) tiles.push({ level: 0, index: leaf.index, width: count, bytes: count * 32 });
    }
    return tiles.sort((a, b) => a.level - b.level || a.index - b.index);
  });

  private storedTileRows(logId: number, fromLeaf: number): TileInfo[] {
    let rows: Row[];
    if (fromLeaf <= 0) rows = this.stmts.listTiles.all(logId) as Row[];
    else {
      // Per level, from the tile holding leaf `fromLeaf` on: the old tiles are not read at all.
      rows = [];
      for (let level = 0; level <= MAX_TILE_LEVEL; level++) {
        const from = Math.floor(fromLeaf / 256 ** (level + 1));
        for (const r of this.stmts.listTilesFrom.all(logId, level, from) as Row[]) rows.push(r);
      }
      for (const r of this.stmts.listTilesBelow.all(logId) as Row[]) rows.push(r);
      for (const r of this.stmts.listTilesAbove.all(logId) as Row[]) rows.push(r);
    }
    return rows.map((r) => ({
      level: r['level'] as number,
      index: r['idx'] as number,
      width: r['width'] as number,
      bytes: (r['bytes'] as number | null) ?? 0,
    }));
  }

  putTiles(logId: number, tiles: readonly TileRow[]): Promise<void> {
    return this.guard('write tiles', () =>
      this.db
        .transaction(() => {
          for (const t of tiles) {
            // Not stored: the level-0 partial tile is read from the entries.
            if (t.level === 0 && t.width < 256) continue;
            this.stmts.upsertTile.run(logId, t.level, t.index, t.width, t.hashes);
          }
        })
        .immediate(),
    );
  }

  setHead(
    logId: number,
    head: { size: number; root: Buffer; rightEdge: Buffer; lastTs: string | null },
  ): Promise<void> {
    return this.guard('set the log head', () => {
      this.stmts.setHead.run(head.size, head.root, head.rightEdge, head.lastTs, logId);
    });
  }

  /** Runs a write, turning a SQLite error (a read-only file, a trigger) into an AuditError. */
  private guard<T>(what: string, fn: () => T): Promise<T> {
    try {
      const result = fn();
      this.committed();
      return Promise.resolve(result);
    } catch (e) {
      if (e instanceof AuditError) return Promise.reject(e);
      return Promise.reject(
        new AuditError('store_failure', `cannot ${what}: ${(e as Error).message}`, { cause: e }),
      );
    }
  }

  /** Approval and cursor statements, or a refusal when the file predates them (read-only). */
  private concernOf(what: string) {
    if (this.concern) return this.concern;
    throw new AuditError('read_only', `cannot ${what}: ${this.path} is open read-only`);
  }

  putApproval(a: ApprovalRow): Promise<void> {
    const refused = this.refuseReadonly('store an approval request');
    if (refused) return refused;
    return this.guard('store an approval request', () => {
      this.insertApproval(a);
    });
  }

  /** Inserts one approval row; an id that exists is a `conflict`. */
  private insertApproval(a: ApprovalRow): void {
    try {
      this.concernOf('store an approval request').putApproval.run(...approvalValues(a));
    } catch (e) {
      if ((e as { code?: unknown }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
        throw new AuditError('conflict', `approval ${a.id} exists`, { cause: e });
      }
      throw e;
    }
  }

  getApproval(id: string): Promise<ApprovalRow | undefined> {
    try {
      const r = this.stmts.getApproval.get(id) as Row | undefined;
      return Promise.resolve(r ? (this.concern ? approvalOf(r) : legacyApprovalOf(r)) : undefined);
    } catch (e) {
      return Promise.reject(storeError(e, `cannot read approval ${id}`));
    }
  }

  listApprovals(status?: ApprovalRow['status'], logOrigin?: string): Promise<ApprovalRow[]> {
    try {
      const c = this.concern;
      if (!c) {
        const rows = (this.stmts.listApprovalsLegacy.all() as Row[]).map(legacyApprovalOf);
        return Promise.resolve(
          rows.filter(
            (r) =>
              (status === undefined || r.status === status) &&
              (logOrigin === undefined || r.logOrigin === logOrigin),
          ),
        );
      }
      const rows = (
        logOrigin === undefined
          ? status === undefined
            ? c.listAll.all()
            : c.listByStatus.all(status)
          : status === undefined
            ? c.listByLog.all(logOrigin)
            : c.listByLogStatus.all(logOrigin, status)
      ) as Row[];
      return Promise.resolve(rows.map(approvalOf));
    } catch (e) {
      return Promise.reject(storeError(e, 'cannot list approvals'));
    }
  }

  updateApproval(
    id: string,
    from: ApprovalRow['status'],
    to: Partial<Pick<ApprovalRow, 'status' | 'decidedBy' | 'decidedAt' | 'reason'>>,
  ): Promise<boolean> {
    const refused = this.refuseReadonly('update an approval request');
    if (refused) return refused;
    return this.guard(
      'update an approval request',
      () =>
        this.concernOf('update an approval request').updateApproval.run(
          to.status ?? null,
          to.decidedBy ?? null,
          to.decidedAt ?? null,
          to.reason ?? null,
          id,
          from,
        ).changes === 1,
    );
  }

  getCursor(logId: number, name: string): Promise<CursorRow | undefined> {
    const r = this.concern?.getCursor.get(logId, name) as Row | undefined;
    return Promise.resolve(r ? { name: r['name'] as string, seq: r['seq'] as number } : undefined);
  }

  setCursor(logId: number, name: string, seq: number, expectedSeq?: number | null): Promise<boolean> {
    const bad =
      checkCursorName(name) ??
      checkCursorSeq(seq) ??
      (expectedSeq === undefined || expectedSeq === null ? null : checkCursorSeq(expectedSeq));
    if (bad) return Promise.reject(new AuditError('invalid_argument', bad));
    const refused = this.refuseReadonly('move a cursor');
    if (refused) return refused;
    return this.guard('move a cursor', () => {
      const c = this.concernOf('move a cursor');
      if (expectedSeq === undefined) return c.upsertCursor.run(logId, name, seq).changes === 1;
      if (expectedSeq === null) return c.insertCursor.run(logId, name, seq).changes === 1;
      return c.casCursor.run(seq, logId, name, expectedSeq).changes === 1;
    });
  }

  listCursors(logId: number): Promise<CursorRow[]> {
    const rows = (this.concern?.listCursors.all(logId) ?? []) as Row[];
    return Promise.resolve(rows.map((r) => ({ name: r['name'] as string, seq: r['seq'] as number })));
  }

  /** The write thread of this file (shared by every trail of the process on it); none in memory or read-only. */
  openLeafWriter(onStartFailure: (e: unknown) => void): (LeafWriter & { thread: WorkerAppender }) | null {
    if (this.readonly || this.path === ':memory:') return null;
    const { appender, release } = acquireWriteThread(this.path, onStartFailure);
    this.checkpointer = appender;
    return {
      /** The shared thread itself (tests look at its state). */
      thread: appender,
      get ready() {
        return appender.ready;
      },
      get busy() {
        return appender.busy;
      },
      append: async (origin, items, nowMs) => {
        const r = await appender.append(origin, items, nowMs);
        this.lastActivityAt = Date.now();
        return r;
      },
      release: async () => {
        if (this.checkpointer === appender) this.checkpointer = null;
        this.walAutocheckpoint(WAL_AUTOCHECKPOINT_PAGES);
        await release();
      },
    };
  }

  /** The write thread that checkpoints this connection's commits in the background, if any. */
  private checkpointer: WorkerAppender | null = null;
  private autocheckpointPages = WAL_AUTOCHECKPOINT_PAGES;

  private walAutocheckpoint(pages: number): void {
    if (pages === this.autocheckpointPages || !this.db.open) return;
    this.autocheckpointPages = pages;
    this.db.pragma(`wal_autocheckpoint = ${pages}`);
  }

  /**
   * Copies what the WAL holds into the database without waiting for readers or blocking writers
   * (`wal_checkpoint(PASSIVE)`); the next commit then starts the WAL over. For the write thread,
   * which checkpoints for the process, and for a connection finishing one (see `committed`).
   * Never throws: a checkpoint only bounds the WAL.
   */
  checkpointWal(): void {
    if (!this.db.open || this.db.readonly || this.path === ':memory:') return;
    try {
      this.db.pragma('wal_checkpoint(PASSIVE)');
    } catch {
      // Busy or failing: the next one, or SQLite's own at the autocheckpoint size, catches up.
    }
  }

  getMeta(key: string): Promise<string | undefined> {
    return Promise.resolve(this.stmts.getMeta.get(key) as string | undefined);
  }

  setMeta(key: string, value: string): Promise<void> {
    const refused = this.refuseReadonly('write meta');
    if (refused) return refused;
    this.stmts.setMeta.run(key, value);
    this.committed();
    return Promise.resolve();
  }

  addMeta(key: string, value: string): Promise<string> {
    const refused = this.refuseReadonly('write meta');
    if (refused) return refused;
    return this.guard('write meta', () => {
      this.stmts.addMeta.run(key, value);
      this.committed();
      return this.stmts.getMeta.get(key) as string;
    });
  }

  private walTimer: NodeJS.Timeout | null = null;
  /** When the last append committed, on this connection or on the write thread it opened. */
  private lastActivityAt = 0;
  /** True when {@link walTimer} waits the whole {@link WAL_IDLE_MS} (armed by an append). */
  private walTimerFull = false;

  /**
   * After each commit: truncate the WAL once no append has come for {@link WAL_IDLE_MS}. A commit
   * that is not an append (`activity` false: a checkpoint) is truncated with the appends before
   * it — at once when they have been idle that long already — rather than restarting the wait.
   */
  private committed(activity = true): void {
    if (this.path === ':memory:') return;
    if (this.checkpointer) {
      // The write thread copied the WAL while this connection kept committing; the frames of
      // those commits keep the WAL from starting over, and a commit's fsync on a growing WAL
      // costs about twice one that overwrites. Copy those few frames here, between commits, so
      // the next commit starts the WAL over (once per background checkpoint, a fraction of a ms).
      if (this.checkpointer.takeCheckpointFinish()) this.checkpointWal();
      // While the write thread checkpoints in the background, commits here rarely have to.
      this.walAutocheckpoint(
        this.checkpointer.hintCheckpoint() ? WAL_BACKSTOP_PAGES : WAL_AUTOCHECKPOINT_PAGES,
      );
    }
    const now = Date.now();
    if (activity) this.lastActivityAt = now;
    if (this.walTimer) {
      if (!activity) return;
      // A timer armed by a checkpoint may be shorter than the idle wait: re-arm it in full.
      if (this.walTimerFull) {
        this.walTimer.refresh();
        return;
      }
      clearTimeout(this.walTimer);
    }
    this.walTimerFull = activity;
    this.walTimer = setTimeout(
      () => {
        this.walTimer = null;
        this.truncateWal();
      },
      activity ? WAL_IDLE_MS : Math.max(0, this.lastActivityAt + WAL_IDLE_MS - now),
    );
    // Never keeps a process alive: close() truncates too.
    this.walTimer.unref();
  }

  /**
   * Copies the WAL into the database and truncates it to 0 bytes (`wal_checkpoint(TRUNCATE)`).
   * Returns false when a reader or writer of another connection kept it from completing (it is
   * then tried again after the next commit, and SQLite's own checkpoints still bound the WAL).
   * Never throws: it only reclaims disk space.
   *
   * @example
   * store.truncateWal(); // the -wal file is now empty
   */
  truncateWal(): boolean {
    if (!this.db.open || this.db.readonly || this.path === ':memory:') return false;
    try {
      // Waiting up to busy_timeout (5 s) for readers would stall the write path: give up quickly.
      this.db.pragma(`busy_timeout = ${WAL_TRUNCATE_BUSY_MS}`);
      const r = this.db.pragma('wal_checkpoint(TRUNCATE)') as { busy: number }[];
      return r[0]?.busy === 0;
    } catch {
      return false;
    } finally {
      if (this.db.open) this.db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    }
  }

  close(): Promise<void> {
    if (this.walTimer) clearTimeout(this.walTimer);
    this.walTimer = null;
    if (this.db.open) {
      // The last connection to close removes the WAL itself; with others still open (the write
      // thread, another process) it would stay at its largest size.
      this.truncateWal();
      this.db.close();
    }
    return Promise.resolve();
  }

  // -------------------------------------------------------------------------------------------
  // API keys of the HTTP server (see ApiKeyRow in store.ts). Their table is created on first use
  // (not by a migration), so a database that never served HTTP has none.
  // -------------------------------------------------------------------------------------------

  private apiKeyTableReady = false;
  private apiKeyById: Database.Statement | undefined;

  /** True when the table exists (created here unless read-only). */
  private apiKeyTable(): boolean {
    if (this.apiKeyTableReady) return true;
    if (!this.readonly) {
      this.db.exec(
        `CREATE TABLE IF NOT EXISTS api_keys (
           id TEXT PRIMARY KEY, hash BLOB NOT NULL, tenant TEXT NOT NULL, name TEXT NOT NULL,
           scopes TEXT NOT NULL, created_at TEXT NOT NULL, revoked_at TEXT)`,
      );
    }
    this.apiKeyTableReady =
      this.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'api_keys'").get() !==
      undefined;
    return this.apiKeyTableReady;
  }

  putApiKey(row: ApiKeyRow): Promise<void> {
    const refused = this.refuseReadonly('store an API key');
    if (refused) return refused;
    return this.guard('store an API key', () => {
      this.apiKeyTable();
      const r = this.db
        .prepare(
          'INSERT OR IGNORE INTO api_keys (id, hash, tenant, name, scopes, created_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
        )
        .run(
          row.id,
          row.hash,
          row.tenant,
          row.name,
          JSON.stringify(row.scopes),
          row.createdAt,
          row.revokedAt,
        );
      if (r.changes !== 1) throw new AuditError('conflict', `API key ${row.id} exists`);
    });
  }

  getApiKey(id: string): Promise<ApiKeyRow | undefined> {
    if (!this.apiKeyTable()) return Promise.resolve(undefined);
    // Every authenticated request looks its key up: one prepared statement.
    this.apiKeyById ??= this.db.prepare('SELECT * FROM api_keys WHERE id = ?');
    const r = this.apiKeyById.get(id) as Row | undefined;
    return Promise.resolve(r ? apiKeyOf(r) : undefined);
  }

  listApiKeys(tenant?: string): Promise<ApiKeyRow[]> {
    if (!this.apiKeyTable()) return Promise.resolve([]);
    const rows = (
      tenant === undefined
        ? this.db.prepare('SELECT * FROM api_keys ORDER BY created_at, id').all()
        : this.db.prepare('SELECT * FROM api_keys WHERE tenant = ? ORDER BY created_at, id').all(tenant)
    ) as Row[];
    return Promise.resolve(rows.map(apiKeyOf));
  }

  revokeApiKey(id: string, at: string): Promise<boolean> {
    const refused = this.refuseReadonly('revoke an API key');
    if (refused) return refused;
    return this.guard('revoke an API key', () => {
      if (!this.apiKeyTable()) return false;
      return (
        this.db.prepare('UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL').run(at, id)
          .changes === 1
      );
    });
  }
}

function isEidConflict(e: unknown): boolean {
  return (
    (e as { code?: unknown }).code === 'SQLITE_CONSTRAINT_UNIQUE' &&
    (e as Error).message.includes('entries.log_id, entries.eid')
  );
}

/** Joins disclosure rows (sorted by seq, unit) onto entries (sorted by seq). */
export function mergeDisclosures(entries: EntryRow[], ds: unknown[][]): StoredEvent[] {
  const out: StoredEvent[] = [];
  let j = 0;
  for (const entry of entries) {
    while (j < ds.length && (ds[j]![0] as number) < entry.seq) j++;
    const list: DisclosureRow[] = [];
    while (j < ds.length && (ds[j]![0] as number) === entry.seq) {
      const d = ds[j]!;
      list.push({
        seq: d[0] as number,
        unit: d[1] as number,
        pointer: d[2] as string,
        disclosure: d[3] === null || d[3] === undefined ? null : bytes(d[3]),
        erasedBySeq: (d[4] as number | null) ?? null,
      });
      j++;
    }
    out.push({ entry, disclosures: list });
  }
  return out;
}
