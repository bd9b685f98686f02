import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { signCheckpoint } from './checkpoint.js';
import { verifyConsistency } from './consistency.js';
import { MemoryNodeReader, hashLeaf, rootOf } from './merkle.js';
import { formatVerifierKey, generateSigner } from './note.js';
import { consistencyProof, verifyConsistency as verifyConsistencyProof } from './proof.js';

const ORIGIN = 'auditrail.local/t/acme/default';
const { signer } = generateSigner(ORIGIN);
const vkey = formatVerifierKey(ORIGIN, signer.publicKey);
const leaves = (tag: string, n: number): Buffer[] =>
  Array.from({ length: n }, (_, i) => hashLeaf(Buffer.from(`${tag}-${i}`)));
const tree = new MemoryNodeReader(leaves('a', 40));
const note = (size: number, r = tree, s = signer, origin = ORIGIN): string =>
  signCheckpoint({ origin, size, root: rootOf(size, r) }, [s]);
const proof = (a: number, b: number, r = tree): string[] =>
  consistencyProof(a, b, r).map((h) => h.toString('base64'));

describe('verifyConsistency between two signed checkpoints', () => {
  it('accepts a later checkpoint of the same log, for many size pairs', () => {
    for (const [a, b] of [
      [0, 5],
      [1, 1],
      [1, 2],
      [3, 7],
      [8, 16],
      [13, 40],
      [40, 40],
    ] as const) {
      const r = verifyConsistency(note(a), note(b), proof(a, b), vkey);
      assert.deepEqual(r.failures, [], `${a} -> ${b}`);
      assert.equal(r.ok, true);
      assert.equal(r.log, ORIGIN);
      assert.deepEqual(r.old, { size: a, root: rootOf(a, tree).toString('base64') });
      assert.equal(r.new?.size, b);
    }
  });

  it('fails for a rewritten log, naming both sizes and roots', () => {
    // Same first 12 entries, then different ones: the old checkpoint is not a prefix of the new tree.
    const rewritten = new MemoryNodeReader([...leaves('a', 12), ...leaves('b', 28)]);
    const r = verifyConsistency(note(20), note(40, rewritten), proof(20, 40, rewritten), vkey);
    assert.equal(r.ok, false);
    assert.match(
      r.failures[0]!,
      /^the tree of size 40 \(root \S+\) does not extend the tree of size 20 \(root \S+\)/,
    );
    // A proof from the honest tree does not help either.
    assert.equal(verifyConsistency(note(20), note(40, rewritten), proof(20, 40), vkey).ok, false);
  });

  it('fails when the new checkpoint is smaller (rolled back or swapped)', () => {
    const r = verifyConsistency(note(30), note(20), [], vkey);
    assert.equal(r.ok, false);
    assert.match(r.failures[0]!, /new checkpoint \(size 20\) is smaller than the old one \(size 30\)/);
  });

  it('fails for another key or another log, before looking at the proof', () => {
    const other = generateSigner(ORIGIN).signer;
    const r = verifyConsistency(note(10, tree, other), note(20), proof(10, 20), vkey);
    assert.equal(r.ok, false);
    assert.equal(r.old, null);
    assert.match(
      r.failures[0]!,
      /^old checkpoint does not verify with the key auditrail\.local\/t\/acme\/default\+[0-9a-f]{8}: /,
    );
    const beta = generateSigner('auditrail.local/t/beta/default').signer;
    const r2 = verifyConsistency(note(10), note(20, tree, beta, beta.name), proof(10, 20), vkey);
    assert.equal(r2.ok, false);
    assert.match(r2.failures[0]!, /^new checkpoint does not verify/);
    assert.match(verifyConsistency(note(1), note(2), [], 'junk').failures[0]!, /^verifier key: /);
  });

  it('refuses proof hashes that are not canonical base64 of 32 bytes', () => {
    const good = proof(13, 40);
    const mixed = good[0]!.replace(/[+/]/, (c) => (c === '+' ? '-' : '_'));
    const variants = [` ${good[0]}`, `${good[0]}\n`, good[0]!.replace(/=$/, ''), mixed, 'AAAA'];
    for (const bad of variants.filter((v) => v !== good[0])) {
      const p = [bad, ...good.slice(1)];
      const r = verifyConsistency(note(13), note(40), p, vkey);
      assert.equal(r.ok, false, bad);
      assert.match(r.failures.join('\n'), /proof hash 0 is not canonical base64 of 32 bytes/);
    }
    assert.equal(verifyConsistency(note(13), note(40), [...good, good[0]!], vkey).ok, false);
    assert.equal(verifyConsistency(note(13), note(40), good.slice(1), vkey).ok, false);
    assert.equal(verifyConsistency(note(13), note(40), Array(65).fill(good[0]), vkey).ok, false);
  });
});

describe('the worked example (docs/verification.md §9)', () => {
  it('has a consistency proof from size 1 to size 3 that verifies, and fails when changed', () => {
    const c = (
      JSON.parse(
        readFileSync(join(import.meta.dirname, '../../test/vectors/auditrail/worked-example.json'), 'utf8'),
      ) as {
        consistency: {
          old_size: number;
          old_root: string;
          new_size: number;
          new_root: string;
          proof: string[];
        };
      }
    ).consistency;
    const b = (s: string): Buffer => Buffer.from(s, 'base64');
    const p = c.proof.map(b);
    assert.equal(verifyConsistencyProof(c.old_size, c.new_size, p, b(c.old_root), b(c.new_root)), true);
    assert.equal(
      verifyConsistencyProof(c.old_size, c.new_size, p.slice().reverse(), b(c.old_root), b(c.new_root)),
      false,
    );
    assert.equal(verifyConsistencyProof(c.old_size, c.new_size, p, b(c.new_root), b(c.new_root)), false);
  });
});
