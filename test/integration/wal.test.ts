// The SQLite WAL is checkpointed and truncated when appends go idle and on close, so a small
// disk holds the data, not a write-ahead log at its high-water mark.
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { openAuditTrail } from '../../src/index.js';
import { WAL_IDLE_MS } from '../../src/store/sqlite/sqlite-store.js';
import { sampleEvent, tempDir } from './helpers.js';

function walBytes(db: string): number {
  return existsSync(`${db}-wal`) ? statSync(`${db}-wal`).size : 0;
}

const idle = (): Promise<void> => new Promise((r) => setTimeout(r, WAL_IDLE_MS + 600));

describe('SQLite WAL', () => {
  it('is truncated to 0 bytes once single-event commits go idle', async () => {
    const db = join(tempDir(), 'audit.db');
    const trail = await openAuditTrail({ tenant: 'acme', db, writeThread: false, checkpointIntervalMs: 0 });
    for (let i = 0; i < 30; i++) await trail.record(sampleEvent(i));
    const busy = walBytes(db);
    assert.ok(busy > 30 * 4096, `the WAL grows with each commit (${busy} bytes)`);
    await idle();
    assert.equal(walBytes(db), 0, 'truncated after the idle delay');
    assert.equal(await trail.count(), 30);
    assert.equal((await trail.verify()).ok, true);
    await trail.close();
  });

  it('is truncated after commits on the write thread too', async () => {
    const db = join(tempDir(), 'audit.db');
    const trail = await openAuditTrail({ tenant: 'acme', db, checkpointIntervalMs: 0 });
    // Several rounds of concurrent records: once the thread is up, batches commit there.
    for (let round = 0; round < 20; round++) {
      await Promise.all(Array.from({ length: 50 }, (_, i) => trail.record(sampleEvent(round * 50 + i))));
    }
    assert.ok(walBytes(db) > 0);
    await idle();
    assert.equal(walBytes(db), 0);
    assert.equal(await trail.count(), 1000);
    await trail.close();
  });

  it('stays truncated when a checkpoint is signed after the appends went idle', async () => {
    const db = join(tempDir(), 'audit.db');
    const trail = await openAuditTrail({ tenant: 'acme', db, checkpointIntervalMs: 0 });
    for (let round = 0; round < 5; round++) {
      await Promise.all(Array.from({ length: 50 }, (_, i) => trail.record(sampleEvent(round * 50 + i))));
    }
    await idle();
    assert.equal(walBytes(db), 0);
    // The periodic checkpoint lands at any moment; signed once appends are idle, it must not hold
    // its frames in the WAL for another idle delay.
    await trail.checkpoint();
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(walBytes(db), 0, 'the checkpoint row went to the database file at once');
    assert.equal((await trail.verify()).ok, true);
    await trail.close();
  });

  it('truncates a checkpoint signed during the idle delay with the appends before it', async () => {
    const db = join(tempDir(), 'audit.db');
    const trail = await openAuditTrail({ tenant: 'acme', db, writeThread: false, checkpointIntervalMs: 0 });
    for (let i = 0; i < 10; i++) await trail.record(sampleEvent(i));
    const lastAppend = Date.now();
    await new Promise((r) => setTimeout(r, WAL_IDLE_MS / 2));
    await trail.checkpoint();
    // Not one idle delay after the checkpoint: one after the last append.
    await new Promise((r) => setTimeout(r, lastAppend + WAL_IDLE_MS + 300 - Date.now()));
    assert.equal(walBytes(db), 0);
    await trail.close();
  });

  it('is truncated on close while another connection keeps the database open', async () => {
    const db = join(tempDir(), 'audit.db');
    const trail = await openAuditTrail({ tenant: 'acme', db, writeThread: false, checkpointIntervalMs: 0 });
    const other = new Database(db, { readonly: true });
    try {
      for (let i = 0; i < 10; i++) await trail.record(sampleEvent(i));
      assert.ok(walBytes(db) > 0);
      await trail.close();
      assert.equal(walBytes(db), 0, 'the last connection is still open, yet the WAL is empty');
      const n = other.prepare('SELECT count(*) AS n FROM entries').get() as { n: number };
      assert.equal(n.n, 10, 'every committed event is in the database file');
    } finally {
      other.close();
    }
  });
});
