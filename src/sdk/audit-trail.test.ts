import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { signCheckpoint } from '../core/checkpoint.js';
import { formatVerifierKey, generateSigner } from '../core/note.js';
import { verifyProofBundle } from '../core/proof-bundle.js';
import { AuditError, ValidationError } from '../errors.js';
import type { AuditEvent } from '../event/types.js';
import { MemoryStore } from '../testing/index.js';
import { openAuditTrail } from './open.js';
import { sampleEvent, tempDir } from '../../test/integration/helpers.js';

const agent = { type: 'agent' as const, id: 'support-bot' };

describe('AuditTrail on SQLite', () => {
  it('returns a receipt after commit and the event survives a reopen', async () => {
    const db = join(tempDir(), 'audit.db');
    const trail = await openAuditTrail({ tenant: 'acme', db });
    const r0 = await trail.record(sampleEvent(0));
    const r1 = await trail.record(sampleEvent(1));
    assert.equal(r0.seq, 0);
    assert.equal(r1.seq, 1);
    assert.match(r1.leaf_hash, /^[0-9a-f]{64}$/);
    await trail.close();
    const again = await openAuditTrail({ tenant: 'acme', db });
    const got = await again.get(r1.event_id);
    assert.equal(got?.seq, 1);
    assert.equal(got?.leaf_hash, r1.leaf_hash);
    assert.equal(got?.type, 'policy.decision');
    assert.equal(got?.policy?.matched_rule, 'allow-reads');
    assert.equal((await again.verify()).ok, true);
    await again.close();
  });

  it('creates the signing key 0600 in a 0700 directory on first use', async () => {
    const dir = tempDir();
    const trail = await openAuditTrail({ tenant: 'acme', db: join(dir, 'audit.db') });
    await trail.record(sampleEvent(0));
    const note = await trail.checkpoint();
    assert.match(
      note,
      /^auditrail\.local\/t\/acme\/default\n1\n[A-Za-z0-9+/=]{44}\n\n— auditrail\.local\/t\/acme\/default /,
    );
    assert.equal(statSync(join(dir, 'keys', 'log-signing.key')).mode & 0o777, 0o600);
    assert.equal(statSync(join(dir, 'keys')).mode & 0o777, 0o700);
    assert.match(trail.verifierKey(), /^auditrail\.local\/t\/acme\/default\+[0-9a-f]{8}\+[A-Za-z0-9+/=]+$/);
    await trail.close();
  });

  it('never stores a redacted secret in the database file', async () => {
    const dir = tempDir();
    const db = join(dir, 'audit.db');
    const trail = await openAuditTrail({ tenant: 'acme', db });
    const secret = ['sk', 'live', '51HxQ2eKz8Rv0PfYw3LmNbTq'].join('_');
    await trail.record({
      type: 'action.intent',
      actor: agent,
      action: { type: 'write:charge', params: { api_key: 'plain-value-123', note: `use ${secret} now` } },
    });
    const page = await trail.query({});
    const e = page.events[0]!;
    assert.deepEqual(e.redacted, ['/action/params/api_key', '/action/params/note']);
    assert.equal((e.action?.params as Record<string, string>)['api_key'], '***REDACTED***');
    await trail.close();
    for (const f of [db, `${db}-wal`]) {
      let bytes: Buffer;
      try {
        bytes = readFileSync(f);
      } catch {
        continue;
      }
      assert.equal(bytes.includes(secret), false, `${f} holds the secret`);
      assert.equal(bytes.includes('plain-value-123'), false, `${f} holds the api key`);
    }
  });
});

