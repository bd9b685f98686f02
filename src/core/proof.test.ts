import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { CompactRange, EMPTY_ROOT, MemoryNodeReader, hashChildren, hashLeaf, rootOf } from './merkle.js';
import type { NodeReader } from './merkle.js';
import {
  ProofError,
  consistencyProof,
  inclusionProof,
  rootFromInclusionProof,
  verifyConsistency,
  verifyInclusion,
} from './proof.js';

interface Tree {
  leaves: Buffer[];
  reader: MemoryNodeReader;
  roots: Buffer[]; // roots[k] = MTH of the first k leaves
}

function makeTree(size: number, seed: number): Tree {
  const leaves = Array.from({ length: size }, (_, i) => hashLeaf(Buffer.from(`${seed}:${i}`)));
  const cr = new CompactRange();
  const roots = [cr.root()];
  for (const h of leaves) {
    cr.append(h);
    roots.push(cr.root());
  }
  return { leaves, reader: new MemoryNodeReader(leaves), roots };
}

const flip = (b: Uint8Array, bit: number): Buffer => {
  const out = Buffer.from(b);
  out[bit >> 3]! ^= 1 << (bit & 7);
  return out;
};

const flipInPlace = (b: Buffer, bit: number): void => {
  b[bit >> 3]! ^= 1 << (bit & 7);
};

