import type { TileRow } from '../core/tiles.js';
import type { PackedIndexValues } from '../core/verify-index.js';

/**
 * Storage for verifiable logs. Stores persist bytes and never compute hashes: everything that is
 * hashed or signed is computed by `core/` (through the `plan` callback of {@link AuditStore.append})
 * and handed to the store as bytes. One contract suite (`store.contract.ts`) runs against every
 * implementation.
 */

export type {
  AppendContext,
  AppendPlan,
  DisclosureRow,
  EntryRow,
  ExistingEntry,
  IndexRow,
  LogHead,
} from '../core/append-plan.js';
import type {
  AppendContext,
  AppendPlan,
  DisclosureRow,
  EntryRow,
  IndexRow,
  LogHead,
  PreparedLeaf,
  Receipt,
} from '../core/append-plan.js';

/** An index row with the leaf's `type` and `ts`, as stored (verification and rebuild). */
export interface StoredIndexRow extends IndexRow {
  type: string;
  ts: string;
}

/** A stored tile's key and sizes (verification checks the set of tiles is complete). */
export interface TileInfo {
  level: number;
  index: number;
  /** The `width` column. */
  width: number;
  /** Length of the stored hashes, in bytes. */
  bytes: number;
}

export interface CheckpointRow {
  size: number;
  root: Buffer;
  note: string;
  createdAt: string;
}

export interface EventFilter {
  tenant?: string;
  session_id?: string;
  run_id?: string;
  trace_id?: string;
  /** An actor id, or any of several (a person's id in plain and as its `user:<tag>`). */
  actor_id?: string | readonly string[];
  action_type?: string;
  /** A target (globs allowed), or any of several exact ones (a target and its `h:<tag>`). */
  target?: string | readonly string[];
  /** A data subject's tag (core/index-row.ts personTagger), among the row's `subjects`. */
  subject?: string;
  type?: string;
  decision?: string;
  status?: string;
  risk?: string;
  /** Inclusive lower bound on the log's `ts` (RFC 3339). */
  since?: string;
  /** Exclusive upper bound on the log's `ts`. */
  until?: string;
}

/** An entry as verification reads it: bytes, or their exact UTF-8 text. */
export interface ScanRow {
  /**
   * `leafHashHex`, when a store gives it: `leafHash` as lowercase hex (verification compares the
   * hex digest it computes with it, which costs less than a Buffer digest).
   */
  entry: Omit<EntryRow, 'leaf'> & { leaf: Buffer | string; leafHashHex?: string };
  disclosures: (Omit<DisclosureRow, 'disclosure'> & { disclosure: Buffer | string | null })[];
}

/**
 * An entry as evidence reads it ({@link LogStore.readEntryTexts}): the leaf bytes, and each
 * disclosure in unit order as its UTF-8 text (null once erased).
 */
export interface EntryText {
  seq: number;
  leaf: Buffer;
  disclosures: { pointer: string; disclosure: string | null; erasedBySeq: number | null }[];
}

export interface StoredEvent {
  entry: EntryRow;
  disclosures: DisclosureRow[];
}

/**
 * An event as a listing ({@link IndexStore.query}) returns it: no leaf bytes (`entry.leaf` may be
 * empty), and each disclosure as its bytes or, as in {@link ScanRow}, its exact UTF-8 text.
 */
export interface ListedEvent {
  entry: EntryRow;
  disclosures: ScanRow['disclosures'];
}

/** Where an approval request is in its life: decided once, used once. */
export type ApprovalStatus = 'pending' | 'granted' | 'denied' | 'expired' | 'used';

/**
 * One approval request, as stored: one column per field the SDK reads (no JSON document to
 * parse). Everything here was redacted by the log's rules before it reached the store; the
 * request digest binds the raw action.
 */
export interface ApprovalRow {
  id: string;
  logOrigin: string;
  status: ApprovalStatus;
  requestDigest: string;
  approvers: string[];
  expiresAt: string;
  createdAt: string;
  /** The action the request is about: its type, target, parameters and declared side effects. */
  actionType: string;
  target: string | null;
  /** The action's parameters (any JSON value); `undefined` when the action had none. */
  params?: unknown;
  sideEffects: string[] | null;
  /** The policy rule that asked for the approval, and its reason. */
  matchedRule: string | null;
  requestReason: string;
  /** Who asked (the acting agent or user). */
  actorType: string;
  actorId: string;
  /** Correlation carried by every approval event of the request. */
  sessionId: string | null;
  runId: string | null;
  parentEventId: string | null;
  traceId: string | null;
  spanId: string | null;
  decidedBy: string | null;
  decidedAt: string | null;
  /** The approver's reason. */
  reason: string | null;
}

