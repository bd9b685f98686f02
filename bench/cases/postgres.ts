/**
 * PostgreSQL against embedded SQLite, same run, same machine: ingest through one SDK (64
 * producers awaiting their receipts), then verify and inclusion proofs on the PostgreSQL log;
 * then HTTP ingest through one and through three `auditrail serve --postgres` processes (16
 * clients posting batches, each client on one collector as a load balancer would spread them),
 * into one log and into three tenants' logs.
 * CPU time per event (process.cpuUsage for this process; /proc for the collectors and their
 * PostgreSQL backends) is the figure that survives a loaded machine; the wall figures also carry
 * the server's fsync and the network round trips. Skipped, with the reason printed, when PostgreSQL is not
 * reachable (`$AUDITRAIL_BENCH_POSTGRES`, else postgres://postgres@127.0.0.1:5432/test).
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { openAuditTrail, verifyProofBundle, type AuditEvent, type AuditTrail } from '../../src/index.js';
import { warmupEvents, workloadEvents } from '../fixtures/workload-events.js';
import { startServe, stopServe, type ServeProcess } from '../../test/integration/helpers.js';
import { addBenchmark, atLeast, below, percentile, since, type BenchResult } from '../suite.js';

const PRODUCERS = 64;
/** HTTP clients of the collectors benchmark, and events per POST. */
const HTTP_CLIENTS = 16;
const HTTP_BATCH = 100;
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

/** `auditrail` of this checkout: compiled (npm run bench) or TypeScript under tsx. */
function cliCommand(): string[] {
  const self = import.meta.url;
  const ts = self.endsWith('.ts');
  const main = fileURLToPath(new URL(`../../src/cli/main.${ts ? 'ts' : 'js'}`, self));
  return ts ? ['--import', import.meta.resolve('tsx'), main] : [main];
}

/**
 * Starts `auditrail serve --postgres` in `cwd` (every collector of a log in the same one: they
 * share its signing key, ./.auditrail/keys) and resolves with its URL (and first key). Its
 * PostgreSQL connections carry `application_name` = `app`, so that their backends can be found.
 */
function startCollector(
  cwd: string,
  dbUrl: string,
  tenant: string,
  first: boolean,
  app: string,
): Promise<ServeProcess> {
  const args = ['serve', '--postgres', dbUrl, '--port', '0', '--tenant', tenant];
  // 16 clients on one key: the default per-key limit (6,000 a minute) would answer 429.
  args.push('--quiet', '--rate-limit', '100000000');
  return startServe(args, { cwd, key: first, cli: cliCommand(), env: { ...process.env, PGAPPNAME: app } });
}

/** CPU time (µs, user + system) a process used so far (Linux /proc; 0 elsewhere). */
function cpuOf(pid: number | undefined): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14 and 15 of proc(5) (utime, stime), in clock ticks of 1/100 s.
    return (Number(f[11]) + Number(f[12])) * 10_000;
  } catch {
    return 0;
  }
}

