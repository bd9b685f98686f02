// Key rotation on a real SQLite log (docs/keys.md): three keys in turn, each announced by a
// key.added event signed under the one before; verify follows the chain from the first key,
// proof bundles made under an old key still verify with it, and a checkpoint signed by a key
// that was never announced is refused. Also the passphrase-protected key file and the key from
// AUDITRAIL_SIGNING_KEY.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { signCheckpoint } from '../../src/core/checkpoint.js';
import { keyAnnouncement } from '../../src/core/key-chain.js';
import { CompactRange, hashLeaf } from '../../src/core/merkle.js';
import { formatVerifierKey, generateSigner } from '../../src/core/note.js';
import {
  AuditError,
  openAuditTrail,
  retireSigningKey,
  rotateSigningKey,
  signingKeys,
  verifyProofBundle,
  type AuditTrail,
} from '../../src/index.js';
import { openStore } from '../../src/store/open-store.js';
import { runCli, sampleEvent, tempDir } from './helpers.js';

function signatureLines(note: string): string[] {
  return note
    .slice(note.lastIndexOf('\n\n') + 2)
    .split('\n')
    .filter((l) => l.length > 0);
}

async function grow(trail: AuditTrail, n: number, from: number): Promise<void> {
  for (let i = 0; i < n; i++) await trail.record(sampleEvent(from + i));
}

async function cli(
  args: string[],
  db: string,
  env: Record<string, string> = {},
): Promise<{ code: number; out: string; err: string }> {
  const r = await runCli(args, {
    env: { AUDITRAIL_DB: db, AUDITRAIL_TENANT: 'acme', NO_COLOR: '1', ...env },
  });
  return { code: r.code, out: r.stdout, err: r.stderr };
}

