/**
 * Several processes submit checkpoints of one log to one witness directory at the same instant,
 * each with `old 0`: the witness checks and updates its state under a lock, so exactly one is
 * cosigned, every other one gets 409 naming that size, and the state never moves back.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { formatAddCheckpoint } from '../../src/core/cosignature.js';
import { peekCheckpoint } from '../../src/core/checkpoint.js';
import { openAuditTrail, Witness } from '../../src/index.js';
import { sampleEvent, tempDir } from './helpers.js';

const PROCS = Number(process.env['WITNESS_RACE_PROCS'] ?? 4);
const CHILD = fileURLToPath(new URL('./witness-race-child.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

describe('witness races', () => {
  it(`cosigns exactly one of ${PROCS} concurrent first submissions from ${PROCS} processes`, async () => {
    const dir = tempDir('auditrail-witness-race-');
    const wdir = join(dir, 'w');
    Witness.init(wdir, 'witness.test/race');
    const trail = await openAuditTrail({
      db: join(dir, 'audit.db'),
      tenant: 'acme',
      checkpointIntervalMs: 0,
    });
    const files: string[] = [];
    try {
      for (let p = 0; p < PROCS; p++) {
        await trail.record(sampleEvent(p));
        const note = await trail.checkpoint();
        const file = join(dir, `req-${p}.txt`);
        writeFileSync(file, formatAddCheckpoint(0, [], note));
        files.push(file);
      }
      Witness.open(wdir).trust(trail.verifierKey());
    } finally {
      await trail.close();
    }
    const children = files.map((f) =>
      spawn(process.execPath, ['--import', 'tsx', CHILD, wdir, f], {
        cwd: ROOT,
        stdio: ['pipe', 'pipe', 'pipe'],
      }),
    );
    const outputs = children.map(
      (c) =>
        new Promise<{ lines: string[]; code: number | null; err: string }>((resolve) => {
          let out = '';
          let err = '';
          c.stdout.on('data', (d: Buffer) => (out += d.toString()));
          c.stderr.on('data', (d: Buffer) => (err += d.toString()));
          c.on('close', (code) => resolve({ lines: out.trim().split('\n'), code, err }));
        }),
    );
    // Release them together once every one is loaded.
    await Promise.all(
      children.map(
        (c) =>
          new Promise<void>((resolve) => {
            const on = (d: Buffer): void => {
              if (d.toString().includes('ready')) {
                c.stdout.off('data', on);
                resolve();
              }
            };
            c.stdout.on('data', on);
          }),
      ),
    );
    for (const c of children) c.stdin.end('go\n');
    const results = await Promise.all(outputs);
    for (const r of results) assert.equal(r.code, 0, r.err);
    const answers = results.map((r) => r.lines[r.lines.length - 1]!);
    const ok = answers.filter((a) => a.startsWith('200 '));
    assert.equal(ok.length, 1, answers.join(' | '));
    const latest = Witness.open(wdir).latest('auditrail.local/t/acme/default')!;
    const size = peekCheckpoint(latest).size;
    for (const a of answers) if (!a.startsWith('200 ')) assert.equal(a, `409 ${size}`);
  });
});
