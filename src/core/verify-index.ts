import { openCheckpoint } from './checkpoint.js';
import type { CheckpointOpener } from './checkpoint-opener.js';
import { assembleEvent, parseDisclosureJson } from './disclosure.js';
import {
  deriveIndexValues,
  feedsIndex,
  INDEX_COLUMNS,
  INDEX_SOURCES,
  type IndexedEvent,
  type IndexValues,
  type PersonTagger,
} from './index-row.js';
import type { NoteVerifier } from './note.js';
import type { FailureKind, VerifyFailure } from './verify-log.js';

/**
 * Verification of the derived rows (DESIGN §4: "every derived row is checked by verify"): the
 * query index, the tiles, the log row and the checkpoint rows are compared with what the verified
 * leaves, disclosures and signed notes give. Whatever `query()`, `prove()` or `checkpoint()` reads
 * from them is then exactly what verify vouched for. Pure: the SDK streams the rows in.
 */

/** One stored index row as read back: every value is attacker-controlled, so typed `unknown`. */
export type StoredIndexValues = { readonly seq: unknown; readonly type: unknown; readonly ts: unknown } & {
  readonly [K in keyof IndexValues]: unknown;
};

/**
 * One stored index row with its columns after `seq` packed as one JSON array text, in the order of
 * {@link PACKED_INDEX_COLUMNS} (SQLite `json_array(…)`): verification compares it whole with the
 * expected row's JSON, and reads it column by column only when the two differ.
 */
export interface PackedIndexValues {
  readonly seq: unknown;
  readonly packed: string;
}

/** The columns of a packed index row, in order. */
export const PACKED_INDEX_COLUMNS = ['ts', 'type', ...INDEX_COLUMNS] as const;

function isPacked(r: StoredIndexValues | PackedIndexValues): r is PackedIndexValues {
  return 'packed' in r;
}

/**
 * A packed row's values by column. JSON gives back every value a store can pack as it was
 * stored (text, integer, real, null); text that is not an array of the columns gives none (every
 * column then differs).
 */
function unpack(r: PackedIndexValues): StoredIndexValues {
  let a: unknown;
  try {
    a = JSON.parse(r.packed);
  } catch {
    a = undefined;
  }
  const values = Array.isArray(a) && a.length === PACKED_INDEX_COLUMNS.length ? (a as unknown[]) : [];
  const row: Record<string, unknown> = { seq: r.seq };
  PACKED_INDEX_COLUMNS.forEach((c, i) => (row[c] = i < values.length ? values[i] : Symbol('unreadable')));
  return row as StoredIndexValues;
}

/** An expected index row: seq, type and ts from the leaf, the rest derived from the event. */
export interface ExpectedIndexRow extends IndexValues {
  seq: number;
  type: string;
  ts: string;
}

/** A stored entry with its disclosure rows (structurally the store's scan rows). */
export interface IndexedEntry {
  entry: { seq: number; type: string; ts: string };
  disclosures: readonly {
    unit: number;
    pointer: string;
    disclosure: Uint8Array | string | null;
    erasedBySeq: number | null;
  }[];
}

/** What the disclosures of one entry give for its index row. */
export interface IndexExpectation {
  /** Derived values, or null when the disclosures do not give them (erased or unreadable). */
  values: IndexValues | null;
  /** Columns that cannot be checked because a disclosure they are read from was erased. */
  unchecked: ReadonlySet<keyof IndexValues>;
  /** Problems with the disclosure rows themselves (renumbered units, moved pointers). */
  problems: string[];
}

const feeds = new Map<string, boolean>();
function feedsCached(pointer: string): boolean {
  let f = feeds.get(pointer);
  if (f === undefined) {
    f = feedsIndex(pointer);
    if (feeds.size > 1024) feeds.clear();
    feeds.set(pointer, f);
  }
  return f;
}

/**
 * A disclosure `[salt, pointer, value]` as parsed; undefined when it is not one. Its text is
 * parsed as is (no copy to bytes and back): authenticity is the leaf check's job (digest in `d`).
 */
function readDisclosure(d: Uint8Array | string): readonly [unknown, string, unknown] | undefined {
  try {
    const parsed: unknown =
      typeof d === 'string' ? parseDisclosureJson(d) : JSON.parse(Buffer.from(d).toString('utf8'));
    if (!Array.isArray(parsed) || parsed.length !== 3 || typeof parsed[1] !== 'string') return undefined;
    // The parsed array itself (never written to): no object per disclosure.
    return parsed as [unknown, string, unknown];
  } catch {
    return undefined;
  }
}