describe('key rotation', () => {
  it('rotates across 3 keys: verify follows the chain from the first key, old bundles verify with old keys', async () => {
    const db = join(tempDir('auditrail-rotate-'), 'audit.db');
    let trail = await openAuditTrail({ db, tenant: 'acme' });
    await grow(trail, 5, 0);
    await trail.checkpoint();
    const k1 = trail.verifierKey();
    const bundle1 = await trail.prove(2);

    const [added2] = await rotateSigningKey([trail], { by: 'alice' });
    assert.ok(added2 && added2.seq === 5, 'key.added recorded at the next seq');
    const k2 = added2.vkey;
    assert.notEqual(k2, k1);
    assert.equal(signatureLines(added2.checkpoint).length, 2, 'both keys sign during the overlap');
    await grow(trail, 3, 10);
    const overlap = await trail.prove(7);
    assert.equal(signatureLines(overlap.checkpoint).length, 2);
    await assert.rejects(
      rotateSigningKey([trail]),
      (e: unknown) => e instanceof AuditError && e.code === 'conflict',
    );

    const [retired1] = await retireSigningKey([trail], { by: 'alice' });
    assert.equal(
      signatureLines(retired1!.checkpoint).length,
      2,
      'the checkpoint including key.retired is the last one both sign',
    );
    await grow(trail, 3, 20);
    await trail.checkpoint();
    const bundle2 = await trail.prove(11);
    assert.equal(signatureLines(bundle2.checkpoint).length, 1, 'after retirement only the new key signs');
    assert.equal(bundle2.verifier_key, k2);

    const [added3] = await rotateSigningKey([trail]);
    await grow(trail, 2, 30);
    await retireSigningKey([trail]);
    await grow(trail, 2, 40);
    await trail.checkpoint();
    const k3 = added3!.vkey;
    const bundle3 = await trail.prove(trail.size - 1);
    await trail.close();

    // A fresh process state: everything from the files.
    trail = await openAuditTrail({ db, tenant: 'acme', readonly: true });
    try {
      const report = await trail.verify({ trustedKeys: [k1] });
      assert.deepEqual(report.failures, []);
      assert.ok(report.ok);
      assert.ok(report.checkpoints_verified >= 6, `checkpoints verified: ${report.checkpoints_verified}`);
      assert.equal((await trail.verify()).ok, true, 'the local key directory pins the first key too');

      assert.equal(
        verifyProofBundle(bundle1, { trustedKey: k1 }).ok,
        true,
        'a proof made under key 1 verifies with key 1',
      );
      assert.equal(
        verifyProofBundle(overlap, { trustedKey: k1 }).ok,
        true,
        'an overlap proof verifies with the old key',
      );
      assert.equal(overlap.verifier_key, k1, 'during the overlap proofs name the older key');
      assert.equal(verifyProofBundle(bundle2, { trustedKey: k2 }).ok, true);
      assert.equal(
        verifyProofBundle(bundle2, { trustedKey: k1 }).ok,
        false,
        'a retired key vouches for nothing after it',
      );
      assert.equal(verifyProofBundle(bundle3, { trustedKey: k3 }).ok, true);

      const keys = await signingKeys(trail);
      assert.deepEqual(
        keys.map((k) => [k.generation, k.status, k.vkey]),
        [
          [1, 'retired', k1],
          [2, 'retired', k2],
          [3, 'active', k3],
        ],
      );
      assert.equal(keys[1]!.added_seq, 5);
      // Pinning only the newest key breaks the chain: the old checkpoints are not vouched for.
      const pinnedLate = await trail.verify({ trustedKeys: [k3] });
      assert.equal(pinnedLate.ok, false);
      assert.ok(pinnedLate.failures.some((f) => f.kind === 'checkpoint_forged'));
    } finally {
      await trail.close();
    }
  });

  it('refuses a checkpoint signed by a key that was never announced, and a self-signed announcement', async () => {
    const db = join(tempDir('auditrail-rotate-forged-'), 'audit.db');
    const trail = await openAuditTrail({ db, tenant: 'acme' });
    await grow(trail, 4, 0);
    await trail.checkpoint();
    const k1 = trail.verifierKey();
    const origin = trail.origin;
    // An attacker's key, "announced" under itself only.
    const { signer: rogue } = generateSigner(origin);
    const rogueVkey = formatVerifierKey(origin, rogue.publicKey);
    const { seq } = await trail.record({
      type: 'key.added',
      actor: { type: 'system', id: 'mallory' },
      action: {
        type: 'auditrail.key.add',
        target: rogueVkey,
        params: { vkey: rogueVkey, announcement: keyAnnouncement('added', origin, rogueVkey, [rogue]) },
      },
    });
    await grow(trail, 2, 10);
    // The tree at one entry less than the head: close() signs the head itself.
    const range = new CompactRange();
    for await (const chunk of trail.readEntries(0, trail.size - 1))
      for (const e of chunk) range.append(hashLeaf(e.leaf));
    const head = { size: range.size, root: range.root() };
    await trail.close();
    const store = await openStore(db);
    try {
      const log = (await store.getLog(origin))!;
      await store.addCheckpoint(log.logId, {
        size: head.size,
        root: head.root,
        note: signCheckpoint({ origin, size: head.size, root: head.root }, [rogue]),
        createdAt: new Date().toISOString(),
      });
    } finally {
      await store.close();
    }
    const ro = await openAuditTrail({ db, tenant: 'acme', readonly: true });
    try {
      const report = await ro.verify({ trustedKeys: [k1] });
      assert.equal(report.ok, false);
      assert.ok(
        report.failures.some((f) => f.kind === 'key_unannounced' && f.seq === seq),
        JSON.stringify(report.failures),
      );
      assert.ok(report.failures.some((f) => f.kind === 'checkpoint_forged' && f.seq === head.size));
    } finally {
      await ro.close();
    }
  });

  it('rotates through the CLI: keys rotate, keys show --all, keys retire, verify --key FIRST', async () => {
    const db = join(tempDir('auditrail-rotate-cli-'), 'audit.db');
    const trail = await openAuditTrail({ db, tenant: 'acme' });
    await grow(trail, 3, 0);
    await trail.checkpoint();
    await trail.close();
    const first = (await cli(['keys', 'show'], db)).out.trim();
    const rotated = await cli(['keys', 'rotate', '--by', 'alice'], db);
    assert.equal(rotated.code, 0, rotated.err);
    assert.match(rotated.out, /announced key 2 at seq 3/);
    assert.match(rotated.out, /both keys sign until: .*keys retire/);
    const listed = await cli(['keys', 'show', '--all'], db);
    assert.match(listed.out, /^1 {2}active {3}\S+ {2}\(first key\)$/m);
    assert.match(listed.out, /^2 {2}active {3}\S+ {2}\(added at seq 3\)$/m);
    const retired = await cli(['keys', 'retire'], db);
    assert.equal(retired.code, 0, retired.err);
    assert.match(retired.out, /retired key 1 at seq 4/);
    assert.equal((await cli(['keys', 'show'], db)).out.trim(), first, 'show prints the pinned first key');
    const verified = await cli(['verify', '--key', first], db);
    assert.equal(verified.code, 0, verified.out + verified.err);
    const again = await cli(['keys', 'retire'], db);
    assert.equal(again.code, 1);
    assert.match(again.err, /only one key signs/);
  });
});

