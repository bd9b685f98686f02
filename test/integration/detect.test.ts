/**
 * The detect runner over a real SQLite log: anomaly events appended with the payload alert
 * channels read, the cursor moved only after them, learned state carried across a restart, a
 * crash between the append and the cursor's move healed without a second event, and several
 * processes racing on one log without any anomaly recorded twice.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { openAuditTrail, type AuditEvent, type AuditTrail, type RecordedEvent } from '../../src/index.js';
import { anomalyEvent, DetectRunner, listAnomalies, parseDetectConfig } from '../../src/detect/index.js';
import { detectState } from '../../src/sdk/detect-state.js';
import { serve } from '../../src/server/serve.js';
import { tempDir } from './helpers.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = join(ROOT, 'src', 'cli', 'main.ts');
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const T0 = Date.UTC(2026, 0, 5, 9);
const CONFIG = parseDetectConfig(
  'detect:\n  detectors:\n    unusual_access: { learning: 10m, min_samples: 5 }\n    off_hours: { enabled: false }\n',
);

const at = (ms: number): string => new Date(T0 + ms).toISOString();
const intent = (ms: number, type: string, extra: Partial<AuditEvent> = {}): AuditEvent => ({
  type: 'action.intent',
  time: at(ms),
  actor: { type: 'agent', id: 'bot', trust_tier: 'standard' },
  action: { type, target: 'order/1' },
  ...extra,
});

/** 10 ordinary actions (learning), then a PII read and a post in run r1, then a new action type. */
function events(): AuditEvent[] {
  const out: AuditEvent[] = [];
  for (let i = 0; i < 10; i++) out.push(intent(i * 60_000, 'read:order'));
  out.push(intent(20 * 60_000, 'read:customer', { run_id: 'r1', context: { data_classification: 'pii' } }));
  out.push(intent(20 * 60_000 + 1000, 'read:order', { run_id: 'r1' }));
  out.push(
    intent(20 * 60_000 + 2000, 'net.http.post', {
      run_id: 'r1',
      session_id: 's1',
      action: { type: 'net.http.post', target: 'https://x.example/up' },
    }),
  );
  return out;
}

async function open(db: string): Promise<AuditTrail> {
  return openAuditTrail({ tenant: 't', db });
}

async function detected(trail: AuditTrail): Promise<RecordedEvent[]> {
  return (await trail.query({ type: 'anomaly.detected', limit: 1000 })).events;
}

