import { EXPANDED_TILE_BYTES, expandedPosition } from '../core/tiles.js';
import { LogVerifier, type ApprovalFact, type ArchiveClaim, type SegmentResult } from '../core/verify-log.js';
import type { AuditStore } from '../store/store.js';
import { tileKey } from '../store/store.js';
import { IndexRowStream, VERIFY_CHUNK } from './verify-derived.js';
import { readIndexTagger } from './index-key.js';

/** One aligned part of a log to verify (see {@link planSegments}). */
export interface SegmentJob {
  logId: number;
  origin: string;
  offset: number;
  /** First seq after the segment. */
  end: number;
  /** Tree sizes of signed heads inside the segment (their roots are checked by the caller). */
  snapshots: number[];
  /** Level-0 tiles below this index are complete in the stored tree (its head's size / 256). */
  completeTiles?: number;
  /** Seq from which index rows are read; null: from the very first row (a full verify's start). */
  indexFrom: number | null;
  /** The log's archived ranges, as the store records them. */
  archived?: ArchiveClaim[];
}

/** A segment verified: the tree part, and the index rows of its seqs. */
export interface SegmentOutcome extends SegmentResult {
  end: number;
  /** Failures of the index rows whose seq is in the segment. */
  indexFailures: number;
  /** The last entry checked (for the log row's `last_ts`). */
  last: { seq: number; ts: string } | null;
}

/**
 * The stored tiles a verification compares the rebuilt tree with: upper levels held for the run,
 * level-0 tiles replaced chunk by chunk ({@link VerifyTiles.setLevel0}). The last tile looked up
 * at each level is kept: a leaf's nodes fall in the same few tiles, so most lookups build no key.
 */
export class VerifyTiles {
  private level0 = new Map<string, Buffer>();
  private readonly lastIndex: number[] = [];
  private readonly lastTile: (Buffer | undefined)[] = [];

  constructor(private readonly upper: ReadonlyMap<string, Buffer>) {}

  setLevel0(tiles: Map<string, Buffer>): void {
    this.level0 = tiles;
    this.lastIndex[0] = -1;
    this.lastTile[0] = undefined;
  }

  /** Level-0 tiles read ahead ({@link VerifyTiles.loadLevel0}): indexes [aheadFrom, aheadTo). */
  private ahead = new Map<string, Buffer>();
  private aheadFrom = 0;
  private aheadTo = 0;

  /**
   * Makes the level-0 tiles `first`…`last` the current ones. Those below `complete` (full in the
   * stored tree) are read {@link LEVEL0_RUN} at a time in one ordered read when the store can
   * ({@link AuditStore.getTileRange}); the others one by one.
   */
  async loadLevel0(
    store: AuditStore,
    logId: number,
    first: number,
    last: number,
    complete: number,
  ): Promise<void> {
    const tiles = new Map<string, Buffer>();
    const rest: { level: number; index: number }[] = [];
    for (let t = first; t <= last; t++) {
      if (t >= complete || !store.getTileRange) {
        rest.push({ level: 0, index: t });
        continue;
      }
      if (t < this.aheadFrom || t >= this.aheadTo) {
        this.aheadFrom = t;
        this.aheadTo = Math.min(complete, t + LEVEL0_RUN);
        this.ahead = await store.getTileRange(logId, 0, this.aheadFrom, this.aheadTo);
      }
      const key = tileKey(0, t);
      const h = this.ahead.get(key);
      if (h) tiles.set(key, h);
    }
    if (rest.length > 0) for (const [k, v] of await store.getTiles(logId, rest)) tiles.set(k, v);
    this.setLevel0(tiles);
  }

  private tile(level: number, index: number): Buffer | undefined {
    if (this.lastIndex[level] === index) return this.lastTile[level];
    const t = (level === 0 ? this.level0 : this.upper).get(tileKey(level, index));
    this.lastIndex[level] = index;
    this.lastTile[level] = t;
    return t;
  }