/** A row of {@link CursorStore}: how far a named consumer (an exporter, a detector) has read a log. */
export interface CursorRow {
  name: string;
  /** The next seq the consumer will read (0: nothing read yet). */
  seq: number;
}

/**
 * Rows of other concerns written in the same transaction as an append (all or nothing with it):
 * an approval request and its `approval.requested` event are never stored one without the other.
 */
export interface SideWrites {
  /** Approval requests to insert; an id that exists fails the whole append. */
  approvals?: readonly ApprovalRow[];
}

/**
 * A store's own committer of prepared leaves, when it has one (SQLite: a write thread with its own
 * connection, so the next batch is prepared while this one is fsynced). Planning still happens in
 * core's `planAppend`, inside the store's transaction.
 */
export interface LeafWriter {
  /** True when appends can go through this writer now (it may still be starting, or have died). */
  readonly ready: boolean;
  /** True while a batch is being committed. */
  readonly busy: boolean;
  append(
    origin: string,
    items: readonly PreparedLeaf[],
    nowMs: number,
  ): Promise<{
    receipts: Receipt[];
    head: Pick<LogHead, 'size' | 'root' | 'rightEdge' | 'lastTs'> | undefined;
  }>;
  /** Releases this user's hold; the writer ends with its last user. */
  release(): Promise<void>;
}

/**
 * A range of a log moved to a cold archive (docs/storage.md "Cold archive"): the entries of seq
 * [from, to) keep their leaves (and the tiles stay), their disclosures and index rows live in the
 * archive's Parquet files. `bySeq` is the `archive.created` event naming the range and the
 * SHA-256 of the archive's manifest; verification checks the record against that event.
 */
export interface ArchiveRow {
  from: number;
  to: number;
  bySeq: number;
  /** Hex SHA-256 of the archive's `manifest.json`. */
  manifestSha256: string;
  createdAt: string;
}

/**
 * The verifiable log: logs and their heads, appends, entries with their disclosures, tiles and
 * checkpoints, and the reads verification needs.
 */
