import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatCheckpoint, openCheckpoint, parseCheckpoint, signCheckpoint } from './checkpoint.js';
import type { Checkpoint } from './checkpoint.js';
import { CompactRange, EMPTY_ROOT, hashLeaf } from './merkle.js';
import { NoteError, formatVerifierKey, generateSigner, parseVerifierKey, signNote } from './note.js';

const ORIGIN = 'audit.example.com/t/ten_7Q2x/prod';
const code = (c: string) => (e: unknown) => e instanceof NoteError && e.code === c;

function sampleCheckpoint(): Checkpoint {
  const cr = new CompactRange();
  for (let i = 0; i < 5; i++) cr.append(hashLeaf(Buffer.of(i)));
  return { origin: ORIGIN, size: cr.size, root: cr.root() };
}

describe('checkpoint text (c2sp.org/tlog-checkpoint)', () => {
  it('formats the three lines', () => {
    assert.equal(
      formatCheckpoint({ origin: 'example.com/log', size: 0, root: EMPTY_ROOT }),
      'example.com/log\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n',
    );
  });

  it('parses what it formats', () => {
    const cp = sampleCheckpoint();
    assert.deepEqual(parseCheckpoint(formatCheckpoint(cp)), cp);
    const max = { ...cp, size: Number.MAX_SAFE_INTEGER };
    assert.deepEqual(parseCheckpoint(formatCheckpoint(max)), max);
  });

  it('parses the tlog-checkpoint spec example and ignores extension lines', () => {
    const text = 'example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n';
    const cp = parseCheckpoint(text);
    assert.equal(cp.origin, 'example.com/behind-the-sofa');
    assert.equal(cp.size, 20852163);
    assert.equal(cp.root.length, 32);
    assert.deepEqual(parseCheckpoint(text + 'ext one\next two\n'), cp);
  });

  it('rejects malformed texts, naming the problem', () => {
    const root = EMPTY_ROOT.toString('base64');
    const cases: [string, RegExp][] = [
      [`o\n1\n${root}`, /newline/],
      [`o\n1\n`, /3 lines/],
      [`\n1\n${root}\n`, /origin/],
      [`o\x01\n1\n${root}\n`, /origin/],
      [`o\n01\n${root}\n`, /leading zeros/],
      [`o\n-1\n${root}\n`, /size/],
      [`o\n+1\n${root}\n`, /size/],
      [`o\n1.0\n${root}\n`, /size/],
      [`o\n1e3\n${root}\n`, /size/],
      [`o\n \n${root}\n`, /size/],
      [`o\n9007199254740992\n${root}\n`, /2\^53/],
      [`o\n18446744073709551615\n${root}\n`, /2\^53/],
      [`o\n1\n${root.slice(0, -1)}\n`, /root/],
      [`o\n1\n${Buffer.alloc(31).toString('base64')}\n`, /root/],
      [`o\n1\n${Buffer.alloc(33).toString('base64')}\n`, /root/],
      [`o\n1\n${root.replace('U=', 'V=')}\n`, /root/], // non-canonical padding bits
      [`o\n1\n ${root}\n`, /root/],
      [`o\n1\n${root}\n\n`, /extension/],
      [`o\n1\n${root}\nok\n\n`, /extension/],
    ];
    for (const [text, message] of cases)
      assert.throws(() => parseCheckpoint(text), message, JSON.stringify(text));
  });

  it('refuses to format bad checkpoints', () => {
    const cp = sampleCheckpoint();
    assert.throws(() => formatCheckpoint({ ...cp, origin: '' }), /origin/);
    assert.throws(() => formatCheckpoint({ ...cp, origin: 'a\nb' }), /origin/);
    assert.throws(() => formatCheckpoint({ ...cp, size: -1 }), /size/);
    assert.throws(() => formatCheckpoint({ ...cp, size: 1.5 }), /size/);
    assert.throws(() => formatCheckpoint({ ...cp, size: 2 ** 53 }), /size/);
    assert.throws(() => formatCheckpoint({ ...cp, root: cp.root.subarray(1) }), /root/);
  });
});

describe('signed checkpoints', () => {
  const log = generateSigner(ORIGIN).signer;
  const witness = generateSigner('witness.example/w1').signer;
  const logV = parseVerifierKey(formatVerifierKey(log.name, log.publicKey));
  const witnessV = parseVerifierKey(formatVerifierKey(witness.name, witness.publicKey));

  it('round-trips, with the log key named like the origin', () => {
    const cp = sampleCheckpoint();
    const note = signCheckpoint(cp, [log, witness]);
    assert.ok(note.startsWith(formatCheckpoint(cp) + '\n— ' + ORIGIN + ' '));
    const opened = openCheckpoint(note, [logV, witnessV], ORIGIN);
    assert.equal(opened.origin, ORIGIN);
    assert.equal(opened.size, 5);
    assert.deepEqual(opened.root, cp.root);
    assert.deepEqual(opened.note.verifiedBy, [ORIGIN, 'witness.example/w1']);
    assert.deepEqual(openCheckpoint(note, [logV]).root, cp.root);
  });

  it('rejects another origin or a checkpoint only a witness vouches for', () => {
    const note = signCheckpoint(sampleCheckpoint(), [log, witness]);
    assert.throws(
      () => openCheckpoint(note, [logV], 'audit.example.com/t/other/prod'),
      code('name_mismatch'),
    );
    assert.throws(() => openCheckpoint(note, [witnessV]), code('name_mismatch'));
    const foreign = signCheckpoint({ ...sampleCheckpoint(), origin: 'evil.example/log' }, [log]);
    assert.throws(() => openCheckpoint(foreign, [logV]), code('name_mismatch'));
  });

  it('rejects tampering and unknown keys', () => {
    const note = signCheckpoint(sampleCheckpoint(), [log]);
    assert.throws(() => openCheckpoint(note.replace('\n5\n', '\n6\n'), [logV]), code('bad_signature'));
    assert.throws(() => openCheckpoint(note, [witnessV]), code('unknown_key'));
    assert.throws(() => openCheckpoint(note, []), code('unknown_key'));
  });

  it('reports a signed but malformed body as malformed, with the parse error as cause', () => {
    const note = signNote(`${ORIGIN}\n05\n${EMPTY_ROOT.toString('base64')}\n`, [log]);
    assert.throws(
      () => openCheckpoint(note, [logV]),
      (e: unknown) => code('malformed')(e) && e instanceof Error && /leading zeros/.test(String(e.cause)),
    );
  });
});
