import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { verifyProofBundle } from '../../src/core/proof-bundle.js';
import { AuditError, ValidationError } from '../../src/errors.js';
import { buildServer } from '../../src/server/app.js';
import { agent, sampleEvent, TEST_POLICY } from '../../src/server/test-helpers.js';
import { MemoryStore } from '../../src/store/memory/memory-store.js';
import {
  ActionDeniedError,
  ApprovalRequiredError,
  Governor,
  guard,
} from '../../src/sdk/governance/governor.js';
import { openAuditTrail } from '../../src/sdk/open.js';
import { backoffMs, RemoteError } from '../../src/sdk/remote/http-client.js';
import type { RemoteAuditTrail } from '../../src/sdk/remote/remote-trail.js';

interface Live {
  app: FastifyInstance;
  store: MemoryStore;
  url: string;
  port: number;
  keys: { a: string; b: string; finance: string };
}

const apps: FastifyInstance[] = [];
const trails: RemoteAuditTrail[] = [];
after(async () => {
  for (const t of trails) await t.close().catch(() => undefined);
  for (const a of apps) await a.close().catch(() => undefined);
});

async function start(store = new MemoryStore(), port = 0): Promise<FastifyInstance> {
  const app = await buildServer({ store, keyDir: null, policy: TEST_POLICY, checkpointIntervalMs: 0 });
  apps.push(app);
  await app.listen({ host: '127.0.0.1', port });
  return app;
}

async function live(): Promise<Live> {
  const store = new MemoryStore();
  const app = await start(store);
  const all = ['ingest', 'read', 'decide', 'approve', 'admin'] as const;
  const keys = {
    a: (await app.auditrail.createKey({ tenant: 'acme', name: 'acme-bot', scopes: all })).key,
    b: (await app.auditrail.createKey({ tenant: 'globex', name: 'globex-bot', scopes: all })).key,
    finance: (
      await app.auditrail.createKey({ tenant: 'acme', name: 'finance-lead', scopes: ['approve', 'read'] })
    ).key,
  };
  const port = (app.server.address() as { port: number }).port;
  return { app, store, url: `http://127.0.0.1:${port}`, port, keys };
}

function keep<T extends RemoteAuditTrail>(t: T): T {
  trails.push(t);
  return t;
}

const tmp = (): string => mkdtempSync(join(tmpdir(), 'remote-'));

describe('remote trail without a spool', () => {
  it('records on the server receipt, reads back, counts, proves and dedupes a resend', async () => {
    const s = await live();
    const trail = keep(await openAuditTrail({ url: s.url, apiKey: s.keys.a }));
    const r = await trail.record({
      ...sampleEvent(1),
      event_id: 'evt-remote-1',
      time: '2026-01-01T00:00:00.000Z',
    } as never);
    assert.equal(r.event_id, 'evt-remote-1');
    assert.ok(Number.isSafeInteger(r.seq));
    assert.match(r.leaf_hash, /^[0-9a-f]{64}$/);
    const again = await trail.record({
      ...sampleEvent(1),
      event_id: 'evt-remote-1',
      time: '2026-01-01T00:00:00.000Z',
    } as never);
    assert.equal(again.seq, r.seq, 'a resent event_id is stored once');
    const concurrent = await Promise.all([2, 3, 4].map((i) => trail.record(sampleEvent(i) as never)));
    assert.deepEqual(
      concurrent.map((c) => c.seq),
      [r.seq + 1, r.seq + 2, r.seq + 3],
    );
    assert.equal((await trail.get(r.seq))?.event_id, 'evt-remote-1');
    assert.equal((await trail.get('evt-remote-1'))?.seq, r.seq);
    assert.equal(await trail.get('no-such-event'), undefined);
    assert.equal(await trail.count({ run_id: 'run-1' }), 4);
    const page = await trail.query({ run_id: 'run-1', limit: 3 });
    assert.equal(page.events.length, 3);
    assert.ok(page.next_cursor);
    const bundle = await trail.prove(r.seq);
    assert.equal(verifyProofBundle(bundle).ok, true);
    assert.match((await trail.latestCheckpoint()) ?? '', /^auditrail\.local\/t\/acme\/default\n/);
    assert.equal(trail.emit(sampleEvent(5) as never), true);
    await trail.flush();
    assert.equal(await trail.count({ run_id: 'run-1' }), 5);
  });

  it('validates and redacts before anything is sent; problems become RemoteErrors with codes', async () => {
    const s = await live();
    const trail = keep(await openAuditTrail({ url: s.url, apiKey: s.keys.a }));
    await assert.rejects(trail.record({ type: 'action.intent' } as never), ValidationError);
    const r = await trail.record(
      sampleEvent(1, {
        action: { type: 'read:order', params: { api_key: 'sk-live-abcdefghijklmnop1234' } },
      }) as never,
    );
    const stored = JSON.stringify(await trail.get(r.seq));
    assert.ok(!stored.includes('sk-live-abcdefghijklmnop1234'));
    const bad = keep(await openAuditTrail({ url: s.url, apiKey: 'ar_not_a_key' }));
    await assert.rejects(bad.query(), (e: unknown) => {
      assert.ok(e instanceof RemoteError);
      assert.equal(e.code, 'key_failure');
      assert.equal(e.status, 401);
      assert.equal(e.problem, 'unauthorized');
      return true;
    });
    await assert.rejects(
      trail.prove(10_000),
      (e: unknown) => e instanceof AuditError && e.code === 'not_found',
    );
    await assert.rejects(openAuditTrail({ url: 'ftp://x', apiKey: 'k' }), AuditError);
    await assert.rejects(openAuditTrail({ url: 'http://u:p@127.0.0.1:1', apiKey: 'k' }), /credentials/);
  });

  it('gives up after deliveryTimeoutMs when the server is unreachable (store_failure, status 0)', async () => {
    const trail = keep(
      await openAuditTrail({
        url: 'http://127.0.0.1:9',
        apiKey: 'k',
        deliveryTimeoutMs: 300,
        retryBaseMs: 20,
      }),
    );
    await assert.rejects(trail.record(sampleEvent(1) as never), (e: unknown) => {
      assert.ok(e instanceof RemoteError);
      assert.equal(e.code, 'store_failure');
      assert.equal(e.status, 0);
      return true;
    });
  });
});

