import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { signCheckpoint } from './checkpoint.js';
import { disclosureDigest, makeDisclosure } from './disclosure.js';
import { encodeLeaf, type LeafRecord } from './leaf.js';
import { hashLeaf, MemoryNodeReader, rootOf } from './merkle.js';
import { formatVerifierKey, generateSigner } from './note.js';
import { inclusionProof } from './proof.js';
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

  it('a checkpoint that verified once vouches only for the same note, key and log', () => {
    assert.equal(verifyProofBundle(bundle(), { trustedKey }).ok, true);
    // The same note under another key of the same name: the signature is checked again.
    const other = formatVerifierKey(example.bundle.log, generateSigner(example.bundle.log).signer.publicKey);
    const byOther = verifyProofBundle({ ...bundle(), verifier_key: other }, { trustedKey: other });
    assert.equal(byOther.ok, false);
    assert.match(byOther.failures.join('; '), /checkpoint: /);
    // The same note and key for another log name: the origin is checked again.
    const elsewhere = verifyProofBundle({ ...bundle(), log: `${example.bundle.log}x` }, { trustedKey });
    assert.match(elsewhere.failures.join('; '), /checkpoint: /);
    // One more character in the note: a new note, checked again.
    const edited = verifyProofBundle(
      { ...bundle(), checkpoint: example.bundle.checkpoint.replace('\n\n', '\nx\n\n') },
      { trustedKey },
    );
    assert.match(edited.failures.join('; '), /checkpoint: /);
    assert.equal(verifyProofBundle(bundle(), { trustedKey }).ok, true);
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

/**
 * A bundle for seq `seq` of a fresh 5-entry log built from core pieces only, with `tweak` applied
 * to the leaf record and the disclosures before they are committed (so the signature is valid
 * and only the tweaked part is wrong).
 */
const ORIGIN = 'example.test/t/acme/default';
const { signer } = generateSigner(ORIGIN);
const vkey = formatVerifierKey(ORIGIN, signer.publicKey);
function built(
  seq = 2,
  tweak: (leaf: LeafRecord, disclosures: Buffer[]) => void = () => undefined,
): ProofBundle {
  const leaves: Buffer[] = [];
  let mine: { leaf: Buffer; disclosures: Buffer[] } | undefined;
  for (let i = 0; i < 5; i++) {
    const disclosures = [
      makeDisclosure(Buffer.alloc(16, i), '', { type: 'x.test', n: i }),
      makeDisclosure(Buffer.alloc(16, 100 + i), '/action/params', { secret: i }),
    ];
    const rec: LeafRecord = {
      v: 1,
      log: ORIGIN,
      seq: i,
      ts: `2026-01-01T00:00:0${i}.000000Z`,
      type: 'x.test',
      eid: `e-${i}`,
      d: disclosures.map((d) => disclosureDigest(d)).sort(),
    };
    if (i === seq) tweak(rec, disclosures);
    const leaf = encodeLeaf(rec);
    leaves.push(leaf);
    if (i === seq) mine = { leaf, disclosures };
  }
  const reader = new MemoryNodeReader(leaves.map((l) => hashLeaf(l)));
  const root = rootOf(leaves.length, reader);
  return {
    format: 'auditrail-proof/v1',
    log: ORIGIN,
    seq,
    leaf: mine!.leaf.toString('base64'),
    disclosures: mine!.disclosures.map((d) => d.toString('utf8')),
    inclusion: {
      tree_size: leaves.length,
      proof: inclusionProof(seq, leaves.length, reader).map((h) => h.toString('base64')),
    },
    checkpoint: signCheckpoint({ origin: ORIGIN, size: leaves.length, root }, [signer]),
    verifier_key: vkey,
  };
}
const failuresOf = (b: unknown, options: { trustedKey?: string } = { trustedKey: vkey }): string =>
  verifyProofBundle(b, options).failures.join('\n');

describe('verifyProofBundle: each check on a bundle built from core pieces', () => {
  it('verifies every seq of the log and reassembles the event', () => {
    for (let seq = 0; seq < 5; seq++) {
      const r = verifyProofBundle(built(seq), { trustedKey: vkey });
      assert.deepEqual(r.failures, []);
      assert.deepEqual([r.ok, r.seq, r.tree_size, r.log], [true, seq, 5, ORIGIN]);
      assert.deepEqual(r.event, { type: 'x.test', n: seq, action: { params: { secret: seq } } });
    }
  });

  it('without a trusted key uses the bundle key (internal consistency only)', () => {
    assert.equal(verifyProofBundle(built()).ok, true);
  });

  it('refuses what is not a bundle', () => {
    for (const v of [null, 'text', 42, [], {}, { ...built(), format: 'auditrail-proof/v2' }]) {
      const r = verifyProofBundle(v, { trustedKey: vkey });
      assert.equal(r.ok, false);
      assert.deepEqual(r.failures, ['not an auditrail-proof/v1 bundle']);
      assert.equal(r.event, null);
    }
  });

  it('refuses a missing or wrongly typed member', () => {
    const b = built();
    const broken: unknown[] = [
      { ...b, log: 1 },
      { ...b, seq: '2' },
      { ...b, seq: 1.5 },
      { ...b, leaf: undefined },
      { ...b, disclosures: 'x' },
      { ...b, disclosures: Array.from({ length: 65 }, () => '') },
      { ...b, inclusion: null },
      { ...b, inclusion: { tree_size: 5 } },
      { ...b, inclusion: { tree_size: 5, proof: Array.from({ length: 65 }, () => '') } },
      { ...b, checkpoint: undefined },
      { ...b, verifier_key: null },
    ];
    for (const v of broken) assert.match(failuresOf(v), /missing a member or has one of the wrong type/);
  });

  it('reports a verifier key it cannot parse', () => {
    assert.match(failuresOf(built(), { trustedKey: 'not a key' }), /^verifier key: /);
    assert.match(failuresOf({ ...built(), verifier_key: 'nope' }, {}), /^verifier key: /);
  });

  it('refuses a checkpoint signed by another key, or of another log', () => {
    const other = generateSigner(ORIGIN).signer;
    const forged = {
      ...built(),
      checkpoint: signCheckpoint({ origin: ORIGIN, size: 5, root: Buffer.alloc(32) }, [other]),
    };
    assert.match(failuresOf(forged), /^checkpoint: /m);
    const elsewhere = { ...built(), log: 'example.test/t/acme/other' };
    assert.match(failuresOf(elsewhere), /^checkpoint: /m);
  });

  it('reports a tree size that differs from the checkpoint', () => {
    const b = built();
    b.inclusion.tree_size = 4;
    const f = failuresOf(b);
    assert.match(f, /inclusion proof is for size 4, checkpoint is 5/);
    // The proof is checked against the signed size, so only the claim is reported.
    assert.doesNotMatch(f, /does not lead/);
  });

  it('reports leaf bytes that are not a leaf record', () => {
    assert.match(
      failuresOf({ ...built(), leaf: Buffer.from('{"v":2}').toString('base64') }),
      /^leaf: leaf version/m,
    );
    assert.match(
      failuresOf({ ...built(), leaf: Buffer.from('[]').toString('base64') }),
      /^leaf: leaf is not an object/m,
    );
  });

  it('reports a leaf of another log or another seq than the bundle claims', () => {
    const wrongLog = built(2, (rec) => {
      rec.log = 'example.test/t/acme/other';
    });
    assert.match(
      failuresOf(wrongLog),
      /leaf belongs to log example.test\/t\/acme\/other, not example.test\/t\/acme\/default/,
    );
    const wrongSeq = built(2, (rec) => {
      rec.seq = 3;
    });
    const f = failuresOf(wrongSeq);
    assert.match(f, /leaf has seq 3, bundle claims 2/);
    // The inclusion proof itself is fine: only the claim is wrong.
    assert.doesNotMatch(f, /does not lead/);
  });

  it('reports a proof for another position, and a proof hash of the wrong length', () => {
    assert.match(
      failuresOf({ ...built(), seq: 1 }),
      /inclusion proof of seq 1 does not lead to the checkpoint root/,
    );
    const b = built();
    b.inclusion.proof[0] = Buffer.alloc(31).toString('base64');
    b.inclusion.proof.push(7 as unknown as string);
    const f = failuresOf(b);
    assert.match(f, /inclusion proof hash 0 is not canonical base64 of 32 bytes/);
    assert.match(f, /inclusion proof hash \d is not canonical base64 of 32 bytes/);
  });

  it('reports disclosures that are not strings or not committed to, and keeps the others', () => {
    const b = built();
    const extra = makeDisclosure(Buffer.alloc(16, 9), '/context/reasoning', 'added later').toString('utf8');
    const r = verifyProofBundle({ ...b, disclosures: [b.disclosures[0], 5, extra] }, { trustedKey: vkey });
    assert.equal(r.ok, false);
    assert.deepEqual(r.failures, [
      'disclosure 1 is not a string',
      'disclosure 2 is not committed to by the leaf',
    ]);
    assert.deepEqual(r.event, { type: 'x.test', n: 2 });
  });

  it('shows no event when no disclosure is given (all withheld or erased), and that is no failure', () => {
    const r = verifyProofBundle({ ...built(), disclosures: [] }, { trustedKey: vkey });
    assert.equal(r.ok, true);
    assert.equal(r.event, null);
  });

  it('reports a committed disclosure that does not parse', () => {
    const bad = Buffer.from('["short","",{}]');
    const b = built(2, (rec, disclosures) => {
      disclosures.push(bad);
      rec.d = disclosures.map((d) => disclosureDigest(d)).sort();
    });
    const f = failuresOf(b);
    assert.match(f, /^disclosure 2: disclosure salt must be 16 bytes/m);
  });
});