/** POSTs JSON on a keep-alive connection; rejects on any status but 200/201. */
function post(agent: Agent, url: URL, key: string, body: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        agent,
        host: url.hostname,
        port: url.port,
        method: 'POST',
        path: '/v1/events',
        headers: {
          authorization: `Bearer ${key}`,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          if (res.statusCode === 200 || res.statusCode === 201) resolve();
          else
            reject(
              new Error(
                `POST /v1/events: ${res.statusCode} ${Buffer.concat(chunks).toString().slice(0, 300)}`,
              ),
            );
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

interface CollectorsRun {
  perSecond: number;
  /** The collectors' CPU (µs per event, all of them together). */
  collectorsCpuUs: number;
  /** The CPU of the collectors' PostgreSQL backends (µs per event, together). */
  pgCpuUs: number;
  /** This process's CPU (the clients) per event. */
  clientCpuUs: number;
}

/** Warm-up events per collector before the timed run: each process JIT-compiles its own code. */
const WARMUP_PER_COLLECTOR = 2_000;

/**
 * `n` events posted in batches by {@link HTTP_CLIENTS} clients through `collectors` processes on
 * a fresh schema, batch i into tenant `tenants[i % tenants.length]`; client c posts to collector
 * c mod `collectors` (each awaits its answer before its next batch). The bodies are serialised
 * before the clock starts, so the clients cost little beside the collectors and PostgreSQL.
 */
async function collectorsIngest(
  dir: string,
  baseUrl: URL,
  schema: string,
  collectors: number,
  tenants: readonly string[],
  n: number,
): Promise<CollectorsRun> {
  const cwd = join(dir, `pg-collectors-${schema}`);
  mkdirSync(cwd, { recursive: true });
  const u = new URL(baseUrl);
  u.searchParams.set('schema', schema);
  const dbUrl = u.toString();
  const app = `auditrail_bench_${schema}`;
  const running: ServeProcess[] = [];
  const agents: Agent[] = [];
  const db = new pg.Client({ connectionString: PG_URL });
  await db.connect();
  try {
    running.push(await startCollector(cwd, dbUrl, tenants[0]!, true, app));
    const keys = [running[0]!.key!];
    for (const t of tenants.slice(1)) {
      const r = spawnSync(
        process.execPath,
        [
          ...cliCommand(),
          'apikeys',
          'create',
          '--postgres',
          dbUrl,
          '--tenant',
          t,
          '--name',
          'bench',
          '--scope',
          'ingest',
        ],
        { cwd, encoding: 'utf8' },
      );
      const key = /^(atr_\S+)$/m.exec(r.stdout)?.[1];
      if (r.status !== 0 || key === undefined) throw new Error(`apikeys create: ${r.stdout}${r.stderr}`);
      keys.push(key);
    }
    for (let i = 1; i < collectors; i++)
      running.push(await startCollector(cwd, dbUrl, tenants[0]!, false, app));
    const targets = running.map((c) => new URL(c.url));
    const batches = (events: readonly AuditEvent[]): string[] => {
      const out: string[] = [];
      for (let i = 0; i < events.length; i += HTTP_BATCH)
        out.push(JSON.stringify(events.slice(i, i + HTTP_BATCH)));
      return out;
    };
    const bodies = batches(workloadEvents(n));
    const warmBodies = batches(warmupEvents(WARMUP_PER_COLLECTOR * collectors));
    const drive = async (list: string[]): Promise<void> => {
      let next = 0;
      await Promise.all(
        Array.from({ length: HTTP_CLIENTS }, async (_v, c) => {
          const agent = new Agent({ keepAlive: true, maxSockets: 1 });
          agents.push(agent);
          const target = targets[c % targets.length]!;
          for (let i = next++; i < list.length; i = next++)
            await post(agent, target, keys[i % keys.length]!, list[i]!);
        }),
      );
    };
    await drive(warmBodies);
    const backends = async (): Promise<number[]> =>
      (
        await db.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [app])
      ).rows.map((r) => r.pid);
    const pids = running.map((c) => c.child.pid);
    const cpuOfAll = (list: readonly (number | undefined)[]): number =>
      list.reduce<number>((a, p) => a + cpuOf(p), 0);
    const pgBefore = await backends();
    const pgCpu = cpuOfAll(pgBefore);
    const before = cpuOfAll(pids);
    const cpu = process.cpuUsage();
    const start = performance.now();
    await drive(bodies);
    const seconds = since(start) / 1000;
    const used = process.cpuUsage(cpu);
    const collectorsCpu = cpuOfAll(pids) - before;
    // A backend the pool opened during the run counts from its start.
    const pgUsed = cpuOfAll([...new Set([...pgBefore, ...(await backends())])]) - pgCpu;
    return {
      perSecond: n / seconds,
      collectorsCpuUs: collectorsCpu / n,
      pgCpuUs: pgUsed / n,
      clientCpuUs: (used.user + used.system) / n,
    };
  } finally {
    for (const a of agents) a.destroy();
    await Promise.all(running.map((c) => stopServe(c)));
    await db.end();
  }
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
    const schemas = [schema];
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
      // HTTP ingest through collectors: one, three on one log (one row lock), three on three logs.
      const m = ctx.scale(5_000, 40_000);
      const runs: [string, number, string[]][] = [
        ['one', 1, ['bench']],
        ['three', 3, ['bench']],
        ['three_tenants', 3, ['bench', 'bench2', 'bench3']],
      ];
      const got = new Map<string, CollectorsRun>();
      for (const [name, count, tenants] of runs) {
        const s = `bench_${randomBytes(6).toString('hex')}`;
        schemas.push(s);
        got.set(name, await collectorsIngest(ctx.tmpDir, url, s, count, tenants, m));
      }
      const one = got.get('one')!;
      const three = got.get('three')!;
      const spread = got.get('three_tenants')!;
      const how = `${m} events, ${HTTP_CLIENTS} HTTP clients, batches of ${HTTP_BATCH}`;
      results.push(
        { name: 'postgres.collectors_1_events_per_s', value: one.perSecond, unit: 'events/s', note: how },
        {
          name: 'postgres.collectors_3_events_per_s',
          value: three.perSecond,
          unit: 'events/s',
          note: `${how}, one log`,
        },
        {
          name: 'postgres.collectors_3_vs_1',
          value: three.perSecond / one.perSecond,
          unit: '×',
          target: atLeast(1.5),
          note: 'three collectors ÷ one, one log, same run',
        },
        {
          name: 'postgres.collectors_3_tenants_events_per_s',
          value: spread.perSecond,
          unit: 'events/s',
          note: `${how}, three tenants' logs`,
        },
        {
          name: 'postgres.collectors_3_tenants_vs_1',
          value: spread.perSecond / one.perSecond,
          unit: '×',
          note: 'three collectors on three logs ÷ one collector on one, same run',
        },
        {
          name: 'postgres.collectors_1_cpu_per_event',
          value: one.collectorsCpuUs,
          unit: 'µs',
          note: `the collector's CPU (/proc); its PostgreSQL backends ${one.pgCpuUs.toFixed(0)} µs, clients ${one.clientCpuUs.toFixed(0)} µs`,
        },
        {
          name: 'postgres.collectors_3_cpu_per_event',
          value: three.collectorsCpuUs,
          unit: 'µs',
          note: `the three collectors' CPU together (/proc); their PostgreSQL backends ${three.pgCpuUs.toFixed(0)} µs, clients ${three.clientCpuUs.toFixed(0)} µs`,
        },
        {
          name: 'postgres.collectors_1_pg_cpu_per_event',
          value: one.pgCpuUs,
          unit: 'µs',
          note: "the collector's PostgreSQL backends (/proc, found by application_name)",
        },
        {
          name: 'postgres.collectors_3_pg_cpu_per_event',
          value: three.pgCpuUs,
          unit: 'µs',
          note: "the three collectors' PostgreSQL backends together (/proc, found by application_name)",
        },
      );
    } finally {
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      for (const s of schemas) await c.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`);
      await c.end();
    }
    return results;
  },
});
