/**
 * C2SP tlog-tiles storage layout for the Merkle tree (design §7.6).
 *
 * A tile at level L, index N holds up to 256 hashes: those of the perfect nodes of height 8·L
 * numbered 256·N … 256·N+255 (level 0 = leaf hashes). A tile of width 256 is full and immutable;
 * only the rightmost tile of each level is partial, so an append rewrites at most one tile per
 * level, and any node of the tree is at most 2^7 − 1 hashes away from a stored one.
 *
 * A full tile is stored expanded: its 256 hashes followed by its interior heights 1…7 (128 + 64
 * + … + 2 = 254 hashes, {@link EXPANDED_TILE_BYTES} in all), so a proof reads every node of it
 * instead of rebuilding up to 254 hashes. The first 256 hashes are the C2SP tile; the interior is
 * derived, and checked by verify like the rest. A full tile of exactly 256 hashes (written before
 * this layout) is still read, and expanded in memory.
 */
import { Buffer } from 'node:buffer';
import { HASH_SIZE, checkUint, hashChildren } from './merkle.js';
import type { NodeReader } from './merkle.js';
import { CoreError } from './errors.js';

/** Tree levels per tile level (C2SP tlog-tiles). */
export const TILE_HEIGHT = 8;
/** Hashes in a full tile: 2^TILE_HEIGHT. */
export const TILE_WIDTH = 256;

const TILE_BYTES = TILE_WIDTH * HASH_SIZE;
// 8·7 = 56 > 53: a tree of ≤ 2^53−1 leaves has no nodes above tile level 6.
const MAX_TILE_LEVEL = 6;

// Offset (in hashes) of in-tile height r within an expanded full tile: 256 + 128 + … (r terms).
function expandedOffset(r: number): number {
  return 2 * TILE_WIDTH - (2 * TILE_WIDTH) / 2 ** r;
}
// Heights 0…7 of a full tile: 256 + 128 + … + 2 = 510 hashes (height 8 lives in the tile above).
const EXPANDED_HASHES = expandedOffset(TILE_HEIGHT);
/** Bytes of a full tile stored with its interior heights: 510 hashes of 32 bytes. */
export const EXPANDED_TILE_BYTES = EXPANDED_HASHES * HASH_SIZE;

/**
 * Where node (`level`, `index`) of the tree lies in the expanded full tile that holds it:
 * that tile's level and index, and the byte offset of the hash in the expanded layout.
 *
 * @example
 * expandedPosition(1, 130) // { tileLevel: 0, tileIndex: 1, offset: (256 + 2) * 32 }
 */
export function expandedPosition(
  level: number,
  index: number,
): { tileLevel: number; tileIndex: number; offset: number } {
  const r = level % TILE_HEIGHT;
  const perTile = TILE_WIDTH / 2 ** r;
  return {
    tileLevel: (level - r) / TILE_HEIGHT,
    tileIndex: Math.floor(index / perTile),
    offset: (expandedOffset(r) + (index % perTile)) * HASH_SIZE,
  };
}

/**
 * One stored tile: `hashes` is `width` × 32 bytes (width 1…256), or for a full tile written by
 * {@link TileAccumulator} the expanded form ({@link EXPANDED_TILE_BYTES}).
 *
 * @example
 * const row: TileRow = { level: 0, index: 0, width: 2, hashes: Buffer.concat([h0, h1]) };
 */
export interface TileRow {
  level: number;
  index: number;
  width: number;
  hashes: Buffer;
}

function tileKey(level: number, index: number): string {
  return `${level}/${index}`;
}

/**
 * Collects the nodes a batch of appends completes into tile rows (design §7.6 write path, step 3).
 * Seed it with the current partial (rightmost) tile of each level as stored, pass its `onNode` to
 * {@link CompactRange.append}, then upsert the rows `changed()` returns: each touched tile once,
 * with its full new content. Throws if a node arrives out of order or for a tile that was neither
 * seeded nor starts with it (a missing seed would silently truncate a tile).
 *
 * @example
 * const acc = new TileAccumulator(partialTiles(cr.size).map(({ level, index }) => store.tile(level, index)));
 * for (const leafHash of batch) cr.append(leafHash, acc.onNode);
 * for (const row of acc.changed()) store.upsertTile(row);
 */
