// `auditrail detect` and `auditrail anomalies list|ack|resolve` end to end: the real entry point in
// a child process against an SQLite database in a temporary directory.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { openAuditTrail, type AuditEvent } from '../../src/index.js';
import type { AnomalyRecord } from '../../src/detect/index.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MAIN = join(ROOT, 'src', 'cli', 'main.ts');
const dir = mkdtempSync(join(tmpdir(), 'auditrail-cli-detect-'));
const db = join(dir, 'audit.db');
after(() => rmSync(dir, { recursive: true, force: true }));

function cli(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const env: Record<string, string | undefined> = { ...process.env, NO_COLOR: '1', AUDITRAIL_DB: db };
  for (const k of ['AUDITRAIL_TENANT', 'AUDITRAIL_LOG', 'AUDITRAIL_CONFIG']) delete env[k];
  const r = spawnSync(process.execPath, ['--import', 'tsx', MAIN, ...args], {
    cwd: ROOT,
    env,
    encoding: 'utf8',
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const T0 = Date.UTC(2026, 0, 5, 9);
const ev = (ms: number, e: Omit<AuditEvent, 'time' | 'actor'>): AuditEvent => ({
  ...e,
  time: new Date(T0 + ms).toISOString(),
  actor: { type: 'agent', id: 'planner', trust_tier: 'standard' },
});

describe('auditrail detect and anomalies', () => {
  before(async () => {
    const trail = await openAuditTrail({ tenant: 'demo', db });
    await trail.recordBatch([
      ev(0, {
        type: 'delegation.started',
        run_id: 'run-7',
        action: { type: 'agent.delegate', target: 'w1' },
        delegation: { depth: 6 },
      }),
      ev(1000, {
        type: 'action.intent',
        run_id: 'run-9',
        action: { type: 'read:customer', target: 'customer/1' },
        context: { data_classification: 'phi' },
      }),
      ev(2000, {
        type: 'action.intent',
        run_id: 'run-9',
        action: { type: 'upload:s3', target: 's3://bucket/x' },
      }),
    ]);
    await trail.close();
  });

  it('detects with the config, lists, acknowledges and resolves, each step recorded', () => {
    writeFileSync(join(dir, 'auditrail.yaml'), 'detect:\n  detectors:\n    delegation: { max_depth: 5 }\n');
    const run = cli('detect', '--config', join(dir, 'auditrail.yaml'));
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /3 events read, 2 anomalies recorded; next seq 5/);
    assert.match(run.stderr, /anomaly seq \d+ \[critical\] exfiltration: planner: upload:s3/);
    assert.match(run.stdout, /review: (npx )?auditrail anomalies list --state open/);
    assert.equal(
      cli('detect', '--config', join(dir, 'auditrail.yaml')).stdout.includes('0 anomalies recorded'),
      true,
      'nothing raised twice',
    );

    const list = cli('anomalies', 'list', '--json');
    assert.equal(list.code, 0, list.stderr);
    const rows = JSON.parse(list.stdout) as AnomalyRecord[];
    assert.deepEqual(rows.map((r) => r.detector).sort(), ['delegation', 'exfiltration']);
    const exfil = rows.find((r) => r.detector === 'exfiltration')!;
    assert.equal(exfil.state, 'open');
    assert.deepEqual(exfil.seqs, [1, 2]);
    assert.equal(exfil.run_id, 'run-9');

    const table = cli('anomalies', 'list');
    assert.match(table.stdout, /acknowledge: (npx )?auditrail anomalies ack /);
    // The printed hint works as pasted (quotes included).
    const hint = /acknowledge: (?:npx )?auditrail (.*)\n/.exec(table.stdout)![1]!;
    const pasted = spawnSync('sh', ['-c', `node --import tsx ${MAIN} ${hint}`], {
      cwd: ROOT,
      env: { ...process.env, AUDITRAIL_DB: db, NO_COLOR: '1' },
      encoding: 'utf8',
    });
    assert.equal(pasted.status, 0, pasted.stderr);
    // The hint named the newest open anomaly (exfiltration); the other is acknowledged by name.
    const other = rows.find((r) => r.detector === 'delegation')!;
    const byHint = JSON.parse(
      cli('anomalies', 'list', '--state', 'acknowledged', '--json').stdout,
    ) as AnomalyRecord[];
    assert.deepEqual(
      byHint.map((r) => [r.id, r.history[0]!.reason]),
      [[exfil.id, 'on it']],
    );

    const ack = cli('anomalies', 'ack', other.id, '--reason', 'looking at run-7', '--as', 'alice');
    assert.equal(ack.code, 0, ack.stderr);
    assert.match(ack.stdout, /acknowledged by alice/);
    const again = cli('anomalies', 'ack', other.id, '--reason', 'again', '--as', 'bob');
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already acknowledged/);
    const resolve = cli(
      'anomalies',
      'resolve',
      other.id,
      '--reason',
      'test upload, expected',
      '--as',
      'alice',
    );
    assert.equal(resolve.code, 0, resolve.stderr);
    const resolved = JSON.parse(
      cli('anomalies', 'list', '--state', 'resolved', '--json').stdout,
    ) as AnomalyRecord[];
    assert.equal(resolved.length, 1);
    assert.deepEqual(
      resolved[0]!.history.map((h) => [h.state, h.by, h.reason]),
      [
        ['acknowledged', 'alice', 'looking at run-7'],
        ['resolved', 'alice', 'test upload, expected'],
      ],
    );
  });

  it('refuses what it cannot do, naming why', () => {
    const unknown = cli('anomalies', 'ack', 'rate:nobody:2026-01-01T00:00:00.000Z', '--reason', 'x');
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /no anomaly 'rate:nobody:2026-01-01T00:00:00.000Z' in this log/);
    const noReason = cli('anomalies', 'resolve', 'x');
    assert.equal(noReason.code, 2);
    assert.match(noReason.stderr, /needs --reason TEXT/);
    const badState = cli('anomalies', 'list', '--state', 'closed');
    assert.equal(badState.code, 2);
    assert.match(badState.stderr, /--state/);
    writeFileSync(join(dir, 'bad.yaml'), 'detect:\n  detectors:\n    rate: { treshold: 3 }\n');
    const bad = cli('detect', '--config', join(dir, 'bad.yaml'));
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /detect\.detectors\.rate\.treshold: is not a known field/);
  });
});
