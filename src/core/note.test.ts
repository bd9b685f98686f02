import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  NoteError,
  decodeBase64Strict,
  decodeBase64UrlStrict,
  exceedsUtf8Bytes,
  formatVerifierKey,
  hasLoneSurrogate,
  trustedKeyMismatch,
  generateSigner,
  keyId,
  openNote,
  parseVerifierKey,
  signNote,
  signerFromPrivateKey,
} from './note.js';
import type { NoteSigner, NoteVerifier } from './note.js';

// C2SP signed-note example (CC-BY-4.0), see test/vectors/README.md.
const example = JSON.parse(
  readFileSync(join(import.meta.dirname, '../../test/vectors/c2sp-signed-note/example.json'), 'utf8'),
) as { vkey: string; note: string; expected: { keyId: string; verifies: boolean } };

const code = (c: string) => (e: unknown) => e instanceof NoteError && e.code === c;

describe('C2SP signed-note example vector', () => {
  const verifier = parseVerifierKey(example.vkey);

  it('parses the verifier key and derives key ID 530d903a', () => {
    assert.equal(verifier.name, 'example.com/foo');
    assert.equal(verifier.keyId.toString('hex'), example.expected.keyId);
    assert.equal(keyId(verifier.name, verifier.publicKey).toString('hex'), '530d903a');
    assert.equal(formatVerifierKey(verifier.name, verifier.publicKey), example.vkey);
  });

  it('verifies the example note', () => {
    const opened = openNote(example.note, [verifier]);
    assert.equal(example.expected.verifies, true);
    assert.equal(opened.text, 'This is an example message.\n');
    assert.deepEqual(opened.verifiedBy, ['example.com/foo']);
    assert.deepEqual(opened.signatures, [{ name: 'example.com/foo', keyId: '530d903a', verified: true }]);
  });

  it('rejects tampering with the text or the signature', () => {
    assert.throws(
      () => openNote(example.note.replace('example', 'exampel'), [verifier]),
      code('bad_signature'),
    );
    assert.throws(
      () => openNote(example.note.replace('message.', 'message!'), [verifier]),
      code('bad_signature'),
    );
    const [text, sigLine] = example.note.split('\n\n') as [string, string];
    const b64 = sigLine.slice('— example.com/foo '.length, -1);
    const raw = Buffer.from(b64, 'base64');
    for (const at of [4, 20, 67]) {
      const bad = Buffer.from(raw);
      bad[at]! ^= 1;
      const note = `${text}\n\n— example.com/foo ${bad.toString('base64')}\n`;
      assert.throws(() => openNote(note, [verifier]), code('bad_signature'), `byte ${at}`);
    }
    // Changing the key ID byte makes it a signature by an unknown key.
    const otherId = Buffer.from(raw);
    otherId[0]! ^= 1;
    assert.throws(
      () => openNote(`${text}\n\n— example.com/foo ${otherId.toString('base64')}\n`, [verifier]),
      code('unknown_key'),
    );
    // Truncated signature: still well-formed, but cannot verify.
    assert.throws(
      () => openNote(`${text}\n\n— example.com/foo ${raw.subarray(0, 40).toString('base64')}\n`, [verifier]),
      code('bad_signature'),
    );
  });

  it('needs a trusted key', () => {
    assert.throws(() => openNote(example.note, []), code('unknown_key'));
    const { signer } = generateSigner('example.com/foo'); // same name, other key and ID
    const other = parseVerifierKey(formatVerifierKey(signer.name, signer.publicKey));
    assert.throws(() => openNote(example.note, [other]), code('unknown_key'));
  });
});