describe('remote trail with a spool', () => {
  it('resolves once spooled, delivers in order, and flush returns the receipts', async () => {
    const s = await live();
    const dir = tmp();
    const trail = keep(await openAuditTrail({ url: s.url, apiKey: s.keys.a, spool: dir }));
    const spooled = await Promise.all([1, 2, 3].map((i) => trail.record(sampleEvent(i) as never)));
    for (const r of spooled) assert.equal(r.spooled, true);
    const receipts = await trail.flush();
    assert.deepEqual(
      receipts.map((r) => r.event_id),
      spooled.map((r) => r.event_id),
    );
    assert.deepEqual(
      receipts.map((r) => r.seq),
      [0, 1, 2].map((n) => receipts[0]!.seq + n),
    );
    assert.equal(trail.spoolStatus()?.events, 0);
    assert.equal(await trail.count({ run_id: 'run-1' }), 3);
  });

  it('keeps recording while the server is down and delivers everything once, in order, after it returns', async () => {
    const store = new MemoryStore();
    const first = await start(store);
    const key = (await first.auditrail.createKey({ tenant: 'acme', name: 'bot', scopes: ['ingest', 'read'] }))
      .key;
    const port = (first.server.address() as { port: number }).port;
    await first.close();
    const errors: unknown[] = [];
    const trail = keep(
      await openAuditTrail({
        url: `http://127.0.0.1:${port}`,
        apiKey: key,
        spool: tmp(),
        retryBaseMs: 20,
        retryMaxMs: 100,
        onError: (e) => errors.push(e),
      }),
    );
    const ids: string[] = [];
    for (let i = 0; i < 50; i++) ids.push((await trail.record(sampleEvent(i) as never)).event_id);
    await new Promise((r) => setTimeout(r, 150));
    assert.ok(errors.length > 0, 'delivery failures are reported');
    assert.equal(trail.spoolStatus()?.events, 50);
    await start(store, port);
    await trail.flush();
    const reader = keep(await openAuditTrail({ url: `http://127.0.0.1:${port}`, apiKey: key }));
    const page = await reader.query({ run_id: 'run-1', limit: 1000 });
    assert.deepEqual(
      page.events.map((e) => e.event_id),
      ids,
    );
  });

  it('rejects with queue_full naming the bound when the spool is full; nothing is dropped', async () => {
    const dir = tmp();
    const trail = keep(
      await openAuditTrail({
        url: 'http://127.0.0.1:9',
        apiKey: 'k',
        spool: dir,
        spoolMaxEvents: 3,
        onError: () => undefined,
      }),
    );
    for (let i = 0; i < 3; i++) await trail.record(sampleEvent(i) as never);
    await assert.rejects(trail.record(sampleEvent(9) as never), (e: unknown) => {
      assert.ok(e instanceof AuditError);
      assert.equal(e.code, 'queue_full');
      assert.match(e.message, /spoolMaxEvents 3/);
      return true;
    });
    assert.throws(() => trail.emit(sampleEvent(10) as never), /spoolMaxEvents 3/);
    assert.equal(trail.spoolStatus()?.events, 3);
    const bytes = keep(
      await openAuditTrail({
        url: 'http://127.0.0.1:9',
        apiKey: 'k',
        spool: tmp(),
        spoolMaxBytes: 400,
        onError: () => undefined,
      }),
    );
    await bytes.record(sampleEvent(0) as never);
    await assert.rejects(bytes.record(sampleEvent(1) as never), /spoolMaxBytes 400/);
  });

  it('redacts before spooling, and one process owns a spool at a time', async () => {
    const dir = tmp();
    const trail = keep(
      await openAuditTrail({ url: 'http://127.0.0.1:9', apiKey: 'k', spool: dir, onError: () => undefined }),
    );
    await trail.record(
      sampleEvent(1, {
        action: { type: 'read:order', params: { password: 'hunter2-hunter2-secret' } },
      }) as never,
    );
    for (const f of readdirSync(dir)) {
      assert.ok(!readFileSync(join(dir, f)).includes('hunter2-hunter2-secret'), `${f} holds no secret`);
    }
    await assert.rejects(openAuditTrail({ url: 'http://127.0.0.1:9', apiKey: 'k', spool: dir }), /in use/);
  });
});

