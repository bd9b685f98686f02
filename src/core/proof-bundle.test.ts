import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { verifyProofBundle, type ProofBundle } from './proof-bundle.js';

// docs/verification.md §9, kept as a vector so the spec's example is checked (test/vectors/README.md).
const example = JSON.parse(
  readFileSync(join(import.meta.dirname, '../../test/vectors/auditrail/worked-example.json'), 'utf8'),
) as { bundle: ProofBundle; trusted_key: string; event: Record<string, unknown> };
const trustedKey = example.trusted_key;
const bundle = (): ProofBundle => structuredClone(example.bundle);

/** Base64 spellings that a lenient decoder accepts but the spec (§1) refuses. */
function lenientVariants(b64: string): string[] {
  const out = [
    ` ${b64}`,
    `${b64}\n`,
    `${b64.slice(0, 8)} ${b64.slice(8)}`,
    `${b64.slice(0, 8)}\n${b64.slice(8)}`,
    b64.replace(/=+$/, ''), // padding dropped
    `${b64}=`, // extra padding
  ];
  // Mixed alphabets: one character written in the URL-safe alphabet.
  const i = b64.search(/[+/]/);
  if (i >= 0) out.push(`${b64.slice(0, i)}${b64[i] === '+' ? '-' : '_'}${b64.slice(i + 1)}`);
  // Non-canonical trailing bits: the last data character before the padding with a low bit set.
  const pad = b64.match(/=*$/)![0].length;
  if (pad > 0) {
    const j = b64.length - pad - 1;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    const c = alphabet[alphabet.indexOf(b64[j]!) | 1]!;
    if (c !== b64[j]) out.push(`${b64.slice(0, j)}${c}${b64.slice(j + 1)}`);
  }
  return out.filter((v) => v !== b64);
}

describe('verifyProofBundle on the worked example (docs/verification.md §9)', () => {
  it('verifies with the trusted key and reassembles the documented event', () => {
    const r = verifyProofBundle(bundle(), { trustedKey });
    assert.deepEqual(r.failures, []);
    assert.equal(r.ok, true);
    assert.deepEqual(r.event, example.event);
  });

  it('refuses every lenient base64 spelling of the leaf (whitespace, alphabets, padding, trailing bits)', () => {
    const variants = lenientVariants(example.bundle.leaf);
    assert.ok(variants.length >= 5);
    const bytes = Buffer.from(example.bundle.leaf, 'base64');
    for (const leaf of variants) {
      // A lenient decoder reads the same bytes: only strictness rejects the spelling.
      assert.deepEqual(Buffer.from(leaf, 'base64'), bytes);
      const r = verifyProofBundle({ ...bundle(), leaf }, { trustedKey });
      assert.equal(r.ok, false, JSON.stringify(leaf));
      assert.match(r.failures.join('\n'), /leaf is not canonical base64/);
    }
  });

  it('refuses every lenient base64 spelling of an inclusion proof hash', () => {
    const hash = example.bundle.inclusion.proof[1]!;
    const variants = lenientVariants(hash);
    assert.ok(variants.length >= 8, 'this hash has a "/" (mixed alphabet) and padding (trailing bits)');
    for (const h of variants) {
      assert.deepEqual(Buffer.from(h, 'base64'), Buffer.from(hash, 'base64'));
      const b = bundle();
      b.inclusion.proof[1] = h;
      const r = verifyProofBundle(b, { trustedKey });
      assert.equal(r.ok, false, JSON.stringify(h));
      assert.match(r.failures.join('\n'), /inclusion proof hash 1 is not canonical base64 of 32 bytes/);
    }
  });

  it('refuses lenient base64 in the checkpoint signature line', () => {
    const b = bundle();
    const [, sig] = /— \S+ (\S+)\n$/.exec(b.checkpoint)!;
    for (const v of lenientVariants(sig!).filter((x) => !/\s/.test(x))) {
      const r = verifyProofBundle({ ...b, checkpoint: b.checkpoint.replace(sig!, v) }, { trustedKey });
      assert.equal(r.ok, false, v);
      assert.match(r.failures[0]!, /^checkpoint: /);
    }
  });

  it('refuses a salt in lenient base64url, and a disclosure with a lone surrogate', () => {
    const b = bundle();
    const d1 = b.disclosures[1]!;
    // Not committed to either way, but the reason must be the strict parse or the digest, never a pass.
    for (const salt of [
      'Ueg0vLsznunRFD2XpECDkA==',
      'Ueg0vLsznunRFD2XpECDkB',
      'Ueg0vLsznunRFD2XpECDk+',
      ' Ueg0vLsznunRFD2XpECDkA',
    ]) {
      b.disclosures[1] = d1.replace('Ueg0vLsznunRFD2XpECDkA', salt);
      assert.equal(verifyProofBundle(b, { trustedKey }).ok, false, salt);
    }
    b.disclosures[1] = d1.replace('"amount"', '"amount\uD800"');
    const r = verifyProofBundle(b, { trustedKey });
    assert.equal(r.ok, false);
    assert.match(r.failures.join('\n'), /disclosure 1 is not well-formed Unicode/);
  });

  it('rejects a negative seq or tree size as malformed', () => {
    assert.match(
      verifyProofBundle({ ...bundle(), seq: -1 }, { trustedKey }).failures[0]!,
      /missing a member/,
    );
    const b = bundle();
    b.inclusion.tree_size = -3;
    assert.match(verifyProofBundle(b, { trustedKey }).failures[0]!, /missing a member/);
  });

  it('reports a trusted key that differs from the bundle key', () => {
    const r = verifyProofBundle(
      { ...bundle(), verifier_key: trustedKey.replace('f8a33d5b', 'f8a33d5c') },
      { trustedKey },
    );
    assert.equal(r.ok, false);
    assert.match(r.failures.join('\n'), /different verifier key/);
  });
});