// The sequence of hashing operations RFC 9162 §2.1.3.2 performs for (index, size) and a proof of
// `length` hashes, or undefined if it rejects the length. Two (index, size) pairs with the same
// shape compute the same function of (leaf, proof): an inclusion proof does not bind the tree
// size on its own (the signed checkpoint does), e.g. (0, 3) and (0, 4) share their shape.
function inclusionShape(index: number, size: number, length: number): string | undefined {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size)
    return undefined;
  let fn = index;
  let sn = size - 1;
  let shape = '';
  for (let i = 0; i < length; i++) {
    if (sn === 0) return undefined;
    if (fn % 2 === 1 || fn === sn) {
      shape += 'L';
      while (fn % 2 === 0 && fn !== 0) {
        fn /= 2;
        sn = Math.floor(sn / 2);
      }
    } else {
      shape += 'R';
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 ? shape : undefined;
}

// Same for RFC 9162 §2.1.4.2 (0 < size1 < size2).
function consistencyShape(size1: number, size2: number, length: number): string | undefined {
  if (!Number.isSafeInteger(size1) || !Number.isSafeInteger(size2) || size1 <= 0 || size1 >= size2)
    return undefined;
  const pow2 = size1 === 2 ** Math.round(Math.log2(size1));
  let shape = pow2 ? 'P' : 'S';
  let fn = size1 - 1;
  let sn = size2 - 1;
  while (fn % 2 === 1) {
    fn = (fn - 1) / 2;
    sn = Math.floor(sn / 2);
  }
  for (let i = pow2 ? 0 : 1; i < length; i++) {
    if (sn === 0) return undefined;
    if (fn % 2 === 1 || fn === sn) {
      shape += 'L';
      while (fn % 2 === 0 && fn !== 0) {
        fn /= 2;
        sn = Math.floor(sn / 2);
      }
    } else {
      shape += 'R';
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 ? shape : undefined;
}

/**
 * A consistent reader for trees of any size up to 2^53−1: every leaf is the same hash except a
 * few marked ones, so a node without marks below it is one of 53 precomputed hashes and only
 * subtrees over marks are ever computed.
 */
class SparseReader implements NodeReader {
  readonly #marks: [number, Buffer][];
  readonly #blank: Buffer[] = [hashLeaf(Buffer.from('blank'))];
  readonly #memo = new Map<string, Buffer>();

  constructor(marks: Map<number, Buffer>) {
    this.#marks = [...marks];
    for (let l = 1; l <= 53; l++) this.#blank.push(hashChildren(this.#blank[l - 1]!, this.#blank[l - 1]!));
  }

  node(level: number, index: number): Buffer {
    const start = index * 2 ** level;
    const end = start + 2 ** level;
    const mark = this.#marks.find(([i]) => i >= start && i < end);
    if (mark === undefined) return this.#blank[level]!;
    if (level === 0) return mark[1];
    const key = `${level}/${index}`;
    let h = this.#memo.get(key);
    if (h === undefined) {
      h = hashChildren(this.node(level - 1, 2 * index), this.node(level - 1, 2 * index + 1));
      this.#memo.set(key, h);
    }
    return h;
  }
}

const mark = (i: number): Buffer => createHash('sha256').update(`mark ${i}`).digest();

describe('proofs over every small tree', () => {
  it('verifies every inclusion and consistency proof for all sizes ≤ 64', () => {
    const { leaves, reader, roots } = makeTree(64, 1);
    for (let size = 0; size <= 64; size++) {
      assert.deepEqual(rootOf(size, reader), roots[size]);
      for (let i = 0; i < size; i++) {
        const proof = inclusionProof(i, size, reader);
        assert.ok(verifyInclusion(leaves[i]!, i, size, proof, roots[size]!), `inclusion ${i} in ${size}`);
      }
      for (let m = 0; m <= size; m++) {
        const proof = consistencyProof(m, size, reader);
        assert.ok(verifyConsistency(m, size, proof, roots[m]!, roots[size]!), `consistency ${m} -> ${size}`);
      }
    }
  });

  it('rejects every single-bit change of proof, leaf or root (sizes 1–6 and 8)', () => {
    const { leaves, reader, roots } = makeTree(8, 2);
    for (const size of [1, 2, 3, 4, 5, 6, 8]) {
      const root = roots[size]!;
      for (let i = 0; i < size; i++) {
        const leaf = leaves[i]!;
        const proof = inclusionProof(i, size, reader);
        for (let bit = 0; bit < 256; bit++) {
          assert.equal(verifyInclusion(flip(leaf, bit), i, size, proof, root), false);
          assert.equal(verifyInclusion(leaf, i, size, proof, flip(root, bit)), false);
          for (const p of proof) {
            flipInPlace(p, bit);
            assert.equal(verifyInclusion(leaf, i, size, proof, root), false);
            flipInPlace(p, bit);
          }
        }
      }
      for (let m = 1; m < size; m++) {
        const proof = consistencyProof(m, size, reader);
        for (let bit = 0; bit < 256; bit++) {
          assert.equal(verifyConsistency(m, size, proof, flip(roots[m]!, bit), root), false);
          assert.equal(verifyConsistency(m, size, proof, roots[m]!, flip(root, bit)), false);
          for (const p of proof) {
            flipInPlace(p, bit);
            assert.equal(verifyConsistency(m, size, proof, roots[m]!, root), false);
            flipInPlace(p, bit);
          }
        }
      }
    }
  });
});

describe('proof properties (fast-check)', () => {
  it('every inclusion and consistency proof of a random tree (1..300) verifies', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 300 }), fc.nat(), (size, seed) => {
        const { leaves, reader, roots } = makeTree(size, seed);
        const root = roots[size]!;
        for (let i = 0; i < size; i++) {
          const proof = inclusionProof(i, size, reader);
          assert.ok(verifyInclusion(leaves[i]!, i, size, proof, root));
          assert.deepEqual(rootFromInclusionProof(leaves[i]!, i, size, proof), root);
        }
        for (let m = 0; m <= size; m++) {
          assert.ok(verifyConsistency(m, size, consistencyProof(m, size, reader), roots[m]!, root));
        }
      }),
      { numRuns: 25 },
    );
  });

  // One 300-leaf tree serves every size: a tree of size s is its first s leaves.
  const big = makeTree(300, 3);
  const tree = (_size: number): Tree => big;

  it('an inclusion proof fails after any single-bit change or a changed index/size', () => {
    fc.assert(
      fc.property(
        fc
          .integer({ min: 1, max: 300 })
          .chain((size) => fc.tuple(fc.constant(size), fc.nat({ max: size - 1 }))),
        fc.nat({ max: 255 }),
        fc.nat(),
        fc.integer({ min: -300, max: 300 }),
        ([size, index], bit, pick, delta) => {
          const { leaves, reader, roots } = tree(size);
          const leaf = leaves[index]!;
          const root = roots[size]!;
          const proof = inclusionProof(index, size, reader);
          assert.ok(verifyInclusion(leaf, index, size, proof, root));
          assert.equal(verifyInclusion(flip(leaf, bit), index, size, proof, root), false);
          assert.equal(verifyInclusion(leaf, index, size, proof, flip(root, bit)), false);
          if (proof.length > 0) {
            const j = pick % proof.length;
            const bad = proof.map((p, k) => (k === j ? flip(p, bit) : p));
            assert.equal(verifyInclusion(leaf, index, size, bad, root), false);
            assert.equal(verifyInclusion(leaf, index, size, proof.slice(0, -1), root), false);
            assert.equal(verifyInclusion(leaf, index, size, [...proof].reverse(), root), proof.length === 1);
          }
          assert.equal(verifyInclusion(leaf, index, size, [...proof, root], root), false);
          assert.equal(verifyInclusion(leaf, index, size, [root, ...proof], root), false);
          if (delta !== 0) {
            // Another index of the same tree never verifies.
            assert.equal(verifyInclusion(leaf, index + delta, size, proof, root), false);
            // Another size verifies only where the verifier's computation is literally the same.
            const ok = verifyInclusion(leaf, index, size + delta, proof, root);
            const same =
              inclusionShape(index, size + delta, proof.length) === inclusionShape(index, size, proof.length);
            assert.equal(ok, same);
          }
        },
      ),
      { numRuns: 800 },
    );
  });

  it('a consistency proof fails after any single-bit change or changed sizes', () => {
    fc.assert(
      fc.property(
        fc
          .integer({ min: 2, max: 300 })
          .chain((size) => fc.tuple(fc.constant(size), fc.integer({ min: 1, max: size - 1 }))),
        fc.nat({ max: 255 }),
        fc.nat(),
        fc.integer({ min: -300, max: 300 }),
        ([size2, size1], bit, pick, delta) => {
          const { reader, roots } = tree(size2);
          const [root1, root2] = [roots[size1]!, roots[size2]!];
          const proof = consistencyProof(size1, size2, reader);
          assert.ok(verifyConsistency(size1, size2, proof, root1, root2));
          assert.equal(verifyConsistency(size1, size2, proof, flip(root1, bit), root2), false);
          assert.equal(verifyConsistency(size1, size2, proof, root1, flip(root2, bit)), false);
          assert.equal(verifyConsistency(size1, size2, proof, root2, root1), false);
          const j = pick % proof.length;
          const bad = proof.map((p, k) => (k === j ? flip(p, bit) : p));
          assert.equal(verifyConsistency(size1, size2, bad, root1, root2), false);
          assert.equal(verifyConsistency(size1, size2, proof.slice(0, -1), root1, root2), false);
          assert.equal(verifyConsistency(size1, size2, [...proof, root1], root1, root2), false);
          assert.equal(verifyConsistency(size1, size2, [proof[0]!, ...proof], root1, root2), false);
          assert.equal(verifyConsistency(size1, size2, [], root1, root2), false);
          if (delta !== 0) {
            const s1 = size1 + delta;
            const ok1 = verifyConsistency(s1, size2, proof, root1, root2);
            assert.equal(
              ok1,
              consistencyShape(s1, size2, proof.length) === consistencyShape(size1, size2, proof.length),
            );
            const s2 = size2 + delta;
            const ok2 = verifyConsistency(size1, s2, proof, root1, root2);
            assert.equal(
              ok2,
              consistencyShape(size1, s2, proof.length) === consistencyShape(size1, size2, proof.length),
            );
          }
        },
      ),
      { numRuns: 800 },
    );
  });

  it('works for trees up to 2^53−1 leaves', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: Number.MAX_SAFE_INTEGER }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (size, fi, fm) => {
          const index = Math.min(size - 1, Math.floor(fi * size));
          const size1 = Math.max(1, Math.min(size - 1, Math.floor(fm * size)));
          const marks = new Map<number, Buffer>();
          for (const i of [0, index - 1, index, index + 1, size1 - 1, size1, size - 1]) {
            if (i >= 0 && i < size) marks.set(i, mark(i));
          }
          const reader = new SparseReader(marks);
          const root = rootOf(size, reader);
          const proof = inclusionProof(index, size, reader);
          assert.ok(proof.length <= 53);
          assert.ok(verifyInclusion(mark(index), index, size, proof, root));
          if (index + 1 < size)
            assert.equal(verifyInclusion(mark(index), index + 1, size, proof, root), false);
          if (index > 0) assert.equal(verifyInclusion(mark(index), index - 1, size, proof, root), false);
          const root1 = rootOf(size1, reader);
          const cproof = consistencyProof(size1, size, reader);
          assert.ok(verifyConsistency(size1, size, cproof, root1, root));
          assert.equal(verifyConsistency(size1, size, cproof, root, root1), false);
          // The right edge of the big tree, extended by one leaf, agrees with the reader.
          if (size < Number.MAX_SAFE_INTEGER) {
            const edge: Buffer[] = [];
            let start = 0;
            for (let level = 53; level >= 0; level--) {
              if (start + 2 ** level <= size) {
                edge.push(reader.node(level, start / 2 ** level));
                start += 2 ** level;
              }
            }
            const cr = new CompactRange(size, edge);
            assert.deepEqual(cr.root(), root);
            cr.append(mark(size));
            marks.set(size, mark(size));
            assert.deepEqual(cr.root(), rootOf(size + 1, new SparseReader(marks)));
          }
        },
      ),
      { numRuns: 120 },
    );
  });
});