/** Nothing erased: every column is checked (shared, never written to). */
const NONE_UNCHECKED: ReadonlySet<keyof IndexValues> = new Set();

function under(source: string, erased: string): boolean {
  return erased === '' || source === erased || source.startsWith(`${erased}/`);
}

/**
 * Derives the index values an entry's disclosures give, with the write path's own function.
 * Only the disclosures that can hold an indexed field are parsed (the body, and e.g. a person's
 * `/actor/id`), which keeps a full verify fast.
 *
 * @example
 * const { values, unchecked } = expectIndex(scanRow);
 */
export function expectIndex(e: IndexedEntry, tag?: PersonTagger): IndexExpectation {
  // Allocation-free for the usual entry (a body, maybe a person's id, nothing erased): verify
  // runs this once per entry.
  let problems: string[] | undefined;
  let body: unknown;
  let parts: { pointer: string; value: unknown }[] | undefined;
  let erased: string[] | undefined;
  let unitsOk = true;
  const ds = e.disclosures;
  for (let i = 0; i < ds.length; i++) {
    const d = ds[i]!;
    if (d.unit !== i) unitsOk = false;
    if (d.disclosure === null) {
      (erased ??= []).push(d.pointer);
      continue;
    }
    if (!feedsCached(d.pointer)) continue;
    const parsed = readDisclosure(d.disclosure);
    // An unreadable disclosure is reported by the leaf check (its digest is not in the leaf).
    if (parsed === undefined) continue;
    if (parsed[1] !== d.pointer) {
      (problems ??= []).push(
        `the pointer column of disclosure unit ${d.unit} differs from the pointer it holds`,
      );
    }
    if (parts === undefined && body === undefined && parsed[1] === '') body = parsed[2];
    else {
      parts ??= body === undefined ? [] : [{ pointer: '', value: body }];
      body = undefined;
      parts.push({ pointer: parsed[1], value: parsed[2] });
    }
  }
  if (!unitsOk) {
    (problems ??= []).push(
      `disclosure units are ${ds.map((d) => d.unit).join(',')}, not 0..${ds.length - 1}`,
    );
  }
  let unchecked = NONE_UNCHECKED;
  if (erased !== undefined) {
    const cols = new Set<keyof IndexValues>();
    for (const col of INDEX_COLUMNS) {
      if (INDEX_SOURCES[col].some((s) => erased.some((p) => under(s, p)))) cols.add(col);
    }
    unchecked = cols;
  }
  let values: IndexValues | null = null;
  try {
    // A body alone is read as parsed: assembling would only copy it (nothing is written into it).
    const event =
      parts === undefined && typeof body === 'object' && body !== null && !Array.isArray(body)
        ? body
        : assembleEvent(parts ?? (body === undefined ? [] : [{ pointer: '', value: body }]));
    values = deriveIndexValues(event as IndexedEvent, tag);
  } catch {
    values = null;
  }
  return { values, unchecked, problems: problems ?? NO_PROBLEMS };
}

const NO_PROBLEMS: string[] = [];

/**
 * The index row to store for an entry (rebuild, erasure): derived values; a column whose source
 * was erased is null with an index key (`tag`: erasure clears it, verify requires it cleared),
 * and keeps the value already stored without one (a log written before index keys). Null when
 * nothing can be derived.
 *
 * @example
 * const row = expectedIndexRow(scanRow, storedRow, tag);
 */
export function expectedIndexRow(
  e: IndexedEntry,
  stored?: StoredIndexValues,
  tag?: PersonTagger,
): ExpectedIndexRow | null {
  const x = expectIndex(e, tag);
  if (!x.values) return null;
  const row: ExpectedIndexRow = { seq: e.entry.seq, type: e.entry.type, ts: e.entry.ts, ...x.values };
  for (const col of x.unchecked) {
    const v = stored?.[col];
    row[col] = tag === undefined && typeof v === 'string' ? v : null;
  }
  return row;
}

export interface IndexVerifierOptions {
  /** Cap on the failures kept (the count is still exact). */
  maxFailures?: number;
  /**
   * The log's person tagger (from its index key); absent for a log written before index keys,
   * whose people are indexed in plain and whose erased columns keep their values.
   */
  tag?: PersonTagger;
}

/**
 * Merge-joins the stored entries (ascending seq) with the stored index rows (ascending seq, fed
 * in pages with {@link IndexVerifier.addRows}): one index row per entry, with the values the
 * entry's leaf and disclosures give, and no other rows. Memory is one page of rows.
 *
 * @example
 * const iv = new IndexVerifier();
 * iv.addRows(await store.readIndex(logId, null, 8192));
 * for (const e of chunk) iv.push(e);
 * iv.addRows(rest); const failures = iv.finish();
 */
