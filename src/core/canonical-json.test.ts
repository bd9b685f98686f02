import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { canonicalize, CanonicalJsonError } from './canonical-json.js';

const VECTORS = join(import.meta.dirname, '../../test/vectors/rfc8785-jcs');

describe('canonicalize (RFC 8785)', () => {
  const inputs = readdirSync(join(VECTORS, 'input')).filter((f) => f.endsWith('.json'));
  it('has the cyberphone vectors', () => assert.ok(inputs.length >= 6));
  for (const name of inputs) {
    it(`matches the vector ${name}`, () => {
      const input = JSON.parse(readFileSync(join(VECTORS, 'input', name), 'utf8'));
      const expected = readFileSync(join(VECTORS, 'output', name), 'utf8');
      assert.equal(canonicalize(input), expected);
    });
  }
  it('sorts keys by UTF-16 code units, not code points', () => {
    assert.equal(canonicalize({ '\u{1F600}': 1, '\uFFFD': 2 }), '{"\u{1F600}":1,"\uFFFD":2}');
  });
  it('drops undefined members like JSON but rejects non-JSON values', () => {
    assert.equal(canonicalize({ a: undefined, b: 1 }), '{"b":1}');
    assert.throws(() => canonicalize(Number.NaN), CanonicalJsonError);
    assert.throws(() => canonicalize(Infinity), CanonicalJsonError);
    assert.throws(() => canonicalize(10n), CanonicalJsonError);
    assert.throws(() => canonicalize('\uD800x'), /lone surrogate/);
    assert.throws(() => canonicalize(new Map()), /Map/);
  });
  it('writes member names the same on every use, however many and however long', () => {
    // Names are kept once written: a repeated, an escaped, a long and a lone-surrogate name
    // must come out (or be refused) exactly as the first time, past the bound on kept names.
    const names = Array.from({ length: 5000 }, (_, i) => `k${i}`);
    const wide = Object.fromEntries(names.map((n) => [n, 1]));
    const expected = `{${[...names]
      .sort()
      .map((n) => `"${n}":1`)
      .join(',')}}`;
    for (let round = 0; round < 2; round++) {
      assert.equal(canonicalize(wide), expected);
      assert.equal(canonicalize({ 'a"b\n': 1 }), '{"a\\"b\\n":1}');
      const long = 'x'.repeat(100);
      assert.equal(canonicalize({ [long]: true }), `{"${long}":true}`);
      assert.throws(() => canonicalize({ '\uDC00': 1 }), /lone surrogate/);
    }
  });
  it('serialises numbers with the ECMAScript shortest form', () => {
    assert.equal(
      canonicalize([1e21, 1e-7, -0, 0.1 + 0.2, 5e-324]),
      '[1e+21,1e-7,0,0.30000000000000004,5e-324]',
    );
  });
  it('rejects pathological nesting', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 200; i++) deep = [deep];
    assert.throws(() => canonicalize(deep), /nesting/);
  });
});
