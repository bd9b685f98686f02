// `auditrail export --sink NAME` with the stdout sink, in a child process whose stdout is captured:
// one pino JSON line per event, level from risk, the record nested under `event`, a CEL filter
// applied; then `export status` in process shows the cursor at the log's end.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { openAuditTrail, type AuditEvent } from '../../src/index.js';
import { runCli, tempDir } from '../integration/helpers.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MAIN = join(ROOT, 'src', 'cli', 'main.ts');

function child(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env: Record<string, string | undefined> = { ...process.env, NO_COLOR: '1' };
  for (const k of ['AUDITRAIL_TENANT', 'AUDITRAIL_LOG', 'AUDITRAIL_DB', 'AUDITRAIL_CONFIG', 'FORCE_COLOR'])
    delete env[k];
  // From the project's root, where tsx resolves; every path is given absolute.
  const p = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  p.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  p.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  return new Promise((resolve) => p.on('close', (code) => resolve({ code, stdout, stderr })));
}

const inProcess = (args: string[], cwd: string) => runCli(args, { cwd, env: { PATH: '' }, columns: 100 });

const RISKS = ['low', 'medium', 'high', 'critical'] as const;
const LEVEL = { low: 'debug', medium: 'info', high: 'warn', critical: 'error' } as const;

describe('export --sink with the stdout sink (pino)', () => {
  it('prints one pino line per event that passes the CEL filter, level from risk', async () => {
    const dir = tempDir();
    const db = join(dir, 'audit.db');
    const trail = await openAuditTrail({ tenant: 'demo', db });
    const events: AuditEvent[] = Array.from({ length: 80 }, (_, i) => ({
      type: i % 2 === 0 ? 'policy.decision' : 'action.succeeded',
      actor: { type: 'agent', id: 'bot' },
      action: { type: 'refund', target: `order/${i}`, params: { amount: i * 10 } },
      risk_level: RISKS[i % 4]!,
      ...(i % 2 === 0
        ? { policy: { decision: i % 4 === 0 ? ('deny' as const) : ('allow' as const), matched_rule: 'r' } }
        : { outcome: { status: 'success' as const } }),
    }));
    await trail.recordBatch(events);
    await trail.close();
    writeFileSync(
      join(dir, 'auditrail.yaml'),
      [
        'exports:',
        '  - name: out',
        '    sink: { type: stdout }',
        // Decisions only, and of those the refunds over 100 (params as recorded).
        `    filter: { cel: "event.type == 'policy.decision' && event.action.params.amount > 100" }`,
        '    batch: { max_events: 7 }',
        '',
      ].join('\n'),
    );
    const r = await child(['export', '--sink', 'out', '--db', db, '--config', join(dir, 'auditrail.yaml')]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout
      .split('\n')
      .filter((l) => l !== '')
      .map(
        (l) => JSON.parse(l) as { level: string; time: string; msg: string; event: Record<string, unknown> },
      );
    const expected = events
      .map((e, seq) => ({ e, seq }))
      .filter(({ e, seq }) => e.type === 'policy.decision' && seq * 10 > 100);
    assert.equal(lines.length, expected.length);
    lines.forEach((l, i) => {
      const { e, seq } = expected[i]!;
      assert.equal(l.level, LEVEL[e.risk_level!]);
      assert.equal(l.event['seq'], seq);
      assert.match(String(l.event['leaf_hash']), /^[0-9a-f]{64}$/);
      assert.equal(l.event['type'], 'policy.decision');
      assert.match(l.msg, new RegExp(`^policy\\.decision refund on order/${seq} decision (deny|allow)`));
      assert.ok(!Number.isNaN(Date.parse(l.time)));
    });
    assert.match(
      r.stderr,
      new RegExp(`out: delivered ${expected.length} events in \\d+ batches; next seq 80`),
    );
    const status = await inProcess(['export', 'status', '--db', db, '--json'], dir);
    assert.equal(status.code, 0, status.stderr);
    const sinks = (JSON.parse(status.stdout) as { sinks: { name: string; cursor: number; lag: number }[] })
      .sinks;
    assert.deepEqual(
      sinks.map((s) => [s.name, s.cursor, s.lag]),
      [['out', 80, 0]],
    );
  });

  it('refuses a CEL filter that does not compile, naming the field, before reading the log', async () => {
    const dir = tempDir();
    writeFileSync(
      join(dir, 'auditrail.yaml'),
      'exports:\n  - name: out\n    sink: { type: stdout }\n    filter: { cel: "event.type ==" }\n',
    );
    const r = await inProcess(['export', '--sink', 'out', '--db', join(dir, 'none.db')], dir);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /exports\[0\]\.filter\.cel is not a valid CEL expression/);
    const unknown = tempDir();
    writeFileSync(
      join(unknown, 'auditrail.yaml'),
      'exports:\n  - name: out\n    sink: { type: stdout }\n    filter: { cel: "params.amount > 1" }\n',
    );
    const u = await inProcess(['export', '--sink', 'out', '--db', join(unknown, 'none.db')], unknown);
    assert.match(u.stderr, /exports\[0\]\.filter\.cel is not a valid CEL expression: .*params/);
  });
});
