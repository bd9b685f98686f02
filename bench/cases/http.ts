/**
 * `auditrail serve` over HTTP (issue 12 item 6): the real server in its own process on
 * 127.0.0.1, its log in an SQLite file, and clients in this process on keep-alive connections.
 * - ingest: 64 concurrent clients, each awaiting its receipt before sending again, with batches
 *   of 100 events and with single events (events/s; p50/p99 of one request at saturation);
 * - batch latency at the throughput the issue asks for (0.5 × embedded ingest): the same 64
 *   clients sending batches on a fixed schedule (open loop), each request timed from the moment it
 *   was due, so time spent waiting for a free connection counts. At saturation, 64 closed-loop
 *   clients keep 6,400 events in flight and Little's law sets the latency (in-flight / rate);
 *   that figure stays in the table, without a target;
 * - governance: one agent asking `POST /v1/decide` then recording `POST /v1/actions/{id}/outcome`,
 *   the round trip an agent in another language pays for a governed action;
 * - the remote SDK with a spool: `record()` resolves once the event is fsynced in the local spool.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { Agent, request } from 'node:http';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openAuditTrail } from '../../src/index.js';
import { warmupEvents, workloadEvents } from '../fixtures/workload-events.js';
import { addBenchmark, below, percentile, relativeTo, since, type BenchResult } from '../suite.js';

const CLIENTS = 64;
const BATCH = 100;

const POLICY = `policy_id: bench-http
version: 1
default: deny
rules:
  - id: allow-noop
    match: { action: "bench:noop" }
    effect: allow
`;

/** `auditrail` of this checkout: compiled (npm run bench) or TypeScript under tsx. */
function cliCommand(): string[] {
  const self = import.meta.url;
  const main = fileURLToPath(new URL(`../../src/cli/main.${self.endsWith('.ts') ? 'ts' : 'js'}`, self));
  return self.endsWith('.ts') ? ['--import', 'tsx', main] : [main];
}

interface Served {
  url: string;
  key: string;
  /** SIGTERM (graceful: final checkpoint) and wait for the exit. */
  stop(): Promise<void>;
}

/** Starts `auditrail serve` on a free port and resolves with its URL and first admin key. */
function startServe(db: string, policy: string): Promise<Served> {
  const child: ChildProcess = spawn(
    process.execPath,
    [
      ...cliCommand(),
      'serve',
      '--db',
      db,
      '--port',
      '0',
      '--policy',
      policy,
      '--tenant',
      'bench',
      '--quiet',
      // 64 clients on one key: the default per-key limit (6,000 a minute) would answer 429.
      '--rate-limit',
      '100000000',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`auditrail serve did not start: ${out} ${err}`));
    }, 60_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`auditrail serve exited (${code}): ${out} ${err}`));
    });
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const url = /auditrail serve: (http:\/\/\S+)/.exec(out)?.[1];
      const key = /^(atr_\S+)$/m.exec(out)?.[1];
      if (url === undefined || key === undefined) return;
      clearTimeout(timer);
      resolve({
        url,
        key,
        stop: async () => {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
          await exited;
        },
      });
    });
  });
}

/** A client of one server on keep-alive connections (at most `sockets` open). */
class Client {
  private readonly agent: Agent;
  private readonly base: URL;
  constructor(
    url: string,
    private readonly key: string,
    sockets: number,
  ) {
    this.agent = new Agent({ keepAlive: true, maxSockets: sockets });
    this.base = new URL(url);
  }

