import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { CompactRange, MemoryNodeReader, hashChildren, hashLeaf, rootOf } from './merkle.js';
import type { NodeReader } from './merkle.js';
import { consistencyProof, inclusionProof } from './proof.js';
import {
  EXPANDED_TILE_BYTES,
  TILE_HEIGHT,
  TILE_WIDTH,
  TileAccumulator,
  TileNodeReader,
  expandedPosition,
  partialTiles,
} from './tiles.js';
import type { TileRow } from './tiles.js';

// Leaf hashes derived from a counter: cheap, distinct, deterministic.
function leafHashes(n: number, seed: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < n; i++) out.push(createHash('sha256').update(`${seed}/${i}`).digest());
  return out;
}

/** An in-memory tile store driven exactly like the SQL write path (design §7.6). */
class TileStore {
  readonly tiles = new Map<string, Buffer>();
  cr = new CompactRange();
  upserts = 0;

  get = (level: number, index: number): Buffer | undefined => this.tiles.get(`${level}/${index}`);

  appendBatch(batch: readonly Buffer[]): void {
    const partials: TileRow[] = partialTiles(this.cr.size).map(({ level, index, width }) => {
      const hashes = this.get(level, index);
      assert.ok(hashes, `partial tile ${level}/${index} is stored`);
      assert.equal(hashes.length, width * 32, `partial tile ${level}/${index} has width ${width}`);
      return { level, index, width, hashes };
    });
    const acc = new TileAccumulator(partials);
    for (const h of batch) this.cr.append(h, acc.onNode);
    const changed = acc.changed();
    const keys = changed.map((r) => `${r.level}/${r.index}`);
    assert.equal(new Set(keys).size, keys.length, 'each tile once');
    for (const row of changed) {
      // Full tiles carry their interior heights (510 hashes).
      assert.equal(row.hashes.length, row.width === 256 ? EXPANDED_TILE_BYTES : row.width * 32);
      this.tiles.set(`${row.level}/${row.index}`, row.hashes);
      this.upserts++;
    }
  }
}

function randomSplits(n: number, rand: () => number): number[] {
  const sizes: number[] = [];
  let left = n;
  while (left > 0) {
    // Mostly small batches, sometimes big ones, like the batching writer.
    const max = rand() < 0.2 ? Math.max(1, Math.floor(left / 2)) : 300;
    const k = Math.min(left, 1 + Math.floor(rand() * max));
    sizes.push(k);
    left -= k;
  }
  return sizes;
}

