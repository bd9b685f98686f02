import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { snappyUncompress } from 'hyparquet';
import { snappyCompress as reference } from 'hyparquet-writer/src/snappy.js';
import { snappyCompress } from './snappy.js';

/** A deterministic byte source (xorshift), so a failure names a reproducible input. */
function bytes(n: number, seed: number, alphabet: number): Uint8Array {
  let x = seed | 1;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = (x >>> 0) % alphabet;
  }
  return out;
}

function inputs(): [string, Uint8Array][] {
  const json = Buffer.from(
    Array.from(
      { length: 20_000 },
      (_, i) =>
        `{"seq":${i},"type":"action.intent","actor":{"id":"bot-${i % 7}"},"target":"order/${i * 31}"}`,
    ).join(''),
  );
  const out: [string, Uint8Array][] = [['json 1.6 MB', json]];
  for (let n = 0; n <= 40; n++) out.push([`random ${n} B`, bytes(n, n + 1, 256)]);
  for (const [n, alphabet] of [
    [1_048_576, 256],
    [1_048_576, 4],
    [70_000, 2],
    [200_000, 16],
    [65_536, 1],
  ] as const)
    out.push([`${n} B over ${alphabet} symbols`, bytes(n, n ^ alphabet, alphabet)]);
  return out;
}

describe('snappyCompress', () => {
  it("gives hyparquet-writer's bytes, and they decompress to the input", () => {
    for (const [name, input] of inputs()) {
      const got = snappyCompress(input);
      assert.deepEqual(Buffer.from(got), Buffer.from(reference(input)), name);
      const back = new Uint8Array(input.length);
      snappyUncompress(got, back);
      assert.deepEqual(Buffer.from(back), Buffer.from(input), name);
    }
  });
});
