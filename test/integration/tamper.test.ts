import Database from 'better-sqlite3';
import assert from 'node:assert/strict';
import { copyFileSync, cpSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { signCheckpoint } from '../../src/core/checkpoint.js';
import { encodeLeaf, parseLeaf } from '../../src/core/leaf.js';
import { hashLeaf } from '../../src/core/merkle.js';
import { generateSigner } from '../../src/core/note.js';
import type { FailureKind, VerifyReport } from '../../src/core/verify-log.js';
import { openAuditTrail } from '../../src/index.js';
import { sampleEvent, tempDir } from './helpers.js';

const N = 40;

async function makeLog(dir: string, n = N, tenant = 'acme', log?: string): Promise<string> {
  const db = join(dir, 'audit.db');
  const trail = await openAuditTrail({ tenant, db, checkpointIntervalMs: 0, ...(log ? { log } : {}) });
  for (let i = 0; i < n; i++) {
    await trail.record(sampleEvent(i));
    if (i === 19) await trail.checkpoint();
  }
  await trail.checkpoint();
  await trail.close();
  return db;
}

/** Opens the file with plain SQL, as an attacker with database access would, triggers dropped. */
function tamper(db: string, sql: (d: Database.Database) => void): void {
  const d = new Database(db);
  for (const t of d
    .prepare("SELECT name FROM sqlite_master WHERE type = 'trigger'")
    .pluck()
    .all() as string[]) {
    d.exec(`DROP TRIGGER ${t}`);
  }
  sql(d);
  d.close();
}

async function verify(db: string, tenant = 'acme', log?: string): Promise<VerifyReport> {
  const trail = await openAuditTrail({ tenant, db, checkpointIntervalMs: 0, ...(log ? { log } : {}) });
  try {
    return await trail.verify();
  } finally {
    await trail.close();
  }
}

function assertFailure(r: VerifyReport, kind: FailureKind, seq: number | null): void {
  assert.equal(r.ok, false, 'verify must fail');
  assert.ok(
    r.failures.some((f) => f.kind === kind && (seq === null || f.seq === seq)),
    `expected ${kind} at seq ${seq}, got ${JSON.stringify(r.failures)}`,
  );
}

describe('tamper suite (real SQLite file, triggers dropped)', () => {
  it('an untouched log verifies', async () => {
    const db = await makeLog(tempDir());
    const r = await verify(db);
    assert.equal(r.ok, true, JSON.stringify(r.failures));
    assert.equal(r.size, N);
    assert.equal(r.checkpoints_verified, 2); // sizes 20 and 40 (the witness file holds 40 too)
    assert.equal(r.unsigned_tail, 0);
  });

  it('catches an edited payload and names the seq', async () => {
    const db = await makeLog(tempDir());
    tamper(db, (d) =>
      d
        .prepare(
          "UPDATE disclosures SET disclosure = CAST(replace(CAST(disclosure AS TEXT), 'shipped', 'refunded') AS BLOB) WHERE seq = 5 AND pointer = '/outcome/result'",
        )
        .run(),
    );
    const r = await verify(db);
    assertFailure(r, 'payload_edited', 5);
    assert.equal(r.failures.length, 1);
  });

  it('catches a deleted payload', async () => {
    const db = await makeLog(tempDir());
    tamper(db, (d) => d.prepare("DELETE FROM disclosures WHERE seq = 8 AND pointer = ''").run());
    assertFailure(await verify(db), 'payload_deleted', 8);
  });

  it('catches a payload overwritten with a copy of another payload of the same entry', async () => {
    const db = await makeLog(tempDir());
    tamper(db, (d) => {
      const body = d
        .prepare("SELECT disclosure FROM disclosures WHERE seq = 5 AND pointer = ''")
        .pluck()
        .get() as Buffer;
      d.prepare("UPDATE disclosures SET disclosure = ? WHERE seq = 5 AND pointer = '/outcome/result'").run(
        body,
      );
    });
    assertFailure(await verify(db), 'payload_edited', 5);
  });

  it('catches a payload rewritten as TEXT', async () => {
    const db = await makeLog(tempDir());
    tamper(db, (d) =>
      d.prepare("UPDATE disclosures SET disclosure = 'hello' WHERE seq = 2 AND pointer = ''").run(),
    );
    assertFailure(await verify(db), 'payload_edited', 2);
  });

  it('catches a payload erased without a real erasure event', async () => {
    const db = await makeLog(tempDir());
    tamper(db, (d) =>
      d
        .prepare(
          "UPDATE disclosures SET disclosure = NULL, erased_by_seq = 999 WHERE seq = 3 AND pointer = '/action/params'",
        )
        .run(),
    );
    const r = await verify(db);
    assertFailure(r, 'payload_deleted', 3);
    assert.deepEqual(r.redactions, [], 'a forged erasure is not listed as a redaction');
  });

  it('catches a log head lowered below signed checkpoints', async () => {
    const db = await makeLog(tempDir());
    tamper(db, (d) => d.prepare('UPDATE logs SET tree_size = 30').run());
    assertFailure(await verify(db), 'head_mismatch', null);
  });

  it('checks against an auditor key, not a replaced key file', async () => {
    const dir = tempDir();
    const db = await makeLog(dir);
    const trail = await openAuditTrail({ tenant: 'acme', db, checkpointIntervalMs: 0 });
    const auditorKey = trail.verifierKey();
    await trail.close();
    // An attacker swaps the key file and re-signs every checkpoint with the new key.
    rmSync(join(dir, 'keys'), { recursive: true });
    const attacker = generateSigner('auditrail.local/t/acme/default');
    tamper(db, (d) => {
      for (const row of d.prepare('SELECT size, root_hash FROM checkpoints').all() as {
        size: number;
        root_hash: Buffer;
      }[]) {
        const note = signCheckpoint(
          { origin: 'auditrail.local/t/acme/default', size: row.size, root: row.root_hash },
          [attacker.signer],
        );
        d.prepare('UPDATE checkpoints SET note = ? WHERE size = ?').run(note, row.size);
      }
    });
    const again = await openAuditTrail({ tenant: 'acme', db, checkpointIntervalMs: 0 });
    const r = await again.verify({ trustedKeys: [auditorKey] });
    await again.close();
    assertFailure(r, 'checkpoint_forged', 20);
    assertFailure(r, 'checkpoint_forged', 40);
  });

  it('catches an edited leaf', async () => {
    const db = await makeLog(tempDir());
    tamper(db, (d) => {
      const leaf = d.prepare('SELECT leaf FROM entries WHERE seq = 7').pluck().get() as Buffer;
      const rec = parseLeaf(leaf);
      d.prepare('UPDATE entries SET leaf = ? WHERE seq = 7').run(
        encodeLeaf({ ...rec, type: 'action.failed' }),
      );
    });
    assertFailure(await verify(db), 'leaf_edited', 7);
  });

  // 300 entries: leaf 12 lies in the full tile 0/0, a stored row that still holds its old hash.
  it('catches a leaf rewritten together with its stored hash', async () => {
    const db = await makeLog(tempDir(), 300);
    tamper(db, (d) => {
      const leaf = d.prepare('SELECT leaf FROM entries WHERE seq = 12').pluck().get() as Buffer;
      const forged = encodeLeaf({ ...parseLeaf(leaf), type: 'action.failed' });
      d.prepare('UPDATE entries SET leaf = ?, leaf_hash = ?, type = ? WHERE seq = 12').run(
        forged,
        hashLeaf(forged),
        'action.failed',
      );
    });
    const r = await verify(db);
    assertFailure(r, 'tile_mismatch', 12);
    assertFailure(r, 'checkpoint_mismatch', 20);
  });

  // The level-0 partial tile is read from the entries' leaf hashes (not stored): what catches
  // an edit there is the leaf bytes, and the signed checkpoints.
  it('catches a leaf hash edited in the range of the level-0 partial tile', async () => {
    const db = await makeLog(tempDir());
    tamper(db, (d) => d.prepare('UPDATE entries SET leaf_hash = ? WHERE seq = 30').run(Buffer.alloc(32, 7)));
    assertFailure(await verify(db), 'leaf_edited', 30);
  });

  it('catches a leaf rewritten together with its hash in the range of the level-0 partial tile', async () => {
    const db = await makeLog(tempDir());
    tamper(db, (d) => {
      const leaf = d.prepare('SELECT leaf FROM entries WHERE seq = 30').pluck().get() as Buffer;
      const forged = encodeLeaf({ ...parseLeaf(leaf), type: 'action.failed' });
      d.prepare('UPDATE entries SET leaf = ?, leaf_hash = ?, type = ? WHERE seq = 30').run(
        forged,
        hashLeaf(forged),
        'action.failed',
      );
    });
    const r = await verify(db);
    assertFailure(r, 'checkpoint_mismatch', 40);
  });

  it('catches a deleted entry', async () => {
    const db = await makeLog(tempDir(), 300);
    tamper(db, (d) => {
      d.prepare('DELETE FROM entries WHERE seq = 10').run();
      d.prepare('DELETE FROM disclosures WHERE seq = 10').run();
      d.prepare('DELETE FROM events WHERE seq = 10').run();
    });
    const r = await verify(db);
    assertFailure(r, 'entry_deleted', 10);
    // The tree stays aligned (tile hash), so nothing else is blamed.
    assert.deepEqual(
      r.failures.map((f) => f.kind),
      ['entry_deleted'],
    );
  });

  it('catches a deleted entry in the range of the level-0 partial tile (read from the entries)', async () => {
    const db = await makeLog(tempDir());
    tamper(db, (d) => {
      d.prepare('DELETE FROM entries WHERE seq = 30').run();
      d.prepare('DELETE FROM disclosures WHERE seq = 30').run();
      d.prepare('DELETE FROM events WHERE seq = 30').run();
    });
    const r = await verify(db);
    assertFailure(r, 'entry_deleted', 30);
    // No stored copy of its hash: the tile is short from there on.
    assertFailure(r, 'tile_missing', 0);
  });

  it('catches a deleted entry at the end of a read chunk without blaming the tree', async () => {
    // Entries are read 256 at a time: seq 255 is the last of the first chunk, so the gap is only
    // seen when the next chunk is fed (its stored tile hash must still be at hand).
    const db = await makeLog(tempDir(), 300);
    tamper(db, (d) => {
      for (const t of ['entries', 'disclosures', 'events'])
        d.prepare(`DELETE FROM ${t} WHERE seq = 255`).run();
    });
    for (const threads of [0, 2]) {
      const trail = await openAuditTrail({ tenant: 'acme', db, checkpointIntervalMs: 0 });
      try {
        const r = await trail.verify({ threads });
        assert.deepEqual(
          r.failures.map((f) => [f.kind, f.seq]),
          [['entry_deleted', 255]],
          `threads ${threads}`,
        );
      } finally {
        await trail.close();
      }
    }
  });

  it('catches two swapped entries', async () => {
    const db = await makeLog(tempDir());
    tamper(db, (d) => {
      d.prepare('UPDATE entries SET seq = -1 WHERE seq = 3').run();
      d.prepare('UPDATE entries SET seq = 3 WHERE seq = 4').run();
      d.prepare('UPDATE entries SET seq = 4 WHERE seq = -1').run();
    });
    const r = await verify(db);
    assertFailure(r, 'reordered', 3);
    assertFailure(r, 'reordered', 4);
  });

  it('catches a truncated tail', async () => {
    const db = await makeLog(tempDir());
    tamper(db, (d) => {
      d.prepare('DELETE FROM entries WHERE seq >= 35').run();
      d.prepare('DELETE FROM disclosures WHERE seq >= 35').run();
    });
    assertFailure(await verify(db), 'truncated', 35);
  });

  it('catches a truncated tail even when the head and checkpoints are rolled back too', async () => {
    const db = await makeLog(tempDir());
    tamper(db, (d) => {
      d.prepare('DELETE FROM entries WHERE seq >= 20').run();
      d.prepare('DELETE FROM disclosures WHERE seq >= 20').run();
      d.prepare('DELETE FROM checkpoints WHERE size > 20').run();
      const cp = d.prepare('SELECT root_hash FROM checkpoints WHERE size = 20').pluck().get() as Buffer;
      d.prepare("UPDATE logs SET tree_size = 20, root_hash = ?, right_edge = x''").run(cp);
    });
    assertFailure(await verify(db), 'rolled_back', 20);
  });

  it('catches a forged entry inserted after the head', async () => {
    const db = await makeLog(tempDir());
    tamper(db, (d) => {
      const leaf = d.prepare('SELECT leaf FROM entries WHERE seq = 39').pluck().get() as Buffer;
      const forged = encodeLeaf({ ...parseLeaf(leaf), seq: N, eid: 'forged-1' });
      d.prepare("INSERT INTO entries VALUES (1, ?, ?, ?, 'forged-1', 'action.intent', ?)").run(
        N,
        forged,
        hashLeaf(forged),
        parseLeaf(leaf).ts,
      );
    });
    assertFailure(await verify(db), 'forged_entry', N);
  });

  it('catches a checkpoint replaced by one signed with another key', async () => {
    const db = await makeLog(tempDir());
    tamper(db, (d) => {
      const row = d.prepare('SELECT size, root_hash FROM checkpoints WHERE size = 20').get() as {
        size: number;
        root_hash: Buffer;
      };
      const other = generateSigner('auditrail.local/t/acme/default').signer;
      const note = signCheckpoint(
        { origin: 'auditrail.local/t/acme/default', size: 20, root: row.root_hash },
        [other],
      );
      d.prepare('UPDATE checkpoints SET note = ? WHERE size = 20').run(note);
    });
    assertFailure(await verify(db), 'checkpoint_forged', 20);
  });

  it('catches an older copy of the database restored after newer checkpoints were handed out', async () => {
    const dir = tempDir();
    const db = join(dir, 'audit.db');
    const trail = await openAuditTrail({ tenant: 'acme', db, checkpointIntervalMs: 0 });
    for (let i = 0; i < 20; i++) await trail.record(sampleEvent(i));
    await trail.checkpoint();
    await trail.close();
    copyFileSync(db, join(dir, 'backup.db'));
    const again = await openAuditTrail({ tenant: 'acme', db, checkpointIntervalMs: 0 });
    for (let i = 20; i < 30; i++) await again.record(sampleEvent(i));
    await again.checkpoint(); // handed out: the witness file now holds size 30
    await again.close();
    rmSync(`${db}-wal`, { force: true });
    rmSync(`${db}-shm`, { force: true });
    copyFileSync(join(dir, 'backup.db'), db);
    assertFailure(await verify(db), 'rolled_back', 20);
  });

  it('catches an entry moved to another log', async () => {
    const dir = tempDir();
    const db = await makeLog(dir, N, 'acme', 'prod');
    await makeLog(dir, 10, 'acme', 'staging');
    tamper(db, (d) => {
      const ids = d.prepare('SELECT origin, log_id FROM logs').all() as { origin: string; log_id: number }[];
      const prod = ids.find((x) => x.origin.endsWith('/prod'))!.log_id;
      const staging = ids.find((x) => x.origin.endsWith('/staging'))!.log_id;
      d.prepare('UPDATE entries SET log_id = ?, seq = 10 WHERE log_id = ? AND seq = 6').run(staging, prod);
    });
    assertFailure(await verify(db, 'acme', 'prod'), 'entry_deleted', 6);
    assertFailure(await verify(db, 'acme', 'staging'), 'cross_log', 10);
  });
});

describe('tamper suite: derived rows (query index, tiles, log row, checkpoint rows)', () => {
  let base: string | undefined;
  const dirs: string[] = [];
  const dirOf = (): string => {
    const d = tempDir();
    dirs.push(d);
    return d;
  };
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  /** A fresh copy of one 40-event log (database and keys), so each case starts untouched. */
  async function freshLog(): Promise<string> {
    base ??= await makeLog(dirOf());
    const dir = dirOf();
    cpSync(dirname(base), dir, { recursive: true });
    return join(dir, 'audit.db');
  }

  /**
   * The same with 300 events: a full tile 0/0 and the level-1 tile are rows (the level-0
   * partial tile of a 40-event log is read from the entries, there is no row to tamper with).
   */
  let tiledBase: string | undefined;
  async function tiledLog(): Promise<string> {
    tiledBase ??= await makeLog(dirOf(), 300);
    const dir = dirOf();
    cpSync(dirname(tiledBase), dir, { recursive: true });
    return join(dir, 'audit.db');
  }

  it('reports a deleted index row as index_missing at its seq', async () => {
    const db = await freshLog();
    tamper(db, (d) => d.prepare('DELETE FROM events WHERE seq = 10').run());
    const r = await verify(db);
    assertFailure(r, 'index_missing', 10);
    assert.deepEqual(
      r.failures.map((f) => f.kind),
      ['index_missing'],
    );
  });

  it('reports each edited index column as index_mismatch', async () => {
    const edits: [string, number, string][] = [
      ['session_id', 4, "'s-2'"],
      ['actor_id', 4, "'support-bot'"],
      ['type', 4, "'action.failed'"],
      ['ts', 4, "'2000-01-01T00:00:00.000000Z'"],
      ['target', 4, "'order/1'"],
      ['status', 5, "'failure'"],
      ['decision', 4, "'deny'"],
      ['run_id', 4, 'NULL'],
      ['risk', 4, "'high'"],
    ];
    for (const [col, seq, value] of edits) {
      const db = await freshLog();
      tamper(db, (d) => d.prepare(`UPDATE events SET ${col} = ${value} WHERE seq = ?`).run(seq));
      const r = await verify(db);
      assert.equal(r.ok, false, `${col}: ${JSON.stringify(r.failures)}`);
      assertFailure(r, 'index_mismatch', seq);
      assert.match(r.failures[0]!.detail, new RegExp(`\\b${col}\\b`), col);
    }
  });

  it('reports index values rewritten as bytes, a number or text with a NUL as index_mismatch', async () => {
    const edits: [string, string][] = [
      ['session_id', 'CAST(session_id AS BLOB)'],
      ['run_id', '5'],
      ['target', 'target || char(0)'],
    ];
    for (const [col, value] of edits) {
      const db = await freshLog();
      tamper(db, (d) => d.prepare(`UPDATE events SET ${col} = ${value} WHERE seq = 4`).run());
      const r = await verify(db);
      assert.deepEqual(
        r.failures.map((f) => [f.kind, f.seq]),
        [['index_mismatch', 4]],
        col,
      );
      assert.match(r.failures[0]!.detail, new RegExp(`column ${col} of entry 4 differs`), col);
    }
  });

  it('reports an index row without an entry as index_extra', async () => {
    const db = await freshLog();
    tamper(db, (d) =>
      d
        .prepare(
          "INSERT INTO events (log_id, seq, ts, type, session_id) SELECT log_id, 77, ts, type, 's-1' FROM events WHERE seq = 3",
        )
        .run(),
    );
    assertFailure(await verify(db), 'index_extra', 77);
  });

  it('reports a log row whose origin was renamed', async () => {
    const db = await freshLog();
    tamper(db, (d) => d.prepare("UPDATE logs SET origin = 'auditrail.local/t/acme/other'").run());
    assertFailure(await verify(db), 'cross_log', null);
  });

  it('reports an edited right_edge or last_ts of the log row', async () => {
    const db = await freshLog();
    tamper(db, (d) => d.prepare("UPDATE logs SET right_edge = x'00', last_ts = '1999'").run());
    const r = await verify(db);
    assert.equal(r.failures.filter((f) => f.kind === 'head_mismatch').length, 2);
  });

  it('reports a checkpoint row whose root_hash or size column differs from its note', async () => {
    const db = await freshLog();
    tamper(db, (d) => {
      d.prepare('UPDATE checkpoints SET root_hash = zeroblob(32) WHERE size = 20').run();
      d.prepare('UPDATE checkpoints SET size = 41 WHERE size = 40').run();
    });
    const r = await verify(db);
    assertFailure(r, 'checkpoint_edited', 20);
    assertFailure(r, 'checkpoint_edited', 40);
  });

  it('reports the deleted latest checkpoint row as checkpoint_missing (the witness file holds it)', async () => {
    const db = await freshLog();
    tamper(db, (d) => d.prepare('DELETE FROM checkpoints WHERE size = 40').run());
    const r = await verify(db);
    assertFailure(r, 'checkpoint_missing', 40);
  });

  it('reports a deleted or shortened tile as tile_missing', async () => {
    const db = await tiledLog();
    tamper(db, (d) => d.prepare('DELETE FROM tiles').run());
    assertFailure(await verify(db), 'tile_missing', 0);
    const db2 = await tiledLog();
    tamper(db2, (d) => d.prepare('UPDATE tiles SET hashes = substr(hashes, 1, 320), width = 10').run());
    assertFailure(await verify(db2), 'tile_missing', 0);
  });

  it('reports tiles rewritten as TEXT or a number instead of failing to run', async () => {
    for (const value of ['CAST(hashes AS TEXT)', "'not hashes'", '42']) {
      const db = await tiledLog();
      tamper(db, (d) => d.prepare(`UPDATE tiles SET hashes = ${value}`).run());
      const r = await verify(db);
      assert.equal(r.ok, false, value);
      assert.ok(
        r.failures.some((f) => f.kind === 'tile_mismatch' || f.kind === 'tile_missing'),
        `${value}: ${JSON.stringify(r.failures.slice(0, 3))}`,
      );
    }
  });

  it('rebuildIndex() repairs the index and the log row from verified entries', async () => {
    const db = await freshLog();
    tamper(db, (d) => {
      d.prepare("UPDATE events SET session_id = 'elsewhere' WHERE seq = 4").run();
      d.prepare('DELETE FROM events WHERE seq = 7').run();
      d.prepare("INSERT INTO events (log_id, seq, ts, type) VALUES (1, 500, 'x', 'y')").run();
      d.prepare("UPDATE logs SET last_ts = '1999'").run();
    });
    const trail = await openAuditTrail({ tenant: 'acme', db, checkpointIntervalMs: 0 });
    try {
      const r = await trail.rebuildIndex();
      assert.equal(r.refused, null);
      assert.equal(r.before.ok, false);
      assert.equal(r.after?.ok, true, JSON.stringify(r.after?.failures));
      assert.deepEqual(r.rebuilt, {
        index_rows: 2,
        index_rows_removed: 1,
        tiles: 0,
        head: true,
        checkpoints: 0,
      });
      const s1 = (await trail.query({ session_id: 's-1', limit: 100 })).events.map((e) => e.seq);
      assert.deepEqual(
        s1,
        Array.from({ length: N }, (_, i) => i),
      );
      const proof = await trail.prove(7);
      assert.equal(proof.seq, 7);
    } finally {
      await trail.close();
    }
    assert.equal((await verify(db)).ok, true);
  });

  it('rebuildIndex() stores deleted tiles again (a full one and the level-1 partial one)', async () => {
    const db = await tiledLog();
    tamper(db, (d) => d.prepare('DELETE FROM tiles').run());
    const trail = await openAuditTrail({ tenant: 'acme', db, checkpointIntervalMs: 0 });
    try {
      const r = await trail.rebuildIndex();
      assert.equal(r.refused, null);
      assert.equal(r.before.ok, false);
      assert.equal(r.after?.ok, true, JSON.stringify(r.after?.failures));
      assert.deepEqual(r.rebuilt, {
        index_rows: 0,
        index_rows_removed: 0,
        tiles: 2,
        head: false,
        checkpoints: 0,
      });
      assert.equal((await trail.prove(7)).seq, 7);
      assert.equal((await trail.prove(290)).seq, 290);
    } finally {
      await trail.close();
    }
    assert.equal((await verify(db)).ok, true);
  });

  it('rebuildIndex() stores the deleted newest checkpoint again from the witness copy', async () => {
    const db = await freshLog();
    tamper(db, (d) => d.prepare('DELETE FROM checkpoints WHERE size = 40').run());
    const trail = await openAuditTrail({ tenant: 'acme', db, checkpointIntervalMs: 0 });
    try {
      const r = await trail.rebuildIndex();
      assert.equal(r.rebuilt.checkpoints, 1);
      assert.equal(r.after?.ok, true, JSON.stringify(r.after?.failures));
      assert.equal(r.after?.checkpoints_verified, 2);
    } finally {
      await trail.close();
    }
  });

  it('rebuildIndex() refuses, and writes nothing, when an entry itself does not verify', async () => {
    const db = await freshLog();
    tamper(db, (d) => {
      d.prepare('DELETE FROM events WHERE seq = 7').run();
      d.prepare(
        "UPDATE disclosures SET disclosure = CAST(replace(CAST(disclosure AS TEXT), 'shipped', 'refunded') AS BLOB) WHERE seq = 5 AND pointer = '/outcome/result'",
      ).run();
    });
    const trail = await openAuditTrail({ tenant: 'acme', db, checkpointIntervalMs: 0 });
    try {
      const r = await trail.rebuildIndex();
      assert.match(r.refused ?? '', /payload_edited/);
      assert.equal(r.after, null);
    } finally {
      await trail.close();
    }
    assertFailure(await verify(db), 'index_missing', 7);
  });
});
