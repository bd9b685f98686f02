// The remote SDK against the real `auditrail serve` (dist/, `npm run build` first) on 127.0.0.1
// with a real SQLite file: the server killed with SIGKILL at random moments while 16 producers
// send, and the server stopped for a while as producers with a spool keep recording. Every
// acknowledged event is in the log exactly once; `verify` passes; per-producer order holds.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { openAuditTrail, type AuditEvent, type RemoteAuditTrail } from '../../src/index.js';
import { tempDir } from './helpers.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'bin', 'auditrail.js');
const BUILT = existsSync(join(ROOT, 'dist', 'cli', 'main.js'));
/** SIGKILL trials (the issue asks for at least 20). */
const TRIALS = Number(process.env['AUDITRAIL_KILL_TRIALS'] ?? 20);
/** How long the server stays stopped while spooling producers record (issue 12: 30 s). */
const OUTAGE_MS = Number(process.env['AUDITRAIL_OUTAGE_S'] ?? 30) * 1000;
/** Pause between a spooling producer's records: about 10 events a second each, so the outage's
 * backlog (16 × 30 s × 10 ≈ 5,000 events) is delivered in seconds after the restart. */
const SPOOL_PACE_MS = 100;
const PRODUCERS = 16;

const children: ChildProcess[] = [];
after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

interface Server {
  child: ChildProcess;
  url: string;
  key: string | null;
}