describe('Governor on a remote trail', () => {
  it('gets decisions from /v1/decide, records outcomes through the server, and waits for approvals', async () => {
    const s = await live();
    const trail = keep(await openAuditTrail({ url: s.url, apiKey: s.keys.a }));
    const gov = new Governor({ trail, actor: agent, run_id: 'run-gov' });
    const read = guard(
      gov,
      (id: string) => Promise.resolve({ id }),
      (id) => ({ type: 'read:order', target: `order/${id}` }),
    );
    assert.deepEqual(await read('7'), { id: '7' });
    await assert.rejects(
      gov.run({ type: 'delete:everything' }, () => Promise.resolve(1)),
      ActionDeniedError,
    );

    const noWait = new Governor({ trail, actor: agent, run_id: 'run-gov', approvals: { wait: false } });
    await assert.rejects(
      noWait.run({ type: 'write:refund', target: 'order/1', params: { amount: 5 } }, () =>
        Promise.resolve(1),
      ),
      ApprovalRequiredError,
    );

    let requested = '';
    const waiting = new Governor({
      trail,
      actor: agent,
      run_id: 'run-gov',
      approvals: { onRequest: (r) => void (requested = r.id) },
    });
    const refund = waiting.run({ type: 'write:refund', target: 'order/2', params: { amount: 9 } }, () =>
      Promise.resolve('refunded'),
    );
    while (requested === '') await new Promise((r) => setTimeout(r, 10));
    const finance = keep(await openAuditTrail({ url: s.url, apiKey: s.keys.finance }));
    await new Governor({ trail: finance, actor: { type: 'user', id: 'finance-lead' } }).resolveApproval(
      requested,
      {
        approved: true,
        approver: 'finance-lead',
      },
    );
    assert.equal((await refund).result, 'refunded');

    const events = (await trail.query({ run_id: 'run-gov', limit: 1000 })).events;
    const types = events.map((e) => e.type);
    assert.equal(types.filter((t) => t === 'action.succeeded').length, 2);
    const done = events.find((e) => e.type === 'action.succeeded' && e.approval?.request_id === requested);
    assert.ok(done, 'the outcome names the grant it used');
    assert.ok(types.includes('approval.granted'));
  });

  it('decides allow and deny with a local policy, recording through the remote trail', async () => {
    const s = await live();
    const noTenant = keep(await openAuditTrail({ url: s.url, apiKey: s.keys.a }));
    assert.throws(() => new Governor({ trail: noTenant, actor: agent, policy: TEST_POLICY }), /tenant/);
    const trail = keep(await openAuditTrail({ url: s.url, apiKey: s.keys.a, tenant: 'acme' }));
    const gov = new Governor({ trail, actor: agent, policy: TEST_POLICY, run_id: 'run-local' });
    assert.equal(
      (await gov.run({ type: 'read:order', target: 'order/1' }, () => Promise.resolve('ok'))).result,
      'ok',
    );
    await assert.rejects(
      gov.run({ type: 'write:refund', target: 'order/1' }, () => Promise.resolve('no')),
      /server's policy/,
    );
    await trail.flush();
    const types = (await trail.query({ run_id: 'run-local', limit: 100 })).events.map((e) => e.type);
    assert.deepEqual(types.slice(0, 3), ['action.intent', 'policy.decision', 'action.succeeded']);
    assert.equal(await trail.count({ type: 'policy.updated' }), 1);
  });
});

describe('backoffMs', () => {
  it('grows exponentially under a cap, with full jitter, and honours Retry-After', () => {
    assert.equal(
      backoffMs(1, 100, 5000, undefined, () => 0.999),
      99,
    );
    assert.equal(
      backoffMs(4, 100, 5000, undefined, () => 0.5),
      400,
    );
    assert.equal(
      backoffMs(20, 100, 5000, undefined, () => 0.999),
      4995,
    );
    assert.equal(
      backoffMs(1, 100, 5000, 2, () => 0),
      2000,
    );
  });
});