export interface LogStore {
  /** Returns the log, creating it (empty) if it does not exist. */
  openLog(origin: string, tenant: string, emptyRoot: Buffer): Promise<LogHead>;
  getLog(origin: string): Promise<LogHead | undefined>;
  listLogs(): Promise<LogHead[]>;
  /**
   * One durable transaction: lock the log, look up `eids`, call `plan` with the locked state and
   * write what it returns, with `sideWrites` (rows of the store's other concerns). Resolves only
   * after the commit is durable; when anything fails, nothing of it is stored.
   */
  append<T>(
    origin: string,
    eids: readonly string[],
    plan: (ctx: AppendContext) => { plan: AppendPlan; result: T },
    sideWrites?: SideWrites,
  ): Promise<T>;
  /** Entries with seq in [from, to), ascending, with their disclosures. */
  readEvents(logId: number, from: number, to: number): Promise<StoredEvent[]>;
  getBySeq(logId: number, seq: number): Promise<StoredEvent | undefined>;
  getByEid(logId: number, eid: string): Promise<StoredEvent | undefined>;
  /**
   * The stored events of those of `eids` that are in the log, in any order (one read for a
   * batch's re-send check instead of one per event). Optional: without it, {@link getByEid} is
   * asked for each.
   */
  getByEids?(logId: number, eids: readonly string[]): Promise<StoredEvent[]>;
  /**
   * Erases the plaintext of disclosures (GDPR erasure, retention): each named one not erased yet
   * gets `disclosure` null and `erasedBySeq` = `bySeq`, the seq of the `data.erased` event naming
   * it. Nothing hashed changes. Returns how many were erased; unknown ones are skipped.
   */
  eraseDisclosures(
    logId: number,
    units: readonly { seq: number; unit: number }[],
    bySeq: number,
    erasedAt: string,
  ): Promise<number>;
  /** The log's archived ranges, by `from`. */
  listArchives(logId: number): Promise<ArchiveRow[]>;
  /**
   * Records an archived range; refused (`conflict`) when it overlaps a recorded one, and
   * (`invalid_argument`) unless 0 <= from < to <= bySeq. Deleting its rows is allowed from then on.
   */
  addArchive(logId: number, row: ArchiveRow): Promise<void>;
  /**
   * Deletes the disclosures and index rows of seq [from, to), which must lie inside one recorded
   * archive (`invalid_argument` otherwise), in one transaction; returns how many of each.
   */
  dropArchivedRows(
    logId: number,
    from: number,
    to: number,
  ): Promise<{ disclosures: number; indexRows: number }>;
  /**
   * Puts back disclosures and index rows of an archived range (restore), in one transaction;
   * a row already stored is kept as it is. Returns how many disclosures were inserted.
   */
  restoreArchivedRows(
    logId: number,
    disclosures: readonly DisclosureRow[],
    index: readonly StoredIndexRow[],
  ): Promise<number>;
  /** Removes the record of the archive starting at `from` (after a restore); false when none. */
  removeArchive(logId: number, from: number): Promise<boolean>;
  getTiles(logId: number, keys: readonly { level: number; index: number }[]): Promise<Map<string, Buffer>>;
  /**
   * Optional: the stored tiles of `level` with index in [from, to), keyed as {@link getTiles}
   * keys them, in one ordered read (verification reads a run of full tiles so; one lookup per
   * tile costs more). Only for tiles complete in the tree: a partial one is read with getTiles.
   */
  getTileRange?(logId: number, level: number, from: number, to: number): Promise<Map<string, Buffer>>;
  /**
   * Every stored tile of a log, by level then index (about size / 255 rows); with `fromLeaf`,
   * only the tiles holding a hash of leaf `fromLeaf` or later (incremental verification).
   */
  listTiles(logId: number, fromLeaf?: number): Promise<TileInfo[]>;
  /** Writes tiles in one transaction: a missing one is inserted, a partial one grows (rebuild). */
  putTiles(logId: number, tiles: readonly TileRow[]): Promise<void>;
  /** Stores a checkpoint; one per size (a second one of the same size is ignored). */
  addCheckpoint(logId: number, row: CheckpointRow): Promise<void>;
  /** Checkpoints by size, ascending. */
  listCheckpoints(logId: number): Promise<CheckpointRow[]>;
  latestCheckpoint(logId: number): Promise<CheckpointRow | undefined>;
  /**
   * Optional: the entries with seq in [from, to) as evidence packages read them (leaf bytes and
   * disclosure texts, nothing else), in seq order. A disclosure's text is its bytes decoded as
   * UTF-8, an invalid sequence replaced by U+FFFD as `Buffer#toString('utf8')` does (a check of
   * its digest then fails). Without it, {@link readEvents} is read and decoded.
   */
  readEntryTexts?(logId: number, from: number, to: number): Promise<EntryText[]>;
  /**
   * Streams every entry of a log in seq order, in chunks, for verification. Leaf and disclosure
   * bytes may come as their UTF-8 text (cheaper to read and hash) when that text is exact.
   */
  scan(logId: number, from: number, to: number, chunk: number): AsyncIterable<ScanRow[]>;
  /** All seqs actually stored, to tell deletions from truncation (verification only). */
  storedSize(logId: number): Promise<{ count: number; maxSeq: number | null }>;
  /** The highest seq stored (null: none), without counting the entries (verification). */
  lastSeq(logId: number): Promise<number | null>;
  /** Sets the log row's head to values computed from verified entries (rebuild). */
  setHead(
    logId: number,
    head: { size: number; root: Buffer; rightEdge: Buffer; lastTs: string | null },
  ): Promise<void>;
  /**
   * The store's own leaf writer, or null when appends should go through {@link append} on the
   * caller's thread. `onStartFailure` is told when the writer cannot start (appends then stay on
   * the caller's thread).
   */
  openLeafWriter?(onStartFailure: (e: unknown) => void): LeafWriter | null;
}