describe('proof edge cases', () => {
  const { leaves, reader, roots } = makeTree(10, 4);

  it('rejects out-of-range generation requests with ProofError("range")', () => {
    const range = (e: unknown): boolean => e instanceof ProofError && e.code === 'range';
    assert.throws(() => inclusionProof(10, 10, reader), range);
    assert.throws(() => inclusionProof(0, 0, reader), range);
    assert.throws(() => inclusionProof(-1, 10, reader), range);
    assert.throws(() => inclusionProof(1.5, 10, reader), range);
    assert.throws(() => consistencyProof(5, 4, reader), range);
    assert.throws(() => consistencyProof(0, 2 ** 53, reader), range);
    assert.deepEqual(consistencyProof(0, 10, reader), []);
    assert.deepEqual(consistencyProof(7, 7, reader), []);
    // A reader that lacks the nodes throws its own error (here RangeError from MemoryNodeReader).
    assert.throws(() => inclusionProof(0, 11, reader), RangeError);
  });

  it('rootFromInclusionProof reports malformed and out-of-range proofs', () => {
    const proof = inclusionProof(3, 10, reader);
    const code = (c: string) => (e: unknown) => e instanceof ProofError && e.code === c;
    assert.deepEqual(rootFromInclusionProof(leaves[3]!, 3, 10, proof), roots[10]);
    assert.throws(() => rootFromInclusionProof(leaves[3]!, 10, 10, proof), code('range'));
    assert.throws(() => rootFromInclusionProof(leaves[3]!, 2 ** 53, 2 ** 53 + 2, proof), code('range'));
    assert.throws(() => rootFromInclusionProof(leaves[3]!.subarray(1), 3, 10, proof), code('malformed'));
    assert.throws(() => rootFromInclusionProof(leaves[3]!, 3, 10, proof.slice(1)), code('malformed'));
    assert.throws(() => rootFromInclusionProof(leaves[3]!, 3, 10, [...proof, proof[0]!]), code('malformed'));
    assert.throws(
      () => rootFromInclusionProof(leaves[3]!, 3, 10, [Buffer.alloc(33), ...proof.slice(1)]),
      code('malformed'),
    );
    assert.throws(
      () => rootFromInclusionProof(leaves[3]!, 3, 10, Array(65).fill(proof[0])),
      code('malformed'),
    );
  });

  it('verifiers return false instead of throwing on garbage', () => {
    const proof = inclusionProof(3, 10, reader);
    const junk: unknown[] = [null, undefined, 'x', 3, {}, [null], [proof[0], 'x']];
    for (const j of junk) {
      assert.equal(verifyInclusion(leaves[3]!, 3, 10, j as Uint8Array[], roots[10]!), false);
      assert.equal(verifyInclusion(j as Uint8Array, 3, 10, proof, roots[10]!), false);
      assert.equal(verifyInclusion(leaves[3]!, 3, 10, proof, j as Uint8Array), false);
      assert.equal(verifyConsistency(4, 10, j as Uint8Array[], roots[4]!, roots[10]!), false);
      assert.equal(
        verifyConsistency(4, 10, consistencyProof(4, 10, reader), j as Uint8Array, roots[10]!),
        false,
      );
    }
    for (const n of [NaN, Infinity, -1, 0.5, 2 ** 53, Number('18446744073709551615')]) {
      assert.equal(verifyInclusion(leaves[3]!, n, 10, proof, roots[10]!), false);
      assert.equal(verifyInclusion(leaves[3]!, 3, n, proof, roots[10]!), false);
      assert.equal(verifyConsistency(n, 10, [], roots[4]!, roots[10]!), false);
      assert.equal(verifyConsistency(4, n, [], roots[4]!, roots[10]!), false);
    }
  });

  it('treats equal sizes and the empty tree as the vectors do', () => {
    assert.ok(verifyConsistency(10, 10, [], roots[10]!, roots[10]!));
    assert.equal(verifyConsistency(10, 10, [], roots[10]!, roots[9]!), false);
    assert.equal(verifyConsistency(10, 10, [roots[10]!], roots[10]!, roots[10]!), false);
    assert.ok(verifyConsistency(0, 0, [], EMPTY_ROOT, EMPTY_ROOT));
    assert.equal(verifyConsistency(0, 0, [], roots[1]!, roots[1]!), false);
    assert.ok(verifyConsistency(0, 10, [], EMPTY_ROOT, roots[10]!));
    assert.equal(verifyConsistency(0, 10, [], roots[1]!, roots[10]!), false);
    assert.equal(verifyConsistency(0, 10, [EMPTY_ROOT], EMPTY_ROOT, roots[10]!), false);
    assert.equal(verifyConsistency(0, 10, [], EMPTY_ROOT, roots[10]!.subarray(1)), false);
  });

  it('accepts Uint8Array views, not only Buffers', () => {
    const proof = inclusionProof(3, 10, reader).map((p) => new Uint8Array(p));
    const padded = new Uint8Array(40);
    padded.set(roots[10]!, 8);
    assert.ok(verifyInclusion(new Uint8Array(leaves[3]!), 3, 10, proof, padded.subarray(8)));
  });
});
