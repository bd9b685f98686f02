import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { MemoryNodeReader, hashLeaf, rootOf } from './merkle.js';
import { ProofError } from './proof.js';
import { rangeProof, rangeRoot } from './range-proof.js';

function tree(size: number): { leaves: Buffer[]; reader: MemoryNodeReader } {
  const leaves = Array.from({ length: size }, (_, i) => hashLeaf(Buffer.from(`leaf ${i}`)));
  return { leaves, reader: new MemoryNodeReader(leaves) };
}

describe('range proofs', () => {
  it('every range of every tree up to 40 leaves leads to its root', () => {
    for (let size = 1; size <= 40; size++) {
      const { leaves, reader } = tree(size);
      const root = rootOf(size, reader);
      for (let from = 0; from < size; from++) {
        for (let to = from + 1; to <= size; to++) {
          const proof = rangeProof(from, to, size, reader);
          assert.ok(proof.length <= 2 * Math.ceil(Math.log2(size + 1)));
          const got = rangeRoot(from, to, size, leaves.slice(from, to), proof);
          assert.ok(got?.equals(root), `[${from}, ${to}) of ${size}`);
        }
      }
    }
  });

  it('a whole tree needs no proof hashes', () => {
    const { leaves, reader } = tree(13);
    assert.deepEqual(rangeProof(0, 13, 13, reader), []);
    assert.ok(rangeRoot(0, 13, 13, leaves, [])?.equals(rootOf(13, reader)));
  });

  it('any single-bit change, a dropped, added or swapped leaf, or a wrong proof length fails', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 300 }).chain((size) =>
          fc.tuple(
            fc.constant(size),
            fc
              .integer({ min: 0, max: size - 2 })
              .chain((from) => fc.tuple(fc.constant(from), fc.integer({ min: from + 2, max: size }))),
            fc.nat(),
          ),
        ),
        ([size, [from, to], bit]) => {
          const { leaves, reader } = tree(size);
          const root = rootOf(size, reader);
          const range = leaves.slice(from, to);
          const proof = rangeProof(from, to, size, reader);
          const differs = (r: Buffer | undefined): boolean => r === undefined || !r.equals(root);
          const flipped = range.map((h) => Buffer.from(h));
          const target = flipped[bit % flipped.length]!;
          target[(bit >> 8) % 32]! ^= 1 << (bit % 8);
          assert.ok(differs(rangeRoot(from, to, size, flipped, proof)));
          assert.ok(differs(rangeRoot(from, to - 1, size, range.slice(0, -1), proof)));
          assert.ok(differs(rangeRoot(from, to, size, [range[1]!, range[0]!, ...range.slice(2)], proof)));
          if (proof.length > 0) {
            assert.ok(differs(rangeRoot(from, to, size, range, proof.slice(1))));
            const bad = proof.map((h) => Buffer.from(h));
            bad[bit % bad.length]![0]! ^= 1;
            assert.ok(differs(rangeRoot(from, to, size, range, bad)));
          }
          assert.ok(differs(rangeRoot(from, to, size, range, [...proof, root])));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('refuses empty or out-of-bounds ranges', () => {
    const { reader } = tree(8);
    assert.throws(() => rangeProof(3, 3, 8, reader), ProofError);
    assert.throws(() => rangeProof(2, 9, 8, reader), ProofError);
    assert.equal(rangeRoot(3, 3, 8, [], []), undefined);
    assert.equal(rangeRoot(-1, 2, 8, [], []), undefined);
  });
});