export class IndexVerifier {
  private rows: (StoredIndexValues | PackedIndexValues)[] = [];
  private next = 0;
  private readonly failures: VerifyFailure[] = [];
  private count = 0;
  private readonly maxFailures: number;
  private readonly tag: PersonTagger | undefined;
  private lastSeq = -1;
  private lastTs = '';

  /** The last entry pushed: its seq and ts (for the log row's `last_ts`). */
  get last(): { seq: number; ts: string } | null {
    return this.lastSeq < 0 ? null : { seq: this.lastSeq, ts: this.lastTs };
  }

  set last(v: { seq: number; ts: string } | null) {
    this.lastSeq = v === null ? -1 : v.seq;
    this.lastTs = v === null ? '' : v.ts;
  }

  constructor(options: IndexVerifierOptions = {}) {
    this.maxFailures = options.maxFailures ?? 1000;
    this.tag = options.tag;
  }

  private fail(seq: number | null, kind: FailureKind, detail: string): void {
    this.count++;
    if (this.failures.length < this.maxFailures) this.failures.push({ seq, kind, detail });
  }

  /** Number of failures found so far (not capped). */
  get failureCount(): number {
    return this.count;
  }

  /** Appends the next page of stored index rows (ascending seq, as the store returns them). */
  addRows(rows: readonly (StoredIndexValues | PackedIndexValues)[]): void {
    if (this.next > 0) {
      this.rows = this.rows.slice(this.next);
      this.next = 0;
    }
    for (const r of rows) this.rows.push(r);
  }

  /** The highest seq among the rows fed so far (-Infinity before any). */
  get fedUpTo(): number {
    for (let i = this.rows.length - 1; i >= this.next; i--) {
      const s = this.rows[i]!.seq;
      if (typeof s === 'number') return s;
    }
    return this.rows.length > this.next ? Infinity : -Infinity;
  }

  private extra(r: StoredIndexValues | PackedIndexValues): void {
    const s = r.seq;
    if (typeof s === 'number' && Number.isSafeInteger(s)) {
      this.fail(s, 'index_extra', `index row at seq ${s} has no stored entry in this log`);
    } else {
      this.fail(null, 'index_extra', 'an index row has a seq that is not an integer');
    }
  }

  /**
   * Feeds an entry whose disclosures and index row moved to a cold archive: an index row still
   * stored at its seq is extra (the archive holds it, and nothing here can check it).
   */
  pushArchived(e: { entry: { seq: number; ts: string } }): void {
    const seq = e.entry.seq;
    while (this.next < this.rows.length) {
      const r = this.rows[this.next]!;
      if (typeof r.seq === 'number' && r.seq > seq) break;
      this.next++;
      this.extra(r);
    }
    this.lastSeq = seq;
    this.lastTs = e.entry.ts;
  }

  /** Feeds the next stored entry (ascending seq); the index rows up to its seq must be fed. */
  push(e: IndexedEntry): void {
    const seq = e.entry.seq;
    let row: StoredIndexValues | PackedIndexValues | undefined;
    while (this.next < this.rows.length) {
      const r = this.rows[this.next]!;
      if (typeof r.seq === 'number' && r.seq > seq) break;
      this.next++;
      if (r.seq === seq && !row) row = r;
      else this.extra(r);
    }
    this.lastSeq = seq;
    this.lastTs = e.entry.ts;
    const x = expectIndex(e, this.tag);
    for (const p of x.problems) this.fail(seq, 'payload_edited', p);
    if (!row) {
      this.fail(seq, 'index_missing', `no index row for entry ${seq}: filtered queries do not show it`);
      return;
    }
    if (isPacked(row)) {
      // Equal JSON texts hold equal values (strings and nulls read back exactly): nothing differs.
      if (x.values && x.unchecked.size === 0) {
        const v = x.values;
        const expected = JSON.stringify([
          e.entry.ts,
          e.entry.type,
          v.tenant,
          v.session_id,
          v.run_id,
          v.trace_id,
          v.actor_id,
          v.action_type,
          v.target,
          v.decision,
          v.status,
          v.risk,
          v.time,
          v.subjects,
        ]);
        if (expected === row.packed) return;
      }
      row = unpack(row);
    }
    const differ: string[] = [];
    if (row.type !== e.entry.type) differ.push('type');
    if (row.ts !== e.entry.ts) differ.push('ts');
    if (x.values) {
      for (const col of INDEX_COLUMNS) {
        // With an index key, a column whose source was erased must have been cleared with it: an
        // erased event cannot be made to match a filter it did not match.
        if (x.unchecked.has(col) ? this.tag !== undefined && row[col] !== null : row[col] !== x.values[col])
          differ.push(col);
      }
    } else if (x.unchecked.size < INDEX_COLUMNS.length) {
      differ.push('(the disclosures give no index values)');
    } else if (this.tag !== undefined) {
      // Everything erased: with an index key, erasure cleared every column.
      for (const col of INDEX_COLUMNS) if (row[col] !== null) differ.push(col);
    }
    if (differ.length > 0) {
      this.fail(
        seq,
        'index_mismatch',
        `index column${differ.length === 1 ? '' : 's'} ${differ.join(', ')} of entry ${seq} ${differ.length === 1 ? 'differs' : 'differ'} from the verified event`,
      );
    }
  }

