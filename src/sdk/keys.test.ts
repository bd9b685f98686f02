import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mkdtempSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { AuditError } from '../errors.js';
import { KeyRing } from './keys.js';

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'auditrail-keys-'));
  dirs.push(d);
  return d;
}
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const ORIGIN = 'auditrail.local/t/acme/default';

describe('KeyRing', () => {
  it('verifierKey never creates the key; signer does, once, and every ring then reads that one', () => {
    const dir = join(tempDir(), 'keys');
    const ring = new KeyRing(dir);
    assert.throws(
      () => ring.verifierKey(ORIGIN),
      (e: unknown) =>
        e instanceof AuditError && e.code === 'key_failure' && /no signing key at/.test(e.message),
    );
    assert.equal(existsSync(dir), false);
    ring.signer(ORIGIN);
    const other = new KeyRing(dir);
    other.signer(ORIGIN);
    assert.equal(other.verifierKey(ORIGIN), ring.verifierKey(ORIGIN));
    assert.deepEqual(readdirSync(dir), ['log-signing.key'], 'no temp file left');
  });

  it('a read-only ring creates neither key, directory nor witness file', () => {
    const dir = join(tempDir(), 'keys');
    const ring = new KeyRing(dir, 'audit.db', { readonly: true });
    assert.throws(() => ring.signer(ORIGIN), /no signing key at/);
    assert.throws(
      () => ring.saveWitness(ORIGIN, 'note'),
      (e: unknown) => e instanceof AuditError && e.code === 'read_only',
    );
    assert.equal(ring.loadWitness(ORIGIN), undefined);
    assert.equal(existsSync(dir), false);
  });

  it('a failed witness write is an AuditError and leaves no temp file behind', () => {
    const dir = tempDir();
    const ring = new KeyRing(dir, 'audit.db');
    ring.saveWitness(ORIGIN, 'first\n1\nroot\n');
    const witnessDir = join(dir, 'witness', 'audit.db');
    const target = join(witnessDir, `${encodeURIComponent(ORIGIN)}.cp`);
    // A directory where the file goes: the rename fails after the temp file was written.
    rmSync(target);
    mkdirSync(target);
    assert.throws(
      () => ring.saveWitness(ORIGIN, 'second\n2\nroot\n'),
      (e: unknown) => e instanceof AuditError && e.code === 'store_failure' && /witness file/.test(e.message),
    );
    assert.deepEqual(readdirSync(witnessDir), [`${encodeURIComponent(ORIGIN)}.cp`]);
  });
});
