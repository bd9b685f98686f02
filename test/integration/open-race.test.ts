/**
 * Races between processes on one database: N processes opening a database that does not exist
 * yet (migrations and log creation must happen once, and no raw SqliteError may escape), and N
 * processes signing the log's first checkpoint at the same instant (exactly one signing key may
 * come out of it, and the log must verify). Each trial starts its children, waits until all are
 * loaded, then releases them with one line on stdin each.
 *
 * OPEN_RACE_TRIALS sets the trial count (default 3), OPEN_RACE_PROCS the processes (default 4).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { openAuditTrail } from '../../src/index.js';
import { keysOf, storeOf } from '../../src/sdk/internals.js';
import { sampleEvent, tempDir } from './helpers.js';

const TRIALS = Number(process.env['OPEN_RACE_TRIALS'] ?? 3);
const PROCS = Number(process.env['OPEN_RACE_PROCS'] ?? 4);
const CHILD = fileURLToPath(new URL('./open-race-child.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

interface Outcome {
  code: number | null;
  line: string;
  stderr: string;
}

/** Starts `n` children in `mode`, releases them together once all are loaded, collects their lines. */
async function race(mode: 'open' | 'checkpoint', db: string, n: number): Promise<Outcome[]> {
  const children = Array.from({ length: n }, () =>
    spawn(process.execPath, ['--import', 'tsx', CHILD, mode, db], {
      cwd: ROOT,
      stdio: ['pipe', 'pipe', 'pipe'],
    }),
  );
  const done = children.map(
    (child) =>
      new Promise<Outcome>((resolve) => {
        let out = '';
        let err = '';
        child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
        child.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
        child.on('close', (code) => resolve({ code, line: out.trim(), stderr: err }));
      }),
  );
  // Loading node + tsx + the SDK takes far longer than this; then all go at once.
  await new Promise((r) => setTimeout(r, 2500));
  for (const c of children) c.stdin.write('go\n');
  return Promise.all(done);
}

describe('processes racing on one database', { timeout: 180_000 }, () => {
  it(`${PROCS} processes opening a database that does not exist yet all succeed (${TRIALS} trials)`, async () => {
    for (let t = 0; t < TRIALS; t++) {
      const dir = tempDir('auditrail-open-race-');
      dirs.push(dir);
      const db = join(dir, 'audit.db');
      const results = await race('open', db, PROCS);
      for (const r of results) {
        assert.equal(r.code, 0, `trial ${t}: ${r.line} ${r.stderr}`);
        assert.match(r.line, /^ok /);
      }
      const trail = await openAuditTrail({ tenant: 'race', db, readonly: true });
      try {
        assert.equal(trail.size, PROCS, `trial ${t}: every process's event is in the one log`);
        assert.equal((await trail.verify()).ok, true);
      } finally {
        await trail.close();
      }
    }
  });

  it(`${PROCS} processes signing the first checkpoint at once leave one key and a log that verifies (${TRIALS} trials)`, async () => {
    for (let t = 0; t < TRIALS; t++) {
      const dir = tempDir('auditrail-key-race-');
      dirs.push(dir);
      const db = join(dir, 'audit.db');
      const setup = await openAuditTrail({ tenant: 'race', db, checkpointIntervalMs: 0, writeThread: false });
      for (let i = 0; i < 5; i++) await setup.record(sampleEvent(i));
      // Closing would sign; the store is closed without a checkpoint by reading only.
      assert.equal(keysOf(setup).hasKey(), false);
      await storeOf(setup).close();

      const results = await race('checkpoint', db, PROCS);
      for (const r of results) assert.equal(r.code, 0, `trial ${t}: ${r.line} ${r.stderr}`);
      const keys = new Set(results.map((r) => r.line.replace(/^ok /, '')));
      assert.equal(keys.size, 1, `trial ${t}: one verifier key, got ${[...keys].join(', ')}`);
      // No temp key file is left behind by the losers.
      assert.deepEqual(
        readdirSync(join(dir, 'keys')).filter((f) => f.startsWith('log-signing')),
        ['log-signing.key'],
      );
      const trail = await openAuditTrail({ tenant: 'race', db, readonly: true });
      try {
        const report = await trail.verify();
        assert.deepEqual(report.failures, [], `trial ${t}`);
        assert.equal(report.ok, true);
        assert.equal(trail.verifierKey(), [...keys][0]);
      } finally {
        await trail.close();
      }
    }
  });
});