  /**
   * Reports every row fed and not matched so far as extra (call after the last entry). Rows at an
   * integer seq at or above `coveredEnd` are skipped: entries appended while verification ran
   * are not verified by this run, and neither are their index rows.
   */
  finish(coveredEnd: number | null = null): VerifyFailure[] {
    while (this.next < this.rows.length) {
      const r = this.rows[this.next++]!;
      if (
        coveredEnd !== null &&
        typeof r.seq === 'number' &&
        Number.isSafeInteger(r.seq) &&
        r.seq >= coveredEnd
      )
        continue;
      this.extra(r);
    }
    this.rows = [];
    this.next = 0;
    return this.failures;
  }
}

/** One stored tile's key and sizes, as listed by the store. */
export interface StoredTileInfo {
  level: number;
  index: number;
  /** The `width` column. */
  width: number;
  /** Length of the stored hashes in bytes. */
  bytes: number;
}

const TILE_WIDTH = 256;
const HASH = 32;
const EXPANDED_BYTES = 510 * HASH;

/**
 * Checks that the stored tiles are exactly those of a tree of `size` leaves (C2SP tlog-tiles):
 * every full tile and the partial tile of each level present, with the right width, and none
 * beyond the tree. Their hashes are compared with the tree by the leaf check.
 *
 * @example
 * checkTileSet(300, await store.listTiles(logId)) // [] when complete
 */
export function checkTileSet(
  size: number,
  tiles: readonly StoredTileInfo[],
  options: { max?: number; grew?: boolean; fromLeaf?: number } = {},
): VerifyFailure[] {
  // Incremental verification: only the tiles holding hashes of leaves from `fromLeaf` on.
  const fromLeaf = options.fromLeaf ?? 0;
  const max = options.max ?? 100;
  // A log that grew while it was verified has wider right-edge tiles and new ones beyond.
  const grew = options.grew ?? false;
  const out: VerifyFailure[] = [];
  const push = (f: VerifyFailure): void => {
    if (out.length < max) out.push(f);
  };
  const stored = new Map<string, StoredTileInfo>();
  for (const t of tiles) {
    const key = `${t.level}/${t.index}`;
    // Two rows of one tile (the primary key dropped, PostgreSQL as a superuser): which one a
    // proof reads is up to the database.
    if (stored.has(key)) push({ seq: null, kind: 'tile_mismatch', detail: `tile ${key} is stored twice` });
    stored.set(key, t);
  }
  const expected = new Set<string>();
  for (let level = 0, count = size; count > 0; level++, count = Math.floor(count / TILE_WIDTH)) {
    const n = Math.ceil(count / TILE_WIDTH);
    for (let index = Math.floor(fromLeaf / TILE_WIDTH ** (level + 1)); index < n; index++) {
      const key = `${level}/${index}`;
      expected.add(key);
      const want = index < Math.floor(count / TILE_WIDTH) ? TILE_WIDTH : count % TILE_WIDTH;
      const firstLeaf = index * TILE_WIDTH ** (level + 1);
      const t = stored.get(key);
      if (!t) {
        push({
          seq: firstLeaf,
          kind: 'tile_missing',
          detail: `tile ${key} is missing: proofs that need it fail`,
        });
      } else if (t.bytes < want * HASH) {
        push({
          seq: firstLeaf,
          kind: 'tile_missing',
          detail: `tile ${key} holds ${Math.floor(t.bytes / HASH)} of its ${want} hashes`,
        });
      } else if (
        grew &&
        want < TILE_WIDTH &&
        (t.bytes === t.width * HASH || (t.width === TILE_WIDTH && t.bytes === EXPANDED_BYTES)) &&
        t.width <= TILE_WIDTH
      ) {
        // The right-edge tile of this level grew with the log: as many hashes as it has now.
      } else if (
        // A full tile is 256 hashes, or 510 with its interior heights (tiles.ts).
        !(t.bytes === want * HASH || (want === TILE_WIDTH && t.bytes === EXPANDED_BYTES)) ||
        t.width !== want
      ) {
        push({
          seq: firstLeaf,
          kind: 'tile_mismatch',
          detail: `tile ${key} has width ${t.width} and ${t.bytes} bytes; the tree gives ${want} hashes`,
        });
      }
    }
  }
  for (const [key, t] of stored) {
    const old = fromLeaf > 0 && t.index < Math.floor(fromLeaf / TILE_WIDTH ** (t.level + 1));
    if (!expected.has(key) && !old && !(grew && t.index >= edgeIndex(size, t.level))) {
      push({
        seq: null,
        kind: 'tile_mismatch',
        detail: `tile ${key} lies beyond the tree of ${size} leaves`,
      });
    }
  }
  return out;
}