/** The query index: one row of filter columns per entry, derived from it (verify checks each). */
export interface IndexStore {
  /**
   * Filtered listing in seq order (descending when `order` is 'desc'), after the cursor seq.
   * Listings carry no leaf bytes (`entry.leaf` may be empty): a timeline never needs them, and
   * proofs read the entry with {@link LogStore.getBySeq}. Disclosures may come as their exact
   * UTF-8 text (a timeline parses text, so reading bytes only to decode them is waste).
   */
  query(
    logId: number,
    filter: EventFilter,
    options: { after?: number; before?: number; limit: number; order: 'asc' | 'desc' },
  ): Promise<ListedEvent[]>;
  countEvents(logId: number, filter: EventFilter): Promise<number>;
  /**
   * Index rows of a log with seq greater than `after` (all when null), ascending, at most
   * `limit`: keyset pages for verification. Values come back as stored, unchecked.
   */
  readIndex(logId: number, after: number | null, limit: number): Promise<StoredIndexRow[]>;
  /**
   * Optional, {@link AuditStore.readIndex} for verification with each row's other columns packed
   * as one JSON array text (see `PackedIndexValues` in core/verify-index.ts), cheaper to read
   * than a dozen values. A row whose values JSON cannot hold (bytes) comes unpacked instead.
   */
  readIndexPacked?(
    logId: number,
    after: number | null,
    limit: number,
  ): Promise<(PackedIndexValues | StoredIndexRow)[]>;
  /** In one transaction, replaces the index rows with seq in [from, to) by `rows` (rebuild). */
  replaceIndex(logId: number, from: number, to: number, rows: readonly StoredIndexRow[]): Promise<void>;
  /** Deletes the index rows whose seq is not an integer in [0, size); returns how many (rebuild). */
  pruneIndex(logId: number, size: number): Promise<number>;
  /**
   * Sets `columns` to null in the index rows of `seqs` (a purge that erased the disclosures those
   * columns are read from; verify no longer checks such a column). Returns the rows changed.
   */
  clearIndexColumns(
    logId: number,
    seqs: readonly number[],
    columns: readonly PersonalIndexColumn[],
  ): Promise<number>;
}

/** Index columns that can name a person or a conversation: cleared by an `all-but-leaf` purge. */
export const PERSONAL_INDEX_COLUMNS = [
  'session_id',
  'run_id',
  'trace_id',
  'actor_id',
  'target',
  'time',
] as const;
export type PersonalIndexColumn = (typeof PERSONAL_INDEX_COLUMNS)[number];

/** What {@link AuditStore.reclaimSpace} gave back. */
export interface ReclaimReport {
  /**
   * `incremental`: freed pages returned to the file system (SQLite `auto_vacuum = INCREMENTAL`);
   * `none`: the database was created without it, freed pages are only reused by later writes
   * (`compact` once switches it); `vacuum`: PostgreSQL ran `VACUUM` on the tables purges shrink
   * (freed space reusable, trailing empty pages given back; `VACUUM FULL` with `compact`);
   * `not_applicable`: a store with no file.
   */
  mode: 'incremental' | 'none' | 'vacuum' | 'not_applicable';
  /** Free pages × page size before reclaiming (PostgreSQL: the bytes the vacuum gave back). */
  freeBytes: number;
  fileBytesBefore: number;
  fileBytesAfter: number;
}

/** Human approval requests (DESIGN §5), changed only by compare-and-set of their status. */
export interface ApprovalStore {
  /** Inserts a request; an id that exists is refused (`conflict`). */
  putApproval(row: ApprovalRow): Promise<void>;
  getApproval(id: string): Promise<ApprovalRow | undefined>;
  /** Requests by creation time, of one status and one log when given. */
  listApprovals(status?: ApprovalStatus, logOrigin?: string): Promise<ApprovalRow[]>;
  /** Compare-and-set of an approval's status; false when it was not in `from`. */
  updateApproval(
    id: string,
    from: ApprovalStatus,
    to: Partial<Pick<ApprovalRow, 'status' | 'decidedBy' | 'decidedAt' | 'reason'>>,
  ): Promise<boolean>;
}

/**
 * Named read positions of a log's consumers (exporters, detectors): one per (log, name), moved
 * by compare-and-set so two copies of a consumer never both advance from the same place.
 */
export interface CursorStore {
  getCursor(logId: number, name: string): Promise<CursorRow | undefined>;
  /**
   * Sets the cursor to `seq` (a non-negative integer). With `expectedSeq`, only when the cursor
   * is at that seq now (`null`: only when it does not exist yet); returns false when it was not.
   */
  setCursor(logId: number, name: string, seq: number, expectedSeq?: number | null): Promise<boolean>;
  /** The log's cursors, by name. */
  listCursors(logId: number): Promise<CursorRow[]>;
}

