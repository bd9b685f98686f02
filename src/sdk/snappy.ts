/**
 * Snappy block compression (https://github.com/google/snappy/blob/main/format_description.txt)
 * for the archive's Parquet pages: the algorithm of snappyjs (MIT License, Copyright (c) 2016
 * Zhipeng Jia, https://github.com/zhipeng-jia/snappyjs) as hyparquet-writer ships it, giving
 * the same bytes, but writing into one buffer of the format's worst-case size instead of a
 * growing writer one byte at a time, which took a third of its time.
 */

const MAX_HASH_TABLE_BITS = 14;
const MAX_OFFSET = 0xffff;
const INPUT_MARGIN = 15;
const hashTables: (Uint32Array | undefined)[] = [];

const hashOf = (key: number, shift: number): number => Math.imul(key, 0x1e35a7bd) >>> shift;

const load32 = (a: Uint8Array, p: number): number =>
  a[p]! + (a[p + 1]! << 8) + (a[p + 2]! << 16) + (a[p + 3]! << 24);

const equals32 = (a: Uint8Array, p: number, q: number): boolean =>
  a[p] === a[q] && a[p + 1] === a[q + 1] && a[p + 2] === a[q + 2] && a[p + 3] === a[q + 3];

/** Writes a literal of `input[from..from+len)` at `op`; returns the new end. */
function literal(out: Uint8Array, op: number, input: Uint8Array, from: number, len: number): number {
  if (len <= 60) out[op++] = (len - 1) << 2;
  else {
    const value = len - 1;
    const bytes = value < 0x100 ? 1 : value < 0x10000 ? 2 : value < 0x1000000 ? 3 : 4;
    out[op++] = (59 + bytes) << 2;
    for (let i = 0; i < bytes; i++) out[op++] = (value >>> (i * 8)) & 0xff;
  }
  if (len < 16) for (let i = 0; i < len; i++) out[op + i] = input[from + i]!;
  else out.set(input.subarray(from, from + len), op);
  return op + len;
}

function copyBelow64(out: Uint8Array, op: number, offset: number, len: number): number {
  if (len < 12 && offset < 2048) {
    out[op] = (1 + ((len - 4) << 2) + ((offset >>> 8) << 5)) & 0xff;
    out[op + 1] = offset & 0xff;
    return op + 2;
  }
  out[op] = (2 + ((len - 1) << 2)) & 0xff;
  out[op + 1] = offset & 0xff;
  out[op + 2] = offset >>> 8;
  return op + 3;
}

/** Writes a copy of `len` bytes from `offset` back at `op`; returns the new end. */
function copy(out: Uint8Array, op: number, offset: number, len: number): number {
  while (len >= 68) {
    op = copyBelow64(out, op, offset, 64);
    len -= 64;
  }
  if (len > 64) {
    op = copyBelow64(out, op, offset, 60);
    len -= 60;
  }
  return copyBelow64(out, op, offset, len);
}

/**
 * Compresses `input` as one Snappy block (varint length, then literals and copies).
 *
 * @example
 * const page = snappyCompress(new TextEncoder().encode('abcabcabcabcabcabc'));
 */
export function snappyCompress(input: Uint8Array): Uint8Array {
  const n = input.length;
  // snappy's MaxCompressedLength: 32 + n + n / 6 bounds what this algorithm emits.
  const out = new Uint8Array(32 + n + Math.ceil(n / 6));
  let op = 0;
  for (let v = n; ; v = Math.floor(v / 128)) {
    if (v < 0x80) {
      out[op++] = v;
      break;
    }
    out[op++] = (v & 0x7f) | 0x80;
  }

  let bits = 1;
  while (1 << bits <= n && bits <= MAX_HASH_TABLE_BITS) bits++;
  bits--;
  const shift = 32 - bits;
  const table = (hashTables[bits] ??= new Uint32Array(1 << bits));
  table.fill(0);

  let ip = 0;
  let nextEmit = 0;
  if (n >= INPUT_MARGIN) {
    const ipLimit = n - INPUT_MARGIN;
    ip++;
    let nextHash = hashOf(load32(input, ip), shift);
    let candidate = 0;
    outer: for (;;) {
      let skip = 32;
      let nextIp = ip;
      do {
        ip = nextIp;
        const hash = nextHash;
        const step = skip >>> 5;
        skip++;
        nextIp = ip + step;
        if (ip > ipLimit) break outer;
        nextHash = hashOf(load32(input, nextIp), shift);
        candidate = table[hash]!;
        table[hash] = ip;
      } while (ip - candidate > MAX_OFFSET || !equals32(input, ip, candidate));

      op = literal(out, op, input, nextEmit, ip - nextEmit);
      do {
        const base = ip;
        let matched = 4;
        while (ip + matched < n && input[ip + matched] === input[candidate + matched]) matched++;
        ip += matched;
        op = copy(out, op, base - candidate, matched);
        nextEmit = ip;
        if (ip >= ipLimit) break outer;
        table[hashOf(load32(input, ip - 1), shift)] = ip - 1;
        const cur = hashOf(load32(input, ip), shift);
        candidate = table[cur]!;
        table[cur] = ip;
      } while (ip - candidate <= MAX_OFFSET && equals32(input, ip, candidate));
      ip++;
      nextHash = hashOf(load32(input, ip), shift);
    }
  }
  if (nextEmit < n) op = literal(out, op, input, nextEmit, n - nextEmit);
  return out.subarray(0, op);
}