/** Index of the first tile of `level` not complete in a tree of `size` leaves. */
function edgeIndex(size: number, level: number): number {
  return Math.floor(Math.floor(size / TILE_WIDTH ** level) / TILE_WIDTH);
}

/**
 * Checks the log row's derived columns against the tree rebuilt from the leaves: the compact
 * range (`right_edge`) the next append extends, and `last_ts`, below which log time never goes.
 * Size and root are checked by the leaf verification.
 *
 * @example
 * checkLogRow(head, { size, rightEdge: verifier.rightEdge }, lastEntry)
 */
export function checkLogRow(
  head: { size: number; rightEdge: Uint8Array; lastTs: string | null },
  tree: { size: number; rightEdge: Uint8Array },
  last: { seq: number; ts: string } | null,
): VerifyFailure[] {
  if (tree.size !== head.size) return [];
  const out: VerifyFailure[] = [];
  if (!Buffer.from(head.rightEdge).equals(Buffer.from(tree.rightEdge))) {
    out.push({
      seq: null,
      kind: 'head_mismatch',
      detail: 'the stored log head right_edge differs from the compact range of the stored entries',
    });
  }
  const lastTs = head.size === 0 ? null : last?.seq === head.size - 1 ? last.ts : undefined;
  if (lastTs !== undefined && head.lastTs !== lastTs) {
    out.push({
      seq: null,
      kind: 'head_mismatch',
      detail: "the stored log head last_ts differs from the last entry's ts",
    });
  }
  return out;
}

/**
 * Checks each stored checkpoint row's `size` and `root_hash` columns against its signed note (a
 * note that does not open is reported by the leaf verification), and that the checkpoint handed
 * out last (the witness copy) is still stored when the entries it covers are.
 *
 * @example
 * checkCheckpointRows(rows, [verifier], origin, witnessNote, report.size)
 */
export function checkCheckpointRows(
  rows: readonly { size: number; root: Uint8Array; note: string }[],
  verifiers: readonly NoteVerifier[],
  origin: string,
  witnessed: string | undefined,
  treeSize: number,
  open: CheckpointOpener = (note) => openCheckpoint(note, verifiers, origin),
): VerifyFailure[] {
  const out: VerifyFailure[] = [];
  const sizes = new Set<number>();
  for (const row of rows) {
    let cp;
    try {
      cp = open(row.note);
    } catch {
      continue;
    }
    if (sizes.has(cp.size)) {
      // Two rows of one size (the primary key dropped, PostgreSQL as a superuser): listings show both.
      out.push({
        seq: cp.size,
        kind: 'checkpoint_edited',
        detail: `the checkpoint of size ${cp.size} is stored twice`,
      });
    }
    sizes.add(cp.size);
    if (cp.size !== row.size || !cp.root.equals(Buffer.from(row.root))) {
      out.push({
        seq: cp.size,
        kind: 'checkpoint_edited',
        detail: `the size or root_hash column of the checkpoint row differs from its signed note (size ${cp.size})`,
      });
    }
  }
  if (witnessed !== undefined) {
    let w;
    try {
      w = open(witnessed);
    } catch {
      w = undefined;
    }
    if (w && w.size > 0 && w.size <= treeSize && !sizes.has(w.size)) {
      out.push({
        seq: w.size,
        kind: 'checkpoint_missing',
        detail: `the checkpoint of size ${w.size} handed out last (witness file) is not stored`,
      });
    }
  }
  return out;
}
