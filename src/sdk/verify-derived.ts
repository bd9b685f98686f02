import { parseCheckpoint } from '../core/checkpoint.js';
import type { PersonTagger } from '../core/index-row.js';
import { readIndexTagger } from './index-key.js';
import type { CheckpointOpener } from '../core/checkpoint-opener.js';
import { parseLeaf } from '../core/leaf.js';
import { CompactRange } from '../core/merkle.js';
import type { NoteVerifier } from '../core/note.js';
import { expandTile, type TileRow } from '../core/tiles.js';
import {
  checkCheckpointRows,
  checkLogRow,
  checkTileSet,
  expectedIndexRow,
  IndexVerifier,
} from '../core/verify-index.js';
import type { ArchiveClaim, FailureKind, VerifyFailure, VerifyReport } from '../core/verify-log.js';
import type { AuditStore, CheckpointRow, LogHead, ScanRow, StoredIndexRow } from '../store/store.js';

/**
 * Entries (and index rows) read per statement while verifying. Small on purpose: the strings of
 * a chunk then die young. Chunks of 8192 outlived the young generation and were collected by
 * full mark-sweeps, a third of verify's CPU (bench/profile-verify.ts: 31.5 µs/event at 8192,
 * 21.5 µs at 256).
 */
export const VERIFY_CHUNK = 256;
/** Entries read per chunk while rebuilding (each chunk is one write transaction). */
const REBUILD_CHUNK = 8192;

/**
 * Streams the stored index rows of a log from a seq on beside the entries verify scans, and
 * merge-joins them (see `core/verify-index.ts` {@link IndexVerifier}).
 */
export class IndexRowStream {
  readonly index: IndexVerifier;
  private after: number | null = null;
  protected done = false;
  /** Archived ranges (store records): their entries without disclosures have no index row. */
  archived: readonly ArchiveClaim[] = [];

  /**
   * `from`: first seq checked (incremental verification); index rows below it are not read.
   * `pageSize`: rows per read (a short segment reads no more than it needs).
   */
  constructor(
    protected readonly store: AuditStore,
    protected readonly logId: number,
    from = 0,
    private readonly pageSize = VERIFY_CHUNK,
    tag?: PersonTagger,
  ) {
    this.index = new IndexVerifier(tag ? { tag } : {});
    if (from > 0) this.after = from - 1;
  }

  protected async page(): Promise<void> {
    if (this.done) return;
    const rows = this.store.readIndexPacked
      ? await this.store.readIndexPacked(this.logId, this.after, this.pageSize)
      : await this.store.readIndex(this.logId, this.after, this.pageSize);
    const last = rows[rows.length - 1]?.seq;
    // Values that are not numbers sort after every number in SQL: nothing can follow them.
    if (rows.length < this.pageSize || typeof last !== 'number') this.done = true;
    else this.after = last;
    this.index.addRows(rows);
  }

  /** Call before pushing a chunk of entries: reads the index rows up to the chunk's last seq. */
  async beforeChunk(chunk: readonly ScanRow[]): Promise<void> {
    const last = chunk[chunk.length - 1]?.entry.seq;
    if (last === undefined) return;
    while (!this.done && this.index.fedUpTo < last) await this.page();
  }

  push(e: ScanRow): void {
    const seq = e.entry.seq;
    if (e.disclosures.length === 0 && this.archived.some((a) => a.from <= seq && seq < a.to)) {
      this.index.pushArchived(e);
    } else this.index.push(e);
  }
}

/**
 * Streams the stored index rows beside the entries verify scans, and after the scan checks the
 * other derived rows (tiles, the log row, checkpoint rows). See `core/verify-index.ts`.
 */
export class DerivedRowsCheck extends IndexRowStream {
  /**
   * `from`: first seq checked (incremental verification); index rows below it are not read, and
   * only the tiles holding hashes of entries from `from` on are checked. `indexFrom`: where
   * index rows are read from when the entries before it were checked elsewhere (parallel runs).
   */
  constructor(
    store: AuditStore,
    private readonly head: LogHead,
    private readonly from = 0,
    indexFrom = from,
    tag?: PersonTagger,
  ) {
    super(store, head.logId, indexFrom, VERIFY_CHUNK, tag);
  }