/** Starts `auditrail serve` from dist/ and resolves once it printed its URL (and first key). */
function startServer(db: string, port: number): Promise<Server> {
  const child = spawn(process.execPath, [BIN, 'serve', '--db', db, '--port', String(port), '--quiet'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${out} ${err}`)), 60_000);
    const onExit = (code: number | null): void => reject(new Error(`serve exited ${code}: ${out} ${err}`));
    child.once('exit', onExit);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const url = /auditrail serve: (http:\/\/\S+)/.exec(out)?.[1];
      if (!url) return;
      const key = /^(atr_\S+)$/m.exec(out)?.[1] ?? null;
      // A new database prints its first key after the URL: wait for it.
      if (key === null && port === 0) return;
      clearTimeout(timer);
      child.off('exit', onExit);
      resolve({ child, url, key });
    });
  });
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((r) => child.once('exit', () => r()));
}

function portOf(url: string): number {
  return Number(new URL(url).port);
}

function cli(args: string[], env: Record<string, string> = {}): { code: number | null; out: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, ...env },
  });
  return { code: r.status, out: r.stdout + r.stderr };
}

function verifyDb(db: string): { code: number | null; out: string } {
  const r = spawnSync(process.execPath, [BIN, 'verify', '--db', db, '--tenant', 'default'], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  return { code: r.status, out: r.stdout + r.stderr };
}

/** Every event of the producers, read back from the database file (after the server stopped). */
async function storedByRun(db: string, type = 'x.reliability'): Promise<Map<string, string[]>> {
  const trail = await openAuditTrail({ tenant: 'default', db, readonly: true });
  const byRun = new Map<string, string[]>();
  try {
    let cursor: string | null = null;
    do {
      const page = await trail.query({ type, limit: 10_000, ...(cursor ? { cursor } : {}) });
      for (const e of page.events) {
        const list = byRun.get(e.run_id!) ?? [];
        list.push(e.event_id);
        byRun.set(e.run_id!, list);
      }
      cursor = page.next_cursor;
    } while (cursor !== null);
  } finally {
    await trail.close();
  }
  return byRun;
}

function event(producer: number, i: number): AuditEvent {
  return {
    type: 'x.reliability',
    actor: { type: 'agent', id: `producer-${producer}` },
    run_id: `producer-${producer}`,
    action: { type: 'write:note', target: `note/${i}`, params: { i } },
  };
}

describe(
  'remote SDK reliability against a real server process',
  { skip: BUILT ? false : 'dist/ is missing: run npm run build first' },
  () => {
    it(`SIGKILL at random moments (${TRIALS} trials) while ${PRODUCERS} producers send: every acknowledged event once, verify passes`, async () => {
      const db = join(tempDir(), 'audit.db');
      let server = await startServer(db, 0);
      const key = server.key!;
      const port = portOf(server.url);
      const acked: Set<string>[] = Array.from({ length: PRODUCERS }, () => new Set());
      const trails: RemoteAuditTrail[] = [];
      let stop = false;
      const producers = Array.from({ length: PRODUCERS }, async (_, p) => {
        // No spool: record() resolves on the server's receipt, resending while the server restarts.
        const trail = await openAuditTrail({
          url: server.url,
          apiKey: key,
          // Longer than the slowest restart seen on a loaded machine (over 20 s), so a slow restart is
          // waited for, not reported as a failed delivery.
          deliveryTimeoutMs: 90_000,
          retryBaseMs: 20,
          retryMaxMs: 250,
          requestTimeoutMs: 10_000,
        });
        trails.push(trail);
        for (let i = 0; !stop; i++) {
          const r = await trail.record(event(p, i));
          acked[p]!.add(r.event_id);
        }
      });
      const running = Promise.all(producers);
      let trialError: unknown;
      try {
        for (let t = 0; t < TRIALS; t++) {
          await new Promise((r) => setTimeout(r, 150 + Math.floor(Math.random() * 500)));
          server.child.kill('SIGKILL');
          await exited(server.child);
          server = await startServer(db, port);
        }
        await new Promise((r) => setTimeout(r, 300));
      } catch (e) {
        trialError = e;
      } finally {
        stop = true;
      }
      // A failed restart is the finding, not the producers' give-up that follows it.
      const produced = await running.then(
        () => undefined,
        (e: unknown) => e,
      );
      for (const t of trails) await t.close().catch(() => undefined);
      if (trialError !== undefined) throw trialError as Error;
      if (produced !== undefined) throw produced as Error;
      server.child.kill('SIGTERM');
      await exited(server.child);
      assert.equal(server.child.exitCode, 0, 'graceful stop after the trials');

      const stored = await storedByRun(db);
      let total = 0;
      for (let p = 0; p < PRODUCERS; p++) {
        const ids = stored.get(`producer-${p}`) ?? [];
        assert.equal(new Set(ids).size, ids.length, `producer ${p}: no event stored twice`);
        const have = new Set(ids);
        for (const id of acked[p]!)
          assert.ok(have.has(id), `producer ${p}: acknowledged ${id} is in the log`);
        total += acked[p]!.size;
      }
      assert.ok(total > PRODUCERS * TRIALS, `enough events were acknowledged (${total})`);
      const v = verifyDb(db);
      assert.equal(v.code, 0, v.out);
    });

    it('SIGKILL while batches of 1,000 events are posted: each batch is stored whole or not at all', async () => {
      const db = join(tempDir(), 'audit.db');
      let server = await startServer(db, 0);
      const key = server.key!;
      const port = portOf(server.url);
      const acked = new Set<string>();
      const sent = new Set<string>();
      const batchOf = (run: string): string =>
        JSON.stringify(
          Array.from({ length: 1000 }, (_, i) => ({
            type: 'x.batch',
            actor: { type: 'agent', id: 'batcher' },
            run_id: run,
            action: { type: 'write:note', target: `note/${i}`, params: { i, pad: 'x'.repeat(64) } },
          })),
        );
      for (let t = 0; t < 6; t++) {
        let stop = false;
        const clients = Array.from({ length: 4 }, async (_, c) => {
          for (let i = 0; !stop; i++) {
            const run = `t${t}-c${c}-${i}`;
            sent.add(run);
            try {
              const r = await fetch(`${server.url}/v1/events`, {
                method: 'POST',
                headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
                body: batchOf(run),
              });
              if (r.status === 201) acked.add(run);
              else assert.fail(`batch ${run}: ${r.status} ${await r.text()}`);
            } catch (e) {
              if (e instanceof assert.AssertionError) throw e;
              return; // the server is gone
            }
          }
        });
        // Once a batch of this trial is acknowledged, kill at a random moment of the next ones.
        const ackedBefore = acked.size;
        for (let w = 0; w < 400 && acked.size === ackedBefore; w++)
          await new Promise((r) => setTimeout(r, 50));
        await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 400)));
        server.child.kill('SIGKILL');
        await exited(server.child);
        stop = true;
        await Promise.all(clients);
        server = await startServer(db, port);
      }
      server.child.kill('SIGTERM');
      await exited(server.child);
      const stored = await storedByRun(db, 'x.batch');
      for (const [run, ids] of stored) {
        assert.ok(sent.has(run), run);
        assert.equal(ids.length, 1000, `batch ${run}: all of it or nothing (found ${ids.length})`);
      }
      for (const run of acked) assert.ok(stored.has(run), `acknowledged batch ${run} is in the log`);
      assert.ok(acked.size > 0, 'some batches were acknowledged');
      assert.ok(sent.size > acked.size, 'some batches were in flight at a kill');
      const v = verifyDb(db);
      assert.equal(v.code, 0, v.out);
    });

    it(`the server stopped for ${OUTAGE_MS / 1000} s while spooling producers record: every event once, in per-producer order`, async () => {
      const dir = tempDir();
      const db = join(dir, 'audit.db');
      let server = await startServer(db, 0);
      const key = server.key!;
      const port = portOf(server.url);
      const recorded: string[][] = Array.from({ length: PRODUCERS }, () => []);
      const trails: RemoteAuditTrail[] = [];
      let stop = false;
      let duringOutage = 0;
      let down = false;
      const producers = Array.from({ length: PRODUCERS }, async (_, p) => {
        const trail = await openAuditTrail({
          url: server.url,
          apiKey: key,
          spool: join(dir, `spool-${p}`),
          retryBaseMs: 50,
          retryMaxMs: 500,
          onError: () => undefined,
        });
        trails.push(trail);
        for (let i = 0; !stop; i++) {
          const r = await trail.record(event(p, i));
          assert.equal(r.spooled, true);
          recorded[p]!.push(r.event_id);
          if (down) duringOutage++;
          await new Promise((res) => setTimeout(res, SPOOL_PACE_MS));
        }
      });
      await new Promise((r) => setTimeout(r, 1000));
      server.child.kill('SIGTERM');
      await exited(server.child);
      down = true;
      await new Promise((r) => setTimeout(r, OUTAGE_MS));
      down = false;
      server = await startServer(db, port);
      await new Promise((r) => setTimeout(r, 1000));
      stop = true;
      await Promise.all(producers);
      for (const t of trails) await t.flush();
      for (const t of trails) await t.close();
      assert.ok(
        duringOutage > PRODUCERS,
        `producers kept recording during the outage (${duringOutage} events)`,
      );
      server.child.kill('SIGTERM');
      await exited(server.child);

      const stored = await storedByRun(db);
      for (let p = 0; p < PRODUCERS; p++) {
        assert.deepEqual(
          stored.get(`producer-${p}`),
          recorded[p],
          `producer ${p}: every event once, in order`,
        );
      }
      const v = verifyDb(db);
      assert.equal(v.code, 0, v.out);
    });

    it('auditrail spool status and flush show and drain a spool left while the server was down', async () => {
      const dir = tempDir();
      const db = join(dir, 'audit.db');
      const spool = join(dir, 'spool');
      let server = await startServer(db, 0);
      const key = server.key!;
      const port = portOf(server.url);
      server.child.kill('SIGTERM');
      await exited(server.child);
      // A producer records while the server is down, then exits: its events stay in the spool.
      const trail = await openAuditTrail({
        url: server.url,
        apiKey: key,
        spool,
        closeTimeoutMs: 200,
        retryBaseMs: 50,
        onError: () => undefined,
      });
      const ids: string[] = [];
      for (let i = 0; i < 25; i++) ids.push((await trail.record(event(0, i))).event_id);
      await trail.close();

      const status = cli(['spool', 'status', '--spool', spool, '--json']);
      assert.equal(status.code, 0, status.out);
      assert.equal((JSON.parse(status.out) as { events: number }).events, 25);
      const text = cli(['spool', 'status', '--spool', spool]);
      assert.match(text.out, /: 25 event\(s\) waiting, \d+ bytes, oldest spooled .*; 0 refused/);
      // Flushing to a stopped server fails with the reason, and keeps every event.
      const down = cli(['spool', 'flush', '--spool', spool, '--url', server.url], { AUDITRAIL_API_KEY: key });
      assert.notEqual(down.code, 0, down.out);
      assert.match(down.out, /delivery failed: .*the events stay in/);
      assert.doesNotMatch(down.out, new RegExp(key), 'the key is never printed');
      assert.equal(
        (JSON.parse(cli(['spool', 'status', '--spool', spool, '--json']).out) as { events: number }).events,
        25,
      );

      server = await startServer(db, port);
      const flushed = cli(['spool', 'flush', '--spool', spool, '--url', server.url], {
        AUDITRAIL_API_KEY: key,
      });
      assert.equal(flushed.code, 0, flushed.out);
      assert.match(flushed.out, /delivering 25 event\(s\)/);
      assert.match(flushed.out, /delivered 25 event\(s\)/);
      assert.match(flushed.out, /: 0 event\(s\) waiting/);
      // Flushing again sends nothing twice.
      const again = cli(['spool', 'flush', '--spool', spool, '--url', server.url], {
        AUDITRAIL_API_KEY: key,
      });
      assert.equal(again.code, 0, again.out);
      assert.match(again.out, /delivered 0 event\(s\)/);
      server.child.kill('SIGTERM');
      await exited(server.child);
      assert.deepEqual((await storedByRun(db)).get('producer-0'), ids, 'every event once, in order');
    });
  },
);
