// Several `auditrail serve --postgres` processes on one PostgreSQL log (a schema of its own,
// dropped after), 16 HTTP clients sending batches to whichever collector answers (a load
// balancer's failover: a refused connection or a 5xx goes to the next one, the same event_ids
// and times again), and one collector killed with SIGKILL several times mid-run and started
// again. Every acknowledged event is at the seq its receipt names, no event_id is stored twice,
// verify passes, and each stored checkpoint has a consistency proof from the one before.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { openAuditTrail, verifyConsistency } from '../../src/index.js';
import { uuidv7 } from '../../src/internal/ids.js';
import { startServe, stopServe, tempDir, type ServeProcess } from './helpers.js';
import { PG_URL, dropSchemas, postgresSkipReason, schemaName } from '../postgres.js';

const CI = process.env['CI'] === 'true';
/**
 * Events at least: CI runs the scale-out goal, 1,000,000 (about 8 minutes on a quiet 2-core
 * machine); locally 20,000 unless AUDITRAIL_COLLECTORS_EVENTS says (docs/scale-out.md, "Several
 * collectors").
 */
const TOTAL = Number(process.env['AUDITRAIL_COLLECTORS_EVENTS'] ?? (CI ? 1_000_000 : 20_000));
const COLLECTORS = 3;
const CLIENTS = 16;
const BATCH = 250;
/** SIGKILLs of one collector, spread over the run. */
const KILLS = Number(process.env['AUDITRAIL_COLLECTORS_KILLS'] ?? 4);
const TYPE = 'x.collectors';

const skip = await postgresSkipReason();
const children: ChildProcess[] = [];
const schemas: string[] = [];
after(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  if (skip === undefined) await dropSchemas(schemas);
});

type Collector = ServeProcess;

/**
 * Starts `auditrail serve --postgres` in `dir` (its keys in `dir/.auditrail/keys`, shared by every
 * collector of the log) and resolves once it printed its URL (and, on a new database, its key).
 */
async function startCollector(dir: string, url: string, port: number, first: boolean): Promise<Collector> {
  const args = ['serve', '--postgres', url, '--port', String(port), '--quiet', '--rate-limit', '1000000000'];
  const c = await startServe(args, { cwd: dir, key: first });
  children.push(c.child);
  return c;
}

/** What the clients share: events still to send, and whether the kills are over. */
interface Work {
  remaining: number;
  killsDone: boolean;
  resent: number;
}

interface Receipt {
  seq: number;
  event_id: string;
}

/**
 * One client: batches of {@link BATCH} events while events remain to be sent or the kills are
 * not over (so every kill happens mid-run), each posted until a collector acknowledges it
 * (round robin; a refused connection, a timeout or a 5xx moves to the next collector with the
 * very same bodies, so a batch a killed collector committed is answered from the log).
 */
async function client(
  c: number,
  work: Work,
  urls: readonly string[],
  key: string,
  acked: Map<string, number>,
): Promise<void> {
  let target = c % urls.length;
  for (let done = 0; work.remaining > 0 || !work.killsDone;) {
    const n = BATCH;
    work.remaining -= n;
    const now = new Date().toISOString();
    const batch = Array.from({ length: n }, (_v, i) => ({
      event_id: uuidv7(),
      time: now,
      type: TYPE,
      run_id: `client-${c}`,
      actor: { type: 'agent', id: `client-${c}` },
      action: { type: 'write:note', target: `note/${done + i}`, params: { i: done + i } },
    }));
    const body = JSON.stringify(batch);
    const deadline = Date.now() + 180_000;
    for (;;) {
      let status = 0;
      let text = '';
      try {
        const r = await fetch(`${urls[target]}/v1/events`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body,
          signal: AbortSignal.timeout(60_000),
        });
        status = r.status;
        text = await r.text();
      } catch {
        // Refused or cut off: the collector is down; the next one gets the same batch.
      }
      if (status === 200 || status === 201) {
        const receipts = (JSON.parse(text) as { receipts: Receipt[] }).receipts;
        assert.equal(receipts.length, n);
        for (const [i, r] of receipts.entries()) {
          assert.equal(r.event_id, batch[i]!.event_id);
          acked.set(r.event_id, r.seq);
        }
        break;
      }
      if (status !== 0 && status < 500 && status !== 429)
        assert.fail(`client ${c}: ${status} ${text.slice(0, 500)}`);
      work.resent++;
      target = (target + 1) % urls.length;
      if (Date.now() > deadline) assert.fail(`client ${c}: no collector acknowledged a batch in 180 s`);
      await new Promise((r) => setTimeout(r, 50));
    }
    done += n;
    target = (target + 1) % urls.length;
  }
}

