import { type NodeReader } from '../core/merkle.js';
import { TileNodeReader } from '../core/tiles.js';
import { tileKey } from '../store/store.js';

/** Entries of a trail's shared tile cache: expanded full tiles (~16 KiB) and partial-tile nodes. */
const CACHE_ENTRIES = 1024;

export function reader(tiles: Map<string, Buffer>, size: number, cache?: Map<string, Buffer>): NodeReader {
  return new TileNodeReader((level, index) => tiles.get(tileKey(level, index)), size, {
    cacheSize: CACHE_ENTRIES,
    ...(cache ? { cache } : {}),
  });
}

/** Tiles needed to serve `run` over a tree of `size` (node requests mapped to tile coordinates). */
export function tilesFor(run: (r: NodeReader) => void): { level: number; index: number }[] {
  const need = new Map<string, { level: number; index: number }>();
  for (const [level, index] of nodesFor(run)) {
    const t = tileOf(level, index);
    need.set(tileKey(t.level, t.index), t);
  }
  return [...need.values()];
}

/**
 * A reader holding exactly the nodes `run` asks for over a tree of `size`: those `cache` holds
 * (the log's shared cache of immutable tiles and nodes) taken from it, the rest from the tiles
 * `readTiles` returns, asked once for all of them (none when the cache has every node). The
 * nodes are copied out of the cache before anything is read, so an eviction cannot lose one.
 * Throws like {@link TileNodeReader.node} for a missing or malformed tile.
 *
 * @example
 * const r = await readNodes((r) => inclusionProof(seq, size, r), size, cache, (t) => store.getTiles(logId, t));
 * inclusionProof(seq, size, r);
 */
export async function readNodes(
  run: (r: NodeReader) => void,
  size: number,
  cache: Map<string, Buffer>,
  readTiles: (tiles: { level: number; index: number }[]) => Promise<Map<string, Buffer>>,
): Promise<NodeReader> {
  const nodes = new Map<string, Buffer>();
  const missing: [number, number][] = [];
  const cached = new TileNodeReader(() => undefined, size, { cacheSize: CACHE_ENTRIES, cache });
  for (const [level, index] of nodesFor(run)) {
    const h = cached.cachedNode(level, index);
    if (h === undefined) missing.push([level, index]);
    else nodes.set(`${level}/${index}`, h);
  }
  if (missing.length > 0) {
    const want = new Map<string, { level: number; index: number }>();
    for (const [level, index] of missing) {
      const t = tileOf(level, index);
      want.set(tileKey(t.level, t.index), t);
    }
    const tiles = await readTiles([...want.values()]);
    const r = reader(tiles, size, cache);
    for (const [level, index] of missing) nodes.set(`${level}/${index}`, r.node(level, index));
  }
  return {
    node(level, index) {
      const h = nodes.get(`${level}/${index}`);
      if (h === undefined) throw new RangeError(`node ${level}/${index} was not read for this proof`);
      return h;
    },
  };
}

// The nodes `run` asks a reader for, each once, in order of first request.
function nodesFor(run: (r: NodeReader) => void): [number, number][] {
  const seen = new Map<string, [number, number]>();
  const dummy = Buffer.alloc(32);
  run({
    node(level, index) {
      seen.set(`${level}/${index}`, [level, index]);
      return dummy;
    },
  });
  return [...seen.values()];
}

// The tile holding node (level, index): 8 tree levels per tile level, 256 nodes per tile.
function tileOf(level: number, index: number): { level: number; index: number } {
  const first = index * 2 ** (level % 8);
  return { level: Math.floor(level / 8), index: Math.floor(first / 256) };
}
