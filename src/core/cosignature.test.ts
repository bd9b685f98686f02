import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { formatCheckpoint, signCheckpoint } from './checkpoint.js';
import {
  cosign,
  cosignatureTime,
  cosignerKeyId,
  formatAddCheckpoint,
  formatCosignerKey,
  parseAddCheckpoint,
  parseCosignerKey,
} from './cosignature.js';
import { generateSigner } from './note.js';

const root = createHash('sha256').update('root').digest();
const cp = { origin: 'example.com/log', size: 7, root };
const { signer: log } = generateSigner('example.com/log');
const { signer: w1 } = generateSigner('witness.example/w1');
const { signer: w2 } = generateSigner('witness.example/w2');

describe('cosignature/v1', () => {
  it('computes the key ID with algorithm byte 0x04 and round-trips the vkey', () => {
    const expected = createHash('sha256')
      .update(Buffer.concat([Buffer.from('witness.example/w1\n'), Buffer.of(0x04), w1.publicKey]))
      .digest()
      .subarray(0, 4);
    assert.deepEqual(cosignerKeyId('witness.example/w1', w1.publicKey), expected);
    const vkey = formatCosignerKey('witness.example/w1', w1.publicKey);
    assert.match(vkey, /^witness\.example\/w1\+[0-9a-f]{8}\+B/);
    assert.equal(Buffer.from(vkey.split('+')[2]!, 'base64')[0], 0x04);
    assert.deepEqual(parseCosignerKey(vkey).publicKey, w1.publicKey);
    const asLogKey = `${vkey.split('+').slice(0, 2).join('+')}+${Buffer.concat([Buffer.of(1), w1.publicKey]).toString('base64')}`;
    assert.throws(() => parseCosignerKey(asLogKey), /type 0x04/);
  });

  it('verifies its own line, ignores other witnesses, and fails on any changed byte', () => {
    const note = signCheckpoint(cp, [log]);
    const line = cosign(formatCheckpoint(cp), w1, 1_700_000_000);
    const key = parseCosignerKey(formatCosignerKey(w1.name, w1.publicKey));
    assert.equal(cosignatureTime(note + line, key), 1_700_000_000);
    assert.equal(cosignatureTime(note, key), undefined);
    assert.equal(cosignatureTime(note + cosign(formatCheckpoint(cp), w2, 5), key), undefined);
    const raw = Buffer.from(line.slice(line.indexOf(' ', 2) + 1, -1), 'base64');
    for (const i of [4, 11, 12, 75]) {
      const bad = Buffer.from(raw);
      bad[i]! ^= 1;
      const edited = `— ${w1.name} ${bad.toString('base64')}\n`;
      assert.throws(() => cosignatureTime(note + edited, key), /does not verify|out of range/, `byte ${i}`);
    }
    // The signed message covers the body: the same line on another checkpoint fails.
    const other = signCheckpoint({ ...cp, size: 8 }, [log]);
    assert.throws(() => cosignatureTime(other + line, key), /does not verify/);
  });
});

describe('add-checkpoint body', () => {
  it('parses the tlog-witness example and round-trips', () => {
    const body =
      'old 20852014\nPlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\njrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=\n' +
      '5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=\n/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=\n\n' +
      'example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n' +
      '— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n';
    const req = parseAddCheckpoint(body);
    assert.equal(req.oldSize, 20852014);
    assert.equal(req.proof.length, 4);
    assert.equal(req.checkpoint.origin, 'example.com/behind-the-sofa');
    assert.equal(req.checkpoint.size, 20852163);
    assert.equal(formatAddCheckpoint(req.oldSize, req.proof, req.note), body);
  });

  it('refuses what the spec forbids, naming it', () => {
    const note = signCheckpoint(cp, [log]);
    const h = root.toString('base64');
    assert.throws(() => parseAddCheckpoint(`old 01\n\n${note}`), /old <size>/);
    assert.throws(() => parseAddCheckpoint(`old 1\n${`${h}\n`.repeat(64)}\n${note}`), /more than 63/);
    assert.throws(() => parseAddCheckpoint(`old 1\nAAAA\n\n${note}`), /line 1 is not the base64/);
    assert.throws(() => parseAddCheckpoint(`old 1\n${h}`), /no empty line/);
    assert.throws(() => parseAddCheckpoint(`old 1\n\nexample.com/log\n7\n`), /no signature lines/);
    assert.equal(parseAddCheckpoint(`old 1\n${`${h}\n`.repeat(63)}\n${note}`).proof.length, 63);
  });
});
