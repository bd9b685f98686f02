import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { AuditError } from '../../src/errors.js';
import { sampleEvent, tempDir } from './helpers.js';
import { openAuditTrail } from '../../src/sdk/open.js';
import { type AuditTrail } from '../../src/sdk/audit-trail.js';
import { WorkerAppender } from '../../src/store/sqlite/write-thread.js';
import { WAL_IDLE_MS } from '../../src/store/sqlite/sqlite-store.js';
import { createRedactor } from '../../src/redact/index.js';
import { prepareEvent } from '../../src/sdk/prepare.js';

function appenderOf(trail: AuditTrail): WorkerAppender {
  const a = (trail as unknown as { appender: { thread: WorkerAppender } | null }).appender;
  assert.ok(a, 'a trail on a SQLite file has a write thread');
  return a.thread;
}

async function untilReady(a: WorkerAppender): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!a.ready) {
    if (Date.now() > deadline) throw new Error('write thread did not start');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('write thread', () => {
  it('commits concurrent batches on its own connection; every receipt is in the verified log', async () => {
    const db = join(tempDir(), 'audit.db');
    const trail = await openAuditTrail({ tenant: 'acme', db, checkpointIntervalMs: 0 });
    const a = appenderOf(trail);
    await untilReady(a);
    let sawBusy = false;
    const receipts = await Promise.all(
      Array.from({ length: 600 }, async (_, i) => {
        const p = trail.record(sampleEvent(i));
        sawBusy ||= a.busy;
        return p;
      }),
    );
    assert.ok(sawBusy, 'batches went to the write thread');
    assert.deepEqual(
      receipts.map((r) => r.seq).sort((x, y) => x - y),
      Array.from({ length: 600 }, (_, i) => i),
    );
    assert.equal(trail.size, 600, 'the head follows the write thread');
    await trail.close();
    const again = await openAuditTrail({ tenant: 'acme', db, writeThread: false });
    assert.equal(again.size, 600);
    for (const r of receipts.filter((_, i) => i % 97 === 0)) {
      assert.equal((await again.get(r.seq))?.leaf_hash, r.leaf_hash);
    }
    const report = await again.verify();
    assert.equal(report.ok, true, JSON.stringify(report.failures.slice(0, 3)));
    await again.close();
  });

  it('checkpoints the WAL in the background for commits made on the calling thread', async () => {
    const db = join(tempDir(), 'audit.db');
    const trail = await openAuditTrail({ tenant: 'acme', db, checkpointIntervalMs: 0 });
    const a = appenderOf(trail);
    await untilReady(a);
    await new Promise((r) => setTimeout(r, WAL_IDLE_MS + 500));
    try {
      const before = statSync(db).size;
      // One producer awaiting each receipt: every commit is on this thread's connection, and none
      // comes near SQLite's own checkpoint size.
      for (let i = 0; i < 30; i++)
        await trail.record({ ...sampleEvent(i), metadata: { pad: 'x'.repeat(3000) } });
      const last = Date.now();
      assert.equal(a.busy, false, 'nothing went to the write thread');
      // Before the idle truncation, only the write thread's checkpoint copies pages into the file.
      let size = before;
      while (size === before && Date.now() < last + WAL_IDLE_MS - 200) {
        await new Promise((r) => setTimeout(r, 20));
        size = statSync(db).size;
      }
      assert.ok(size > before, `the database file grew from ${before} bytes before the idle truncation`);
    } finally {
      await trail.close();
    }
  });

  it('starts the WAL over under a steady stream of commits on the calling thread', async () => {
    const db = join(tempDir(), 'audit.db');
    const trail = await openAuditTrail({ tenant: 'acme', db, checkpointIntervalMs: 0 });
    await untilReady(appenderOf(trail));
    // The WAL header's checkpoint sequence counts the times a commit started the WAL over.
    const restarts = (): number => {
      const header = readFileSync(`${db}-wal`).subarray(0, 16);
      return header.length === 16 ? header.readUInt32BE(12) : -1;
    };
    try {
      const first = restarts();
      let largest = 0;
      // One producer awaiting each receipt (one agent, the server): every commit on this thread's
      // connection, back to back, while the write thread checkpoints in the background. Before,
      // each background copy was overtaken by a commit, the WAL never started over and grew to
      // the 64 MiB backstop, and every commit's fsync extended the file.
      for (let i = 0; i < 2000; i++) {
        await trail.record({ ...sampleEvent(i), metadata: { pad: 'x'.repeat(3000) } });
        if (i % 100 === 99) largest = Math.max(largest, statSync(`${db}-wal`).size);
      }
      assert.ok(restarts() - first >= 8, `the WAL started over ${restarts() - first} times`);
      assert.ok(largest < 16 * 1024 * 1024, `the WAL reached ${largest} bytes`);
    } finally {
      await trail.close();
    }
  });

  it('merges batches queued behind a commit into one transaction, answering each with its own receipts', async () => {
    const db = join(tempDir(), 'audit.db');
    const trail = await openAuditTrail({ tenant: 'acme', db, checkpointIntervalMs: 0 });
    const a = appenderOf(trail);
    await untilReady(a);
    const redactor = createRedactor();
    const prepared = (i: number) =>
      prepareEvent({ ...sampleEvent(i), event_id: `evt-${i}` }, { tenant: 'acme', redactor });
    // Posted in one turn: the thread finds the later ones waiting when it takes the first.
    // Batch 3 re-sends an event of batch 1: stored once, answered as a duplicate.
    const batches = [
      [0, 1, 2],
      [3, 4],
      [5, 6, 7, 8],
      [9, 1],
    ].map((ids) => ids.map(prepared));
    const results = await Promise.all(batches.map((b) => a.append(trail.origin, b, Date.now())));
    const seqs = results.flatMap((r) => r.receipts.map((x) => x.seq));
    assert.deepEqual(seqs, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 1]);
    assert.deepEqual(
      results.map((r) => r.receipts.map((x) => x.event_id)),
      batches.map((b) => b.map((x) => x.eid)),
    );
    assert.equal(results[3]!.receipts[1]!.duplicate, true);
    assert.equal(results[3]!.receipts[1]!.leaf_hash, results[0]!.receipts[1]!.leaf_hash);
    assert.equal(results[3]!.head?.size, 10);
    await trail.close();
    const again = await openAuditTrail({ tenant: 'acme', db, writeThread: false });
    assert.equal(again.size, 10);
    for (const r of results.flatMap((x) => x.receipts))
      assert.equal((await again.get(r.seq))?.leaf_hash, r.leaf_hash);
    assert.equal((await again.verify()).ok, true);
    await again.close();
  });

  it('is shared by the trails of one database file, and ends with the last of them', async () => {
    const db = join(tempDir(), 'audit.db');
    const acme = await openAuditTrail({ tenant: 'acme', db, checkpointIntervalMs: 0 });
    const globex = await openAuditTrail({ tenant: 'globex', db, checkpointIntervalMs: 0 });
    const a = appenderOf(acme);
    assert.equal(appenderOf(globex), a, 'one thread for the file');
    await untilReady(a);
    await Promise.all(
      Array.from({ length: 200 }, (_, i) => (i % 2 ? acme : globex).record(sampleEvent(i, `s-${i % 2}`))),
    );
    await acme.close();
    assert.equal(a.isClosed, false, 'still used by the other trail');
    await Promise.all(Array.from({ length: 50 }, (_, i) => globex.record(sampleEvent(500 + i))));
    await globex.close();
    assert.equal(a.isClosed, true);
    for (const tenant of ['acme', 'globex']) {
      const t = await openAuditTrail({ tenant, db, writeThread: false });
      assert.equal(t.size, tenant === 'acme' ? 100 : 150);
      assert.equal((await t.verify()).ok, true);
      await t.close();
    }
  });

  it('rejects the batches in flight when the thread dies, then keeps recording', async () => {
    const db = join(tempDir(), 'audit.db');
    const trail = await openAuditTrail({ tenant: 'acme', db, checkpointIntervalMs: 0 });
    const a = appenderOf(trail);
    await untilReady(a);
    const inFlight = Array.from({ length: 200 }, (_, i) => trail.record(sampleEvent(i)));
    // Let the first batch reach the thread, then kill it.
    await new Promise((r) => setImmediate(r));
    const worker = (a as unknown as { worker: { terminate(): Promise<number> } | null }).worker;
    assert.ok(worker);
    await worker.terminate();
    const settled = await Promise.allSettled(inFlight);
    const rejected = settled.filter((s) => s.status === 'rejected');
    for (const s of rejected) {
      assert.ok(s.reason instanceof AuditError);
      assert.equal(s.reason.code, 'store_failure');
    }
    const acknowledged = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    // Later records still commit (on this thread until a new write thread is up).
    const later = await trail.record(sampleEvent(1000));
    await trail.close();
    const again = await openAuditTrail({ tenant: 'acme', db, writeThread: false });
    for (const r of [...acknowledged, later]) {
      assert.equal((await again.get(r.event_id))?.leaf_hash, r.leaf_hash, `acknowledged seq ${r.seq} kept`);
    }
    const report = await again.verify();
    assert.equal(report.ok, true, JSON.stringify(report.failures.slice(0, 3)));
    // A rejected record may still have committed (the reply was lost, not the commit): it is
    // then in the log once, and re-sending it is answered as a duplicate.
    assert.ok(again.size >= acknowledged.length + 1);
    await again.close();
  });

  it('falls back to the calling thread, reporting once, when the thread cannot open the database', async () => {
    const failures: unknown[] = [];
    // A regular file where the database's directory should be.
    const file = join(tempDir(), 'not-a-dir');
    writeFileSync(file, '');
    const a = new WorkerAppender(join(file, 'sub', 'audit.db'), (e) => failures.push(e));
    const deadline = Date.now() + 30_000;
    while (failures.length === 0 && Date.now() < deadline) {
      assert.equal(a.ready, false);
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(failures.length, 1);
    assert.match(String(failures[0]), /ENOTDIR/);
    // Asking again does not start another thread.
    for (let i = 0; i < 5; i++) {
      assert.equal(a.ready, false);
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(failures.length, 1);
    await a.close();
  });

  it('is not used for an in-memory database or when turned off', async () => {
    const trail = await openAuditTrail({ tenant: 'acme', db: join(tempDir(), 'a.db'), writeThread: false });
    assert.equal((trail as unknown as { appender: unknown }).appender, null);
    await trail.record(sampleEvent(0));
    await trail.close();
  });
});
