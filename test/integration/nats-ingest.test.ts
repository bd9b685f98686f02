// NATS JetStream ingestion against the real NATS server on 127.0.0.1:4222 and a real SQLite file:
// producers publish through openAuditTrail({ nats }), `auditrail serve --nats` (a child process)
// commits to the log. Each event lands exactly once, in the order of the stream, also when the
// collector is killed with SIGKILL mid-stream or stopped for a while as producers keep publishing.
// Each test uses its own stream and subjects (random suffix) and deletes the stream after.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { openAuditTrail, type AuditEvent, type NatsAuditTrail, type StreamReceipt } from '../../src/index.js';
import { AuditError } from '../../src/errors.js';
import { NatsCollector } from '../../src/server/nats-collector.js';
import { startServe, stopServe, tempDir, type ServeProcess } from './helpers.js';

const NATS_URL = 'nats://127.0.0.1:4222';
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** How long the collector stays stopped while producers publish (the task asks for 10+ s). */
const OUTAGE_MS = Number(process.env['AUDITRAIL_NATS_OUTAGE_S'] ?? 12) * 1000;

let nc: NatsConnection | null = null;
let skip: string | false = false;
try {
  nc = await connect({ servers: NATS_URL, timeout: 2000 });
  await (await jetstreamManager(nc)).getAccountInfo();
} catch (e) {
  skip = `no NATS server with JetStream on ${NATS_URL} (${(e as Error).message})`;
  await nc?.close();
  nc = null;
}
if (skip && process.env['CI'] === 'true') throw new Error(`NATS tests under CI: ${skip}`);
if (skip) console.log(`# skipped: ${skip}`);

const streams: string[] = [];
const children: ChildProcess[] = [];
after(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  if (nc) {
    const jsm = await jetstreamManager(nc);
    for (const s of streams) await jsm.streams.delete(s).catch(() => undefined);
    await nc.close();
  }
});

interface Setup {
  db: string;
  stream: string;
  prefix: string;
}

function setup(): Setup {
  const suffix = randomBytes(4).toString('hex');
  const stream = `AUDITRAIL_TEST_${suffix}`;
  streams.push(stream);
  return { db: join(tempDir('auditrail-nats-'), 'audit.db'), stream, prefix: `t${suffix}.events` };
}

type Collector = ServeProcess;

/** Starts the collector and resolves once it consumes the stream (and, on a new database, printed its key). */
async function startCollector(s: Setup, first: boolean): Promise<Collector> {
  const args = ['serve', '--db', s.db, '--port', '0', '--quiet', '--tenant', 'acme'];
  args.push('--nats', NATS_URL, '--nats-stream', s.stream, '--nats-subject-prefix', s.prefix);
  args.push('--nats-ack-wait', '2000');
  const c = await startServe(args, { cwd: ROOT, key: first, ready: 'nats: consuming stream' });
  children.push(c.child);
  return c;
}

async function countIn(url: string, key: string): Promise<number> {
  const r = await fetch(`${url}/v1/events/count?type=action.intent`, {
    headers: { authorization: `Bearer ${key}` },
  });
  assert.equal(r.status, 200);
  return ((await r.json()) as { count: number }).count;
}