describe('detect runner on SQLite', () => {
  it('appends anomaly.detected events with the alert payload, then moves the cursor', async () => {
    const dir = tempDir('auditrail-detect-');
    dirs.push(dir);
    const trail = await open(join(dir, 'a.db'));
    try {
      await trail.recordBatch(events());
      const r = await new DetectRunner(trail, CONFIG).run();
      const found = await detected(trail);
      assert.equal(r.events, 13, 'its own anomaly events are not looked at');
      assert.equal(r.anomalies, found.length);
      // The anomalies were appended before the cursor moved past them (seq 13 on).
      assert.equal(r.cursor, 13 + found.length);
      assert.deepEqual(
        found.map((e) => e.seq),
        found.map((_, i) => 13 + i),
      );
      const exfil = found.find(
        (e) => (e.metadata as { anomaly: { detector: string } }).anomaly.detector === 'exfiltration',
      );
      assert.ok(exfil, 'the exfiltration anomaly was recorded');
      assert.equal(exfil.type, 'anomaly.detected');
      assert.deepEqual(exfil.actor, { type: 'system', id: 'auditrail-detect' });
      assert.equal(exfil.risk_level, 'critical');
      assert.equal(exfil.run_id, 'r1');
      assert.equal(exfil.session_id, 's1');
      const a = (exfil.metadata as { anomaly: Record<string, unknown> }).anomaly;
      assert.deepEqual(Object.keys(a).sort(), [
        'agent_id',
        'detector',
        'id',
        'run_id',
        'score',
        'seqs',
        'summary',
        'threshold',
        'window',
      ]);
      assert.equal(a['id'], `exfiltration:bot:${at(20 * 60_000)}`);
      assert.equal(a['agent_id'], 'bot');
      assert.deepEqual(a['seqs'], [10, 12]);
      assert.deepEqual(a['window'], { from: at(20 * 60_000), to: at(20 * 60_000 + 2000) });
      assert.equal(typeof a['summary'], 'string');
      assert.equal(await detectState(trail).cursor('default'), 13 + found.length);
      // Its own events are not looked at again; nothing new: nothing appended.
      const again = await new DetectRunner(trail, CONFIG).run();
      assert.deepEqual(again, { events: 0, anomalies: 0, cursor: 13 + found.length });
      assert.equal((await detected(trail)).length, found.length);
      const listed = await listAnomalies(trail, { state: 'open' });
      assert.equal(listed.length, found.length);
    } finally {
      await trail.close();
    }
  });

  it('carries learned state across a restart: one run and two give the same anomalies', async () => {
    const dir = tempDir('auditrail-detect-');
    dirs.push(dir);
    const all = events();
    const novel = intent(30 * 60_000, 'read:payroll');
    const once = await open(join(dir, 'once.db'));
    await once.recordBatch([...all, novel]);
    await new DetectRunner(once, CONFIG).run();
    const expected = (await listAnomalies(once)).map((a) => a.id).sort();
    await once.close();

    const db = join(dir, 'twice.db');
    let trail = await open(db);
    await trail.recordBatch(all.slice(0, 10));
    await new DetectRunner(trail, CONFIG).run();
    await trail.close();
    trail = await open(db);
    try {
      await trail.recordBatch([...all.slice(10), novel]);
      const lines: string[] = [];
      await new DetectRunner(trail, CONFIG, { log: (l) => lines.push(l) }).run();
      assert.deepEqual(lines, [], 'restored from the snapshot, nothing rebuilt');
      const got = (await listAnomalies(trail)).map((a) => a.id).sort();
      assert.deepEqual(got, expected);
      assert.ok(
        got.some((id) => id.startsWith('unusual_access:bot:')),
        'the learned baseline survived',
      );
    } finally {
      await trail.close();
    }
  });

  it('a crash between the append and the cursor move stores each anomaly once', async () => {
    const dir = tempDir('auditrail-detect-');
    dirs.push(dir);
    const trail = await open(join(dir, 'c.db'));
    try {
      await trail.recordBatch(events());
      await new DetectRunner(trail, CONFIG).run();
      const before = (await detected(trail)).length;
      assert.ok(before > 0, 'anomalies recorded');
      // As if the process died after the append and before the cursor moved: cursor back to 0.
      const state = detectState(trail);
      assert.equal(await state.advance('default', await state.cursor('default'), 0), true);
      const r = await new DetectRunner(trail, CONFIG).run();
      assert.equal(r.anomalies, 0, 'raised again, stored once');
      assert.equal((await detected(trail)).length, before);
    } finally {
      await trail.close();
    }
  });

  it('an event id taken by another producer does not suppress the anomaly', async () => {
    const dir = tempDir('auditrail-detect-');
    const trail = await open(join(dir, 'squat.db'));
    try {
      const all = events();
      await trail.recordBatch(all.slice(0, 10));
      // A producer guesses the exfiltration anomaly's event id and records something else under it.
      const expected = anomalyEvent({
        id: `exfiltration:bot:${at(20 * 60_000)}`,
        detector: 'exfiltration',
        agent_id: 'bot',
        score: 1,
        threshold: 1,
        seqs: [],
        window: { from: '', to: '' },
        summary: '',
        risk_level: 'critical',
        at: 0,
      });
      await trail.record({ ...intent(0, 'noise'), event_id: expected.event_id! });
      await trail.recordBatch(all.slice(10));
      const lines: string[] = [];
      await new DetectRunner(trail, CONFIG, { log: (l) => lines.push(l) }).run();
      const ids = (await listAnomalies(trail)).map((a) => a.id);
      assert.ok(ids.includes(`exfiltration:bot:${at(20 * 60_000)}`), ids.join(', '));
      assert.match(lines.join('\n'), /is held by seq 10; using another/);
    } finally {
      await trail.close();
    }
  });

  it('several detect processes on one log record each anomaly once', async () => {
    const dir = tempDir('auditrail-detect-');
    dirs.push(dir);
    const db = join(dir, 'race.db');
    const trail = await open(db);
    const many: AuditEvent[] = [];
    for (let k = 0; k < 20; k++)
      for (const e of events())
        many.push({
          ...e,
          actor: { ...e.actor, id: `bot-${k}` },
          ...(e.run_id ? { run_id: `${e.run_id}-${k}` } : {}),
        });
    await trail.recordBatch(many);
    await trail.close();
    const results = await Promise.all(
      [0, 1, 2].map(
        () =>
          new Promise<{ code: number | null; stderr: string }>((resolve) => {
            const child = spawn(
              process.execPath,
              ['--import', 'tsx', MAIN, 'detect', '--db', db, '--tenant', 't'],
              {
                cwd: ROOT,
                env: { ...process.env, NO_COLOR: '1' },
                stdio: ['ignore', 'pipe', 'pipe'],
              },
            );
            let stderr = '';
            child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
            child.on('close', (code) => resolve({ code, stderr }));
          }),
      ),
    );
    assert.ok(
      results.some((r) => r.code === 0),
      `at least one detector finished: ${results.map((r) => r.stderr).join('\n')}`,
    );
    for (const r of results)
      if (r.code !== 0) assert.match(r.stderr, /cursor moved under this detector|conflict|busy|locked/i);
    const check = await open(db);
    try {
      const ids = (await detected(check)).map((e) => (e.metadata as { anomaly: { id: string } }).anomaly.id);
      assert.equal(new Set(ids).size, ids.length, 'no anomaly recorded twice');
      assert.ok(ids.length >= 20, `one exfiltration per agent at least (${ids.length})`);
      assert.equal((await check.verify()).ok, true);
    } finally {
      await check.close();
    }
  });

  it('serve with a detect: config follows the log and records anomalies as events arrive', async () => {
    const dir = tempDir('auditrail-detect-');
    const s = await serve(
      { db: join(dir, 'serve.db'), port: 0, keyDir: dir, logger: false, detect: { ...CONFIG, poll_ms: 50 } },
      false,
    );
    try {
      const trail = await s.app.auditrail.trail('default');
      await trail.recordBatch(events());
      const deadline = Date.now() + 30_000;
      let found: RecordedEvent[] = [];
      while (Date.now() < deadline && found.length === 0) {
        await new Promise((r) => setTimeout(r, 100));
        found = await detected(trail);
      }
      assert.ok(found.length > 0, 'the server recorded the anomaly within 30 s');
      assert.ok(
        found.some(
          (e) => (e.metadata as { anomaly: { detector: string } }).anomaly.detector === 'exfiltration',
        ),
        'the exfiltration anomaly is among them',
      );
    } finally {
      await s.close();
    }
  });
});
