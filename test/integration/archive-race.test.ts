/**
 * Processes archiving one log at the same instant (issue 16 item 4): each either archives a range
 * or fails cleanly (`conflict`: another one recorded an overlapping range first; `not_found`:
 * nothing left to archive); recorded ranges never overlap, the log verifies, and every archive
 * recorded in the log verifies with it.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { openAuditTrail, verifyArchive } from '../../src/index.js';
import { sampleEvent, tempDir } from './helpers.js';

const PROCS = 3;
const CHILD = fileURLToPath(new URL('./archive-race-child.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function child(db: string, dir: string) {
  const c = spawn(process.execPath, ['--import', 'tsx', CHILD, db, dir], {
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const done = new Promise<{ code: number | null; line: string; stderr: string }>((resolve) => {
    let out = '';
    let err = '';
    c.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
    c.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
    c.on('close', (code) => resolve({ code, line: out.trim(), stderr: err }));
  });
  return { c, done };
}

describe('processes archiving one log at once', { timeout: 240_000 }, () => {
  it(`${PROCS} archivers: clean outcomes, no overlapping ranges, and the log and its archives verify`, async () => {
    const dir = tempDir('auditrail-archive-race-');
    const db = join(dir, 'audit.db');
    const setup = await openAuditTrail({ tenant: 'race', db, checkpointIntervalMs: 0 });
    for (let i = 0; i < 300; i++) {
      await setup.record(sampleEvent(i));
      if (i % 100 === 99) await setup.checkpoint();
    }
    await setup.close();
    const children = Array.from({ length: PROCS }, (_, i) => child(db, join(dir, `out-${i}`)));
    // Loading node + tsx + the SDK takes far longer than this; then all go at once.
    await new Promise((r) => setTimeout(r, 4000));
    for (const { c } of children) c.stdin.write('go\n');
    const results = await Promise.all(children.map((x) => x.done));
    for (const r of results) {
      assert.match(r.line, /^(ok \d+ \d+|error (conflict|not_found) )/, `${r.line} ${r.stderr}`);
    }
    assert.ok(
      results.some((r) => r.line.startsWith('ok ')),
      'at least one archived',
    );
    const trail = await openAuditTrail({ tenant: 'race', db, readonly: true });
    try {
      const report = await trail.verify();
      assert.deepEqual(report.failures, []);
      const ranges = report.archived ?? [];
      assert.ok(ranges.length >= 1);
      for (let i = 1; i < ranges.length; i++) assert.ok(ranges[i - 1]!.to <= ranges[i]!.from, 'no overlap');
      assert.equal(ranges[0]!.from, 0);
      for (let i = 0; i < PROCS; i++) {
        if (!results[i]!.line.startsWith('ok ')) continue;
        const checked = await verifyArchive(trail, join(dir, `out-${i}`));
        assert.deepEqual(checked.failures, [], `archive ${i}`);
      }
    } finally {
      await trail.close();
    }
  });
});
