import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import {
  assembleEvent,
  decodeUtf8Strict,
  disclosureDigest,
  makeDisclosure,
  parseDisclosure,
  pointerProblem,
  splitEvent,
} from './disclosure.js';
import { decodeBase64UrlStrict } from './note.js';

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

  it('accepts a salt exactly when it is the canonical base64url of 16 bytes', () => {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_+/=';
    const spellings = fc.oneof(
      fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => Buffer.from(b).toString('base64url')),
      fc.string({ unit: fc.constantFrom(...alphabet), minLength: 20, maxLength: 24 }),
    );
    fc.assert(
      fc.property(spellings, (salt) => {
        const canonical = decodeBase64UrlStrict(salt)?.length === 16;
        let accepted = true;
        try {
          parseDisclosure(disclosure(salt, '', {}));
        } catch {
          accepted = false;
        }
        assert.equal(accepted, canonical, salt);
      }),
      { numRuns: 2000 },
    );
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

describe('makeDisclosure and disclosureDigest', () => {
  it('refuses a salt that is not 16 bytes', () => {
    assert.throws(() => makeDisclosure(Buffer.alloc(15), '', {}), RangeError);
    assert.throws(() => makeDisclosure(Buffer.alloc(17), '', {}), RangeError);
  });

  it('writes canonical JSON (members sorted, no whitespace)', () => {
    const d = makeDisclosure(SALT, '/action/params', { b: 1, a: [true, null] });
    assert.equal(d.toString('utf8'), `["${saltText}","/action/params",{"a":[true,null],"b":1}]`);
  });

  it('hashes the domain-separated bytes, the same for bytes and their text', () => {
    const d = makeDisclosure(SALT, '/context/reasoning', 'zürich');
    const expected = createHash('sha256')
      .update(Buffer.concat([Buffer.from('auditrail/disclosure/v1\n'), d]))
      .digest('base64url');
    assert.equal(disclosureDigest(d), expected);
    assert.equal(disclosureDigest(d.toString('utf8')), expected);
    assert.equal(expected.length, 43);
    // Without the domain it would be a plain SHA-256 of the bytes: it must not be.
    assert.notEqual(expected, createHash('sha256').update(d).digest('base64url'));
  });
});

describe('decodeUtf8Strict', () => {
  it('decodes valid UTF-8 and keeps a byte order mark', () => {
    assert.equal(decodeUtf8Strict(Buffer.from('héllo 🚀')), 'héllo 🚀');
    assert.equal(decodeUtf8Strict(Buffer.of(0xef, 0xbb, 0xbf, 0x61)), '\ufeffa');
  });

  it('throws with the decoder error as cause', () => {
    assert.throws(
      () => decodeUtf8Strict(Buffer.of(0xff)),
      (e: Error) => e.message === 'not valid UTF-8' && e.cause instanceof Error,
    );
  });
});

describe('parseDisclosure: shape', () => {
  const cases: [string, Buffer, RegExp][] = [
    ['text that is not JSON', Buffer.from('[1,'), /not JSON in valid UTF-8/],
    ['a BOM before the JSON', Buffer.from(`\ufeff["${saltText}","",{}]`), /not JSON in valid UTF-8/],
    ['an object', Buffer.from('{}'), /3-element array/],
    ['two elements', Buffer.from(`["${saltText}",""]`), /3-element array/],
    ['four elements', Buffer.from(`["${saltText}","",1,2]`), /3-element array/],
    ['a numeric salt', disclosure(7 as unknown as string, '', {}), /salt must be 16 bytes/],
    ['a short salt', disclosure(saltText.slice(0, 20), '', {}), /salt must be 16 bytes/],
    ['a numeric pointer', disclosure(saltText, 1 as unknown as string, {}), /pointer is not a string/],
    ['a relative pointer', disclosure(saltText, 'action', {}), /pointer must be "" or start with "\/"/],
  ];
  for (const [what, bytes, error] of cases) {
    it(`refuses ${what}`, () => assert.throws(() => parseDisclosure(bytes), error));
  }

  it('accepts any JSON value, including null', () => {
    assert.equal(parseDisclosure(disclosure(saltText, '/x', null)).value, null);
    assert.deepEqual(parseDisclosure(disclosure(saltText, '/x', [1, 'a'])).value, [1, 'a']);
  });
});

describe('pointerProblem', () => {
  it('accepts "" and well-escaped pointers', () => {
    for (const p of ['', '/', '/a', '/a/b', '/a~1b', '/a~0b', '/~01', '/0', '/a//b'])
      assert.equal(pointerProblem(p), undefined, p);
  });

  it('names the problem of each bad pointer', () => {
    assert.equal(pointerProblem(null), 'is not a string');
    assert.equal(pointerProblem('a/b'), 'must be "" or start with "/"');
    assert.equal(pointerProblem('/a~'), 'has a "~" not followed by "0" or "1"');
    assert.equal(pointerProblem('/a~2'), 'has a "~" not followed by "0" or "1"');
    assert.equal(pointerProblem('/x/constructor'), 'holds the reserved token "constructor"');
    assert.equal(pointerProblem('/prototype'), 'holds the reserved token "prototype"');
    // Tokens are checked after unescaping: "~1" is "/", so this is not "__proto__" but "__pro/to__".
    assert.equal(pointerProblem('/__pro~1to__'), undefined);
  });

  it('answers the same when asked again (answers are remembered), past the memo size', () => {
    const pointers = ['/a', '/a~2', 'a/b', '/x/__proto__', '/a~1b'];
    const first = pointers.map((p) => pointerProblem(p));
    for (let i = 0; i < 2000; i++) pointerProblem(`/p${i}${i % 2 === 0 ? '~' : ''}`);
    for (let round = 0; round < 2; round++)
      assert.deepEqual(
        pointers.map((p) => pointerProblem(p)),
        first,
      );
    assert.deepEqual(first, [
      undefined,
      'has a "~" not followed by "0" or "1"',
      'must be "" or start with "/"',
      'holds the reserved token "__proto__"',
      undefined,
    ]);
    assert.equal(pointerProblem('/p1'), undefined);
    assert.equal(pointerProblem('/p0~'), 'has a "~" not followed by "0" or "1"');
  });
});

describe('splitEvent: which fields become parts', () => {
  it('puts the whole event in the body when no sensitive field is present', () => {
    const event = { type: 'x.a', action: { type: 't' } };
    const parts = splitEvent(event, ['/action/params', '/context/reasoning']);
    assert.deepEqual(parts, [{ pointer: '', value: event }]);
    assert.notEqual(parts[0]?.value, event); // a copy, not the caller's object
  });

  it('splits several fields, in pointer order, without mutating the event', () => {
    const event = {
      type: 'x.a',
      action: { type: 't', params: { q: 1 } },
      context: { reasoning: 'why', purpose: 'p' },
    };
    const before = structuredClone(event);
    const parts = splitEvent(event, ['/context/reasoning', '/action/params']);
    assert.deepEqual(parts, [
      { pointer: '', value: { type: 'x.a', action: { type: 't' }, context: { purpose: 'p' } } },
      { pointer: '/context/reasoning', value: 'why' },
      { pointer: '/action/params', value: { q: 1 } },
    ]);
    assert.deepEqual(event, before);
    assert.deepEqual(assembleEvent(parts), event);
  });

  it('skips a pointer through an array, a scalar, a missing or an undefined member, and ""', () => {
    const event = { a: [{ b: 1 }], s: 'text', u: { v: undefined } };
    const parts = splitEvent(event, ['/a/0/b', '/s/length', '/missing/x', '/u/v', '']);
    assert.equal(parts.length, 1);
    assert.deepEqual(parts[0]?.value, event);
  });

  it('does not split an inherited member', () => {
    const action = Object.create({ params: { inherited: true } }) as Record<string, unknown>;
    action['type'] = 't';
    const parts = splitEvent({ action }, ['/action/params']);
    assert.equal(parts.length, 1);
  });

  it('splits a falsy value (0, "", false, null) as a part', () => {
    const parts = splitEvent({ a: { n: 0, s: '', f: false, z: null } }, ['/a/n', '/a/s', '/a/f', '/a/z']);
    assert.deepEqual(
      parts.map((p) => [p.pointer, p.value]),
      [
        ['', { a: {} }],
        ['/a/n', 0],
        ['/a/s', ''],
        ['/a/f', false],
        ['/a/z', null],
      ],
    );
  });
});

describe('assembleEvent: edge cases', () => {
  it('starts from {} without a body and skips parts whose pointer is refused', () => {
    assert.deepEqual(
      assembleEvent([
        { pointer: '/a', value: 1 },
        { pointer: 'b', value: 2 },
        { pointer: '/c~2', value: 3 },
        { pointer: '/constructor/x', value: 4 },
      ]),
      { a: 1 },
    );
  });

  it('unescapes ~1 and ~0 in tokens', () => {
    assert.deepEqual(assembleEvent([{ pointer: '/a~1b/c~0d', value: 1 }]), { 'a/b': { 'c~d': 1 } });
  });

  it('replaces a scalar on the path with an object', () => {
    assert.deepEqual(
      assembleEvent([
        { pointer: '', value: { a: 5 } },
        { pointer: '/a/b', value: 1 },
      ]),
      { a: { b: 1 } },
    );
  });
});
