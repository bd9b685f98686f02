// Golden vectors: transparency-dev/merkle testdata (196 cases, Apache-2.0), see test/vectors/README.md.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { MemoryNodeReader, hashLeaf, rootOf } from './merkle.js';
import {
  consistencyProof,
  inclusionProof,
  rootFromInclusionProof,
  verifyConsistency,
  verifyInclusion,
} from './proof.js';

const VECTORS = join(import.meta.dirname, '../../test/vectors/rfc6962-merkle');

interface InclusionCase {
  leafIdx: number;
  treeSize: number;
  root: string;
  leafHash: string;
  proof: string[] | null;
  desc: string;
  wantErr: boolean;
}
interface ConsistencyCase {
  size1: number;
  size2: number;
  root1: string;
  root2: string;
  proof: string[] | null;
  desc: string;
  wantErr: boolean;
}

function files(dir: string): string[] {
  return readdirSync(dir)
    .flatMap((name) => {
      const p = join(dir, name);
      return statSync(p).isDirectory() ? files(p) : [p];
    })
    .sort();
}
const b64 = (s: string): Buffer => Buffer.from(s, 'base64');
const load = <T>(file: string): T => JSON.parse(readFileSync(file, 'utf8')) as T;

// The vectors' trees are prefixes of the RFC 6962 test tree: our generator must reproduce them.
const TEST_LEAVES = [
  '',
  '00',
  '10',
  '2021',
  '3031',
  '40414243',
  '5051525354555657',
  '606162636465666768696a6b6c6d6e6f',
].map((h) => hashLeaf(Buffer.from(h, 'hex')));
const testTree = new MemoryNodeReader(TEST_LEAVES);

const inclusion = files(join(VECTORS, 'inclusion'));
const consistency = files(join(VECTORS, 'consistency'));

describe('transparency-dev/merkle vectors', () => {
  it('has all 196 cases', () => assert.equal(inclusion.length + consistency.length, 196));

  describe('inclusion', () => {
    for (const file of inclusion) {
      const c = load<InclusionCase>(file);
      it(`${relative(VECTORS, file)}: ${c.wantErr ? 'rejects' : 'accepts'} (${c.desc})`, () => {
        const proof = (c.proof ?? []).map(b64);
        assert.equal(verifyInclusion(b64(c.leafHash), c.leafIdx, c.treeSize, proof, b64(c.root)), !c.wantErr);
        if (!c.wantErr) {
          assert.deepEqual(
            rootFromInclusionProof(b64(c.leafHash), c.leafIdx, c.treeSize, proof),
            b64(c.root),
          );
          if (c.treeSize <= TEST_LEAVES.length && b64(c.leafHash).equals(TEST_LEAVES[c.leafIdx]!)) {
            assert.deepEqual(inclusionProof(c.leafIdx, c.treeSize, testTree), proof);
            assert.deepEqual(rootOf(c.treeSize, testTree), b64(c.root));
          }
        }
      });
    }
  });

  // Where docs/verification.md §4.4 is deliberately stricter than the vectors: roots are always
  // 32 bytes, also when the sizes are equal.
  const STRICTER: Record<string, string> = {
    'additional/sizes-are-equal-one-and-proof-is-empty.json': 'its equal roots are 12 bytes, not 32',
  };

  describe('consistency', () => {
    it('every case listed as stricter exists and is accepted by the vectors', () => {
      for (const name of Object.keys(STRICTER)) {
        assert.equal(load<ConsistencyCase>(join(VECTORS, 'consistency', name)).wantErr, false, name);
      }
    });
    for (const file of consistency) {
      const c = load<ConsistencyCase>(file);
      const stricter = STRICTER[relative(join(VECTORS, 'consistency'), file)];
      const want = !c.wantErr && stricter === undefined;
      it(`${relative(VECTORS, file)}: ${want ? 'accepts' : 'rejects'} (${stricter ?? c.desc})`, () => {
        const proof = (c.proof ?? []).map(b64);
        assert.equal(verifyConsistency(c.size1, c.size2, proof, b64(c.root1), b64(c.root2)), want);
        if (want && c.size2 <= TEST_LEAVES.length && rootOf(c.size2, testTree).equals(b64(c.root2))) {
          assert.deepEqual(consistencyProof(c.size1, c.size2, testTree), proof);
        }
      });
    }
  });
});