export class TileAccumulator {
  readonly #tiles = new Map<
    string,
    { level: number; index: number; width: number; buf: Buffer; known: Uint8Array }
  >();
  readonly #touched = new Set<string>();

  constructor(partials: readonly TileRow[]) {
    for (const p of partials) {
      checkUint('tile level', p.level, MAX_TILE_LEVEL);
      checkUint('tile index', p.index);
      checkUint('tile width', p.width, TILE_WIDTH);
      if (p.width === 0) throw new RangeError(`tile ${tileKey(p.level, p.index)} has width 0`);
      if (p.hashes.length !== p.width * HASH_SIZE) {
        throw new RangeError(
          `tile ${tileKey(p.level, p.index)} of width ${p.width} must hold ${p.width * HASH_SIZE} bytes, got ${p.hashes.length}`,
        );
      }
      const key = tileKey(p.level, p.index);
      if (this.#tiles.has(key)) throw new CoreError('malformed', `tile ${key} seeded twice`);
      const buf = Buffer.alloc(EXPANDED_TILE_BYTES);
      p.hashes.copy(buf);
      const known = new Uint8Array(EXPANDED_HASHES);
      this.#tiles.set(key, { level: p.level, index: p.index, width: p.width, buf, known });
    }
  }

  /**
   * Node callback for {@link CompactRange.append}. Nodes at levels that are not multiples of 8
   * are kept as the interior of their tile (the append computed them anyway).
   */
  readonly onNode = (level: number, index: number, hash: Buffer): void => {
    if (level % TILE_HEIGHT !== 0) {
      const at = expandedPosition(level, index);
      const tile = this.#tiles.get(tileKey(at.tileLevel, at.tileIndex));
      if (tile === undefined || hash.length !== HASH_SIZE) return; // filled in by changed()
      hash.copy(tile.buf, at.offset);
      tile.known[at.offset / HASH_SIZE] = 1;
      return;
    }
    const tileLevel = level / TILE_HEIGHT;
    const tileIndex = Math.floor(index / TILE_WIDTH);
    const pos = index % TILE_WIDTH;
    const key = tileKey(tileLevel, tileIndex);
    let tile = this.#tiles.get(key);
    if (tile === undefined) {
      if (pos !== 0)
        throw new CoreError(
          'missing',
          `tile ${key} was not seeded but node ${index} (level ${level}) lands in it`,
        );
      tile = {
        level: tileLevel,
        index: tileIndex,
        width: 0,
        buf: Buffer.alloc(EXPANDED_TILE_BYTES),
        known: new Uint8Array(EXPANDED_HASHES),
      };
      this.#tiles.set(key, tile);
    }
    if (pos !== tile.width) {
      throw new CoreError(
        'malformed',
        `tile ${key} has width ${tile.width} but node ${index} (level ${level}) is at ${pos}`,
      );
    }
    if (hash.length !== HASH_SIZE) throw new RangeError(`node hashes must be ${HASH_SIZE} bytes`);
    hash.copy(tile.buf, pos * HASH_SIZE);
    tile.width++;
    this.#touched.add(key);
  };

  /**
   * The touched tiles with their new content (copies), ordered by level then index; full tiles
   * expanded (their interior nodes not seen in this batch are hashed here).
   */
  changed(): TileRow[] {
    const rows: TileRow[] = [];
    for (const key of this.#touched) {
      const t = this.#tiles.get(key)!;
      if (t.width === TILE_WIDTH) fillInterior(t.buf, t.known);
      rows.push({
        level: t.level,
        index: t.index,
        width: t.width,
        hashes: Buffer.from(
          t.buf.subarray(0, t.width === TILE_WIDTH ? EXPANDED_TILE_BYTES : t.width * HASH_SIZE),
        ),
      });
    }
    return rows.sort((a, b) => a.level - b.level || a.index - b.index);
  }
}

/**
 * The partial (rightmost, width < 256) tiles of a log of `size` leaves, one per level at most:
 * what to load and seed a {@link TileAccumulator} with before appending.
 *
 * @example
 * partialTiles(70000)
 * // [{ level: 0, index: 273, width: 112 }, { level: 1, index: 1, width: 17 }, { level: 2, index: 0, width: 1 }]
 */
export function partialTiles(size: number): { level: number; index: number; width: number }[] {
  checkUint('size', size);
  const out: { level: number; index: number; width: number }[] = [];
  // Level L holds floor(size / 256^L) complete nodes of height 8·L.
  for (let level = 0, count = size; count > 0; level++, count = Math.floor(count / TILE_WIDTH)) {
    const width = count % TILE_WIDTH;
    if (width > 0) out.push({ level, index: Math.floor(count / TILE_WIDTH), width });
  }
  return out;
}

/**
 * The level-0 partial tile of a log of `size` leaves: its index, its width (0 when `size` is a
 * multiple of 256: there is none) and the first leaf it holds. Its hashes are exactly the leaf
 * hashes of entries [`from`, `size`), so stores do not keep it as a row: they read it from the
 * entries (docs/storage.md "Tiles"). Level ≥ 1 partial tiles change once every 256 appends and
 * are stored.
 *
 * @example
 * partialLeafTile(300) // { index: 1, width: 44, from: 256 }
 */
export function partialLeafTile(size: number): { index: number; width: number; from: number } {
  checkUint('size', size);
  const index = Math.floor(size / TILE_WIDTH);
  return { index, width: size % TILE_WIDTH, from: index * TILE_WIDTH };
}

/**
 * The partial tiles an append of at most `count` leaves to a log of `size` leaves writes into:
 * the level-0 one, and a level L ≥ 1 one only when the append completes a node of that level
 * (one every 256^L leaves). What to seed a {@link TileAccumulator} with: an append that reaches
 * a tile it was not seeded with fails instead of truncating the tile.
 *
 * @example
 * appendSeeds(70000, 1)   // [{ level: 0, index: 273, width: 112 }]
 * appendSeeds(70000, 200) // and { level: 1, index: 1, width: 17 }: leaf 70143 completes tile 0/273
 */
export function appendSeeds(size: number, count: number): { level: number; index: number; width: number }[] {
  checkUint('count', count);
  return partialTiles(size).filter(
    (t) =>
      t.level === 0 ||
      Math.floor((size + count) / TILE_WIDTH ** t.level) > Math.floor(size / TILE_WIDTH ** t.level),
  );
}

// Hashes the interior nodes of an expanded full tile that `known` does not mark, bottom-up.
function fillInterior(out: Buffer, known: Uint8Array): void {
  for (let r = 1; r < TILE_HEIGHT; r++) {
    const below = expandedOffset(r - 1);
    const here = expandedOffset(r);
    for (let i = 0; i < TILE_WIDTH >> r; i++) {
      if (known[here + i] === 1) continue;
      const l = (below + 2 * i) * HASH_SIZE;
      hashChildren(out.subarray(l, l + HASH_SIZE), out.subarray(l + HASH_SIZE, l + 2 * HASH_SIZE)).copy(
        out,
        (here + i) * HASH_SIZE,
      );
      known[here + i] = 1;
    }
  }
}

/**
 * {@link NodeReader} over stored tiles for a tree of `size` leaves. A node of height 8k+r is the
 * hash of 2^r consecutive hashes of the level-k tile (RFC 6962 §2.1). Full tiles are immutable, so
 * their expanded interior heights are kept in an LRU cache (`cacheSize` entries, default 64, about
 * 16 KiB each for a tile), with the complete nodes read from partial tiles (32 bytes each, they
 * never change either): repeated proofs then read no tile of the right edge again. Throws an
 * Error naming the tile if one is missing, too short, or not a whole number of hashes.
 *
 * @example
 * const reader = new TileNodeReader((level, index) => tiles.get(`${level}/${index}`), size);
 * inclusionProof(seq, size, reader);
 */
export class TileNodeReader implements NodeReader {
  readonly #getTile: (level: number, index: number) => Buffer | undefined;
  readonly #size: number;
  readonly #cacheSize: number;
  // Map iteration order is insertion order: re-inserting on hit makes the first key least recent.
  readonly #cache: Map<string, Buffer>;

