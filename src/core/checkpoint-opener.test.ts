import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { openCheckpoint, signCheckpoint } from './checkpoint.js';
import { checkpointOpener } from './checkpoint-opener.js';
import { CompactRange, hashLeaf } from './merkle.js';
import { NoteError, formatVerifierKey, generateSigner, parseVerifierKey } from './note.js';

const ORIGIN = 'audit.example.com/t/ten_7Q2x/prod';
const code = (c: string) => (e: unknown) => e instanceof NoteError && e.code === c;

function sampleCheckpoint(): { origin: string; size: number; root: Buffer } {
  const cr = new CompactRange();
  for (let i = 0; i < 5; i++) cr.append(hashLeaf(Buffer.of(i)));
  return { origin: ORIGIN, size: cr.size, root: cr.root() };
}

describe('checkpointOpener', () => {
  it('opens each note once and gives the same result or error as openCheckpoint', () => {
    const signer = generateSigner(ORIGIN).signer;
    const logV = parseVerifierKey(formatVerifierKey(signer.name, signer.publicKey));
    let checks = 0;
    const counting = { ...logV, verify: (m: Buffer, s: Buffer) => (checks++, logV.verify(m, s)) };
    const note = signCheckpoint(sampleCheckpoint(), [signer]);
    const forged = note.replace('\n5\n', '\n6\n');
    const open = checkpointOpener([counting], ORIGIN);
    for (let i = 0; i < 3; i++) {
      assert.deepEqual(open(note), openCheckpoint(note, [logV], ORIGIN));
      assert.throws(() => open(forged), code('bad_signature'));
    }
    // Two distinct notes, three times each: two signature checks.
    assert.equal(checks, 2);
    assert.throws(
      () => checkpointOpener([logV], 'audit.example.com/t/other/prod')(note),
      code('name_mismatch'),
    );
  });
});
