import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { openAuditTrail } from '../../src/index.js';
import { tempDir } from './helpers.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const WRITER = join(ROOT, 'test', 'integration', 'crash-child.ts');
const DERIVED = /^(index_|tile_|checkpoint_edited|checkpoint_missing)/;

describe('verify while another process appends', () => {
  const dir = tempDir('auditrail-verify-concurrent-');
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('reports no derived-row failure for rows appended during verification', async () => {
    const db = join(dir, 'audit.db');
    // The crash test's writer: 8 loops recording into tenant "crash" until killed.
    const child = spawn(process.execPath, ['--import', 'tsx', WRITER, db, '50'], {
      cwd: ROOT,
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    let receipts = 0;
    child.stdout.on('data', (b: Buffer) => {
      receipts += b.toString('utf8').split('\n').length - 1;
    });
    child.stdin.write('go\n');
    const seen: string[] = [];
    try {
      // Enough entries for a full tile before the first verification.
      while (receipts < 600) await new Promise((r) => setTimeout(r, 50));
      for (let i = 0; i < 3; i++) {
        const trail = await openAuditTrail({
          tenant: 'crash',
          db,
          checkpointIntervalMs: 0,
          writeThread: false,
        });
        try {
          const r = await trail.verify();
          seen.push(...r.failures.filter((f) => DERIVED.test(f.kind)).map((f) => `${f.kind} ${f.detail}`));
        } finally {
          await trail.close();
        }
      }
    } finally {
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
    }
    assert.ok(receipts > 600);
    assert.deepEqual(seen, []);
    // Once the writer is gone the whole log verifies.
    const trail = await openAuditTrail({ tenant: 'crash', db, checkpointIntervalMs: 0, writeThread: false });
    try {
      const r = await trail.verify();
      assert.equal(r.ok, true, JSON.stringify(r.failures.slice(0, 5)));
    } finally {
      await trail.close();
    }
  });
});