/** Small named values beside the logs (the policy in force, key state). */
export interface MetaStore {
  getMeta(key: string): Promise<string | undefined>;
  setMeta(key: string, value: string): Promise<void>;
  /** Stores `value` under `key` unless one is there already; resolves with the value stored now. */
  addMeta(key: string, value: string): Promise<string>;
}

/**
 * A whole backend: every concern, on one database. Implemented by the SQLite, PostgreSQL and
 * memory stores; `store.contract.ts` holds the cases each of them passes.
 */
export interface AuditStore extends LogStore, IndexStore, ApprovalStore, CursorStore, MetaStore {
  readonly kind: 'sqlite' | 'postgres' | 'memory';
  /** Where the data lives (a SQLite file path, ':memory:', a URL); absent for an in-process store. */
  readonly location?: string;
  /**
   * True when other threads can open {@link AuditStore.location} read-only (`openStore`) and read
   * the same committed data side by side (a SQLite file in WAL mode): verification then runs on
   * several threads. Absent or false: one thread (in-memory stores).
   */
  readonly parallelReads?: boolean;
  /**
   * Returns the pages a purge freed to the file system (SQLite: `PRAGMA incremental_vacuum`).
   * With `compact`, first rewrites the whole database once (`VACUUM`) and switches it to
   * incremental vacuum (needs free disk space about the size of the database).
   */
  reclaimSpace?(options?: { compact?: boolean }): Promise<ReclaimReport>;
  close(): Promise<void>;
}

/** A cursor name: 1 to 200 characters, no control characters. */
export function checkCursorName(name: string): string | null {
  const ok =
    typeof name === 'string' &&
    name.length > 0 &&
    name.length <= 200 &&
    [...name].every((c) => c.charCodeAt(0) >= 0x20 && c.charCodeAt(0) !== 0x7f);
  return ok ? null : 'a cursor name is 1 to 200 characters, none of them control characters';
}

/** A cursor seq (and an expected one): a non-negative safe integer. */
export function checkCursorSeq(seq: unknown): string | null {
  return Number.isSafeInteger(seq) && (seq as number) >= 0 ? null : 'a cursor seq is a non-negative integer';
}

/** Why `row` cannot be an archive record (null when it can): 0 <= from < to <= bySeq, integers. */
export function archiveRowProblem(row: ArchiveRow): string | null {
  const ints = [row.from, row.to, row.bySeq].every((n) => Number.isSafeInteger(n) && n >= 0);
  if (!ints || row.from >= row.to || row.to > row.bySeq) {
    return 'an archived range is seq from..to-1 with 0 <= from < to, recorded by a later event (to <= by_seq)';
  }
  return /^[0-9a-f]{64}$/.test(row.manifestSha256) ? null : 'the manifest digest is 64 lowercase hex digits';
}

/** Key of a tile in maps returned by {@link AuditStore.getTiles}. */
export function tileKey(level: number, index: number): string {
  return `${level}/${index}`;
}

// ---------------------------------------------------------------------------------------------
// API keys of the HTTP server (`auditrail serve`, `auditrail apikeys`). Kept in the store so every
// backend (SQLite now, PostgreSQL later) holds them beside the logs they open; only hashes are
// stored. The server module owns their meaning (src/server/api-keys.ts).
// ---------------------------------------------------------------------------------------------

/** One API key as stored: its public id (the lookup prefix) and the SHA-256 of the whole key. */
export interface ApiKeyRow {
  /** Public prefix of the key, e.g. `atr_1a2b3c4d5e6f7a8b`: shown in listings, used for lookup. */
  id: string;
  /** SHA-256 of the whole key (32 bytes); the key itself is never stored. */
  hash: Buffer;
  tenant: string;
  /** The principal's name: recorded as the approver of approvals made with this key. */
  name: string;
  scopes: string[];
  createdAt: string;
  revokedAt: string | null;
}

export interface AuditStore {
  /** Stores a new key; `conflict` when its id exists. */
  putApiKey(row: ApiKeyRow): Promise<void>;
  getApiKey(id: string): Promise<ApiKeyRow | undefined>;
  /** Every key (revoked ones too), oldest first; only the keys of `tenant` when given. */
  listApiKeys(tenant?: string): Promise<ApiKeyRow[]>;
  /** Marks a key revoked at `at`; false when it does not exist or was already revoked. */
  revokeApiKey(id: string, at: string): Promise<boolean>;
}
