import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  CompactRange,
  EMPTY_ROOT,
  HASH_SIZE,
  MemoryNodeReader,
  hashChildren,
  hashLeaf,
  rootOf,
  subtreeRoot,
} from './merkle.js';
import type { NodeReader } from './merkle.js';

// The RFC 6962 test tree used by transparency-dev/merkle (testonly) and certificate-transparency.
const TEST_LEAVES = [
  '',
  '00',
  '10',
  '2021',
  '3031',
  '40414243',
  '5051525354555657',
  '606162636465666768696a6b6c6d6e6f',
].map((h) => Buffer.from(h, 'hex'));

// MTH of the first n test leaves, n = 1…8 (sizes 1, 2, 3, 5, 8 also appear in the vectors).
const TEST_ROOTS = [
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];

const sha256 = (...parts: Uint8Array[]): Buffer => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};

/** RFC 9162 §2.1.1 MTH, written straight from the definition, as an oracle. */
function referenceMth(leaves: readonly Buffer[]): Buffer {
  if (leaves.length === 0) return sha256();
  if (leaves.length === 1) return sha256(Buffer.of(0), leaves[0]!);
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return sha256(Buffer.of(1), referenceMth(leaves.slice(0, k)), referenceMth(leaves.slice(k)));
}

describe('hashes (RFC 6962 §2.1)', () => {
  it('has the known empty root', () => {
    assert.equal(
      EMPTY_ROOT.toString('hex'),
      'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    );
    assert.equal(HASH_SIZE, 32);
  });
  it('prefixes leaves with 0x00 and nodes with 0x01', () => {
    for (const size of [0, 1, 31, 8191, 8192, 20000]) {
      const data = randomBytes(size);
      assert.deepEqual(hashLeaf(data), sha256(Buffer.of(0), data));
    }
    const [l, r] = [randomBytes(32), randomBytes(32)];
    assert.deepEqual(hashChildren(l, r), sha256(Buffer.of(1), l, r));
    assert.throws(() => hashChildren(l, randomBytes(31)), RangeError);
  });
  it('returns fresh buffers (scratch reuse does not leak)', () => {
    const a = hashLeaf(Buffer.from('a'));
    const copy = Buffer.from(a);
    hashLeaf(Buffer.from('b'));
    hashChildren(a, a);
    assert.deepEqual(a, copy);
  });
});

describe('the RFC 6962 8-leaf test tree', () => {
  const leafHashes = TEST_LEAVES.map((l) => hashLeaf(l));
  const reader = new MemoryNodeReader(leafHashes);
  it('has the known roots for every prefix', () => {
    for (let n = 1; n <= 8; n++) {
      assert.equal(rootOf(n, reader).toString('hex'), TEST_ROOTS[n - 1], `size ${n}`);
      const cr = new CompactRange();
      for (const h of leafHashes.slice(0, n)) cr.append(h);
      assert.equal(cr.root().toString('hex'), TEST_ROOTS[n - 1], `compact range size ${n}`);
    }
    assert.deepEqual(rootOf(0, reader), EMPTY_ROOT);
    assert.deepEqual(new CompactRange().root(), EMPTY_ROOT);
  });
});

describe('subtreeRoot', () => {
  it('is the MTH of any range, aligned or not', () => {
    const leaves = Array.from({ length: 37 }, (_, i) => Buffer.from([i, i * 7]));
    const hashes = leaves.map((l) => hashLeaf(l));
    let reads = 0;
    const inner = new MemoryNodeReader(hashes);
    const reader: NodeReader = {
      node: (level, index) => {
        reads++;
        return inner.node(level, index);
      },
    };
    for (let start = 0; start <= 37; start++) {
      for (let end = start; end <= 37; end++) {
        assert.deepEqual(
          subtreeRoot(start, end, reader),
          referenceMth(leaves.slice(start, end)),
          `[${start}, ${end})`,
        );
      }
    }
    reads = 0;
    subtreeRoot(32, 37, reader); // an aligned range: nodes (2, 8) and (0, 36)
    assert.equal(reads, 2);
  });
  it('rejects bad ranges with RangeError', () => {
    const reader = new MemoryNodeReader([hashLeaf(Buffer.of())]);
    assert.throws(() => subtreeRoot(1, 0, reader), RangeError);
    assert.throws(() => subtreeRoot(-1, 0, reader), RangeError);
    assert.throws(() => subtreeRoot(0.5, 1, reader), RangeError);
    assert.throws(() => subtreeRoot(0, 2 ** 53, reader), RangeError);
    assert.throws(() => rootOf(2, reader), RangeError);
    assert.throws(() => reader.node(1, 0), RangeError);
    assert.throws(() => reader.node(0, -1), RangeError);
  });
});

describe('CompactRange', () => {
  it('appendSubtree gives the range of appending the subtree leaves one by one', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 4 }), (start, level) => {
        const width = 2 ** level;
        const at = Math.ceil(start / width) * width;
        const hashes = Array.from({ length: at + width }, (_, i) => hashLeaf(Buffer.of(i)));
        const one = new CompactRange();
        const seenOne: string[] = [];
        hashes.forEach((h) => one.append(h, (l, i) => seenOne.push(`${l}/${i}`)));
        const joined = new CompactRange();
        for (const h of hashes.slice(0, at)) joined.append(h);
        const seen: string[] = [];
        joined.appendSubtree(level, new MemoryNodeReader(hashes).node(level, at / width), (l, i) =>
          seen.push(`${l}/${i}`),
        );
        assert.deepEqual(joined.encode(), one.encode());
        assert.equal(joined.size, one.size);
        // The subtree and every parent it completes, as appending its last leaf reports them.
        assert.deepEqual(seen, seenOne.slice(seenOne.indexOf(`${level}/${at / width}`)));
      }),
    );
    assert.throws(
      () => new CompactRange(3, [Buffer.alloc(32), Buffer.alloc(32)]).appendSubtree(1, Buffer.alloc(32)),
      RangeError,
    );
  });

  it('matches the reference MTH for random trees and reports every completed node', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 8 }), { maxLength: 300, size: 'max' }), (leaves) => {
        const cr = new CompactRange();
        const hashes = leaves.map((l) => hashLeaf(l));
        const reader = new MemoryNodeReader(hashes);
        const seen: string[] = [];
        hashes.forEach((h, seq) => {
          const nodes: [number, number, Buffer][] = [];
          cr.append(h, (level, index, hash) => nodes.push([level, index, hash]));
          assert.deepEqual(nodes[0], [0, seq, h]);
          for (const [level, index, hash] of nodes) {
            assert.deepEqual(hash, reader.node(level, index));
            seen.push(`${level}/${index}`);
          }
          // Levels rise one at a time: the nodes completed are the trailing 1-bits of seq.
          nodes.forEach(([level], i) => assert.equal(level, i));
        });
        // Every perfect node of the final tree was reported exactly once.
        let expected = 0;
        for (let level = 0; 2 ** level <= leaves.length; level++)
          expected += Math.floor(leaves.length / 2 ** level);
        assert.equal(seen.length, expected);
        assert.equal(new Set(seen).size, expected);
        assert.equal(cr.size, leaves.length);
        assert.deepEqual(cr.root(), referenceMth(leaves.map((l) => Buffer.from(l))));
        const decoded = CompactRange.decode(cr.size, cr.encode());
        assert.deepEqual(decoded.hashes, cr.hashes);
        assert.deepEqual(decoded.root(), cr.root());
      }),
      { numRuns: 40 },
    );
  });
  it('holds the perfect subtree roots, largest first', () => {
    const hashes = Array.from({ length: 13 }, (_, i) => hashLeaf(Buffer.of(i)));
    const reader = new MemoryNodeReader(hashes);
    const cr = new CompactRange();
    for (const h of hashes) cr.append(h);
    assert.deepEqual(cr.hashes, [reader.node(3, 0), reader.node(2, 2), reader.node(0, 12)]);
    assert.equal(cr.encode().length, 3 * 32);
  });
  it('clones independently and copies its inputs', () => {
    const h = hashLeaf(Buffer.of(1));
    const cr = new CompactRange();
    cr.append(h);
    h.fill(0);
    assert.deepEqual(cr.root(), hashLeaf(Buffer.of(1)));
    const twin = cr.clone();
    twin.append(hashLeaf(Buffer.of(2)));
    assert.equal(cr.size, 1);
    assert.equal(twin.size, 2);
    cr.root().fill(0);
    cr.hashes[0]!.fill(0);
    assert.deepEqual(cr.root(), hashLeaf(Buffer.of(1)));
  });
  it('validates sizes and hashes', () => {
    assert.throws(() => new CompactRange(3, [Buffer.alloc(32)]), RangeError);
    assert.throws(() => new CompactRange(1, [Buffer.alloc(31)]), RangeError);
    assert.throws(() => new CompactRange(-1), RangeError);
    assert.throws(() => new CompactRange(1.5), RangeError);
    assert.throws(() => new CompactRange(2 ** 53), RangeError);
    assert.throws(() => CompactRange.decode(3, Buffer.alloc(32)), RangeError);
    assert.throws(() => CompactRange.decode(3, Buffer.alloc(65)), RangeError);
    assert.throws(() => new CompactRange().append(Buffer.alloc(31)), RangeError);
    const max = Number.MAX_SAFE_INTEGER; // 53 one-bits
    const full = new CompactRange(
      max,
      Array.from({ length: 53 }, () => Buffer.alloc(32)),
    );
    assert.equal(full.hashes.length, 53);
    assert.throws(() => full.append(Buffer.alloc(32)), RangeError);
    const big = new CompactRange(2 ** 52, [Buffer.alloc(32, 7)]);
    big.append(Buffer.alloc(32, 8));
    assert.equal(big.size, 2 ** 52 + 1);
    assert.deepEqual(big.root(), hashChildren(Buffer.alloc(32, 7), Buffer.alloc(32, 8)));
  });
});