  /** Failures of every derived row, once the entries were pushed and `report` finished. */
  async finish(
    report: VerifyReport,
    tree: { rightEdge: Buffer },
    checkpoints: readonly CheckpointRow[],
    verifiers: readonly NoteVerifier[],
    witnessed: string | undefined,
    open?: CheckpointOpener,
  ): Promise<VerifyFailure[]> {
    const tiles = await this.store.listTiles(this.head.logId, this.from);
    // Appends by another writer while this ran: their rows are not this run's to judge.
    const now = await this.store.getLog(this.head.origin);
    const grew = now !== undefined && now.size > this.head.size;
    const covered = grew ? report.size : null;
    // Rows past the last entry are extra; drain them page by page.
    this.index.finish(covered);
    while (!this.done) {
      await this.page();
      this.index.finish(covered);
    }
    return [
      ...this.index.finish(covered),
      ...checkTileSet(report.size, tiles, { grew, fromLeaf: this.from }),
      ...checkLogRow(this.head, { size: report.size, rightEdge: tree.rightEdge }, this.index.last),
      ...checkCheckpointRows(checkpoints, verifiers, this.head.origin, witnessed, report.size, open),
      ...(await renamedLogRows(this.store, this.head)),
    ];
  }
}

/**
 * Another log row whose entries name this log: the log row was renamed (its `origin` edited), so
 * opening this log by name found (or created) an empty one. Or another log row with this log's
 * name: a copy, possible once the unique key on `origin` is dropped (PostgreSQL, as a superuser),
 * that listings show beside this one and a later open may find instead.
 */
async function renamedLogRows(store: AuditStore, head: LogHead): Promise<VerifyFailure[]> {
  const out: VerifyFailure[] = [];
  for (const other of await store.listLogs()) {
    if (other.logId === head.logId) continue;
    if (other.origin === head.origin) {
      out.push({
        seq: null,
        kind: 'cross_log',
        detail: `log rows ${head.logId} and ${other.logId} are both named ${head.origin}: a log row was copied`,
      });
      continue;
    }
    const first = await store.getBySeq(other.logId, 0);
    if (!first) continue;
    let log: string;
    try {
      log = parseLeaf(first.entry.leaf).log;
    } catch {
      continue;
    }
    if (log === head.origin) {
      out.push({
        seq: null,
        kind: 'cross_log',
        detail: `the log row named ${other.origin} holds the entries of ${head.origin}: a log row was renamed`,
      });
    }
  }
  return out;
}

/** Failure kinds `rebuildDerivedRows` repairs: derived rows only, never an entry or a signature. */
export const REBUILDABLE_KINDS: ReadonlySet<FailureKind> = new Set<FailureKind>([
  'index_missing',
  'index_mismatch',
  'index_extra',
  'tile_missing',
  'head_mismatch',
  'checkpoint_missing',
]);

/** What `rebuildIndex()` did. */
export interface RebuildReport {
  /** Verification before the rebuild. */
  before: VerifyReport;
  /** Verification after the rebuild; null when it was refused. */
  after: VerifyReport | null;
  /** Why the rebuild was refused: failures that derived rows cannot explain. */
  refused: string | null;
  rebuilt: {
    index_rows: number;
    index_rows_removed: number;
    tiles: number;
    head: boolean;
    /** Checkpoint rows restored from the witness file. */
    checkpoints: number;
  };
}

function sameRow(a: StoredIndexRow | undefined, b: StoredIndexRow): boolean {
  if (!a) return false;
  for (const k of Object.keys(b) as (keyof StoredIndexRow)[]) if (a[k] !== b[k]) return false;
  return true;
}

/**
 * Rebuilds the derived rows of a log from its entries, after `before` (a verification of the same
 * log) found only failures of derived rows: the index rows (chunk by chunk, each chunk one
 * transaction), missing or short tiles, the log row's head, and the newest checkpoint row from
 * the witness copy (`witnessed`). Idempotent: an interrupted
 * rebuild is finished by running it again. The caller verifies again afterwards.
 */
