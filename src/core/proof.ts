/**
 * RFC 9162 Merkle inclusion and consistency proofs: generation (§2.1.3.1, §2.1.4.1) from any
 * {@link NodeReader}, and verification (§2.1.3.2, §2.1.4.2).
 *
 * Verifiers treat every input as attacker-controlled: sizes and indices must be safe integers,
 * every hash exactly 32 bytes, proofs exactly as long as the tree shape requires (no trailing or
 * leading garbage), and they return `false` instead of throwing.
 */
import { Buffer } from 'node:buffer';
import { EMPTY_ROOT, HASH_SIZE, checkUint, hashChildren, splitPoint, subtreeRoot } from './merkle.js';
import type { NodeReader } from './merkle.js';

/**
 * A proof that cannot be generated or evaluated: `malformed` (wrong length, bad hash sizes),
 * `range` (index or sizes out of range), `mismatch` (recomputed root differs).
 *
 * @example
 * try { rootFromInclusionProof(leaf, 9, 8, proof) } catch (e) { (e as ProofError).code } // 'range'
 */
export class ProofError extends Error {
  override readonly name = 'ProofError';
  readonly code: 'malformed' | 'mismatch' | 'range';

  constructor(code: 'malformed' | 'mismatch' | 'range', message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

// A tree of ≤ 2^53−1 leaves has height ≤ 53; a longer proof is garbage whatever the sizes.
const MAX_PROOF_LENGTH = 64;

function checkArg(what: string, n: number): void {
  try {
    checkUint(what, n);
  } catch (e) {
    throw new ProofError('range', (e as Error).message, { cause: e });
  }
}

/**
 * Inclusion proof (audit path) of leaf `index` in the tree of the first `size` leaves,
 * RFC 9162 §2.1.3.1, leaf-level sibling first. Throws ProofError('range') unless index < size.
 *
 * @example
 * const proof = inclusionProof(3, 7, reader);
 * verifyInclusion(leafHashes[3], 3, 7, proof, rootOf(7, reader)); // true
 */
export function inclusionProof(index: number, size: number, reader: NodeReader): Buffer[] {
  checkArg('index', index);
  checkArg('size', size);
  if (index >= size) throw new ProofError('range', `index ${index} is not below tree size ${size}`);
  // PATH(m, D[n]) walked top-down over [start, end): the sibling subtree of each split.
  const path: Buffer[] = [];
  let start = 0;
  let end = size;
  while (end - start > 1) {
    const k = splitPoint(end - start);
    if (index < start + k) {
      path.push(subtreeRoot(start + k, end, reader));
      end = start + k;
    } else {
      path.push(subtreeRoot(start, start + k, reader));
      start += k;
    }
  }
  // RFC 9162 appends each sibling after the deeper path: bottom-up order.
  return path.reverse();
}

/**
 * Consistency proof between the trees of the first `size1` and `size2` leaves,
 * RFC 9162 §2.1.4.1. Empty when size1 == size2 or size1 == 0 (nothing to prove).
 * Throws ProofError('range') if size1 > size2.
 *
 * @example
 * const proof = consistencyProof(3, 7, reader);
 * verifyConsistency(3, 7, proof, rootOf(3, reader), rootOf(7, reader)); // true
 */
export function consistencyProof(size1: number, size2: number, reader: NodeReader): Buffer[] {
  checkArg('size1', size1);
  checkArg('size2', size2);
  if (size1 > size2) throw new ProofError('range', `size1 (${size1}) > size2 (${size2})`);
  if (size1 === 0 || size1 === size2) return [];
  // SUBPROOF(m, D[start:end], b) walked top-down; siblings collected, then reversed.
  const path: Buffer[] = [];
  let start = 0;
  let end = size2;
  let m = size1;
  let complete = true; // b: whether D[0:m] is a subtree the verifier already knows
  while (m !== end - start) {
    const k = splitPoint(end - start);
    if (m <= k) {
      path.push(subtreeRoot(start + k, end, reader));
      end = start + k;
    } else {
      path.push(subtreeRoot(start, start + k, reader));
      start += k;
      m -= k;
      complete = false;
    }
  }
  // SUBPROOF(m, D[m], false) = [MTH(D[m])]; with b = true the verifier has it as root1.
  if (!complete) path.push(subtreeRoot(start, end, reader));
  return path.reverse();
}

function isHash(h: unknown): h is Uint8Array {
  return h instanceof Uint8Array && h.length === HASH_SIZE;
}

function checkProof(proof: readonly Uint8Array[]): void {
  if (!Array.isArray(proof)) throw new ProofError('malformed', 'proof must be an array of hashes');
  if (proof.length > MAX_PROOF_LENGTH) throw new ProofError('malformed', `proof has ${proof.length} hashes`);
  for (const p of proof) {
    if (!isHash(p)) throw new ProofError('malformed', `proof hashes must be ${HASH_SIZE} bytes`);
  }
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.length).equals(b);
}

/**
 * Root hash implied by an inclusion proof, RFC 9162 §2.1.3.2 steps 1–5. Throws
 * ProofError('range') unless 0 ≤ index < size, ProofError('malformed') for a non-32-byte leaf or
 * proof hash, or a proof of the wrong length for (index, size).
 *
 * @example
 * rootFromInclusionProof(leafHash, 3, 7, proof).equals(root) // true for a valid proof
 */
export function rootFromInclusionProof(
  leafHash: Uint8Array,
  index: number,
  size: number,
  proof: readonly Uint8Array[],
): Buffer {
  checkArg('index', index);
  checkArg('size', size);
  if (index >= size) throw new ProofError('range', `index ${index} is not below tree size ${size}`);
  if (!isHash(leafHash)) throw new ProofError('malformed', `leaf hash must be ${HASH_SIZE} bytes`);
  checkProof(proof);
  // RFC 9162 §2.1.3.2: fn, sn walk the path of the leaf and of the last leaf up the tree.
  let fn = index;
  let sn = size - 1;
  let r: Buffer = Buffer.from(leafHash);
  for (const p of proof) {
    if (sn === 0) throw new ProofError('malformed', 'inclusion proof is too long');
    if (fn % 2 === 1 || fn === sn) {
      r = hashChildren(p, r);
      // fn == sn: skip levels where the last node has no right sibling (promoted unchanged).
      while (fn % 2 === 0 && fn !== 0) {
        fn /= 2;
        sn = Math.floor(sn / 2);
      }
    } else {
      r = hashChildren(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  if (sn !== 0) throw new ProofError('malformed', 'inclusion proof is too short');
  return r;
}

/**
 * Verifies that `leafHash` is leaf `index` of the tree of `size` leaves with root `root`
 * (RFC 9162 §2.1.3.2). Never throws for bad input: any malformed, out-of-range or wrong proof
 * gives `false`.
 *
 * @example
 * verifyInclusion(hashLeaf(record), seq, checkpoint.size, proof, checkpoint.root) // true | false
 */
export function verifyInclusion(
  leafHash: Uint8Array,
  index: number,
  size: number,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): boolean {
  try {
    if (!isHash(root)) return false;
    return bytesEqual(rootFromInclusionProof(leafHash, index, size, proof), root);
  } catch {
    return false;
  }
}

/**
 * Verifies that the tree of `size2` leaves with root `root2` extends the tree of `size1` leaves
 * with root `root1` (RFC 9162 §2.1.4.2). Never throws for bad input.
 *
 * Both roots and every proof hash must be 32 bytes, in every case. Edge cases: size1 == size2
 * needs an empty proof and byte-equal roots; size1 == 0 needs an empty proof and
 * root1 == EMPTY_ROOT (every tree extends the empty one; Go's transparency-dev/merkle rejects
 * size1 == 0 outright, we accept this one true statement so that `consistencyProof(0, n)`
 * round-trips); size1 > size2 fails.
 *
 * @example
 * verifyConsistency(old.size, cur.size, proof, old.root, cur.root) // true | false
 */
export function verifyConsistency(
  size1: number,
  size2: number,
  proof: readonly Uint8Array[],
  root1: Uint8Array,
  root2: Uint8Array,
): boolean {
  try {
    checkConsistency(size1, size2, proof, root1, root2);
    return true;
  } catch {
    return false;
  }
}

function checkConsistency(
  size1: number,
  size2: number,
  proof: readonly Uint8Array[],
  root1: Uint8Array,
  root2: Uint8Array,
): void {
  checkArg('size1', size1);
  checkArg('size2', size2);
  if (size1 > size2) throw new ProofError('range', `size1 (${size1}) > size2 (${size2})`);
  checkProof(proof);
  // Every root is 32 bytes, also when the sizes are equal (docs/verification.md §4.4; stricter
  // than the transparency-dev vectors, which accept equal roots of any length there).
  if (!isHash(root1) || !isHash(root2)) throw new ProofError('malformed', `roots must be ${HASH_SIZE} bytes`);
  if (size1 === size2) {
    // Same tree: consistent iff the roots are the same bytes. The empty tree has one possible root.
    if (proof.length !== 0) throw new ProofError('malformed', 'size1 == size2 needs an empty proof');
    if (!bytesEqual(root1, root2)) throw new ProofError('mismatch', 'roots differ');
    if (size1 === 0 && !bytesEqual(root1, EMPTY_ROOT)) throw new ProofError('mismatch', 'not the empty root');
    return;
  }
  if (size1 === 0) {
    // Every tree extends the empty one: nothing to prove, but the claimed old root must be right.
    if (proof.length !== 0) throw new ProofError('malformed', 'size1 == 0 needs an empty proof');
    if (!bytesEqual(root1, EMPTY_ROOT)) throw new ProofError('mismatch', 'not the empty root');
    return;
  }
  // RFC 9162 §2.1.4.2 step 1.
  if (proof.length === 0) throw new ProofError('malformed', 'empty consistency proof');
  // Step 2: a power-of-two size1 is itself a node of tree 2; the proof omits it.
  const path: readonly Uint8Array[] = size1 === 2 ** Math.round(Math.log2(size1)) ? [root1, ...proof] : proof;
  // Steps 3–4.
  let fn = size1 - 1;
  let sn = size2 - 1;
  while (fn % 2 === 1) {
    fn = (fn - 1) / 2;
    sn = Math.floor(sn / 2);
  }
  // Step 5.
  let fr: Buffer = Buffer.from(path[0]!);
  let sr = fr;
  // Step 6.
  for (let i = 1; i < path.length; i++) {
    const c = path[i]!;
    if (sn === 0) throw new ProofError('malformed', 'consistency proof is too long');
    if (fn % 2 === 1 || fn === sn) {
      fr = hashChildren(c, fr);
      sr = hashChildren(c, sr);
      while (fn % 2 === 0 && fn !== 0) {
        fn /= 2;
        sn = Math.floor(sn / 2);
      }
    } else {
      sr = hashChildren(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  // Step 7.
  if (sn !== 0) throw new ProofError('malformed', 'consistency proof is too short');
  if (!bytesEqual(fr, root1) || !bytesEqual(sr, root2)) throw new ProofError('mismatch', 'roots differ');
}
