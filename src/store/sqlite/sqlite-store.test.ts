import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { planAppend } from '../../core/append-plan.js';
import { deriveIndexValues } from '../../core/index-row.js';
import { AuditError } from '../../errors.js';
import { storeContract } from '../store.contract.js';
import { SqliteStore } from './sqlite-store.js';
import { SQLITE_MIGRATIONS } from './migrations.js';
import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';

const dir = mkdtempSync(join(tmpdir(), 'auditrail-sqlite-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
storeContract('sqlite', () => Promise.resolve(new SqliteStore(join(dir, `c${n++}`, 'audit.db'))));

const COMPAT_DB = fileURLToPath(new URL('../../../test/compat/v0.1/audit.db', import.meta.url));

/** The level-0 partial tile rows a file holds, read with plain SQL. */
function storedLeafTiles(path: string): { logId: number; index: number; hashes: Buffer }[] {
  const db = new Database(path, { readonly: true });
  try {
    return (
      db
        .prepare(
          `SELECT t.log_id, t.idx, t.hashes FROM tiles t JOIN logs l ON l.log_id = t.log_id
           WHERE t.level = 0 AND t.width < 256 ORDER BY t.log_id`,
        )
        .raw()
        .all() as [number, number, Buffer][]
    ).map(([logId, index, hashes]) => ({ logId, index, hashes }));
  } finally {
    db.close();
  }
}

describe('SqliteStore specifics', () => {
  it('reads the level-0 partial tile from the entries: the same bytes a file written before migration 6 holds', async () => {
    const path = join(dir, 'leaf-tile', 'audit.db');
    mkdirSync(join(dir, 'leaf-tile'));
    copyFileSync(COMPAT_DB, path);
    // Written by 0.1: the level-0 partial tile of each log is a stored row.
    const before = storedLeafTiles(path);
    assert.deepEqual(
      before.map((t) => [t.logId, t.index, t.hashes.length / 32]),
      [
        [1, 0, 83],
        [2, 0, 5],
      ],
    );
    const check = async (store: SqliteStore): Promise<void> => {
      for (const t of before) {
        const got = (await store.getTiles(t.logId, [{ level: 0, index: t.index }])).get(`0/${t.index}`);
        assert.ok(got?.equals(t.hashes), `tile 0/${t.index} of log ${t.logId}`);
        assert.deepEqual(await store.listTiles(t.logId), [
          { level: 0, index: t.index, width: t.hashes.length / 32, bytes: t.hashes.length },
        ]);
      }
    };
    // Read-only (no migration): the stored row stays, the tile read is the entries' leaf hashes.
    const ro = new SqliteStore(path, { readonly: true });
    await check(ro);
    await ro.close();
    assert.equal(storedLeafTiles(path).length, 2);
    // Opened for writing, migration 6 drops the rows; the tiles read the same, and appends extend them.
    const rw = new SqliteStore(path);
    assert.deepEqual(storedLeafTiles(path), []);
    await check(rw);
    const head = (await rw.getLog('auditrail.local/t/acme/staging'))!;
    const items = Array.from({ length: 300 }, (_, i) => ({
      eid: `leaf-tile-${i}`,
      type: 'x.leaf_tile',
      digests: [],
      disclosures: [],
      index: deriveIndexValues({ actor: { type: 'agent', id: 'bot' } }),
    }));
    for (let i = 0; i < items.length; i += 50) {
      const batch = items.slice(i, i + 50);
      await rw.append(
        head.origin,
        batch.map((b) => b.eid),
        (ctx) => planAppend(ctx, batch, Date.now()),
      );
    }
    const leaves = (await rw.readEvents(head.logId, 0, 305)).map((e) => e.entry.leafHash);
    assert.equal(leaves.length, 305);
    const tiles = await rw.getTiles(head.logId, [
      { level: 0, index: 0 },
      { level: 0, index: 1 },
    ]);
    assert.ok(
      tiles
        .get('0/0')
        ?.subarray(0, 256 * 32)
        .equals(Buffer.concat(leaves.slice(0, 256))),
    );
    assert.ok(tiles.get('0/1')?.equals(Buffer.concat(leaves.slice(256))));
    // Full tiles and the level-1 partial tile are rows; the level-0 partial one is not.
    await rw.close();
    const raw = new Database(path, { readonly: true });
    assert.deepEqual(
      raw
        .prepare('SELECT level, idx, width FROM tiles WHERE log_id = ? ORDER BY level, idx')
        .raw()
        .all(head.logId),
      [
        [0, 0, 256],
        [1, 0, 1],
      ],
    );
    raw.close();
  });

  it('creates the database 0600 in a 0700 directory, in WAL mode with full sync', async () => {
    const path = join(dir, 'perm', 'audit.db');
    const store = new SqliteStore(path);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.equal(statSync(join(dir, 'perm')).mode & 0o777, 0o700);
    assert.equal(store.db.pragma('journal_mode', { simple: true }), 'wal');
    assert.equal(store.db.pragma('synchronous', { simple: true }), 2);
    await store.close();
  });

  it('maps the file into memory unless told not to (the server connection for key lookups)', async () => {
    const path = join(dir, 'mmap', 'audit.db');
    const mapped = new SqliteStore(path);
    const unmapped = new SqliteStore(path, { mmap: false });
    assert.equal(mapped.db.pragma('mmap_size', { simple: true }), 2147418112);
    assert.equal(unmapped.db.pragma('mmap_size', { simple: true }), 0);
    await unmapped.close();
    await mapped.close();
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

  it('lists a page in one read: text where it is exact, bytes where it may not be, in either order', async () => {
    const store = new SqliteStore(join(dir, 'listing', 'audit.db'));
    const db = store.db;
    db.prepare(
      "INSERT INTO logs (origin, tenant, root_hash, right_edge, created_at) VALUES ('o', 't', x'00', x'', 'now')",
    ).run();
    const hash = (seq: number): Buffer => Buffer.alloc(32, seq + 1);
    for (const seq of [0, 1, 2, 3]) {
      db.prepare('INSERT INTO entries VALUES (1, ?, ?, ?, ?, ?, ?)').run(
        seq,
        Buffer.from('{}'),
        hash(seq),
        `e${seq}`,
        'x.t',
        `ts${seq}`,
      );
      db.prepare("INSERT INTO events (log_id, seq, ts, type, session_id) VALUES (1, ?, ?, 'x.t', 's')").run(
        seq,
        `ts${seq}`,
      );
    }
    const disclose = db.prepare(
      'INSERT INTO disclosures (log_id, seq, unit, pointer, disclosure) VALUES (1, ?, ?, ?, ?)',
    );
    disclose.run(0, 0, '', Buffer.from('["a","",{}]'));
    disclose.run(0, 1, '/p', Buffer.of(0x5b, 0xc3, 0x5d)); // not UTF-8: must come back as these bytes
    disclose.run(1, 1, '/p', Buffer.from('["b","/p",1]')); // no unit 0: the entry is still listed
    disclose.run(3, 0, '', Buffer.from('["\uFFFD","",{}]')); // U+FFFD as valid UTF-8: bytes, exact
    db.prepare('UPDATE disclosures SET disclosure = NULL, erased_by_seq = 9 WHERE seq = 1').run();
    disclose.run(1, 2, '/q', Buffer.from('["c","/q",2]'));

    const view = (d: { disclosure: Buffer | string | null }): string | null =>
      d.disclosure === null
        ? null
        : typeof d.disclosure === 'string'
          ? d.disclosure
          : `<${d.disclosure.toString('hex')}>`;
    const expected = [
      {
        seq: 0,
        eid: 'e0',
        ts: 'ts0',
        hash: hash(0),
        ds: [
          [0, '["a","",{}]', null],
          [1, '<5bc35d>', null],
        ],
      },
      {
        seq: 1,
        eid: 'e1',
        ts: 'ts1',
        hash: hash(1),
        ds: [
          [1, null, 9],
          [2, '["c","/q",2]', null],
        ],
      },
      { seq: 2, eid: 'e2', ts: 'ts2', hash: hash(2), ds: [] },
      {
        seq: 3,
        eid: 'e3',
        ts: 'ts3',
        hash: hash(3),
        ds: [[0, `<${Buffer.from('["\uFFFD","",{}]').toString('hex')}>`, null]],
      },
    ];
    for (const order of ['asc', 'desc'] as const) {
      const listed = await store.query(1, { session_id: 's' }, { limit: 10, order });
      const got = listed.map((e) => ({
        seq: e.entry.seq,
        eid: e.entry.eid,
        ts: e.entry.ts,
        hash: e.entry.leafHash,
        ds: e.disclosures.map((d) => [d.unit, view(d), d.erasedBySeq]),
      }));
      assert.deepEqual(got, order === 'asc' ? expected : [...expected].reverse());
      for (const e of listed) for (const d of e.disclosures) assert.equal(d.seq, e.entry.seq);
    }
    const page = await store.query(1, { session_id: 's' }, { limit: 2, order: 'desc', before: 3 });
    assert.deepEqual(
      page.map((e) => e.entry.seq),
      [2, 1],
    );
    await store.close();
  });

  it('migrates approval documents of a version-1 file into columns, and reads them the same read-only', async () => {
    const path = join(dir, 'v1', 'audit.db');
    mkdirSync(join(dir, 'v1'));
    // A database as version 1 of the schema left it: migration 1 only, requests as JSON documents.
    const v1 = new Database(path);
    const m1 = SQLITE_MIGRATIONS[0]!;
    v1.exec(m1.sql);
    v1.exec(
      'CREATE TABLE migrations (id INTEGER PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at TEXT NOT NULL)',
    );
    v1.prepare('INSERT INTO migrations VALUES (1, ?, ?, ?)').run(
      m1.name,
      createHash('sha256').update(m1.sql).digest('hex'),
      '2026-01-01T00:00:00Z',
    );
    const insert = v1.prepare('INSERT INTO approvals VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)');
    const request = {
      action: { type: 'write:refund', target: 'order/1', params: 'text', side_effects: ['refund'] },
      matched_rule: null,
      reason: 'why',
      ctx: { actor: { type: 'agent', id: 'bot', name: 'Bot' }, run_id: 'run-1', span_id: '00f067aa0ba902b7' },
    };
    insert.run(
      'apr-1',
      'o',
      'granted',
      'sha256:1',
      '["ann"]',
      'e',
      '2026-01-01T00:00:01Z',
      JSON.stringify(request),
      'ann',
      'd',
      'ok',
    );
    // A document that is not JSON (stored data is attacker-controlled) must not block the migration.
    insert.run(
      'apr-2',
      'o',
      'pending',
      'sha256:2',
      '["bob"]',
      'e',
      '2026-01-01T00:00:02Z',
      '{not json',
      null,
      null,
      null,
    );
    v1.close();
    const want = [
      {
        id: 'apr-1',
        logOrigin: 'o',
        status: 'granted',
        requestDigest: 'sha256:1',
        approvers: ['ann'],
        expiresAt: 'e',
        createdAt: '2026-01-01T00:00:01Z',
        actionType: 'write:refund',
        target: 'order/1',
        params: 'text',
        sideEffects: ['refund'],
        matchedRule: null,
        requestReason: 'why',
        actorType: 'agent',
        actorId: 'bot',
        sessionId: null,
        runId: 'run-1',
        parentEventId: null,
        traceId: null,
        spanId: '00f067aa0ba902b7',
        decidedBy: 'ann',
        decidedAt: 'd',
        reason: 'ok',
      },
      {
        id: 'apr-2',
        logOrigin: 'o',
        status: 'pending',
        requestDigest: 'sha256:2',
        approvers: ['bob'],
        expiresAt: 'e',
        createdAt: '2026-01-01T00:00:02Z',
        actionType: '',
        target: null,
        sideEffects: null,
        matchedRule: null,
        requestReason: '',
        actorType: '',
        actorId: '',
        sessionId: null,
        runId: null,
        parentEventId: null,
        traceId: null,
        spanId: null,
        decidedBy: null,
        decidedAt: null,
        reason: null,
      },
    ];
    const ro = new SqliteStore(path, { readonly: true });
    assert.deepEqual(await ro.listApprovals(), want);
    assert.deepEqual(await ro.listApprovals('pending', 'o'), [want[1]]);
    assert.deepEqual(await ro.getApproval('apr-1'), want[0]);
    assert.deepEqual(await ro.listCursors(1), []);
    assert.equal(await ro.getCursor(1, 'x'), undefined);
    await assert.rejects(
      ro.setCursor(1, 'x', 1),
      (e: unknown) => e instanceof AuditError && e.code === 'read_only',
    );
    await ro.close();
    const rw = new SqliteStore(path);
    assert.deepEqual(
      rw.migrations().map((m) => [m.id, m.name]),
      SQLITE_MIGRATIONS.map((m) => [m.id, m.name]),
    );
    assert.deepEqual(await rw.listApprovals(), want);
    // The document is gone: one column per field.
    const columns = (rw.db.prepare('PRAGMA table_info(approvals)').all() as { name: string }[]).map(
      (c) => c.name,
    );
    assert.ok(!columns.includes('request') && columns.includes('action_type'), columns.join(', '));
    await rw.close();
  });
});