async function waitForCount(url: string, key: string, n: number, what: string): Promise<void> {
  const deadline = Date.now() + 120_000;
  let last = -1;
  while (Date.now() < deadline) {
    last = await countIn(url, key);
    if (last >= n) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.fail(`${what}: ${last} of ${n} events in the log after 120 s`);
}

function event(producer: number, i: number): AuditEvent {
  return {
    type: 'action.intent',
    actor: { type: 'agent', id: `bot-${producer}` },
    action: {
      type: 'read:order',
      target: `order/${i}`,
      params: { i, api_key: 'sk-live-abcdefghijklmnopqrstuv' },
    },
  };
}

/** The producers' events in the acme log, by seq; and verify's verdict. */
async function readLog(db: string): Promise<{ ids: string[]; ok: boolean; events: AuditEvent[] }> {
  const trail = await openAuditTrail({ db, tenant: 'acme', readonly: true });
  try {
    const events: AuditEvent[] = [];
    let cursor: string | null = null;
    do {
      const page = await trail.query({ limit: 1000, ...(cursor !== null ? { cursor } : {}) });
      events.push(...page.events);
      cursor = page.next_cursor;
    } while (cursor !== null);
    const report = await trail.verify();
    // The producers' events only (the server records its own, such as the first key's creation).
    const ours = events.filter((e) => e.actor.id.startsWith('bot-'));
    return { ids: ours.map((e) => e.event_id!), ok: report.ok, events: ours };
  } finally {
    await trail.close();
  }
}

/** Stream receipts sorted by stream seq: the order the log must follow. */
function streamOrder(receipts: StreamReceipt[]): string[] {
  return receipts
    .filter((r) => !r.duplicate)
    .sort((a, b) => a.stream_seq - b.stream_seq)
    .map((r) => r.event_id);
}

async function producers(s: Setup, n: number): Promise<NatsAuditTrail[]> {
  const out: NatsAuditTrail[] = [];
  for (let p = 0; p < n; p++)
    out.push(
      await openAuditTrail({
        nats: { servers: NATS_URL, stream: s.stream, subjectPrefix: s.prefix },
        tenant: 'acme',
      }),
    );
  return out;
}

describe('NATS JetStream ingestion', { skip, timeout: 600_000 }, () => {
  it('lands every published event exactly once, in stream order, with receipts and dead letters', async () => {
    const s = setup();
    const c = await startCollector(s, true);
    const key = c.key!;
    const dead: string[] = [];
    const sub = nc!.subscribe(`${s.prefix}_dead.>`, {
      callback: (_e, m) => void dead.push(`${m.subject} ${m.headers?.get('Auditrail-Reason') ?? ''}`),
    });
    const ps = await producers(s, 4);
    const receipts = (
      await Promise.all(
        ps.map(async (p, k) => Promise.all(Array.from({ length: 100 }, (_v, i) => p.record(event(k, i))))),
      )
    ).flat();
    assert.equal(receipts.length, 400);
    assert.ok(receipts.every((r) => r.stream === s.stream && !r.duplicate));
    // The same event_id again: JetStream keeps the first copy (message id = event_id).
    const again = await ps[0]!.record({ ...event(0, 0), event_id: receipts[0]!.event_id });
    assert.deepEqual([again.duplicate, again.stream_seq], [true, receipts[0]!.stream_seq]);
    // A message that is not an event goes to the dead-letter subject and blocks nothing.
    const js = (await import('@nats-io/jetstream')).jetstream(nc!);
    await js.publish(`${s.prefix}.acme`, 'not json', { msgID: 'garbage-1' });
    await js.publish(`${s.prefix}.acme`, JSON.stringify({ type: 'action.intent', event_id: 'bad-1' }), {
      msgID: 'bad-1',
    });
    const last = await ps[1]!.record(event(1, 1000));
    receipts.push(last);
    await waitForCount(c.url, key, 401, 'first run');
    // The producer learns the seq later, through the HTTP lookup.
    const withLookup = await openAuditTrail({
      nats: { servers: NATS_URL, stream: s.stream, subjectPrefix: s.prefix },
      tenant: 'acme',
      url: c.url,
      apiKey: key,
    });
    const r = await withLookup.receipt(last.event_id);
    assert.ok(r !== undefined && r.seq >= 0 && /^[0-9a-f]{64}$/.test(r.leaf_hash));
    assert.equal(await withLookup.receipt('no-such-event'), undefined);
    await withLookup.close();
    for (let i = 0; i < 50 && dead.length < 2; i++) await new Promise((res) => setTimeout(res, 100));
    assert.equal(dead.length, 2, `dead letters: ${dead.join('; ')}`);
    assert.match(dead.join('\n'), /not JSON/);
    assert.match(dead.join('\n'), /bad-1|actor|action/);
    sub.unsubscribe();
    const metrics = await (
      await fetch(`${c.url}/metrics`, { headers: { authorization: `Bearer ${key}` } })
    ).text();
    assert.match(metrics, /auditrail_nats_messages_total\{outcome="committed"\} 401/);
    assert.match(metrics, /auditrail_nats_messages_total\{outcome="dead_letter"\} 2/);
    await stopServe(c, 'SIGTERM');
    for (const p of ps) await p.close();
    const log = await readLog(s.db);
    assert.deepEqual(log.ids, streamOrder(receipts));
    assert.ok(log.ok, 'verify passes');
    // Redacted before it left the producer.
    assert.ok(!JSON.stringify(log.events).includes('sk-live-abcdefghijklmnopqrstuv'));
  });

  it('refuses bad options and bad events by name, publishing nothing', async () => {
    const s = setup();
    const nats = { servers: NATS_URL, stream: s.stream, subjectPrefix: s.prefix };
    await assert.rejects(
      openAuditTrail({ nats: { ...nats, stream: 'a.b' }, tenant: 'acme' }),
      /nats\.stream/,
    );
    await assert.rejects(
      openAuditTrail({ nats: { ...nats, subjectPrefix: 'x.>' }, tenant: 'acme' }),
      /subjectPrefix/,
    );
    await assert.rejects(
      openAuditTrail({ nats: { ...nats, servers: 'http://x' }, tenant: 'acme' }),
      /nats\.servers/,
    );
    await assert.rejects(openAuditTrail({ nats, tenant: 'a*' }), /tenant must be/);
    await assert.rejects(
      openAuditTrail({ nats, tenant: 'acme', url: 'http://127.0.0.1:1' }),
      /url and apiKey/,
    );
    // The collector's options are checked before anything connects or listens.
    assert.throws(
      () => NatsCollector.check({ ...nats, deadLetterSubject: `${s.prefix}.dead` }),
      /dead-letter/,
    );
    assert.throws(() => NatsCollector.check({ ...nats, ackWaitMs: 10 }), /ack wait/);
    assert.throws(() => NatsCollector.check({ ...nats, durable: 'a b' }), /durable/);
    const p = await openAuditTrail({ nats, tenant: 'acme' });
    await assert.rejects(p.record({ type: 'action.intent' } as AuditEvent), { name: 'ValidationError' });
    await assert.rejects(p.record({ ...event(0, 0), tenant: 'other' }), /not the trail's tenant/);
    await assert.rejects(p.receipt('x'), /needs url and apiKey/);
    const info = await (await jetstreamManager(nc!)).streams.info(s.stream);
    assert.equal(info.state.messages, 0, 'nothing of a refused event was published');
    await p.close();
    await assert.rejects(p.record(event(0, 0)), /closed/);
  });

  it('loses and duplicates nothing when the collector is killed with SIGKILL mid-stream', async () => {
    const s = setup();
    let c = await startCollector(s, true);
    const key = c.key!;
    const ps = await producers(s, 4);
    const receipts: StreamReceipt[] = [];
    const PER = 400;
    const publishing = Promise.all(
      ps.map(async (p, k) => {
        for (let i = 0; i < PER; i++) receipts.push(await p.record(event(k, i)));
      }),
    );
    for (let kill = 0; kill < 3; kill++) {
      const before = await countIn(c.url, key);
      // Kill once the collector is committing again.
      const deadline = Date.now() + 60_000;
      while ((await countIn(c.url, key)) <= before && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 50));
      await stopServe(c, 'SIGKILL');
      c = await startCollector(s, false);
    }
    await publishing;
    await waitForCount(c.url, key, 4 * PER, 'after the kills');
    // Redeliveries still due (ack wait 2 s) must find their event_id in the log.
    await new Promise((r) => setTimeout(r, 3000));
    assert.equal(await countIn(c.url, key), 4 * PER);
    await stopServe(c, 'SIGTERM');
    for (const p of ps) await p.close();
    const log = await readLog(s.db);
    assert.equal(new Set(log.ids).size, 4 * PER, '0 lost');
    assert.equal(log.ids.length, 4 * PER, '0 duplicates');
    assert.deepEqual(log.ids, streamOrder(receipts), 'stream order');
    assert.ok(log.ok, 'verify passes');
  });

  it('keeps a batch unacknowledged and in order while the log cannot be written, then commits it once', async () => {
    const s = setup();
    const trail = await openAuditTrail({ db: s.db, tenant: 'acme' });
    let failing = true;
    let failures = 0;
    const logged: string[] = [];
    const collector = await NatsCollector.start(
      { servers: NATS_URL, stream: s.stream, subjectPrefix: s.prefix, ackWaitMs: 2000 },
      {
        // The log's store is unreachable for a while: every commit attempt fails.
        trail: (tenant) => {
          assert.equal(tenant, 'acme');
          if (!failing) return Promise.resolve(trail);
          failures++;
          return Promise.reject(new AuditError('store_failure', 'the database is unavailable'));
        },
        log: (_level, m) => void logged.push(m),
      },
    );
    const [p] = await producers(s, 1);
    const receipts: StreamReceipt[] = [];
    for (let i = 0; i < 300; i++) receipts.push(await p!.record(event(0, i)));
    // Longer than the ack wait: the batch is kept (in progress), not redelivered elsewhere.
    await new Promise((r) => setTimeout(r, 5000));
    assert.ok(failures >= 3, `commit retried (${failures})`);
    assert.equal(await trail.count(), 0);
    failing = false;
    const deadline = Date.now() + 60_000;
    while ((await trail.count({ type: 'action.intent' })) < 300 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 2500));
    await collector.stop();
    await p!.close();
    assert.match(logged.join('\n'), /database is unavailable\); retrying/);
    assert.equal(collector.stats.committed, 300);
    assert.equal(collector.stats.dead, 0);
    await trail.close();
    const log = await readLog(s.db);
    assert.deepEqual(log.ids, streamOrder(receipts));
    assert.ok(log.ok, 'verify passes');
  });

  it(`delivers everything published while the collector was stopped for ${OUTAGE_MS / 1000} s`, async () => {
    const s = setup();
    let c = await startCollector(s, true);
    const key = c.key!;
    const ps = await producers(s, 4);
    const receipts: StreamReceipt[] = [];
    let publishing = true;
    const loops = ps.map(async (p, k) => {
      for (let i = 0; publishing; i++) {
        receipts.push(await p.record(event(k, i)));
        await new Promise((r) => setTimeout(r, 20));
      }
    });
    await new Promise((r) => setTimeout(r, 1000));
    await stopServe(c, 'SIGTERM');
    const atStop = receipts.length;
    await new Promise((r) => setTimeout(r, OUTAGE_MS));
    assert.ok(receipts.length > atStop + 50, 'producers kept publishing during the outage');
    c = await startCollector(s, false);
    await new Promise((r) => setTimeout(r, 1000));
    publishing = false;
    await Promise.all(loops);
    await waitForCount(c.url, key, receipts.length, 'after the outage');
    await stopServe(c, 'SIGTERM');
    for (const p of ps) await p.close();
    const log = await readLog(s.db);
    assert.equal(log.ids.length, receipts.length);
    assert.deepEqual(log.ids, streamOrder(receipts));
    assert.ok(log.ok, 'verify passes');
  });
});