  /** POSTs a JSON body; resolves with the parsed answer, rejects on any status but 200/201. */
  post(path: string, body: string): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const req = request(
        {
          agent: this.agent,
          host: this.base.hostname,
          port: this.base.port,
          method: 'POST',
          path,
          headers: {
            authorization: `Bearer ${this.key}`,
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            if (res.statusCode !== 200 && res.statusCode !== 201) {
              reject(new Error(`POST ${path}: ${res.statusCode} ${text.slice(0, 300)}`));
            } else resolve(JSON.parse(text));
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/**
 * Sends `bodies` from `clients` concurrent clients, each awaiting its answer before its next
 * request; returns the wall time (s) and each request's latency (ms).
 */
async function drive(
  client: Client,
  bodies: string[],
  clients: number,
): Promise<{ seconds: number; latency: Float64Array }> {
  const latency = new Float64Array(bodies.length);
  let next = 0;
  const one = async (): Promise<void> => {
    for (let i = next++; i < bodies.length; i = next++) {
      const t = performance.now();
      await client.post('/v1/events', bodies[i]!);
      latency[i] = performance.now() - t;
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: clients }, one));
  return { seconds: since(start) / 1000, latency };
}

/**
 * Sends `bodies` on a fixed schedule, `perSecond` requests a second, at most `clients` at once;
 * each latency (ms) counts from when its request was due, so a late start is part of it.
 */
async function paced(
  client: Client,
  bodies: string[],
  clients: number,
  perSecond: number,
): Promise<{ seconds: number; latency: Float64Array }> {
  const latency = new Float64Array(bodies.length);
  const inFlight = new Set<Promise<void>>();
  const start = performance.now();
  for (let i = 0; i < bodies.length; i++) {
    const due = start + (i * 1000) / perSecond;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    while (inFlight.size >= clients) await Promise.race(inFlight);
    const p: Promise<void> = client.post('/v1/events', bodies[i]!).then(() => {
      latency[i] = performance.now() - due;
      inFlight.delete(p);
    });
    inFlight.add(p);
  }
  await Promise.all(inFlight);
  return { seconds: since(start) / 1000, latency };
}

addBenchmark({
  name: 'http',
  needs: ['ingest', 'guard'],
  async run(ctx) {
    const dir = join(ctx.tmpDir, 'http');
    mkdirSync(dir, { recursive: true });
    const policy = join(dir, 'policy.yaml');
    writeFileSync(policy, POLICY);
    const batches = ctx.scale(200, 1000);
    const singles = ctx.scale(3_000, 20_000);
    const pacedBatches = ctx.scale(200, 600);
    const events = workloadEvents((batches + pacedBatches) * BATCH + singles);
    // Bodies serialized beforehand: what is timed is the server, not the clients' JSON.stringify.
    const batchBodies = Array.from({ length: batches }, (_, b) =>
      JSON.stringify(events.slice(b * BATCH, (b + 1) * BATCH)),
    );
    const pacedBodies = Array.from({ length: pacedBatches }, (_, b) =>
      JSON.stringify(events.slice((batches + b) * BATCH, (batches + b + 1) * BATCH)),
    );
    const singleBodies = events.slice((batches + pacedBatches) * BATCH).map((e) => JSON.stringify(e));
    const warm = warmupEvents(3_000);
    const served = await startServe(join(dir, 'audit.db'), policy);
    const client = new Client(served.url, served.key, CLIENTS);
    try {
      await drive(
        client,
        Array.from({ length: 20 }, (_, b) => JSON.stringify(warm.slice(b * BATCH, (b + 1) * BATCH))),
        CLIENTS,
      );
      await drive(
        client,
        warm.slice(2_000).map((e) => JSON.stringify(e)),
        CLIENTS,
      );

      const batched = await drive(client, batchBodies, CLIENTS);
      // At the throughput target: 0.5 × the embedded ingest rate of this run.
      const ingest = ctx.result('ingest.events_per_s');
      const targetRate = ingest !== undefined ? ingest * 0.5 : (batches * BATCH) / batched.seconds / 2;
      const atTarget = await paced(client, pacedBodies, CLIENTS, targetRate / BATCH);
      const single = await drive(client, singleBodies, CLIENTS);

      // One agent: decide, then record the outcome.
      const n = ctx.scale(300, 1000);
      const decide = async (i: number): Promise<void> => {
        const d = (await client.post(
          '/v1/decide',
          JSON.stringify({
            actor: { type: 'agent', id: 'agent-0' },
            action: { type: 'bench:noop', target: `item/${i}`, params: { i } },
          }),
        )) as { decision: string; intent_event_id: string };
        if (d.decision !== 'allow') throw new Error(`decide answered ${d.decision}`);
        await client.post(`/v1/actions/${d.intent_event_id}/outcome`, '{"status":"success"}');
      };
      for (let i = 0; i < 20; i++) await decide(-1 - i);
      const roundTrip = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        const t = performance.now();
        await decide(i);
        roundTrip[i] = performance.now() - t;
      }

      // The remote SDK with a spool, one producer recording in a loop.
      const spooled = await openAuditTrail({
        url: served.url,
        apiKey: served.key,
        spool: join(dir, 'spool'),
      });
      const m = ctx.scale(500, 2000);
      const recordMs = new Float64Array(m);
      const sdkEvents = warmupEvents(3_000 + m).slice(3_000);
      try {
        for (let i = 0; i < 50; i++) await spooled.record({ ...sdkEvents[i]!, event_id: `spool-warm-${i}` });
        for (let i = 0; i < m; i++) {
          const t = performance.now();
          await spooled.record(sdkEvents[i]!);
          recordMs[i] = performance.now() - t;
        }
        await spooled.flush();
      } finally {
        await spooled.close();
      }

      const guard = ctx.result('guard.sequential_p50');
      const batchNote = `${batches} batches of ${BATCH}, ${CLIENTS} keep-alive clients; serve in its own process`;
      const singleNote = `${singles} single events, ${CLIENTS} keep-alive clients`;
      const pacedNote = `one batch request at ${Math.round(pacedBatches / atTarget.seconds) * BATCH} events/s (0.5 × ingest), ${pacedBatches} batches, up to ${CLIENTS} clients, timed from when due`;
      const results: BenchResult[] = [
        {
          name: 'http.batch_events_per_s',
          value: (batches * BATCH) / batched.seconds,
          unit: 'events/s',
          target: relativeTo(ctx, 'ingest.events_per_s', 0.5),
          note: batchNote,
        },
        {
          name: 'http.batch_p50',
          value: percentile(atTarget.latency, 0.5),
          unit: 'ms',
          note: pacedNote,
        },
        {
          name: 'http.batch_p99',
          value: percentile(atTarget.latency, 0.99),
          unit: 'ms',
          target: below(50),
          note: pacedNote,
        },
        {
          name: 'http.batch_saturated_p50',
          value: percentile(batched.latency, 0.5),
          unit: 'ms',
          note: `one batch request, ${CLIENTS} closed-loop clients at full speed`,
        },
        {
          name: 'http.batch_saturated_p99',
          value: percentile(batched.latency, 0.99),
          unit: 'ms',
          note: `one batch request, ${CLIENTS} closed-loop clients at full speed`,
        },
        {
          name: 'http.single_events_per_s',
          value: singles / single.seconds,
          unit: 'events/s',
          note: singleNote,
        },
        { name: 'http.single_p50', value: percentile(single.latency, 0.5), unit: 'ms', note: singleNote },
        { name: 'http.single_p99', value: percentile(single.latency, 0.99), unit: 'ms', note: singleNote },
        {
          name: 'http.decide_outcome_p50',
          value: percentile(roundTrip, 0.5),
          unit: 'ms',
          target: guard !== undefined ? below(guard * 2, '2 × guard.sequential_p50') : undefined,
          note: `${n} decide + outcome round trips, one agent; intent, decision and outcome durable`,
        },
        {
          name: 'http.decide_outcome_p99',
          value: percentile(roundTrip, 0.99),
          unit: 'ms',
        },
        {
          name: 'http.spool_record_p50',
          value: percentile(recordMs, 0.5),
          unit: 'ms',
          target: below(1),
          note: `remote SDK record() with a spool (fsynced), ${m} events, one producer`,
        },
        { name: 'http.spool_record_p99', value: percentile(recordMs, 0.99), unit: 'ms' },
      ];
      return results;
    } finally {
      client.close();
      await served.stop();
    }
  },
});
