import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { AuditError } from '../../errors.js';
import { storeContract } from '../store.contract.js';
import { SqliteStore } from './sqlite-store.js';

const dir = mkdtempSync(join(tmpdir(), 'auditrail-sqlite-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
storeContract('sqlite', () => Promise.resolve(new SqliteStore(join(dir, `c${n++}`, 'audit.db'))));

describe('SqliteStore specifics', () => {
  it('creates the database 0600 in a 0700 directory, in WAL mode with full sync', async () => {
    const path = join(dir, 'perm', 'audit.db');
    const store = new SqliteStore(path);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.equal(statSync(join(dir, 'perm')).mode & 0o777, 0o700);
    assert.equal(store.db.pragma('journal_mode', { simple: true }), 'wal');
    assert.equal(store.db.pragma('synchronous', { simple: true }), 2);
    await store.close();
  });

  it('records migrations with checksums and refuses an altered schema', async () => {
    const path = join(dir, 'mig', 'audit.db');
    const store = new SqliteStore(path);
    const m = store.migrations();
    assert.equal(m[0]?.id, 1);
    assert.match(m[0].checksum, /^[0-9a-f]{64}$/);
    store.db.prepare('UPDATE migrations SET checksum = ? WHERE id = 1').run('0'.repeat(64));
    await store.close();
    assert.throws(() => new SqliteStore(path), /checksum .* the schema was altered/);
  });

  it('refuses UPDATE and DELETE of log entries, checkpoints and full tiles', async () => {
    const store = new SqliteStore(join(dir, 'trig', 'audit.db'));
    const db = store.db;
    db.prepare(
      "INSERT INTO logs (origin, tenant, root_hash, right_edge, created_at) VALUES ('o', 't', x'00', x'', 'now')",
    ).run();
    db.prepare("INSERT INTO entries VALUES (1, 0, x'7b7d', x'00', 'e', 'x.t', 'ts')").run();
    db.prepare("INSERT INTO checkpoints VALUES (1, 1, x'00', 'note', 'now')").run();
    db.prepare(
      "INSERT INTO disclosures (log_id, seq, unit, pointer, disclosure) VALUES (1, 0, 0, '', x'5b5d')",
    ).run();
    assert.throws(() => db.prepare("UPDATE entries SET leaf = x'00'").run(), /append-only/);
    assert.throws(() => db.prepare('DELETE FROM entries').run(), /append-only/);
    assert.throws(() => db.prepare("UPDATE checkpoints SET note = 'x'").run(), /append-only/);
    assert.throws(() => db.prepare('DELETE FROM checkpoints').run(), /append-only/);
    assert.throws(() => db.prepare("UPDATE disclosures SET disclosure = x'00'").run(), /only be erased/);
    assert.throws(() => db.prepare('DELETE FROM disclosures').run(), /only be erased/);
    // The sanctioned erasure path: value to NULL, naming the erasure event.
    db.prepare('UPDATE disclosures SET disclosure = NULL, erased_by_seq = 5').run();
    await store.close();
  });

  it('prunes index rows whose seq is not an integer, and reports a refused tile write as an AuditError', async () => {
    const store = new SqliteStore(join(dir, 'derived', 'audit.db'));
    const db = store.db;
    db.prepare(
      "INSERT INTO logs (origin, tenant, root_hash, right_edge, created_at) VALUES ('o', 't', x'00', x'', 'now')",
    ).run();
    for (const seq of [0, 1.5, 'x', -1]) {
      db.prepare("INSERT INTO events (log_id, seq, ts, type) VALUES (1, ?, 'ts', 'x.t')").run(seq);
    }
    assert.deepEqual(
      (await store.readIndex(1, null, 10)).map((r) => r.seq),
      [-1, 0, 1.5, 'x'],
    );
    assert.equal(await store.pruneIndex(1, 1), 3);
    assert.deepEqual(
      (await store.readIndex(1, null, 10)).map((r) => r.seq),
      [0],
    );
    const full = Buffer.alloc(256 * 32, 1);
    await store.putTiles(1, [{ level: 0, index: 0, width: 256, hashes: full }]);
    await assert.rejects(
      store.putTiles(1, [{ level: 0, index: 0, width: 256, hashes: Buffer.alloc(256 * 32, 2) }]),
      (e: unknown) => e instanceof AuditError && e.code === 'store_failure' && /append-only/.test(e.message),
    );
    await store.close();
  });
});