describe('signing and opening notes', () => {
  const a = generateSigner('log.example/a').signer;
  const b = generateSigner('witness.example/b').signer;
  const va = verifierOf(a);
  const vb = verifierOf(b);

  function verifierOf(s: NoteSigner): NoteVerifier {
    return parseVerifierKey(formatVerifierKey(s.name, s.publicKey));
  }

  it('round-trips with several signers, ignoring unknown ones', () => {
    const note = signNote('hello\n\nworld — ünïcödé 🙂\n', [a, b]);
    assert.match(
      note,
      /^hello\n\nworld — ünïcödé 🙂\n\n— log\.example\/a [A-Za-z0-9+/]{91}=\n— witness\.example\/b \S+\n$/,
    );
    const both = openNote(note, [va, vb]);
    assert.equal(both.text, 'hello\n\nworld — ünïcödé 🙂\n');
    assert.deepEqual(both.verifiedBy, ['log.example/a', 'witness.example/b']);
    const onlyB = openNote(note, [vb]);
    assert.deepEqual(onlyB.verifiedBy, ['witness.example/b']);
    assert.deepEqual(onlyB.signatures, [
      { name: 'log.example/a', keyId: a.keyId.toString('hex'), verified: null },
      { name: 'witness.example/b', keyId: b.keyId.toString('hex'), verified: true },
    ]);
  });

  it('restores a signer from its PKCS#8 key', () => {
    const { signer, privateKeyPkcs8Der } = generateSigner('log.example/c');
    const again = signerFromPrivateKey('log.example/c', privateKeyPkcs8Der);
    assert.deepEqual(again.publicKey, signer.publicKey);
    assert.deepEqual(again.keyId, signer.keyId);
    assert.equal(again.keyId.length, 4);
    assert.equal(again.publicKey.length, 32);
    openNote(signNote('x\n', [again]), [verifierOf(signer)]);
    assert.throws(() => signerFromPrivateKey('log.example/c', Buffer.from('junk')), code('malformed'));
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({
      format: 'der',
      type: 'pkcs8',
    });
    assert.throws(() => signerFromPrivateKey('log.example/c', ec), /Ed25519/);
    assert.throws(() => signerFromPrivateKey('bad name', privateKeyPkcs8Der), code('malformed'));
    assert.throws(() => generateSigner('a+b'), code('malformed'));
  });

  it('rejects a signature by a known key that fails even if another verifies', () => {
    const note = signNote('hello\n', [a, b]);
    const forged = note.replace(/(— witness\.example\/b )(\S+)/, (_m, p: string, sig: string) => {
      const raw = Buffer.from(sig, 'base64');
      raw[10]! ^= 0x80;
      return p + raw.toString('base64');
    });
    assert.throws(() => openNote(forged, [va, vb]), code('bad_signature'));
    assert.deepEqual(openNote(forged, [va]).verifiedBy, ['log.example/a']); // b unknown: ignored
  });

  it('skips repeated signatures', () => {
    const note = signNote('hello\n', [a, b]);
    const doubled = note + note.slice('hello\n\n'.length);
    assert.deepEqual(openNote(doubled, [va, vb]).signatures.length, 2);
    assert.deepEqual(openNote(doubled, [vb]).signatures, [
      { name: a.name, keyId: a.keyId.toString('hex'), verified: null },
      { name: b.name, keyId: b.keyId.toString('hex'), verified: true },
    ]);
  });

  it('accepts 100 signatures and rejects 101', () => {
    const note = signNote('hello\n', [a]);
    const line = note.slice('hello\n\n'.length);
    const unknown = `— other.example/x ${Buffer.alloc(68, 7).toString('base64')}\n`;
    assert.deepEqual(openNote(note + unknown.repeat(99), [va]).verifiedBy, [a.name]);
    assert.throws(() => openNote(note + unknown.repeat(100), [va]), code('malformed'));
    assert.throws(() => signNote('x\n', Array<NoteSigner>(101).fill(a)), code('malformed'));
    assert.equal(line.startsWith('— '), true);
  });

  it('parses strictly', () => {
    const note = signNote('hello\n', [a]);
    const sig = note.slice('hello\n\n— log.example/a '.length, -1);
    const malformed = [
      'hello\n\n— log.example/a ' + sig, // no final newline
      'hel\x01lo\n\n— log.example/a ' + sig + '\n', // control character
      'hel\rlo\n\n— log.example/a ' + sig + '\n',
      'hel\tlo\n\n— log.example/a ' + sig + '\n',
      'hel\uD800lo\n\n— log.example/a ' + sig + '\n', // lone surrogate
      'hello\n\n- log.example/a ' + sig + '\n', // hyphen, not em dash
      'hello\n\n—  log.example/a ' + sig + '\n', // empty name
      'hello\n\n— log.example/a  ' + sig + '\n', // double space
      'hello\n\n— log.example/a ' + sig + ' \n', // trailing space
      'hello\n\n— log.example/a ' + sig.slice(0, -1) + '\n', // bad padding
      'hello\n\n— log.example/a ' + sig.replace(/=+$/, '') + '\n', // unpadded
      'hello\n\n— log.example/a ' + Buffer.alloc(4).toString('base64') + '\n', // key ID only
      'hello\n\n— log.example/a\n',
      'hello\n\n— log.example/a+x ' + sig + '\n', // '+' in name
      'hello\n\n— log.example/a\u00a0x ' + sig + '\n', // Unicode space in name
      'hello\n\n— log.example/a ' + sig + '\nnot a signature\n',
      'x'.repeat(1 << 20) + '\n\n— log.example/a ' + sig + '\n', // too long
    ];
    for (const m of malformed)
      assert.throws(() => openNote(m, [va]), code('malformed'), JSON.stringify(m.slice(0, 60)));
    // Non-canonical base64 (non-zero padding bits) is rejected too.
    const raw = Buffer.from(sig, 'base64');
    const last = sig.replace(/=+$/, '');
    const tweaked = last.slice(0, -1) + String.fromCharCode(last.charCodeAt(last.length - 1) + 1);
    assert.deepEqual(Buffer.from(tweaked + '=', 'base64'), raw);
    assert.throws(() => openNote(`hello\n\n— log.example/a ${tweaked}=\n`, [va]), code('malformed'));

    assert.throws(() => openNote('hello\n', [va]), code('no_signature'));
    assert.throws(() => openNote('hello\n\n', [va]), code('no_signature'));
    assert.throws(() => openNote(42 as unknown as string, [va]), code('malformed'));
  });

  it('splits at the last blank line', () => {
    const note = signNote('a\n\n\n', [a]);
    assert.equal(openNote(note, [va]).text, 'a\n\n\n');
    assert.equal(openNote(signNote('\n', [a]), [va]).text, '\n');
  });

  it('refuses to sign bad texts', () => {
    assert.throws(() => signNote('', [a]), code('malformed'));
    assert.throws(() => signNote('no newline', [a]), code('malformed'));
    assert.throws(() => signNote('tab\there\n', [a]), code('malformed'));
    assert.throws(() => signNote('ok\n', []), code('no_signature'));
  });
});