export async function rebuildDerivedRows(
  store: AuditStore,
  head: LogHead,
  before: VerifyReport,
  witnessed?: string,
): Promise<RebuildReport['rebuilt']> {
  const rebuilt = { index_rows: 0, index_rows_removed: 0, tiles: 0, head: false, checkpoints: 0 };
  const size = before.size;
  const tag = await readIndexTagger(store, head.origin);
  const tilesStored = new Map(
    (await store.listTiles(head.logId)).map((t) => [`${t.level}/${t.index}`, t.bytes]),
  );
  const puts: TileRow[] = [];
  const current: Buffer[] = [];
  const widths: number[] = [];
  const emit = (level: number, index: number, width: number): void => {
    const stored = tilesStored.get(`${level}/${index}`) ?? 0;
    if (stored >= width * 32) return;
    const hashes = current[level]!.subarray(0, width * 32);
    // A full tile is written with its interior heights, as the write path does (tiles.ts).
    puts.push({ level, index, width, hashes: width === 256 ? expandTile(hashes) : Buffer.from(hashes) });
  };
  const range = new CompactRange();
  const onNode = (level: number, index: number, hash: Buffer): void => {
    if (level % 8 !== 0) return;
    const l = level / 8;
    const pos = index % 256;
    if (pos === 0) current[l] = Buffer.alloc(256 * 32);
    hash.copy(current[l]!, pos * 32);
    widths[l] = pos + 1;
    if (pos === 255) emit(l, Math.floor(index / 256), 256);
  };
  let lastTs: string | null = null;
  for await (const chunk of store.scan(head.logId, 0, size, REBUILD_CHUNK)) {
    const first = chunk[0]?.entry.seq;
    if (first === undefined) continue;
    const to = Math.min(size, chunk[chunk.length - 1]!.entry.seq + 1);
    const stored = new Map<number, StoredIndexRow>();
    for (const r of await store.readIndex(head.logId, first - 1, to - first)) {
      if (typeof r.seq === 'number' && r.seq < to) stored.set(r.seq, r);
    }
    const rows: StoredIndexRow[] = [];
    let changed = stored.size !== chunk.length;
    for (const e of chunk) {
      range.append(Buffer.from(e.entry.leafHash), onNode);
      lastTs = e.entry.ts;
      const have = stored.get(e.entry.seq);
      const want = expectedIndexRow(e, have, tag) ?? have;
      if (!want) continue;
      rows.push(want);
      if (!sameRow(have, want)) {
        changed = true;
        rebuilt.index_rows++;
      }
    }
    if (changed) await store.replaceIndex(head.logId, first, to, rows);
    if (puts.length >= 64) {
      rebuilt.tiles += puts.length;
      await store.putTiles(head.logId, puts.splice(0));
    }
  }
  rebuilt.index_rows_removed = await store.pruneIndex(head.logId, size);
  for (let l = 0; l < widths.length; l++) {
    const w = widths[l]!;
    if (w > 0 && w < 256) emit(l, Math.floor(Math.floor(size / 256 ** l) / 256), w);
  }
  if (puts.length > 0) {
    rebuilt.tiles += puts.length;
    await store.putTiles(head.logId, puts);
  }
  const rightEdge = range.encode();
  const root = range.root();
  if (
    range.size === size &&
    (head.size !== size ||
      !head.root.equals(root) ||
      !head.rightEdge.equals(rightEdge) ||
      head.lastTs !== lastTs)
  ) {
    await store.setHead(head.logId, { size, root, rightEdge, lastTs });
    rebuilt.head = true;
  }
  // The newest checkpoint row deleted: verify opened the witness copy with the trusted keys and
  // matched it to the entries, so that signed note is stored again, byte for byte.
  const missing = before.failures.find((f) => f.kind === 'checkpoint_missing');
  if (missing && witnessed !== undefined) {
    const cp = parseCheckpoint(witnessed.slice(0, witnessed.indexOf('\n\n') + 1));
    if (cp.size === missing.seq) {
      await store.addCheckpoint(head.logId, {
        size: cp.size,
        root: cp.root,
        note: witnessed,
        createdAt: new Date().toISOString(),
      });
      rebuilt.checkpoints++;
    }
  }
  return rebuilt;
}