  /**
   * `options.cache` may be shared by every reader of one log: it holds only full tiles, which
   * are immutable, so a reader for any tree size can use what another one expanded.
   */
  constructor(
    getTile: (level: number, index: number) => Buffer | undefined,
    size: number,
    options?: { cacheSize?: number; cache?: Map<string, Buffer> },
  ) {
    checkUint('size', size);
    const cacheSize = options?.cacheSize ?? 64;
    checkUint('cacheSize', cacheSize);
    this.#cache = options?.cache ?? new Map<string, Buffer>();
    this.#getTile = getTile;
    this.#size = size;
    this.#cacheSize = cacheSize;
  }

  node(level: number, index: number): Buffer {
    const at = this.#locate(level, index);
    const known = this.#fromCache(at);
    if (known !== undefined) return known;

    const { key, r, count, pos } = at;
    const tile = this.#getTile(at.tileLevel, at.tileIndex);
    if (tile === undefined)
      throw new CoreError('missing', `tile ${key} is missing (needed for node ${level}/${index})`);
    if (tile.length === EXPANDED_TILE_BYTES) {
      // Stored with its interior: nothing to hash. Cached as is (a copy: the caller's buffer).
      if (this.#cacheSize > 0) this.#remember(key, Buffer.from(tile));
      return readExpanded(tile, r, pos / count);
    }
    if (tile.length % HASH_SIZE !== 0 || tile.length > TILE_BYTES) {
      throw new CoreError(
        'malformed',
        `tile ${key} is ${tile.length} bytes, not 1…${TILE_WIDTH} hashes of ${HASH_SIZE} bytes`,
      );
    }
    if (tile.length < (pos + count) * HASH_SIZE) {
      throw new CoreError(
        'malformed',
        `tile ${key} is too short: ${tile.length / HASH_SIZE} hashes, node ${level}/${index} needs ${pos + count}`,
      );
    }
    if (tile.length === TILE_BYTES && this.#cacheSize > 0) {
      const expanded = expandTile(tile);
      this.#remember(key, expanded);
      return readExpanded(expanded, r, pos / count);
    }
    // A perfect node inside a partial tile never changes once complete (the tile only grows):
    // keep it, so the right edge is neither read nor rehashed for every proof.
    const h =
      count === 1
        ? Buffer.from(tile.subarray(pos * HASH_SIZE, (pos + 1) * HASH_SIZE))
        : hashUp(tile.subarray(pos * HASH_SIZE, (pos + count) * HASH_SIZE));
    if (this.#cacheSize > 0) this.#remember(at.nodeKey, Buffer.from(h));
    return h;
  }

  /**
   * The hash of node (`level`, `index`) when the cache alone holds it (an expanded full tile, or
   * a node of a partial tile computed before), else undefined: no tile is read. Lets a caller
   * whose storage is asynchronous fetch only the tiles a proof still lacks. Throws a RangeError
   * like {@link node} for a node outside the tree.
   *
   * @example
   * const h = reader.cachedNode(8, 3) ?? (await fetchTileAndRead(8, 3));
   */
  cachedNode(level: number, index: number): Buffer | undefined {
    return this.#fromCache(this.#locate(level, index));
  }

  #locate(level: number, index: number): NodePosition {
    checkUint('level', level, 63);
    checkUint('index', index);
    if ((index + 1) * 2 ** level > this.#size) {
      throw new RangeError(`node (${level}, ${index}) is outside a tree of ${this.#size} leaves`);
    }
    const tileLevel = Math.floor(level / TILE_HEIGHT);
    const r = level % TILE_HEIGHT;
    const count = 2 ** r;
    const first = index * count; // first covered node of height 8·tileLevel
    const tileIndex = Math.floor(first / TILE_WIDTH);
    const key = tileKey(tileLevel, tileIndex);
    return {
      tileLevel,
      tileIndex,
      r,
      count,
      pos: first % TILE_WIDTH,
      key,
      nodeKey: `${key}#${level}/${index}`,
    };
  }

  // Full tiles are cached by tile key, partial-tile nodes by node key; a hit becomes most recent.
  #fromCache(at: NodePosition): Buffer | undefined {
    if (this.#cacheSize === 0) return undefined;
    const tile = this.#touch(at.key);
    if (tile !== undefined) return readExpanded(tile, at.r, at.pos / at.count);
    const node = this.#touch(at.nodeKey);
    return node === undefined ? undefined : Buffer.from(node);
  }

  #touch(key: string): Buffer | undefined {
    const v = this.#cache.get(key);
    if (v !== undefined) {
      this.#cache.delete(key);
      this.#cache.set(key, v);
    }
    return v;
  }

