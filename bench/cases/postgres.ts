/**
 * PostgreSQL against embedded SQLite, same run, same machine: ingest through one SDK (64
 * producers awaiting their receipts), then verify and inclusion proofs on the PostgreSQL log;
 * then HTTP ingest through one and through three `auditrail serve --postgres` processes (16
 * clients posting batches, each client on one collector as a load balancer would spread them),
 * into one log and into three tenants' logs.
 * CPU time per event (process.cpuUsage: this process only, so PostgreSQL's own work is not in
 * it) is the figure that survives a loaded machine; the wall figures also carry the server's
 * fsync and the network round trips. Skipped, with the reason printed, when PostgreSQL is not
 * reachable (`$AUDITRAIL_BENCH_POSTGRES`, else postgres://postgres@127.0.0.1:5432/test).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { openAuditTrail, verifyProofBundle, type AuditTrail } from '../../src/index.js';
import { warmupEvents, workloadEvents } from '../fixtures/workload-events.js';
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

interface Collector {
  url: string;
  key: string | null;
  child: ChildProcess;
}

/**
 * Starts `auditrail serve --postgres` in `cwd` (every collector of a log in the same one: they
 * share its signing key, ./.auditrail/keys) and resolves with its URL (and first key).
 */
function startCollector(cwd: string, dbUrl: string, tenant: string, first: boolean): Promise<Collector> {
  const args = [...cliCommand(), 'serve', '--postgres', dbUrl, '--port', '0', '--tenant', tenant];
  // 16 clients on one key: the default per-key limit (6,000 a minute) would answer 429.
  args.push('--quiet', '--rate-limit', '100000000');
  const child = spawn(process.execPath, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`auditrail serve did not start: ${out} ${err}`));
    }, 120_000);
    const onExit = (code: number | null): void => {
      clearTimeout(timer);
      reject(new Error(`auditrail serve exited (${code}): ${out} ${err}`));
    };
    child.once('exit', onExit);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const url = /auditrail serve: (http:\/\/\S+)/.exec(out)?.[1];
      const key = /^(atr_\S+)$/m.exec(out)?.[1] ?? null;
      if (url === undefined || (first && key === null)) return;
      clearTimeout(timer);
      child.off('exit', onExit);
      resolve({ url, key, child });
    });
  });
}

async function stopCollector(c: Collector): Promise<void> {
  if (c.child.exitCode !== null || c.child.signalCode !== null) return;
  const exited = new Promise((r) => c.child.once('exit', r));
  c.child.kill('SIGTERM');
  await exited;
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
  /** This process's CPU (the clients) per event. */
  clientCpuUs: number;
}

/**
 * `n` events posted in batches by {@link HTTP_CLIENTS} clients through `collectors` processes on
 * a fresh schema, batch i into tenant `tenants[i % tenants.length]`; client c posts to collector
 * c mod `collectors` (each awaits its answer before its next batch).
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
  const running: Collector[] = [];
  const agents: Agent[] = [];
  try {
    running.push(await startCollector(cwd, dbUrl, tenants[0]!, true));
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
    for (let i = 1; i < collectors; i++) running.push(await startCollector(cwd, dbUrl, tenants[0]!, false));
    const targets = running.map((c) => new URL(c.url));
    const events = workloadEvents(n);
    const bodies: string[] = [];
    for (let i = 0; i < n; i += HTTP_BATCH) bodies.push(JSON.stringify(events.slice(i, i + HTTP_BATCH)));
    const warm = warmupEvents(HTTP_CLIENTS * 20);
    const warmBodies: string[] = [];
    for (let i = 0; i < warm.length; i += 20) warmBodies.push(JSON.stringify(warm.slice(i, i + 20)));
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
    const pids = running.map((c) => c.child.pid);
    const cpuOfAll = (): number => pids.reduce<number>((a, p) => a + cpuOf(p), 0);
    const before = cpuOfAll();
    const cpu = process.cpuUsage();
    const start = performance.now();
    await drive(bodies);
    const seconds = since(start) / 1000;
    const used = process.cpuUsage(cpu);
    const collectorsCpu = cpuOfAll() - before;
    return {
      perSecond: n / seconds,
      collectorsCpuUs: collectorsCpu / n,
      clientCpuUs: (used.user + used.system) / n,
    };
  } finally {
    for (const a of agents) a.destroy();
    await Promise.all(running.map(stopCollector));
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
          note: `the collector's CPU (/proc); clients ${one.clientCpuUs.toFixed(0)} µs`,
        },
        {
          name: 'postgres.collectors_3_cpu_per_event',
          value: three.collectorsCpuUs,
          unit: 'µs',
          note: `the three collectors' CPU together (/proc); clients ${three.clientCpuUs.toFixed(0)} µs`,
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
