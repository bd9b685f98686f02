import { randomFillSync } from 'node:crypto';

const pool = Buffer.allocUnsafe(4096);
let poolOffset = pool.length;

/** Cryptographically random bytes, drawn from a refilled pool (one syscall per 4 KiB). */
export function randomBytesFast(n: number): Buffer {
  if (n > pool.length) return randomFillSync(Buffer.allocUnsafe(n));
  if (poolOffset + n > pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const out = Buffer.from(pool.subarray(poolOffset, poolOffset + n));
  poolOffset += n;
  return out;
}

let lastMs = 0;
let seq = 0;

/**
 * A UUIDv7 (RFC 9562 §5.7): 48-bit Unix milliseconds, then a 12-bit counter for ids made in the
 * same millisecond (monotonic within this process), then random bits.
 *
 * @example
 * uuidv7() // '019a7c0e-5b1d-7000-8c3e-2f4a1b9d0e7f'
 */
export function uuidv7(now: number = Date.now()): string {
  if (now <= lastMs) {
    seq++;
    if (seq > 0xfff) {
      lastMs++;
      seq = 0;
    }
  } else {
    lastMs = now;
    seq = 0;
  }
  const b = randomBytesFast(16);
  const ms = lastMs;
  b[0] = Math.floor(ms / 2 ** 40) & 0xff;
  b[1] = Math.floor(ms / 2 ** 32) & 0xff;
  b[2] = (ms >>> 24) & 0xff;
  b[3] = (ms >>> 16) & 0xff;
  b[4] = (ms >>> 8) & 0xff;
  b[5] = ms & 0xff;
  b[6] = 0x70 | ((seq >>> 8) & 0x0f);
  b[7] = seq & 0xff;
  b[8] = 0x80 | ((b[8] ?? 0) & 0x3f);
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
