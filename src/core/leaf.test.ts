import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeLeaf, MAX_LEAF_BYTES, parseLeaf, type LeafRecord } from './leaf.js';

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

describe('encodeLeaf', () => {
  it('writes canonical JSON: members sorted, no whitespace', () => {
    const text = encodeLeaf(rec).toString('utf8');
    assert.ok(text.startsWith('{"d":['), text);
    assert.match(text, /"eid":.*"log":.*"seq":0,"ts":.*"type":.*"v":1\}$/);
    assert.doesNotMatch(text, /\s"|":\s/);
  });

  it('refuses a record larger than MAX_LEAF_BYTES', () => {
    const big = { ...rec, type: `x.${'a'.repeat(MAX_LEAF_BYTES)}` };
    assert.throws(() => encodeLeaf(big), RangeError);
  });

  it('accepts a record just under the limit', () => {
    const base = encodeLeaf({ ...rec, type: 'x.' }).length;
    const fit = { ...rec, type: `x.${'a'.repeat(MAX_LEAF_BYTES - base)}` };
    assert.equal(encodeLeaf(fit).length, MAX_LEAF_BYTES);
  });
});

describe('parseLeaf: every member is checked', () => {
  const bad = (patch: Record<string, unknown>): string => JSON.stringify({ ...rec, ...patch });
  const cases: [string, string | Buffer, RegExp][] = [
    ['not JSON', '{"v":1,', /leaf is not JSON/],
    ['an array', '[]', /leaf is not an object/],
    ['null', 'null', /leaf is not an object/],
    ['a string', '"leaf"', /leaf is not an object/],
    ['an unknown member', bad({ extra: 1 }), /unknown member "extra"/],
    ['version 2', bad({ v: 2 }), /version must be 1/],
    ['version "1"', bad({ v: '1' }), /version must be 1/],
    ['a numeric log', bad({ log: 1 }), /log must be a string/],
    ['a negative seq', bad({ seq: -1 }), /seq must be a non-negative integer/],
    ['a fractional seq', bad({ seq: 1.5 }), /seq must be a non-negative integer/],
    ['an unsafe seq', bad({ seq: 2 ** 53 }), /seq must be a non-negative integer/],
    ['a string seq', bad({ seq: '1' }), /seq must be a non-negative integer/],
    ['a numeric ts', bad({ ts: 0 }), /ts must be a string/],
    ['a missing type', bad({ type: undefined }), /type must be a string/],
    ['a null eid', bad({ eid: null }), /eid must be a string/],
    ['an object d', bad({ d: {} }), /d must be an array/],
    ['a non-string digest', bad({ d: [1] }), /d\[0\] is not a digest/],
    ['a short digest', bad({ d: ['abc'] }), /d\[0\] is not a digest/],
    ['a base64 (not url) digest', bad({ d: [`+${rec.d[0]!.slice(1)}`] }), /d\[0\] is not a digest/],
    ['unsorted digests', bad({ d: [...rec.d].reverse() }), /not sorted and unique/],
    ['duplicate digests', bad({ d: [rec.d[0], rec.d[0]] }), /not sorted and unique/],
    ['a null src', bad({ src: null }), /src must be an object/],
    ['a src without sig', bad({ src: { kid: 'k' } }), /src needs kid and sig/],
    ['a src with a numeric kid', bad({ src: { kid: 1, sig: 's' } }), /src needs kid and sig/],
  ];
  for (const [what, input, error] of cases) {
    it(`refuses ${what}`, () => {
      assert.throws(() => parseLeaf(input), error);
      if (typeof input === 'string') assert.throws(() => parseLeaf(Buffer.from(input)), error);
    });
  }

  it('accepts an empty d, a src, and text as well as bytes', () => {
    const withSrc: LeafRecord = { ...rec, d: [], src: { kid: 'k1', sig: 'c2ln' } };
    assert.deepEqual(parseLeaf(encodeLeaf(withSrc)), withSrc);
    assert.deepEqual(parseLeaf(encodeLeaf(rec).toString('utf8')), rec);
  });
});
