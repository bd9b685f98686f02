/**
 * Several processes open, at the same instant, a log that has no index key yet: each tries to
 * create one, exactly one key must come out of it (every process then tags people with it), and
 * the log must verify with every person findable by their id.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { openAuditTrail } from '../../src/index.js';
import { EMPTY_ROOT } from '../../src/core/merkle.js';
import { openStore } from '../../src/store/open-store.js';
import { tempDir } from './helpers.js';

const PROCS = 4;
const CHILD = fileURLToPath(new URL('./index-key-race-child.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

describe('processes creating a log index key at once', { timeout: 120_000 }, () => {
  it(`${PROCS} processes agree on one key; the log verifies and finds each person`, async () => {
    const db = join(tempDir(), 'audit.db');
    // The log exists without a key (as one written before index keys, or created by the store alone).
    const store = await openStore(db);
    await store.openLog('auditrail.local/t/race/default', 'race', EMPTY_ROOT);
    await store.close();
    const children = Array.from({ length: PROCS }, () =>
      spawn(process.execPath, ['--import', 'tsx', CHILD, db], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] }),
    );
    const done = children.map(
      (c) =>
        new Promise<string>((resolve) => {
          let out = '';
          c.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
          c.on('close', () => resolve(out.trim()));
        }),
    );
    await new Promise((r) => setTimeout(r, 2500));
    for (const c of children) c.stdin.write('go\n');
    assert.deepEqual(await Promise.all(done), Array(PROCS).fill('ok'));
    const trail = await openAuditTrail({ tenant: 'race', db, readonly: true });
    const report = await trail.verify();
    assert.deepEqual(report.failures, []);
    assert.equal(await trail.count({ subject: 'cust-1' }), PROCS);
    assert.equal(await trail.count({ actor_id: 'alice' }), PROCS);
    assert.equal(await trail.count({ target: 'customer/cust-1' }), PROCS);
    await trail.close();
  });
});
