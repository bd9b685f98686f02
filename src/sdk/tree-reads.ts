import { type NodeReader } from '../core/merkle.js';
import { TileNodeReader } from '../core/tiles.js';
import { tileKey } from '../store/store.js';

export function reader(tiles: Map<string, Buffer>, size: number, cache?: Map<string, Buffer>): NodeReader {
  return new TileNodeReader((level, index) => tiles.get(tileKey(level, index)), size, {
    cacheSize: 1024,
    ...(cache ? { cache } : {}),
  });
}

/** Tiles needed to serve `run` over a tree of `size` (node requests mapped to tile coordinates). */
export function tilesFor(run: (r: NodeReader) => void): { level: number; index: number }[] {
  const need = new Map<string, { level: number; index: number }>();
  const dummy = Buffer.alloc(32);
  run({
    node(level, index) {
      const k = Math.floor(level / 8);
      const first = index * 2 ** (level % 8);
      const t = { level: k, index: Math.floor(first / 256) };
      need.set(tileKey(t.level, t.index), t);
      return dummy;
    },
  });
  return [...need.values()];
}
