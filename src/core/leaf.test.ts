import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeLeaf, parseLeaf, type LeafRecord } from './leaf.js';

const rec: LeafRecord = {
  v: 1,
  log: 'auditrail.local/t/acme/défault',
  seq: 0,
  ts: '2026-11-22T10:00:00.000000Z',
  type: 'action.intent',
  eid: '019aa9c0-0000-7000-8000-000000000001',
  d: ['ATV7Gi7U3APdN1_5acB5enVqdDDD1yVMT9kZHTMFwV0', 'nIXZ-2AU1KbQ8bmkI3u1vTgaSvN6IJP5I-4pMANuFTI'],
};

describe('parseLeaf (docs/verification.md §4.1)', () => {
  it('parses an encoded leaf', () => {
    assert.deepEqual(parseLeaf(encodeLeaf(rec)), rec);
  });

  it('refuses leaf bytes that are not valid UTF-8 (no U+FFFD substitution)', () => {
    const bytes = encodeLeaf(rec);
    const at = bytes.indexOf(Buffer.from('é')); // c3 a9
    assert.ok(at > 0);
    const variants = [
      Buffer.concat([bytes.subarray(0, at), Buffer.of(0xe9), bytes.subarray(at + 2)]), // Latin-1 é
      Buffer.concat([bytes.subarray(0, at), Buffer.of(0xc3), bytes.subarray(at + 2)]), // truncated
      Buffer.concat([bytes.subarray(0, at), Buffer.of(0xe0, 0x83, 0xa9), bytes.subarray(at + 2)]), // overlong
      Buffer.concat([bytes.subarray(0, at), Buffer.of(0xed, 0xb0, 0x80), bytes.subarray(at + 2)]), // surrogate
    ];
    for (const v of variants) {
      // Node's lenient decoding would have produced a parseable leaf with U+FFFD in `log`.
      assert.doesNotThrow(() => JSON.parse(v.toString('utf8')));
      assert.throws(() => parseLeaf(v), /leaf is not valid UTF-8/);
    }
  });

  it('refuses digests with non-zero trailing bits (only one spelling per digest)', () => {
    const [first, second] = rec.d as [string, string];
    // The last of 43 characters carries 4 data bits and 2 zero bits: '1' (53) has a low bit set.
    const bent = `${second.slice(0, 42)}J`;
    assert.equal(Buffer.from(bent, 'base64url').equals(Buffer.from(second, 'base64url')), true);
    assert.throws(
      () => parseLeaf(Buffer.from(JSON.stringify({ ...rec, d: [first, bent] }))),
      /d\[1\] is not a digest/,
    );
  });

  it('refuses an array as src', () => {
    assert.throws(() => parseLeaf(JSON.stringify({ ...rec, src: [] })), /src must be an object/);
  });
});
