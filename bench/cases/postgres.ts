/**
 * PostgreSQL against embedded SQLite, same run, same machine: ingest through one SDK (64
 * producers awaiting their receipts), then verify and inclusion proofs on the PostgreSQL log.
 * CPU time per event (process.cpuUsage: this process only, so PostgreSQL's own work is not in
 * it) is the figure that survives a loaded machine; the wall figures also carry the server's
 * fsync and the network round trips. Skipped, with the reason printed, when PostgreSQL is not
 * reachable (`$AUDITRAIL_BENCH_POSTGRES`, else postgres://postgres@127.0.0.1:5432/test).
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import pg from 'pg';
import { openAuditTrail, verifyProofBundle, type AuditTrail } from '../../src/index.js';
import { warmupEvents, workloadEvents } from '../fixtures/workload-events.js';
import { addBenchmark, atLeast, below, percentile, since, type BenchResult } from '../suite.js';

const PRODUCERS = 64;
const PG_URL = process.env['AUDITRAIL_BENCH_POSTGRES'] ?? 'postgres://postgres@127.0.0.1:5432/test';

async function reachable(): Promise<string | undefined> {
  const c = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3000 });
  try {
    await c.connect();
    await c.query('SELECT 1');
    return undefined;
  } catch (e) {
    return (e as Error).message;
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** 64 producers awaiting receipts; wall seconds and this process's CPU µs per event. */
async function ingest(trail: AuditTrail, n: number): Promise<{ perSecond: number; cpuUs: number }> {
  await Promise.all(warmupEvents(1_000).map((e) => trail.record(e)));
  const events = workloadEvents(n);
  let next = 0;
  const producer = async (): Promise<void> => {
    for (let i = next++; i < n; i = next++) await trail.record(events[i]!);
  };
  const cpu = process.cpuUsage();
  const start = performance.now();
  await Promise.all(Array.from({ length: PRODUCERS }, producer));
  const seconds = since(start) / 1000;
  const used = process.cpuUsage(cpu);
  return { perSecond: n / seconds, cpuUs: (used.user + used.system) / n };
}

addBenchmark({
  name: 'postgres',
  async run(ctx) {
    const why = await reachable();
    if (why !== undefined) {
      ctx.log(`postgres: skipped, PostgreSQL is not reachable at ${new URL(PG_URL).host} (${why})`);
      return [];
    }
    const schema = `bench_${randomBytes(6).toString('hex')}`;
    const url = new URL(PG_URL);
    url.searchParams.set('schema', schema);
    const n = ctx.scale(5_000, 50_000);
    const results: BenchResult[] = [];
    const note = `${n} events, ${PRODUCERS} producers`;
    try {
      const lite = await openAuditTrail({ tenant: 'bench', db: join(ctx.tmpDir, 'pg-vs-sqlite.db') });
      let sqlite;
      try {
        sqlite = await ingest(lite, n);
      } finally {
        await lite.close();
      }
      const trail = await openAuditTrail({
        tenant: 'bench',
        postgres: url.toString(),
        keyDir: join(ctx.tmpDir, 'pg-keys'),
      });
      try {
        const p = await ingest(trail, n);
        results.push(
          { name: 'postgres.ingest_events_per_s', value: p.perSecond, unit: 'events/s', note },
          { name: 'postgres.sqlite_ingest_events_per_s', value: sqlite.perSecond, unit: 'events/s', note },
          {
            name: 'postgres.ingest_vs_sqlite',
            value: p.perSecond / sqlite.perSecond,
            unit: '×',
            target: atLeast(0.5),
            note: 'one SDK on PostgreSQL ÷ the same on SQLite, same run',
          },
          { name: 'postgres.ingest_cpu_per_event', value: p.cpuUs, unit: 'µs', note: 'this process, CPU' },
          {
            name: 'postgres.sqlite_ingest_cpu_per_event',
            value: sqlite.cpuUs,
            unit: 'µs',
            note: 'this process, CPU',
          },
        );
        await trail.checkpoint();
        const cpu = process.cpuUsage();
        const start = performance.now();
        const report = await trail.verify();
        const seconds = since(start) / 1000;
        const used = process.cpuUsage(cpu);
        if (!report.ok)
          throw new Error(`the PostgreSQL log does not verify: ${JSON.stringify(report.failures[0])}`);
        results.push(
          {
            name: 'postgres.verify_events_per_s',
            value: report.size / seconds,
            unit: 'events/s',
            note: `${report.size} events`,
          },
          {
            name: 'postgres.verify_cpu_per_event',
            value: (used.user + used.system) / report.size,
            unit: 'µs',
            note: 'this process, CPU',
          },
        );
        const samples = ctx.scale(200, 1_000);
        const times = new Float64Array(samples);
        const proofCpu = process.cpuUsage();
        let key: string | undefined;
        for (let i = 0; i < samples; i++) {
          const seq = Math.floor(Math.random() * report.size);
          const t = performance.now();
          const bundle = await trail.prove(seq);
          times[i] = performance.now() - t;
          key ??= bundle.verifier_key;
          if (!verifyProofBundle(bundle, { trustedKey: key }).ok)
            throw new Error(`proof of ${seq} does not verify`);
        }
        const proofUsed = process.cpuUsage(proofCpu);
        results.push(
          {
            name: 'postgres.proof_p50',
            value: percentile(times, 0.5),
            unit: 'ms',
            target: below(2),
            note: `${samples} random seqs, trail.prove()`,
          },
          {
            name: 'postgres.proof_cpu_per_op',
            value: (proofUsed.user + proofUsed.system) / samples,
            unit: 'µs',
            note: 'this process, CPU, prove + verifyProofBundle',
          },
        );
      } finally {
        await trail.close();
      }
    } finally {
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await c.end();
    }
    return results;
  },
});
