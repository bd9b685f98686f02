// `auditrail verify --since-checkpoint` / `--from-checkpoint FILE`, through the real entry point.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { openAuditTrail } from '../../src/index.js';
import { sampleEvent } from '../integration/helpers.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MAIN = join(ROOT, 'src', 'cli', 'main.ts');
const dir = mkdtempSync(join(tmpdir(), 'auditrail-cli-inc-'));
const db = join(dir, 'audit.db');
const saved = join(dir, 'old.checkpoint');

function cli(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const env: Record<string, string | undefined> = { ...process.env, NO_COLOR: '1', AUDITRAIL_DB: db };
  for (const k of ['AUDITRAIL_TENANT', 'AUDITRAIL_LOG', 'FORCE_COLOR']) delete env[k];
  const r = spawnSync(process.execPath, ['--import', 'tsx', MAIN, ...args, '--tenant', 'acme'], {
    cwd: ROOT,
    env,
    encoding: 'utf8',
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

before(async () => {
  const trail = await openAuditTrail({ tenant: 'acme', db, checkpointIntervalMs: 0 });
  for (let i = 0; i < 300; i++) await trail.record(sampleEvent(i));
  writeFileSync(saved, await trail.checkpoint());
  for (let i = 300; i < 400; i++) await trail.record(sampleEvent(i));
  await trail.close(); // signs the checkpoint of size 400 (the witness file's)
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('auditrail verify, incremental', () => {
  it('--from-checkpoint FILE checks the entries after it and says from where', () => {
    const r = cli(['verify', '--from-checkpoint', saved, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as { ok: boolean; verified_from: number; size: number };
    assert.deepEqual([report.ok, report.verified_from, report.size], [true, 300, 400]);
    const human = cli(['verify', '--from-checkpoint', saved]);
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, /^checked: +seq 300 onward/m);
  });

  it('--since-checkpoint starts at the witness file checkpoint; a full verify has no verified_from', () => {
    const r = cli(['verify', '--since-checkpoint', '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { verified_from: number }).verified_from, 400);
    const full = cli(['verify', '--json']);
    assert.equal(full.code, 0, full.stderr);
    assert.equal('verified_from' in (JSON.parse(full.stdout) as object), false);
  });

  it('refuses combined flags (usage) and an unreadable or foreign checkpoint file', () => {
    assert.equal(cli(['verify', '--since-checkpoint', '--from-checkpoint', saved]).code, 2);
    assert.equal(cli(['verify', '--rebuild-index', '--since-checkpoint']).code, 2);
    const missing = cli(['verify', '--from-checkpoint', join(dir, 'nope.checkpoint')]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /cannot read .*nope\.checkpoint/);
    writeFileSync(join(dir, 'bad.checkpoint'), 'not a note\n');
    const bad = cli(['verify', '--from-checkpoint', join(dir, 'bad.checkpoint')]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /trusted checkpoint does not verify/);
  });
});