describe('verifier keys', () => {
  const { signer } = generateSigner('example.org/k');
  const vkey = formatVerifierKey(signer.name, signer.publicKey);

  it('round-trips', () => {
    const v = parseVerifierKey(vkey);
    assert.deepEqual(v.publicKey, signer.publicKey);
    assert.deepEqual(v.keyId, signer.keyId);
    assert.equal(v.verify(Buffer.from('m'), signer.sign(Buffer.from('m'))), true);
    assert.equal(v.verify(Buffer.from('m'), signer.sign(Buffer.from('n'))), false);
    assert.equal(v.verify(Buffer.from('m'), Buffer.alloc(63)), false);
  });

  it('rejects malformed keys', () => {
    const [name, id, key] = vkey.split('+', 3) as [string, string, string];
    const rest = vkey.slice(name.length + id.length + 2);
    const bad = [
      '',
      name,
      `${name}+${id}`,
      `+${id}+${rest}`,
      `${name}+${/[a-f]/.test(id) ? id.toUpperCase() : 'zzzzzzzz'}+${rest}`, // uppercase hex or not hex
      `${name}+${id.slice(0, 7)}+${rest}`,
      `${name}+00000000+${rest}`, // wrong key ID
      `other.org/k+${id}+${rest}`, // key ID of another name
      `${name}+${id}+${Buffer.concat([Buffer.of(2), signer.publicKey]).toString('base64')}`, // type 0x02
      `${name}+${id}+${Buffer.concat([Buffer.of(1), signer.publicKey.subarray(1)]).toString('base64')}`,
      `${name}+${id}+${rest.slice(0, -1)}`, // truncated base64
      `${name}+${id}+${rest} `,
      `na me+${id}+${rest}`,
      'x'.repeat(5000),
    ];
    for (const v of bad) assert.throws(() => parseVerifierKey(v), code('malformed'), v);
    assert.ok(key.length > 0);
    assert.throws(() => formatVerifierKey('ok', Buffer.alloc(31)), code('malformed'));
    assert.throws(() => formatVerifierKey('', Buffer.alloc(32)), code('malformed'));
  });
});