function build(n: number, seed: number, rand: () => number): { store: TileStore; leaves: Buffer[] } {
  const leaves = leafHashes(n, seed);
  const store = new TileStore();
  let at = 0;
  for (const k of randomSplits(n, rand)) {
    store.appendBatch(leaves.slice(at, at + k));
    at += k;
  }
  assert.equal(store.cr.size, n);
  return { store, leaves };
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function checkProofs(tiles: NodeReader, mem: NodeReader, size: number, samples: number[]): void {
  assert.deepEqual(rootOf(size, tiles), rootOf(size, mem), `root of ${size}`);
  for (const i of samples) {
    if (i < size)
      assert.deepEqual(
        inclusionProof(i, size, tiles),
        inclusionProof(i, size, mem),
        `inclusion ${i}/${size}`,
      );
    if (i <= size) {
      assert.deepEqual(
        consistencyProof(i, size, tiles),
        consistencyProof(i, size, mem),
        `consistency ${i}->${size}`,
      );
    }
  }
}

describe('tiles', () => {
  it('has the tlog-tiles geometry', () => {
    assert.equal(TILE_HEIGHT, 8);
    assert.equal(TILE_WIDTH, 256);
    assert.deepEqual(partialTiles(0), []);
    assert.deepEqual(partialTiles(1), [{ level: 0, index: 0, width: 1 }]);
    assert.deepEqual(partialTiles(256), [{ level: 1, index: 0, width: 1 }]);
    assert.deepEqual(partialTiles(65536), [{ level: 2, index: 0, width: 1 }]);
    assert.deepEqual(partialTiles(70000), [
      { level: 0, index: 273, width: 112 },
      { level: 1, index: 1, width: 17 },
      { level: 2, index: 0, width: 1 },
    ]);
    assert.equal(partialTiles(Number.MAX_SAFE_INTEGER).length, 7);
    assert.throws(() => partialTiles(-1), RangeError);
  });

  it('random sizes 0..2000 in random batches: same roots and proofs as the in-memory tree', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2000 }), fc.integer(), (n, seed) => {
        const rand = mulberry32(seed);
        const { store, leaves } = build(n, seed, rand);
        const mem = new MemoryNodeReader(leaves);
        // The stored tiles are exactly the tlog-tiles set for size n.
        for (const [key, hashes] of store.tiles) {
          const [level, index] = key.split('/').map(Number) as [number, number];
          const count = Math.floor(n / 256 ** level);
          const width = Math.min(256, count - index * 256);
          assert.equal(hashes.length, width === 256 ? EXPANDED_TILE_BYTES : width * 32, `width of ${key}`);
          for (let p = 0; p < width; p++) {
            assert.deepEqual(hashes.subarray(p * 32, p * 32 + 32), mem.node(8 * level, index * 256 + p));
          }
          // The interior of a full tile: every node of heights 1..7 inside it.
          if (width === 256) {
            for (let r = 1; r < 8; r++) {
              for (let i = 0; i < 256 >> r; i++) {
                const node = index * (256 >> r) + i;
                const at = expandedPosition(8 * level + r, node);
                assert.deepEqual([at.tileLevel, at.tileIndex], [level, index]);
                assert.deepEqual(hashes.subarray(at.offset, at.offset + 32), mem.node(8 * level + r, node));
              }
            }
          }
        }
        const reader = new TileNodeReader(store.get, n, { cacheSize: 4 });
        const samples = Array.from({ length: 8 }, () => Math.floor(rand() * (n + 1)));
        checkProofs(
          reader,
          mem,
          n,
          [0, 1, n - 1, n, ...samples].filter((i) => i >= 0),
        );
        // Any earlier size can be served from the same (newer) tiles.
        const older = Math.floor(rand() * (n + 1));
        checkProofs(
          new TileNodeReader(store.get, older),
          mem,
          older,
          [0, older - 1, Math.floor(older / 2)].filter((i) => i >= 0),
        );
        // Every node of the tree reads the same from tiles (small trees only, to stay fast).
        if (n <= 600) {
          for (let level = 0; 2 ** level <= n; level++) {
            for (let i = 0; (i + 1) * 2 ** level <= n; i++)
              assert.deepEqual(reader.node(level, i), mem.node(level, i));
          }
        }
      }),
      { numRuns: 20 },
    );
  });

  it('around the 256·256 boundary (65535–65537 leaves)', () => {
    const leaves = leafHashes(65537, 7);
    const mem = new MemoryNodeReader(leaves);
    const rand = mulberry32(42);
    // One store grown to 65535, then by one leaf twice: every size checks against the memory tree.
    const store = new TileStore();
    let at = 0;
    for (const k of randomSplits(65535, rand)) {
      store.appendBatch(leaves.slice(at, at + k));
      at += k;
    }
    for (const size of [65535, 65536, 65537]) {
      if (store.cr.size < size) store.appendBatch(leaves.slice(store.cr.size, size));
      assert.deepEqual(store.cr.root(), rootOf(size, mem));
      const reader = new TileNodeReader(store.get, size);
      checkProofs(reader, mem, size, [
        0,
        255,
        256,
        65279,
        65280,
        65534,
        65535,
        65536,
        Math.floor(rand() * size),
      ]);
    }
    assert.ok(store.get(2, 0), 'the level-2 tile exists once 65536 leaves are in');
    assert.equal(store.get(2, 0)!.length, 32);
    assert.equal(store.get(1, 0)!.length, EXPANDED_TILE_BYTES, 'a full tile is stored with its interior');
    assert.equal(store.get(0, 256)!.length, 32);
  });

  it('caches expanded full tiles and right-edge nodes so a repeated proof reads no tile', () => {
    const n = 256 * 10 + 77;
    const { store, leaves } = build(n, 9, mulberry32(9));
    const mem = new MemoryNodeReader(leaves);
    const reads: string[] = [];
    const reader = new TileNodeReader((l, i) => {
      reads.push(`${l}/${i}`);
      return store.get(l, i);
    }, n);
    const first = inclusionProof(1000, n, reader);
    const firstReads = reads.length;
    reads.length = 0;
    assert.deepEqual(inclusionProof(1000, n, reader), first);
    assert.deepEqual(first, inclusionProof(1000, n, mem));
    // The first proof read the partial tiles too (level-0 tile 10 and level-1 tile 0); their
    // complete nodes never change, so the same proof again reads nothing at all.
    assert.ok(reads.length < firstReads, `${reads.length} < ${firstReads}`);
    assert.deepEqual(reads, []);
    // One cache shared by the readers of a growing log: what a smaller tree cached stays right
    // for the larger one, and cachedNode() answers from the cache only.
    const grown = build(n + 300, 9, mulberry32(10));
    const cache = new Map<string, Buffer>();
    for (const size of [n, n + 1, n + 40, n + 300]) {
      const r = new TileNodeReader(grown.store.get, size, { cache });
      const mem2 = new MemoryNodeReader(grown.leaves.slice(0, size));
      for (const seq of [0, 1000, 2559, 2560, size - 1]) {
        assert.deepEqual(inclusionProof(seq, size, r), inclusionProof(seq, size, mem2));
        assert.deepEqual(consistencyProof(n, size, r), consistencyProof(n, size, mem2));
      }
    }
    const only = new TileNodeReader(() => undefined, n + 300, { cache });
    assert.deepEqual(only.cachedNode(0, 5), grown.leaves[5]);
    assert.deepEqual(only.cachedNode(8, 2), rootOf(256, new MemoryNodeReader(grown.leaves.slice(512, 768))));
    assert.equal(only.cachedNode(0, 256 * 11 + 76), undefined, 'a node no proof asked for is not cached');
    assert.equal(new TileNodeReader(grown.store.get, n, { cacheSize: 0, cache }).cachedNode(0, 5), undefined);
    assert.throws(() => only.cachedNode(0, n + 300), RangeError);
    // With the cache off every read goes to storage, with the same results.
    const uncached = new TileNodeReader(store.get, n, { cacheSize: 0 });
    assert.deepEqual(inclusionProof(1000, n, uncached), first);
    // An LRU of one tile still answers correctly while evicting.
    const tiny = new TileNodeReader(store.get, n, { cacheSize: 1 });
    for (const i of [0, 600, 1200, 0, 2600])
      assert.deepEqual(inclusionProof(i, n, tiny), inclusionProof(i, n, mem));
  });

  it('reads proofs from the stored interior of full tiles; 256-hash full tiles still work', () => {
    const n = 256 * 3 + 5;
    const { store, leaves } = build(n, 13, mulberry32(13));
    const mem = new MemoryNodeReader(leaves);
    const legacy = (l: number, i: number) => store.get(l, i)?.subarray(0, 256 * 32);
    const partial = (l: number, i: number) => {
      const t = store.get(l, i);
      return t && t.length === EXPANDED_TILE_BYTES ? t.subarray(0, 256 * 32) : t;
    };
    for (const seq of [0, 77, 255, 256, 700, n - 1]) {
      const want = inclusionProof(seq, n, mem);
      assert.deepEqual(inclusionProof(seq, n, new TileNodeReader(store.get, n, { cacheSize: 0 })), want);
      assert.deepEqual(inclusionProof(seq, n, new TileNodeReader(partial, n, { cacheSize: 0 })), want);
      assert.deepEqual(inclusionProof(seq, n, new TileNodeReader(partial, n)), want);
    }
    assert.equal(legacy(0, 0)!.length, 256 * 32);
    // The interior is what the reader uses: a changed interior hash changes the proof.
    const edited = Buffer.from(store.get(0, 1)!);
    const at = expandedPosition(7, 3); // node (7, 3) covers leaves 384..511, in tile 0/1
    assert.equal(at.tileIndex, 1);
    edited.fill(0xee, at.offset, at.offset + 32);
    const tampered = (l: number, i: number) => (l === 0 && i === 1 ? edited : store.get(l, i));
    const proof = inclusionProof(300, n, new TileNodeReader(tampered, n, { cacheSize: 0 }));
    assert.notDeepEqual(proof, inclusionProof(300, n, mem));
    assert.deepEqual(proof[7], Buffer.alloc(32, 0xee));
  });

  it('throws clear errors for missing, short or malformed tiles and nodes outside the tree', () => {
    const n = 600;
    const { store } = build(n, 11, mulberry32(11));
    const without = (key: string) => (l: number, i: number) =>
      `${l}/${i}` === key ? undefined : store.get(l, i);
    assert.throws(() => rootOf(n, new TileNodeReader(without('0/2'), n)), /tile 0\/2 is missing/);
    assert.throws(() => rootOf(n, new TileNodeReader(without('1/0'), n)), /tile 1\/0 is missing/);
    const short = (l: number, i: number) =>
      l === 0 && i === 2 ? store.get(l, i)!.subarray(0, 32 * 10) : store.get(l, i);
    assert.throws(() => rootOf(n, new TileNodeReader(short, n)), /tile 0\/2 is too short/);
    const ragged = (l: number, i: number) => (l === 0 && i === 2 ? Buffer.alloc(33) : store.get(l, i));
    assert.throws(() => rootOf(n, new TileNodeReader(ragged, n)), /tile 0\/2 is 33 bytes/);
    const reader = new TileNodeReader(store.get, n);
    assert.throws(() => reader.node(0, 600), RangeError);
    assert.throws(() => reader.node(10, 0), RangeError);
    assert.throws(() => reader.node(-1, 0), RangeError);
    assert.throws(() => new TileNodeReader(store.get, -1), RangeError);
    assert.throws(() => new TileNodeReader(store.get, 1, { cacheSize: -1 }), RangeError);
  });

  it('TileAccumulator validates seeds and order', () => {
    const h = Buffer.alloc(32, 1);
    assert.throws(
      () => new TileAccumulator([{ level: 0, index: 0, width: 2, hashes: Buffer.alloc(32) }]),
      RangeError,
    );
    assert.throws(
      () => new TileAccumulator([{ level: 0, index: 0, width: 0, hashes: Buffer.alloc(0) }]),
      RangeError,
    );
    assert.throws(() => new TileAccumulator([{ level: 7, index: 0, width: 1, hashes: h }]), RangeError);
    const row = { level: 0, index: 0, width: 1, hashes: h };
    assert.throws(() => new TileAccumulator([row, row]), /seeded twice/);
    // A node in the middle of an unseeded tile would truncate it: refuse.
    assert.throws(() => new TileAccumulator([]).onNode(0, 5, h), /not seeded/);
    const acc = new TileAccumulator([row]);
    assert.throws(() => acc.onNode(0, 2, h), /width 1/);
    acc.onNode(3, 0, h); // not a tile level: ignored
    acc.onNode(0, 1, Buffer.alloc(32, 2));
    acc.onNode(8, 0, Buffer.alloc(32, 3));
    assert.deepEqual(acc.changed(), [
      { level: 0, index: 0, width: 2, hashes: Buffer.concat([h, Buffer.alloc(32, 2)]) },
      { level: 1, index: 0, width: 1, hashes: Buffer.alloc(32, 3) },
    ]);
    // The seed is copied, not aliased.
    h.fill(9);
    assert.deepEqual(acc.changed()[0]!.hashes.subarray(0, 32), Buffer.alloc(32, 1));
  });

  it('hashes partial-tile nodes the RFC 6962 way', () => {
    const leaves = Array.from({ length: 4 }, (_, i) => hashLeaf(Buffer.of(i)));
    const reader = new TileNodeReader((l, i) => (l === 0 && i === 0 ? Buffer.concat(leaves) : undefined), 4);
    assert.deepEqual(
      reader.node(2, 0),
      hashChildren(hashChildren(leaves[0]!, leaves[1]!), hashChildren(leaves[2]!, leaves[3]!)),
    );
    assert.deepEqual(reader.node(0, 3), leaves[3]);
  });
});