  #remember(key: string, value: Buffer): void {
    this.#cache.set(key, value);
    if (this.#cache.size > this.#cacheSize) {
      const oldest = this.#cache.keys().next();
      if (oldest.done !== true) this.#cache.delete(oldest.value);
    }
  }
}

interface NodePosition {
  tileLevel: number;
  tileIndex: number;
  /** Height of the node within its tile (0…7). */
  r: number;
  /** Hashes of the tile the node covers (2^r). */
  count: number;
  /** Position of its first covered hash in the tile. */
  pos: number;
  key: string;
  nodeKey: string;
}

function readExpanded(expanded: Buffer, r: number, i: number): Buffer {
  const at = (expandedOffset(r) + i) * HASH_SIZE;
  return Buffer.from(expanded.subarray(at, at + HASH_SIZE));
}

/**
 * All heights 0…7 of a full tile of 256 hashes, one contiguous buffer of
 * {@link EXPANDED_TILE_BYTES} (design §7.12: no arrays of small Buffers): the form a full tile is
 * stored in.
 *
 * @example
 * expandTile(Buffer.concat(leafHashes)).subarray(256 * 32, 257 * 32) // hashChildren(leafHashes[0], leafHashes[1])
 */
export function expandTile(tile: Buffer): Buffer {
  const out = Buffer.alloc(EXPANDED_HASHES * HASH_SIZE);
  tile.copy(out);
  for (let r = 1; r < TILE_HEIGHT; r++) {
    const below = expandedOffset(r - 1);
    const here = expandedOffset(r);
    for (let i = 0; i < TILE_WIDTH >> r; i++) {
      const l = (below + 2 * i) * HASH_SIZE;
      hashChildren(out.subarray(l, l + HASH_SIZE), out.subarray(l + HASH_SIZE, l + 2 * HASH_SIZE)).copy(
        out,
        (here + i) * HASH_SIZE,
      );
    }
  }
  return out;
}

// MTH of a power-of-two run of hashes (a perfect subtree), pairwise level by level.
function hashUp(run: Buffer): Buffer {
  let n = run.length / HASH_SIZE;
  if (n === 1) return Buffer.from(run);
  const work = Buffer.from(run);
  while (n > 1) {
    for (let i = 0; i < n / 2; i++) {
      const l = 2 * i * HASH_SIZE;
      hashChildren(work.subarray(l, l + HASH_SIZE), work.subarray(l + HASH_SIZE, l + 2 * HASH_SIZE)).copy(
        work,
        i * HASH_SIZE,
      );
    }
    n /= 2;
  }
  return Buffer.from(work.subarray(0, HASH_SIZE));
}
