import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { CompactRange, MemoryNodeReader } from '../core/merkle.js';
import { inclusionProof } from '../core/proof.js';
import { TileAccumulator } from '../core/tiles.js';
import { readNodes } from './tree-reads.js';

// A log of `n` leaves as stored tiles (one append batch), with its leaf hashes.
function tiles(n: number): { tiles: Map<string, Buffer>; leaves: Buffer[] } {
  const leaves = Array.from({ length: n }, (_, i) => createHash('sha256').update(`leaf ${i}`).digest());
  const acc = new TileAccumulator([]);
  const cr = new CompactRange();
  for (const h of leaves) cr.append(h, acc.onNode);
  const out = new Map<string, Buffer>();
  for (const row of acc.changed()) out.set(`${row.level}/${row.index}`, row.hashes);
  return { tiles: out, leaves };
}

describe('readNodes', () => {
  it('reads only the tiles the shared cache lacks, in one call, and gives the same proofs', async () => {
    const n = 256 * 300 + 77;
    const { tiles: stored, leaves } = tiles(n);
    const mem = new MemoryNodeReader(leaves);
    const cache = new Map<string, Buffer>();
    const calls: string[][] = [];
    const readTiles = (want: { level: number; index: number }[]) => {
      calls.push(want.map((t) => `${t.level}/${t.index}`));
      return Promise.resolve(
        new Map(want.map((t) => [`${t.level}/${t.index}`, stored.get(`${t.level}/${t.index}`)!])),
      );
    };
    const prove = async (seq: number) => {
      const r = await readNodes((r) => inclusionProof(seq, n, r), n, cache, readTiles);
      return inclusionProof(seq, n, r);
    };
    assert.deepEqual(await prove(1000), inclusionProof(1000, n, mem));
    assert.equal(calls.length, 1, 'one read for all the tiles of a proof');
    assert.ok(calls[0]!.includes('0/3') && calls[0]!.includes('0/300'), calls[0]!.join(' '));
    // Everything that proof needed is cached now: the same proof reads nothing.
    assert.deepEqual(await prove(1000), inclusionProof(1000, n, mem));
    assert.equal(calls.length, 1);
    // Another leaf of the left half: only its own level-0 tile (the level-1 tile and the right
    // edge are cached).
    assert.deepEqual(await prove(5000), inclusionProof(5000, n, mem));
    assert.deepEqual(calls[1], ['0/19']);
    // A leaf of the right half needs new upper nodes, but not the right-edge tile again.
    assert.deepEqual(await prove(70_000), inclusionProof(70_000, n, mem));
    assert.ok(calls[2]!.includes('0/273') && !calls[2]!.includes('0/300'), calls[2]!.join(' '));
  });

  it('keeps the nodes it took from the cache even when reading evicts them', async () => {
    const n = 256 * 40;
    const { tiles: stored, leaves } = tiles(n);
    const mem = new MemoryNodeReader(leaves);
    const cache = new Map<string, Buffer>();
    // A reader that evicts everything the cache held before handing out tiles.
    const readTiles = (want: { level: number; index: number }[]) => {
      cache.clear();
      return Promise.resolve(
        new Map(want.map((t) => [`${t.level}/${t.index}`, stored.get(`${t.level}/${t.index}`)!])),
      );
    };
    for (const seq of [5, 300, 5, 9000, 300]) {
      const r = await readNodes((r) => inclusionProof(seq, n, r), n, cache, readTiles);
      assert.deepEqual(inclusionProof(seq, n, r), inclusionProof(seq, n, mem), `seq ${seq}`);
    }
  });

  it('fails clearly on a missing tile and on a node that was not read', async () => {
    const n = 600;
    const { tiles: stored } = tiles(n);
    const without = (want: { level: number; index: number }[]) =>
      Promise.resolve(
        new Map(
          want
            .filter((t) => !(t.level === 0 && t.index === 1))
            .map((t) => [`${t.level}/${t.index}`, stored.get(`${t.level}/${t.index}`)!]),
        ),
      );
    await assert.rejects(
      readNodes((r) => inclusionProof(300, n, r), n, new Map(), without),
      /tile 0\/1 is missing/,
    );
    const r = await readNodes(
      (r) => inclusionProof(0, n, r),
      n,
      new Map(),
      (want) =>
        Promise.resolve(
          new Map(want.map((t) => [`${t.level}/${t.index}`, stored.get(`${t.level}/${t.index}`)!])),
        ),
    );
    assert.throws(() => r.node(0, 599), /was not read/);
  });
});
