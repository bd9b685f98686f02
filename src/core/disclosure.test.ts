import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  assembleEvent,
  decodeUtf8Strict,
  makeDisclosure,
  parseDisclosure,
  pointerProblem,
  splitEvent,
} from './disclosure.js';

const SALT = Buffer.alloc(16, 7);
const saltText = SALT.toString('base64url'); // 'BwcHBwcHBwcHBwcHBwcHBw'
const disclosure = (salt: string, pointer: string, value: unknown): Buffer =>
  Buffer.from(JSON.stringify([salt, pointer, value]));

describe('parseDisclosure (docs/verification.md §3.2)', () => {
  it('parses what makeDisclosure builds', () => {
    const d = parseDisclosure(makeDisclosure(SALT, '/action/params', { amount: 120 }));
    assert.deepEqual(d, { salt: saltText, pointer: '/action/params', value: { amount: 120 } });
  });

  it('refuses salts that are not canonical base64url of 16 bytes', () => {
    const bad = [
      `${saltText}==`, // padding
      `${saltText.slice(0, 21)}x`, // non-zero trailing bits: 'x' has its low bits set
      `${saltText.slice(0, 10)}+${saltText.slice(11)}`, // standard alphabet mixed in
      `${saltText.slice(0, 10)}/${saltText.slice(11)}`,
      ` ${saltText}`,
      `${saltText.slice(0, 11)}\n${saltText.slice(11)}`,
      saltText.slice(0, 21), // 15.75 bytes
      `${saltText}AA`, // 17 bytes
      Buffer.alloc(16, 7).toString('base64'), // standard alphabet, padded
    ];
    for (const salt of bad) {
      assert.throws(() => parseDisclosure(disclosure(salt, '', {})), /salt/, JSON.stringify(salt));
    }
  });

  it('refuses invalid UTF-8 instead of replacing it', () => {
    const good = disclosure(saltText, '/x', 'é');
    assert.equal(parseDisclosure(good).value, 'é');
    for (const bytes of [
      Buffer.concat([good.subarray(0, -3), Buffer.of(0xc3), Buffer.from('"]')]), // truncated sequence
      Buffer.concat([good.subarray(0, -5), Buffer.of(0xc0, 0xa9), Buffer.from('"]')]), // overlong
      Buffer.concat([good.subarray(0, -5), Buffer.of(0xed, 0xa0, 0x80), Buffer.from('"]')]), // surrogate
      Buffer.concat([Buffer.of(0xef, 0xbb, 0xbf), good]), // byte order mark
    ]) {
      assert.throws(() => parseDisclosure(bytes), /not JSON in valid UTF-8/);
    }
    assert.throws(() => decodeUtf8Strict(Buffer.of(0xff)), /not valid UTF-8/);
  });

  it('refuses pointers with bad escapes or reserved tokens', () => {
    for (const p of [
      'x',
      '/a~',
      '/a~2',
      '/__proto__',
      '/a/constructor',
      '/prototype/x',
      '/__proto__/polluted',
    ]) {
      assert.throws(() => parseDisclosure(disclosure(saltText, p, 1)), /pointer/, p);
      assert.notEqual(pointerProblem(p), undefined, p);
    }
    // Escaped forms that unescape to something else are fine; "~1" is "/".
    for (const p of ['', '/', '/a~0b', '/a~1b', '/__proto', '/constructors', '/x/prototypes']) {
      assert.equal(pointerProblem(p), undefined, p);
    }
    assert.equal(pointerProblem(7), 'is not a string');
  });
});

describe('assembleEvent (docs/verification.md §3.3)', () => {
  it('inverts splitEvent', () => {
    const event = { type: 'x.a', action: { type: 't', params: { q: 1 } }, outcome: { result: [1, 2] } };
    const parts = splitEvent(event, ['/action/params', '/outcome/result']);
    assert.deepEqual(assembleEvent(parts), event);
  });

  it('never reaches a prototype, whatever the pointers and values', () => {
    const hostile = [
      { pointer: '', value: JSON.parse('{"__proto__":{"polluted":1},"a":{}}') as unknown },
      { pointer: '/__proto__/polluted', value: 'yes' },
      { pointer: '/constructor/prototype/polluted', value: 'yes' },
      { pointer: '/a/__proto__/polluted', value: 'yes' },
      { pointer: '/toString/x', value: 'yes' },
    ];
    for (let i = 0; i < hostile.length; i++) {
      const out = assembleEvent(hostile.slice(0, i + 1));
      assert.equal(Object.getPrototypeOf(out), Object.prototype);
    }
    const out = assembleEvent(hostile);
    assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
    assert.equal((Object.prototype as Record<string, unknown>)['polluted'], undefined);
    // The body's own "__proto__" member stays a plain member; refused pointers are skipped.
    assert.deepEqual(Object.keys(out), ['__proto__', 'a', 'toString']);
    assert.deepEqual(Object.getOwnPropertyDescriptor(out, '__proto__')?.value, { polluted: 1 });
    assert.equal(Object.getPrototypeOf(out['a']), Object.prototype);
    assert.deepEqual(Object.getOwnPropertyDescriptor(out, 'toString')?.value, { x: 'yes' });
  });

  it('takes the first body, applies the rest in order, and treats arrays as non-objects', () => {
    const out = assembleEvent([
      { pointer: '/a/b', value: 1 },
      { pointer: '', value: { a: [1], k: 1 } },
      { pointer: '', value: { other: true } },
      { pointer: '/a/c', value: 2 },
      { pointer: '/a/c', value: 3 },
    ]);
    // The body comes first wherever it is listed; /a/b then replaces the array a with an object.
    assert.deepEqual(out, { a: { b: 1, c: 3 }, k: 1 });
    assert.deepEqual(assembleEvent([{ pointer: '', value: [1] }]), {});
  });

  it('does not mutate the parts', () => {
    const body = { a: { x: 1 } };
    assembleEvent([
      { pointer: '', value: body },
      { pointer: '/a/y', value: 2 },
    ]);
    assert.deepEqual(body, { a: { x: 1 } });
  });
});

describe('splitEvent', () => {
  it('keeps an own "__proto__" member a member when copying around a split field', () => {
    const action = JSON.parse('{"type":"t","__proto__":{"x":1},"params":{"q":1}}') as Record<string, unknown>;
    const [body] = splitEvent({ type: 'x.a', action }, ['/action/params']);
    const a = (body!.value as Record<string, Record<string, unknown>>)['action']!;
    assert.equal(Object.getPrototypeOf(a), Object.prototype);
    assert.deepEqual(Object.keys(a), ['type', '__proto__']);
  });
});
