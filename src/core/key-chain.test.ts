import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { checkpointOpener } from './checkpoint-opener.js';
import { signCheckpoint } from './checkpoint.js';
import { KeyChain, keyAnnouncement } from './key-chain.js';
import { formatVerifierKey, generateSigner, parseVerifierKey } from './note.js';

const origin = 'example.com/t/acme/default';
const k1 = generateSigner(origin).signer;
const k2 = generateSigner(origin).signer;
const k3 = generateSigner(origin).signer;
const vk = (s: typeof k1): string => formatVerifierKey(origin, s.publicKey);
const root = createHash('sha256').update('r').digest();

function chain(): KeyChain {
  return new KeyChain(origin, [parseVerifierKey(vk(k1))]);
}

describe('key chain', () => {
  it('adds a key announced under the current one from the next checkpoint on, and retires the old one', () => {
    const c = chain();
    assert.equal(c.apply(5, 'key.added', keyAnnouncement('added', origin, vk(k2), [k1, k2])), undefined);
    assert.equal(c.validAt(5).length, 1, 'a checkpoint not including the announcement: old key only');
    assert.equal(c.validAt(6).length, 2);
    assert.equal(c.apply(9, 'key.retired', keyAnnouncement('retired', origin, vk(k1), [k2])), undefined);
    assert.equal(c.validAt(10).length, 2, 'the checkpoint including the retirement is its last');
    assert.deepEqual(
      c.validAt(11).map((k) => k.label),
      [vk(k2)],
    );
    // A third key, announced under the second.
    assert.equal(c.apply(12, 'key.added', keyAnnouncement('added', origin, vk(k3), [k2, k3])), undefined);
    assert.equal(c.validAt(13).length, 2);
  });

  it('refuses announcements not vouched for by the chain', () => {
    const c = chain();
    assert.match(
      c.apply(3, 'key.added', keyAnnouncement('added', origin, vk(k2), [k2]))!,
      /not signed by a key of the chain/,
    );
    assert.match(
      c.apply(3, 'key.added', keyAnnouncement('added', origin, vk(k2), [k1]))!,
      /not signed by the key it adds/,
    );
    const other = generateSigner('example.com/t/other/default').signer;
    const otherKey = formatVerifierKey('example.com/t/other/default', other.publicKey);
    assert.match(
      c.apply(
        3,
        'key.added',
        keyAnnouncement('added', 'example.com/t/other/default', otherKey, [k1, other]),
      )!,
      /is for example\.com\/t\/other\/default/,
    );
    assert.match(
      c.apply(3, 'key.retired', keyAnnouncement('retired', origin, vk(k1), [k1]))!,
      /another key of the chain/,
    );
    assert.match(c.apply(3, 'key.added', 'not a note')!, /not signed/);
    assert.match(c.apply(3, 'key.added', undefined)!, /carries no announcement note/);
    assert.equal(c.keys.length, 1, 'nothing was added');
  });

  it('opens a checkpoint only when a key valid at its size signed it', () => {
    const c = chain();
    c.apply(5, 'key.added', keyAnnouncement('added', origin, vk(k2), [k1, k2]));
    const open = c.opener(checkpointOpener(c.verifiers, origin));
    assert.equal(open(signCheckpoint({ origin, size: 6, root }, [k2])).size, 6);
    assert.throws(() => open(signCheckpoint({ origin, size: 5, root }, [k2])), /not announced before seq 5/);
    assert.equal(open(signCheckpoint({ origin, size: 5, root }, [k1, k2])).size, 5);
    assert.throws(
      () => open(signCheckpoint({ origin, size: 6, root }, [k3])),
      /not signed by any trusted key/,
    );
  });
});
