/**
 * Crash safety: a child process records events from concurrent loops and is killed with SIGKILL
 * at a random moment, over and over on the same SQLite file. After every kill, each receipt the
 * child printed (it prints only after `record()` resolved, i.e. after the durable commit) must be
 * in the log with the same seq, and the whole log must verify. Odd trials set
 * `checkpointIntervalMs: 10`, so that kills can land inside checkpointing too; the parent's
 * `close()` after each check signs a checkpoint, so every child starts on a signed log.
 *
 * Reproduce a run with CRASH_SEED=<seed printed by the test>; CRASH_TRIALS sets the trial count.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { openAuditTrail } from '../../src/index.js';
import { tempDir } from './helpers.js';

const TRIALS = Number(process.env['CRASH_TRIALS'] ?? 20);
const SEED = Number(process.env['CRASH_SEED'] ?? Math.floor(Math.random() * 2 ** 31));
const CHILD = fileURLToPath(new URL('./crash-child.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const LINE = /^(\S+) (\d+)$/;
/** Children loading ahead of their trial. */
const AHEAD = 3;

/** mulberry32, so a failing run can be replayed from its seed. */
function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Trial {
  /** event id → seq, from every complete line the child printed. */
  acked: Map<string, number>;
  /** Milliseconds from "go" to the first receipt line. */
  firstReceiptMs: number;
}

interface Child {
  /** Starts recording; kills the child `delayMs` after its first receipt line. */
  run(delayMs: number): Promise<Trial>;
  kill(): void;
}

/**
 * Spawns a child that loads and then waits for `run()`, so that Node and tsx start-up overlap
 * the trials before it.
 */
function spawnChild(db: string, checkpointMs: number | undefined): Child {
  const args = ['--import', 'tsx', CHILD, db, ...(checkpointMs === undefined ? [] : [String(checkpointMs)])];
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  const acked = new Map<string, number>();
  let partial = '';
  let stderr = '';
  let bad: string | undefined;
  let killTimer: NodeJS.Timeout | undefined;
  let guard: NodeJS.Timeout | undefined;
  let goAt = 0;
  let firstAt = 0;
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (s: string) => (stderr += s));
  child.stdout.on('data', (s: string) => {
    const lines = (partial + s).split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      const m = LINE.exec(line);
      if (m) acked.set(m[1]!, Number(m[2]));
      else bad ??= line;
    }
    if (acked.size > 0 && killTimer === undefined) {
      firstAt = performance.now();
      killTimer = setTimeout(() => child.kill('SIGKILL'), delayMs);
    }
  });
  let delayMs = 0;
  const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal }));
  });
  return {
    async run(delay) {
      delayMs = delay;
      // A child that never gets going (start-up failure, hang) must not hang the test.
      guard = setTimeout(() => child.kill('SIGKILL'), 30_000);
      goAt = performance.now();
      child.stdin.end('go\n');
      const { code, signal } = await closed;
      clearTimeout(guard);
      clearTimeout(killTimer);
      if (signal !== 'SIGKILL' || killTimer === undefined) {
        throw new Error(`child ended with code ${code} signal ${signal} before it was killed:\n${stderr}`);
      }
      if (bad !== undefined) throw new Error(`child printed an unexpected line: ${JSON.stringify(bad)}`);
      return { acked, firstReceiptMs: firstAt - goAt };
    },
    kill() {
      clearTimeout(guard);
      clearTimeout(killTimer);
      child.kill('SIGKILL');
    },
  };
}

describe('crash safety (SIGKILL during record, real SQLite file)', () => {
  it(
    `keeps every acknowledged event over ${TRIALS} kills, and the log verifies`,
    { timeout: 180_000 },
    async (t) => {
      t.diagnostic(`CRASH_SEED=${SEED}`);
      const random = seededRandom(SEED);
      const dir = tempDir('auditrail-crash-');
      const db = join(dir, 'audit.db');
      t.diagnostic(`database: ${db} (kept if the test fails)`);
      const all = new Map<string, number>();
      let lastSize = 0;
      // Children are started ahead (they load, then wait for "go"), so start-up overlaps the trials.
      const ready: Child[] = [];
      let spawned = 0;
      const refill = (): void => {
        while (ready.length < AHEAD && spawned < TRIALS) {
          ready.push(spawnChild(db, spawned % 2 === 1 ? 10 : undefined));
          spawned++;
        }
      };
      t.after(() => ready.forEach((c) => c.kill()));
      for (let trial = 0; trial < TRIALS; trial++) {
        const delay = 50 + Math.floor(random() * 351);
        refill();
        const current = ready.shift()!;
        refill();
        const { acked, firstReceiptMs } = await current.run(delay);
        const checkStart = performance.now();
        assert.ok(acked.size > 0, `trial ${trial}: no receipt before the kill`);
        const trail = await openAuditTrail({ tenant: 'crash', db, checkpointIntervalMs: 0 });
        try {
          for (const [eventId, seq] of acked) {
            const e = await trail.get(eventId);
            assert.ok(
              e,
              `trial ${trial} (kill ${delay} ms after the first receipt): acknowledged ${eventId} is lost`,
            );
            assert.equal(
              e.seq,
              seq,
              `trial ${trial}: ${eventId} was acknowledged with seq ${seq}, stored at ${e.seq}`,
            );
            all.set(eventId, seq);
          }
          const report = await trail.verify();
          assert.ok(report.ok, `trial ${trial}: ${JSON.stringify(report.failures.slice(0, 5))}`);
          assert.ok(report.size >= lastSize + acked.size, `trial ${trial}: the log shrank or lost events`);
          lastSize = report.size;
          t.diagnostic(
            `trial ${trial}: first receipt after ${firstReceiptMs.toFixed(0)} ms, killed ${delay} ms later, ` +
              `${acked.size} acknowledged, log size ${report.size}, unsigned tail ${report.unsigned_tail}, ` +
              `checked in ${(performance.now() - checkStart).toFixed(0)} ms`,
          );
        } finally {
          await trail.close();
        }
      }
      // Every acknowledgement of every trial survives all the later crashes and recoveries.
      const trail = await openAuditTrail({ tenant: 'crash', db, checkpointIntervalMs: 0 });
      try {
        for (const [eventId, seq] of all)
          assert.equal((await trail.get(eventId))?.seq, seq, `${eventId} lost later`);
        assert.equal(new Set(all.values()).size, all.size, 'two acknowledged events share a seq');
        assert.ok((await trail.verify()).ok);
      } finally {
        await trail.close();
      }
      rmSync(dir, { recursive: true, force: true });
    },
  );
});