describe('strict base64 (docs/verification.md §1)', () => {
  // Property-style: random byte strings, each with every lenient spelling a decoder might accept.
  it('accepts exactly the canonical spelling of random byte strings', () => {
    let seed = 7;
    const rnd = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let n = 0; n < 300; n++) {
      const bytes = Buffer.from(
        Array.from({ length: Math.floor(rnd() * 40) }, () => Math.floor(rnd() * 256)),
      );
      const std = bytes.toString('base64');
      const url = bytes.toString('base64url');
      assert.deepEqual(decodeBase64Strict(std), bytes);
      assert.deepEqual(decodeBase64UrlStrict(url), bytes);
      const i = Math.floor(rnd() * (std.length + 1));
      const lenientStd = [
        `${std.slice(0, i)} ${std.slice(i)}`,
        `${std.slice(0, i)}\n${std.slice(i)}`,
        `${std.slice(0, i)}\r\n${std.slice(i)}`,
        `${std}\t`,
        std.replace(/=/g, ''),
        `${std}=`,
        std.replace(/\+/g, '-').replace(/\//g, '_'),
        url,
      ].filter((v) => v !== std);
      for (const v of lenientStd) assert.equal(decodeBase64Strict(v), undefined, JSON.stringify(v));
      const lenientUrl = [
        `${url.slice(0, i)} ${url.slice(i)}`,
        `${url}\n`,
        std,
        `${url}=`,
        url.replace(/-/g, '+').replace(/_/g, '/'),
      ].filter((v) => v !== url);
      for (const v of lenientUrl) assert.equal(decodeBase64UrlStrict(v), undefined, JSON.stringify(v));
    }
  });

  it('refuses non-zero trailing bits and impossible lengths', () => {
    assert.deepEqual(decodeBase64Strict('AQI='), Buffer.of(1, 2));
    assert.equal(decodeBase64Strict('AQJ='), undefined); // same bytes, low bits set
    assert.equal(decodeBase64Strict('AR=='), undefined);
    assert.equal(decodeBase64Strict('A==='), undefined);
    assert.equal(decodeBase64Strict('=AAA'), undefined);
    assert.deepEqual(decodeBase64UrlStrict('AQI'), Buffer.of(1, 2));
    assert.equal(decodeBase64UrlStrict('AQJ'), undefined);
    assert.equal(decodeBase64UrlStrict('A'), undefined);
    assert.equal(decodeBase64UrlStrict('AR'), undefined);
    assert.deepEqual(decodeBase64UrlStrict(''), Buffer.alloc(0));
  });
});