  /** Stored hash of node `index` of tile level `level` (tree level 8·level); see LogVerifierOptions. */
  readonly tileHash = (level: number, index: number): Buffer | undefined => {
    const t = this.tile(level, Math.floor(index / 256));
    if (!t) return undefined;
    const off = (index % 256) * 32;
    return off + 32 <= t.length ? t.subarray(off, off + 32) : undefined;
  };

  /** Stored hash of a node at a tree level not a multiple of 8, from an expanded full tile. */
  readonly interiorHash = (level: number, index: number): Buffer | undefined => {
    const at = expandedPosition(level, index);
    const t = this.tile(at.tileLevel, at.tileIndex);
    return t?.length === EXPANDED_TILE_BYTES ? t.subarray(at.offset, at.offset + 32) : undefined;
  };
}

/** Complete level-0 tiles read at once (16 KB each): 4,096 entries. */
const LEVEL0_RUN = 16;

/** Entries read per statement (see {@link VERIFY_CHUNK}). */
const CHUNK = VERIFY_CHUNK;

/**
 * Splits [from, end) into segments for parallel verification: each starts at a multiple of the
 * next power of two at or above its length (so its leaves form perfect subtrees of the whole
 * tree) and is at most `max` long (a power of two).
 *
 * @example
 * planSegments(0, 10, 4) // [[0, 4], [4, 8], [8, 10]]
 */
export function planSegments(from: number, end: number, max: number): [number, number][] {
  const out: [number, number][] = [];
  let a = from;
  while (a < end) {
    let len = max;
    // The largest power of two dividing `a` bounds a segment starting there.
    while (a % len !== 0) len /= 2;
    const b = Math.min(end, a + len);
    out.push([a, b]);
    a = b;
  }
  return out;
}

/**
 * Verifies one segment of a stored log (on a worker thread, over its own read-only connection):
 * leaves, disclosures, the tiles of the nodes inside it, and its index rows. Execution facts
 * stay with the caller (`executions`): the whole log's verifier asks only for those of held intents.
 */
export async function verifySegment(
  store: AuditStore,
  job: SegmentJob,
  executions: ApprovalFact[],
): Promise<SegmentOutcome> {
  const { logId, offset, end } = job;
  // Tiles holding a node inside the segment: level-0 tiles per chunk, upper ones once.
  const upperKeys: { level: number; index: number }[] = [];
  for (let m = 1; 256 ** m <= end - offset; m++) {
    const span = 256 ** (m + 1);
    for (let t = Math.floor(offset / span); t <= Math.floor((end - 1) / span); t++)
      upperKeys.push({ level: m, index: t });
  }
  const tiles = new VerifyTiles(await store.getTiles(logId, upperKeys));
  const verifier = new LogVerifier({
    origin: job.origin,
    verifiers: [],
    checkpoints: [],
    segment: { offset, snapshots: job.snapshots },
    ...(job.archived ? { archived: job.archived } : {}),
    tileHash: tiles.tileHash,
    interiorHash: tiles.interiorHash,
  });
  // One more row than the segment holds tells there is nothing else in it.
  const tag = await readIndexTagger(store, job.origin);
  const index = new IndexRowStream(store, logId, job.indexFrom ?? 0, Math.min(CHUNK, end - offset + 1), tag);
  index.archived = job.archived ?? [];
  const complete = Math.min(job.completeTiles ?? 0, Math.floor(end / 256));
  for await (const chunk of store.scan(logId, offset, end, CHUNK)) {
    // From the next seq expected: a gap before the chunk's first entry takes its hashes from the tile.
    const first = Math.min(verifier.position, chunk[0]?.entry.seq ?? offset);
    const last = chunk[chunk.length - 1]?.entry.seq ?? first;
    await tiles.loadLevel0(store, logId, Math.floor(first / 256), Math.floor(last / 256), complete);
    await index.beforeChunk(chunk);
    for (const e of chunk) {
      verifier.push(e);
      index.push(e);
    }
  }
  // Rows at a seq of a later segment are that segment's to judge.
  index.index.finish(end);
  for (const f of verifier.executionFacts) executions.push(f);
  return {
    ...verifier.segmentResult(),
    end,
    indexFailures: index.index.failureCount,
    last: index.index.last,
  };
}