describe('AuditTrail behaviour (memory store)', () => {
  const open = (extra = {}) =>
    openAuditTrail({ tenant: 'acme', store: new MemoryStore(), checkpointIntervalMs: 0, ...extra });

  it('rejects a bad event naming the field and the rule, storing nothing', async () => {
    const trail = await open();
    await assert.rejects(
      trail.record({ type: 'action.intent', actor: { type: 'robot', id: 'x' } } as unknown as AuditEvent),
      (e: unknown) =>
        e instanceof ValidationError &&
        /\/actor\/type must be one of agent, user, service, system \(enum\)/.test(e.message),
    );
    await assert.rejects(
      trail.record({ type: 'action.intent', actor: agent, risk_level: 'extreme' } as unknown as AuditEvent),
      /\/risk_level/,
    );
    await assert.rejects(
      trail.record({ type: 'action.intent' } as unknown as AuditEvent),
      /\/actor is required/,
    );
    await assert.rejects(
      trail.record({ type: 'nope', actor: agent } as unknown as AuditEvent),
      /\/type must be a known event type/,
    );
    await assert.rejects(
      trail.record({ type: 'x.custom', actor: agent, tenant: 'other' }),
      /\/tenant must be "acme"/,
    );
    assert.equal(trail.size, 0);
    assert.equal(await trail.count(), 0);
  });

  it('stores a re-sent event once and returns the same receipt', async () => {
    const trail = await open();
    const e: AuditEvent = { ...sampleEvent(0), event_id: 'evt-fixed-1' };
    const a = await trail.record(e);
    const b = await trail.record(e);
    const [c, d] = await Promise.all([trail.record(e), trail.record({ ...e })]);
    assert.equal(b.seq, a.seq);
    assert.equal(b.leaf_hash, a.leaf_hash);
    assert.equal(c.seq, a.seq);
    assert.equal(d.seq, a.seq);
    assert.equal(trail.size, 1);
    await assert.rejects(
      trail.record({ ...e, session_id: 'another' }),
      (err: unknown) => err instanceof AuditError && err.code === 'conflict',
    );
  });

  it('groups concurrent records into one transaction', async () => {
    const store = new MemoryStore();
    let appends = 0;
    const orig = store.append.bind(store);
    store.append = ((...args: Parameters<typeof orig>) => {
      appends++;
      return orig(...args);
    }) as typeof store.append;
    const trail = await openAuditTrail({ tenant: 'acme', store, checkpointIntervalMs: 0 });
    const receipts = await Promise.all(Array.from({ length: 100 }, (_, i) => trail.record(sampleEvent(i))));
    assert.deepEqual(
      receipts.map((r) => r.seq),
      Array.from({ length: 100 }, (_, i) => i),
    );
    assert.equal(appends, 1);
  });

  it('commits a recordBatch of 1,000 events in one transaction, with other records around it', async () => {
    const store = new MemoryStore();
    const appends: string[][] = [];
    const orig = store.append.bind(store);
    store.append = ((...args: Parameters<typeof orig>) => {
      appends.push([...args[1]]);
      return orig(...args);
    }) as typeof store.append;
    const trail = await openAuditTrail({ tenant: 'acme', store, checkpointIntervalMs: 0, maxBatch: 64 });
    const batch = Array.from({ length: 1000 }, (_, i) => ({ ...sampleEvent(i), event_id: `batch-${i}` }));
    const singles = Array.from({ length: 200 }, (_, i) => trail.record(sampleEvent(1000 + i)));
    const receipts = await trail.recordBatch(batch);
    await Promise.all(singles);
    const holding = appends.filter((eids) => eids.some((e) => e.startsWith('batch-')));
    assert.equal(holding.length, 1, 'the batch is in exactly one append');
    assert.equal(holding[0]!.filter((e) => e.startsWith('batch-')).length, 1000);
    assert.ok(appends.length > 1, 'the 200 single records still commit at maxBatch 64');
    assert.deepEqual(
      receipts.map((r) => r.seq - receipts[0]!.seq),
      Array.from({ length: 1000 }, (_, i) => i),
      'consecutive seqs',
    );
    await trail.close();
  });

  it('pages queries with a cursor and filters', async () => {
    const trail = await open();
    for (let i = 0; i < 30; i++) await trail.record(sampleEvent(i, i < 15 ? 's-a' : 's-b'));
    const seen: number[] = [];
    let page = await trail.query({ session_id: 's-b', limit: 4 });
    for (;;) {
      seen.push(...page.events.map((e) => e.seq));
      if (!page.next_cursor) break;
      page = await trail.query({ session_id: 's-b', limit: 4, cursor: page.next_cursor });
    }
    assert.deepEqual(
      seen,
      Array.from({ length: 15 }, (_, i) => 15 + i),
    );
    const desc = await trail.query({ type: 'policy.decision', order: 'desc', limit: 2 });
    assert.deepEqual(
      desc.events.map((e) => e.seq),
      [28, 25],
    );
    assert.equal((await trail.query({ decision: 'allow' })).events.length, 10);
    await assert.rejects(trail.query({ limit: 0 }), /limit/);
    await assert.rejects(trail.query({ cursor: 'garbage' }), /cursor/);
  });

  it('proves one event with a bundle that verifies offline and fails when altered', async () => {
    const trail = await open();
    for (let i = 0; i < 37; i++) await trail.record(sampleEvent(i));
    const bundle = await trail.prove(23);
    const ok = verifyProofBundle(JSON.parse(JSON.stringify(bundle)), { trustedKey: trail.verifierKey() });
    assert.equal(ok.ok, true, ok.failures.join('; '));
    assert.equal((ok.event?.['outcome'] as { status: string }).status, 'success');
    const leaf = Buffer.from(bundle.leaf, 'base64');
    leaf[10] = leaf[10]! ^ 1;
    assert.equal(verifyProofBundle({ ...bundle, leaf: leaf.toString('base64') }).ok, false);
    const proof = [...bundle.inclusion.proof];
    proof[0] = Buffer.alloc(32, 7).toString('base64');
    assert.equal(verifyProofBundle({ ...bundle, inclusion: { ...bundle.inclusion, proof } }).ok, false);
    const other = await open();
    assert.equal(verifyProofBundle(bundle, { trustedKey: other.verifierKey() }).ok, false);
    await assert.rejects(trail.prove(99), /no event with seq 99/);
  });

  it('checks each new checkpoint note under each key before proving from it', async () => {
    const store = new MemoryStore();
    const trail = await openAuditTrail({ tenant: 'acme', store, checkpointIntervalMs: 0 });
    for (let i = 0; i < 10; i++) await trail.record(sampleEvent(i));
    const keyFailure = (e: unknown) => e instanceof AuditError && e.code === 'key_failure';
    assert.equal((await trail.prove(3)).inclusion.tree_size, 10);
    // The same note, but another key: checked again, and refused.
    const other = generateSigner(trail.origin).signer;
    const otherKey = formatVerifierKey(trail.origin, other.publicKey);
    await assert.rejects(trail.prove(3, { verifierKey: otherKey }), keyFailure);
    assert.equal((await trail.prove(4)).inclusion.tree_size, 10);
    // A newer note signed by another key: the one verified before does not vouch for it.
    const forged = signCheckpoint({ origin: trail.origin, size: 11, root: Buffer.alloc(32, 1) }, [other]);
    const logId = (await store.getLog(trail.origin))!.logId;
    await store.addCheckpoint(logId, { size: 11, root: Buffer.alloc(32, 1), note: forged, createdAt: 'x' });
    await assert.rejects(trail.prove(3), keyFailure);
    await trail.close();
  });

  it('applies back-pressure in fire-and-forget mode and never drops on failure', async () => {
    const store = new MemoryStore();
    const errors: unknown[] = [];
    const trail = await openAuditTrail({
      tenant: 'acme',
      store,
      checkpointIntervalMs: 0,
      highWaterMark: 5,
      maxQueue: 8,
      onError: (e) => errors.push(e),
    });
    store.failAppends = new Error('disk full');
    const accepted: boolean[] = [];
    for (let i = 0; i < 8; i++) accepted.push(trail.emit(sampleEvent(i)));
    assert.deepEqual(accepted, [true, true, true, true, false, false, false, false]);
    assert.throws(
      () => trail.emit(sampleEvent(9)),
      (e: unknown) => e instanceof AuditError && e.code === 'queue_full',
    );
    // Wait for the background failure to be reported (a loaded machine may take a while).
    for (let t = 0; errors.length === 0 && t < 500; t++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(errors.length >= 1, 'the failure is reported');
    assert.equal(trail.pending, 8, 'nothing was dropped');
    assert.equal(trail.size, 0);
    store.failAppends = null;
    await trail.flush();
    assert.equal(trail.pending, 0);
    assert.equal(trail.size, 8);
    assert.equal((await trail.verify()).ok, true);
  });

  it('answers get, query and count from committed data while emitted events cannot commit', async () => {
    const store = new MemoryStore();
    const errors: unknown[] = [];
    const trail = await openAuditTrail({
      tenant: 'acme',
      store,
      checkpointIntervalMs: 0,
      onError: (e) => errors.push(e),
    });
    const committed = await trail.record(sampleEvent(0));
    store.failAppends = new Error('disk full');
    trail.emit(sampleEvent(1));
    trail.emit(sampleEvent(2));
    assert.equal((await trail.get(committed.seq))?.event_id, committed.event_id);
    assert.equal(await trail.get(1), undefined, 'the queued event is not there yet');
    assert.deepEqual(
      (await trail.query()).events.map((e) => e.seq),
      [0],
    );
    assert.equal(await trail.count(), 1);
    assert.equal(trail.pending, 2, 'the queued events are kept');
    assert.ok(errors.length >= 1, 'the failure is reported through onError');
    // Once the store recovers, reads see their own writes again.
    store.failAppends = null;
    assert.equal(await trail.count(), 3);
    assert.equal((await trail.get(2))?.type, sampleEvent(2).type);
    await trail.close();
  });

  it('rejects awaited records when the store fails, and recovers', async () => {
    const store = new MemoryStore();
    const trail = await openAuditTrail({ tenant: 'acme', store, checkpointIntervalMs: 0 });
    store.failAppends = new Error('server down');
    await assert.rejects(trail.record(sampleEvent(0)), /server down/);
    store.failAppends = null;
    assert.equal((await trail.record(sampleEvent(1))).seq, 0);
  });

  it('publishes checkpoints on its interval and on close', async () => {
    const store = new MemoryStore();
    const trail = await openAuditTrail({ tenant: 'acme', store, checkpointIntervalMs: 20 });
    await trail.record(sampleEvent(0));
    await new Promise((r) => setTimeout(r, 80));
    assert.match((await trail.latestCheckpoint()) ?? '', /\n1\n/);
    await trail.record(sampleEvent(1));
    await trail.close();
    const head = (await store.listLogs())[0]!;
    assert.equal((await store.latestCheckpoint(head.logId))?.size, 2);
    await assert.rejects(trail.record(sampleEvent(2)), /closed/);
  });

  it('rejects bad tenant and log names', async () => {
    await assert.rejects(openAuditTrail({ tenant: '../etc', store: new MemoryStore() }), /tenant must be/);
    await assert.rejects(
      openAuditTrail({ tenant: 'ok', log: 'a/b', store: new MemoryStore() }),
      /log must be/,
    );
  });
});

describe('AuditTrail under continuous load', () => {
  it('lets flush, checkpoint and timers finish while producers keep recording', async () => {
    const db = join(tempDir(), 'audit.db');
    const trail = await openAuditTrail({ tenant: 'acme', db, checkpointIntervalMs: 0 });
    let stop = false;
    let ticks = 0;
    const timer = setInterval(() => ticks++, 10);
    const producers = Array.from({ length: 8 }, async (_, p) => {
      for (let i = 0; !stop; i++) await trail.record(sampleEvent(i, `s-${p}`));
    });
    await new Promise((r) => setTimeout(r, 100));
    const t0 = performance.now();
    const note = await trail.checkpoint();
    const took = performance.now() - t0;
    await new Promise((r) => setTimeout(r, 100));
    stop = true;
    await Promise.all(producers);
    clearInterval(timer);
    assert.ok(took < 2000, `checkpoint took ${took} ms under load`);
    assert.ok(ticks >= 5, `timers starved: ${ticks} ticks`);
    assert.match(note, /^auditrail\.local\/t\/acme\/default\n\d+\n/);
    assert.equal((await trail.verify()).ok, true);
    await trail.close();
  });
});