describe('protected signing keys', () => {
  it('writes a rotated key encrypted under AUDITRAIL_KEY_PASSPHRASE and never echoes key material', async () => {
    const dir = tempDir('auditrail-passphrase-');
    const db = join(dir, 'audit.db');
    const trail = await openAuditTrail({ db, tenant: 'acme' });
    await grow(trail, 2, 0);
    await trail.checkpoint();
    await rotateSigningKey([trail], { passphrase: 'correct horse battery' });
    await trail.close();
    const file = join(dir, 'keys', 'log-signing.2.key');
    const pem = readFileSync(file, 'utf8');
    assert.match(pem, /^-----BEGIN ENCRYPTED PRIVATE KEY-----/);

    const saved = process.env['AUDITRAIL_KEY_PASSPHRASE'];
    try {
      delete process.env['AUDITRAIL_KEY_PASSPHRASE'];
      const noPass = await openAuditTrail({ db, tenant: 'acme' });
      await noPass.record(sampleEvent(5));
      // Reading needs no passphrase: the encrypted key's public half is kept beside it.
      const readOnly = await openAuditTrail({ db, tenant: 'acme', readonly: true });
      assert.equal((await readOnly.verify()).ok, true);
      assert.equal((await signingKeys(readOnly)).length, 2);
      await readOnly.close();
      await assert.rejects(noPass.checkpoint(), (e: unknown) => {
        assert.ok(e instanceof AuditError && e.code === 'key_failure');
        assert.match(e.message, /passphrase-protected: set AUDITRAIL_KEY_PASSPHRASE/);
        return true;
      });
      // close() signs a final checkpoint, which fails the same way.
      await assert.rejects(noPass.close(), /passphrase-protected/);

      process.env['AUDITRAIL_KEY_PASSPHRASE'] = 'wrong passphrase!';
      const wrong = await openAuditTrail({ db, tenant: 'acme' });
      await assert.rejects(wrong.checkpoint(), (e: unknown) => {
        assert.ok(e instanceof AuditError && e.code === 'key_failure');
        assert.match(e.message, /wrong passphrase or damaged file/);
        assert.ok(!e.message.includes('wrong passphrase!'), 'the passphrase is not echoed');
        assert.ok(!e.message.includes(pem.split('\n')[1]!.slice(0, 20)), 'the key is not echoed');
        assert.equal(e.cause, undefined);
        return true;
      });
      await assert.rejects(wrong.close(), /wrong passphrase/);

      process.env['AUDITRAIL_KEY_PASSPHRASE'] = 'correct horse battery';
      const right = await openAuditTrail({ db, tenant: 'acme' });
      const note = await right.checkpoint();
      assert.equal(signatureLines(note).length, 2);
      assert.equal((await right.verify()).ok, true);
      await right.close();
    } finally {
      if (saved === undefined) delete process.env['AUDITRAIL_KEY_PASSPHRASE'];
      else process.env['AUDITRAIL_KEY_PASSPHRASE'] = saved;
    }
  });

  it('signs with AUDITRAIL_SIGNING_KEY and writes no key file; a bad value is refused without echoing it', async () => {
    const dir = tempDir('auditrail-envkey-');
    const db = join(dir, 'audit.db');
    const { signer, privateKeyPkcs8Der } = generateSigner('auditrail.local/keygen');
    const saved = process.env['AUDITRAIL_SIGNING_KEY'];
    try {
      process.env['AUDITRAIL_SIGNING_KEY'] =
        `-----BEGIN PRIVATE KEY-----\n${privateKeyPkcs8Der.toString('base64')}\n-----END PRIVATE KEY-----\n`;
      const trail = await openAuditTrail({ db, tenant: 'acme' });
      await grow(trail, 3, 0);
      await trail.checkpoint();
      assert.equal(trail.verifierKey(), formatVerifierKey(trail.origin, signer.publicKey));
      assert.equal((await trail.verify()).ok, true);
      await assert.rejects(rotateSigningKey([trail]), /rotate it where it is kept/);
      await trail.close();
      const keyDir = join(dir, 'keys');
      const files = existsSync(keyDir) ? readdirSync(keyDir) : [];
      assert.ok(!files.some((f) => f.startsWith('log-signing')), `no key file written: ${files.join(', ')}`);

      process.env['AUDITRAIL_SIGNING_KEY'] = 'not a key: s3cr3t-material';
      const bad = await openAuditTrail({ db, tenant: 'acme' });
      await bad.record(sampleEvent(9));
      await assert.rejects(bad.checkpoint(), (e: unknown) => {
        assert.ok(e instanceof AuditError && e.code === 'key_failure');
        assert.ok(!e.message.includes('s3cr3t'), e.message);
        return true;
      });
      await assert.rejects(
        bad.close(),
        (e: unknown) => e instanceof AuditError && !e.message.includes('s3cr3t'),
      );
    } finally {
      if (saved === undefined) delete process.env['AUDITRAIL_SIGNING_KEY'];
      else process.env['AUDITRAIL_SIGNING_KEY'] = saved;
    }
  });
});