describe('several collectors on one PostgreSQL log', { skip: skip ?? false, timeout: 1_800_000 }, () => {
  it(`${COLLECTORS} collectors × ${CLIENTS} clients, at least ${TOTAL.toLocaleString('en')} events, one collector killed with SIGKILL ${KILLS} times: 0 lost, 0 duplicates, one consistent tree`, async () => {
    const dir = tempDir('auditrail-collectors-');
    const schema = schemaName('col');
    schemas.push(schema);
    const u = new URL(PG_URL);
    u.searchParams.set('schema', schema);
    const dbUrl = u.toString();
    // The first collector creates the schema and the first key; the others start on it.
    const first = await startCollector(dir, dbUrl, 0, true);
    const key = first.key!;
    const collectors = [first];
    for (let i = 1; i < COLLECTORS; i++) collectors.push(await startCollector(dir, dbUrl, 0, false));
    const urls = collectors.map((c) => c.url);
    const ports = urls.map((x) => Number(new URL(x).port));

    const acked = new Map<string, number>();
    const work: Work = { remaining: TOTAL, killsDone: false, resent: 0 };
    const cpu = process.cpuUsage();
    const started = performance.now();
    const clients = Array.from({ length: CLIENTS }, (_v, c) => client(c, work, urls, key, acked));
    let failed = false;
    const sending = Promise.all(clients).then(
      () => undefined,
      (e: unknown) => ((failed = true), e),
    );
    let kills = 0;
    let trialError: unknown;
    try {
      for (let k = 0; k < KILLS && !failed; k++) {
        // Kill at evenly spaced points of the run, while clients are sending to it.
        const at = (TOTAL * (k + 1)) / (KILLS + 1);
        while (acked.size < at && !failed) await new Promise((r) => setTimeout(r, 50));
        if (failed) break;
        const victim = 1 + (k % (COLLECTORS - 1));
        await stopServe(collectors[victim]!, 'SIGKILL');
        kills++;
        collectors[victim] = await startCollector(dir, dbUrl, ports[victim]!, false);
      }
    } catch (e) {
      trialError = e;
    } finally {
      work.killsDone = true;
    }
    const sent = await sending;
    const seconds = (performance.now() - started) / 1000;
    const used = process.cpuUsage(cpu);
    if (trialError !== undefined) throw trialError as Error;
    if (sent !== undefined) throw sent as Error;
    await Promise.all(collectors.map((c) => stopServe(c, 'SIGTERM')));
    for (const c of collectors) assert.equal(c.child.exitCode, 0, 'graceful stop after the run');
    const total = acked.size;
    console.log(
      `# ${total} events through ${COLLECTORS} collectors in ${seconds.toFixed(1)} s ` +
        `(${Math.round(total / seconds)} events/s wall), ${kills} SIGKILLs, ${work.resent} batches re-sent, ` +
        `clients' CPU ${((used.user + used.system) / total).toFixed(1)} µs/event`,
    );
    assert.equal(kills, KILLS, 'every kill happened while clients were sending');
    assert.ok(total >= TOTAL, `every event acknowledged (${total})`);

    // What the log holds: every acknowledged event at its receipt's seq, each event_id once.
    const db = new pg.Client({ connectionString: PG_URL });
    await db.connect();
    let bySeq: Map<number, string>;
    let distinct: number;
    try {
      const rows = await db.query<{ seq: string | number; eid: string }>(
        `SELECT e.seq, e.eid FROM ${schema}.entries e JOIN ${schema}.logs l USING (log_id)
         WHERE l.tenant = 'default' AND e.type = $1`,
        [TYPE],
      );
      bySeq = new Map(rows.rows.map((r) => [Number(r.seq), r.eid]));
      distinct = new Set(rows.rows.map((r) => r.eid)).size;
      assert.equal(rows.rows.length, total, '0 duplicates: one entry per event');
    } finally {
      await db.end();
    }
    assert.equal(distinct, total, '0 duplicates: each event_id once');
    let lost = 0;
    for (const [eid, seq] of acked) if (bySeq.get(seq) !== eid) lost++;
    assert.equal(lost, 0, '0 acknowledged events lost: each receipt seq holds its event_id');

    // One tree: verify rebuilds it from the entries and checks every stored checkpoint against
    // it and against the one before; and each consecutive pair has a consistency proof.
    const trail = await openAuditTrail({
      tenant: 'default',
      postgres: dbUrl,
      readonly: true,
      keyDir: join(dir, '.auditrail', 'keys'),
    });
    try {
      const report = await trail.verify();
      assert.ok(report.ok, JSON.stringify(report.failures.slice(0, 5)));
      assert.ok(report.size >= total);
      const cps = await trail.checkpoints();
      assert.ok(cps.length >= 2, `several checkpoints were signed (${cps.length})`);
      assert.equal(cps.at(-1)!.size, report.size, 'the last checkpoint covers the whole log');
      const vkey = trail.verifierKey();
      for (let i = 1; i < cps.length; i++) {
        assert.ok(cps[i]!.size > cps[i - 1]!.size, 'one checkpoint per size');
        const bundle = await trail.proveConsistencyFrom(cps[i - 1]!.note, cps[i]!.note);
        const r = verifyConsistency(cps[i - 1]!.note, cps[i]!.note, bundle.proof, vkey);
        assert.ok(r.ok, `checkpoint ${cps[i - 1]!.size} -> ${cps[i]!.size}: ${r.failures.join('; ')}`);
      }
      console.log(`# ${cps.length} checkpoints, each consistent with the one before`);
    } finally {
      await trail.close();
    }
  });
});
