/**
 * Range proofs (docs/verification.md §11.4): one proof that the contiguous leaves [from, to) are
 * leaves from..to−1 of the tree of `size` leaves. The proof lists, left to right, the hashes of
 * the maximal subtrees of the RFC 9162 §2.1.1 recursion MTH(D[0:size]) that hold no leaf of the
 * range; the verifier recomputes the root from them and the range's own leaf hashes. It is at
 * most 2·log2(size) hashes however long the range: an evidence package proves 100,000 events
 * with one proof instead of 100,000 inclusion proofs.
 */
import { Buffer } from 'node:buffer';
import { HASH_SIZE, checkUint, hashChildren, splitPoint, subtreeRoot } from './merkle.js';
import type { NodeReader } from './merkle.js';
import { ProofError } from './proof.js';

// Two hashes per level at most (one left and one right of the range), 53 levels.
const MAX_RANGE_PROOF = 128;

function checkRange(from: number, to: number, size: number): void {
  try {
    checkUint('from', from);
    checkUint('to', to);
    checkUint('size', size);
  } catch (e) {
    throw new ProofError('range', (e as Error).message, { cause: e });
  }
  if (!(from < to && to <= size)) {
    throw new ProofError(
      'range',
      `range proof needs 0 <= from < to <= size, got [${from}, ${to}) of ${size}`,
    );
  }
}

/**
 * The range proof of leaves [from, to) in the tree of `size` leaves, from any node source.
 * Throws ProofError('range') unless 0 ≤ from < to ≤ size.
 *
 * @example
 * const proof = rangeProof(3, 6, 10, reader);
 * rangeRoot(3, 6, 10, leafHashes.slice(3, 6), proof)?.equals(rootOf(10, reader)); // true
 */
export function rangeProof(from: number, to: number, size: number, reader: NodeReader): Buffer[] {
  checkRange(from, to, size);
  const out: Buffer[] = [];
  const walk = (lo: number, hi: number): void => {
    if (hi <= from || lo >= to) {
      out.push(subtreeRoot(lo, hi, reader));
      return;
    }
    if (hi - lo === 1) return; // a leaf of the range: the verifier has it
    const k = splitPoint(hi - lo);
    walk(lo, lo + k);
    walk(lo + k, hi);
  };
  walk(0, size);
  return out;
}

/**
 * The root a range proof leads to, given the range's leaf hashes in order, or undefined when the
 * proof does not fit the tree shape (too short, too long, a hash not 32 bytes) or the leaves are
 * not `to − from` hashes of 32 bytes. Never throws for bad input.
 *
 * @example
 * const root = rangeRoot(3, 6, 10, [h3, h4, h5], proof);
 * root !== undefined && root.equals(checkpoint.root); // the three leaves are in the log
 */
export function rangeRoot(
  from: number,
  to: number,
  size: number,
  leafHashes: readonly Buffer[],
  proof: readonly Buffer[],
): Buffer | undefined {
  try {
    checkRange(from, to, size);
  } catch {
    return undefined;
  }
  if (leafHashes.length !== to - from || proof.length > MAX_RANGE_PROOF) return undefined;
  if (leafHashes.some((h) => h.length !== HASH_SIZE) || proof.some((h) => h.length !== HASH_SIZE))
    return undefined;
  let next = 0;
  let short = false;
  const walk = (lo: number, hi: number): Buffer => {
    if (hi <= from || lo >= to) {
      const h = proof[next++];
      if (h === undefined) {
        short = true;
        return Buffer.alloc(HASH_SIZE);
      }
      return h;
    }
    if (hi - lo === 1) return leafHashes[lo - from]!;
    const k = splitPoint(hi - lo);
    return hashChildren(walk(lo, lo + k), walk(lo + k, hi));
  };
  const root = walk(0, size);
  if (short || next !== proof.length) return undefined;
  return root;
}