describe('note text rules (docs/verification.md §5.4)', () => {
  const s = generateSigner('log.example/t').signer;
  const v = parseVerifierKey(formatVerifierKey(s.name, s.publicKey));

  it('refuses each ASCII control character but newline, and allows DEL and C1 controls', () => {
    for (let c = 0; c < 0x20; c++) {
      if (c === 0x0a) continue;
      const text = `a${String.fromCharCode(c)}b\n`;
      assert.throws(() => signNote(text, [s]), code('malformed'), `U+${c.toString(16)}`);
      // Forged note: the signature is over the bytes, so only the text rule stops it.
      const note = signNote('aXb\n', [s]).replace('X', String.fromCharCode(c));
      assert.throws(() => openNote(note, [v]), code('malformed'), `U+${c.toString(16)}`);
    }
    for (const c of ['\u007f', '\u0085', '\u009f', '\u2028']) {
      assert.equal(openNote(signNote(`a${c}b\n`, [s]), [v]).text, `a${c}b\n`);
    }
  });

  it('counts the 1 MiB limit in UTF-8 bytes, not characters', () => {
    const sig = signNote('x\n', [s]).slice(2); // '\n— name sig\n'
    const fill = (n: number, ch: string): string => ch.repeat(n);
    // Exactly 1 MiB of ASCII (the signature is by a trusted key, so only the size can fail).
    const ascii = `${fill((1 << 20) - Buffer.byteLength(sig) - 1, 'a')}\n`;
    assert.equal(Buffer.byteLength(`${ascii}${sig}`), 1 << 20);
    assert.throws(() => openNote(`${ascii}${sig}`, [v]), code('bad_signature'));
    assert.throws(() => openNote(`a${ascii}${sig}`, [v]), /at most 1048576 bytes/);
    // 400 000 characters of 3 bytes each: fewer than 2^20 characters, more than 2^20 bytes.
    const wide = `${fill(400_000, '€')}\n`;
    assert.ok(wide.length < 1 << 20 && Buffer.byteLength(wide) > 1 << 20);
    assert.throws(() => openNote(`${wide}${sig}`, [v]), /at most 1048576 bytes/);
    assert.throws(() => signNote(wide, [s]), /too long/);
    assert.equal(exceedsUtf8Bytes('€€', 6), false);
    assert.equal(exceedsUtf8Bytes('€€', 5), true);
    assert.equal(exceedsUtf8Bytes('😀', 4), false);
    assert.equal(exceedsUtf8Bytes('😀', 3), true);
  });

  it('refuses lone surrogates anywhere in the note', () => {
    assert.equal(hasLoneSurrogate('a\uD800b'), true);
    assert.equal(hasLoneSurrogate('a\uDC00'), true);
    assert.equal(hasLoneSurrogate('\uDC00\uD800'), true);
    assert.equal(hasLoneSurrogate('😀'), false);
    const note = signNote('aXb\n', [s]).replace('X', '\uD800');
    assert.throws(() => openNote(note, [v]), code('malformed'));
  });
});

describe('trustedKeyMismatch', () => {
  const own = generateSigner('auditrail.local/t/acme/default').signer;
  const ownV = parseVerifierKey(formatVerifierKey(own.name, own.publicKey));
  const sameName = generateSigner('auditrail.local/t/acme/default').signer;
  const sameNameV = parseVerifierKey(formatVerifierKey(sameName.name, sameName.publicKey));
  const other = generateSigner('auditrail.local/t/beta/default').signer;
  const otherV = parseVerifierKey(formatVerifierKey(other.name, other.publicKey));
  const origin = 'auditrail.local/t/acme/default';

  it("names another log's key, and a key ID that is not the log's own", () => {
    assert.match(
      trustedKeyMismatch(origin, [otherV])!,
      /is for another log, not auditrail\.local\/t\/acme\/default/,
    );
    assert.match(
      trustedKeyMismatch(origin, [sameNameV], () => ownV)!,
      new RegExp(
        `key ID of the trusted key .*\\+${sameNameV.keyId.toString('hex')} does not match this log's key .*\\+${ownV.keyId.toString('hex')}`,
      ),
    );
  });

  it('says nothing when a key may be right or the log key is unknown', () => {
    assert.equal(trustedKeyMismatch(origin, []), undefined);
    assert.equal(
      trustedKeyMismatch(origin, [ownV], () => ownV),
      undefined,
    );
    assert.equal(
      trustedKeyMismatch(origin, [sameNameV, ownV], () => ownV),
      undefined,
    );
    assert.equal(trustedKeyMismatch(origin, [sameNameV]), undefined);
    assert.equal(
      trustedKeyMismatch(origin, [sameNameV], () => undefined),
      undefined,
    );
    const unreadable = (): NoteVerifier => {
      throw new Error('mode 644');
    };
    assert.equal(trustedKeyMismatch(origin, [sameNameV], unreadable), undefined);
  });
});
