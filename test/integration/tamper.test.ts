import Database from 'better-sqlite3';
import assert from 'node:assert/strict';
import { copyFileSync, cpSync, existsSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { signCheckpoint } from '../../src/core/checkpoint.js';
import { encodeLeaf, parseLeaf } from '../../src/core/leaf.js';
import { hashLeaf } from '../../src/core/merkle.js';
import { generateSigner } from '../../src/core/note.js';
import type { FailureKind, VerifyReport } from '../../src/core/verify-log.js';
import { openAuditTrail, type AuditTrail } from '../../src/index.js';
import { witnessScope } from '../../src/sdk/open.js';
import { openStore } from '../../src/store/open-store.js';
import { adminQuery, backends, databaseName, databaseUrl, schemaName } from '../postgres.js';
import { sampleEvent, tempDir } from './helpers.js';

/**
 * The tamper suite, on a real SQLite file and on a real PostgreSQL database: an attacker with
 * direct SQL access (on PostgreSQL a superuser) drops the append-only triggers and edits, deletes,
 * reorders or forges rows; verify must name each change with its kind and seq, the same on both.
 * Where a backend cannot hold a value the other can (a BYTEA column cannot hold TEXT, a TEXT
 * column no NUL), the case uses that backend's closest forgery.
 */

const N = 40;

type Value = number | string | Buffer | null;
type Row = Record<string, Value>;

/** Plain SQL on the database, `?` placeholders on both backends. */
interface Sql {
  dialect: 'sqlite' | 'postgres';
  all(sql: string, ...args: Value[]): Promise<Row[]>;
  /** The first column of the first row. */
  one(sql: string, ...args: Value[]): Promise<Value>;
  /** Rows changed. */
  run(sql: string, ...args: Value[]): Promise<number>;
}

/** Where a test's log lives: the database (file or URL) and its key directory. */
interface Place {
  db: string;
  keyDir: string;
}

/** What differs between the backends: where a directory's database is, copies, raw SQL. */
interface Driver {
  /** The database of a test directory (the same for every call with one directory), keys in `dir/keys`. */
  place(dir: string): Promise<Place>;
  /** A copy of `from` (database and keys) as the database of `dir`, with its own witness state. */
  copy(from: Place, dir: string): Promise<Place>;
  /** Keeps a copy of the database aside, as a backup would. */
  backup(p: Place): Promise<void>;
  /** Puts the copy kept by {@link backup} back in place of the database (same name, same witness state). */
  restore(p: Place): Promise<void>;
  /** Plain SQL with every trigger dropped. */
  open(p: Place): Promise<{ sql: Sql; close: () => Promise<void> }>;
  /** Drops what this driver made on a server. */
  cleanup(): Promise<void>;
}

/** Picks the SQL text of the backend at hand. */
const dialect = (d: Sql, sqlite: string, postgres: string): string =>
  d.dialect === 'sqlite' ? sqlite : postgres;

const sqliteDriver: Driver = {
  place: (dir) => Promise.resolve({ db: join(dir, 'audit.db'), keyDir: join(dir, 'keys') }),
  async copy(from, dir) {
    cpSync(join(from.db, '..'), dir, { recursive: true });
    return sqliteDriver.place(dir);
  },
  backup(p) {
    copyFileSync(p.db, `${p.db}.backup`);
    return Promise.resolve();
  },
  restore(p) {
    rmSync(`${p.db}-wal`, { force: true });
    rmSync(`${p.db}-shm`, { force: true });
    copyFileSync(`${p.db}.backup`, p.db);
    return Promise.resolve();
  },
  open(p) {
    const d = new Database(p.db);
    for (const t of d
      .prepare("SELECT name FROM sqlite_master WHERE type = 'trigger'")
      .pluck()
      .all() as string[]) {
      d.exec(`DROP TRIGGER ${t}`);
    }
    const sql: Sql = {
      dialect: 'sqlite',
      all: (text, ...args) => Promise.resolve(d.prepare(text).all(...args) as Row[]),
      one: (text, ...args) =>
        Promise.resolve(
          (
            d
              .prepare(text)
              .raw()
              .get(...args) as Value[] | undefined
          )?.[0] ?? null,
        ),
      run: (text, ...args) => Promise.resolve(d.prepare(text).run(...args).changes),
    };
    return Promise.resolve({
      sql,
      close: () => {
        d.close();
        return Promise.resolve();
      },
    });
  },
  cleanup: () => Promise.resolve(),
};

/** `?` placeholders as PostgreSQL's `$1`, `$2` … (the SQL of this file has no `?` in strings). */
function numbered(sql: string): string {
  let i = 0;
  return sql.replace(/\?/g, () => `$${++i}`);
}

/** INT8 as a number, as SQLite gives integers (seqs, sizes, ids). */
const PG_TYPES = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === 20
      ? (v: string) => Number(v)
      : (pg.types.getTypeParser(oid, format ?? 'text') as (
          v: string,
        ) => unknown)) as typeof pg.types.getTypeParser,
};

/**
 * PostgreSQL: one database per run, dropped after; one schema in it per test directory. A copy
 * is a schema made by the store's own migrations (tables, triggers, views) holding the rows of
 * the original, so it is the same as the original, only cheaper than a database per copy.
 */
function postgresDriver(): Driver {
  let database: Promise<string> | undefined;
  const made = new Map<string, string>();
  const urlOf = async (schema: string): Promise<string> => {
    database ??= (async () => {
      const name = databaseName('tamper');
      await adminQuery(`CREATE DATABASE ${name}`);
      return name;
    })();
    const u = new URL(databaseUrl(await database));
    u.searchParams.set('schema', schema);
    return u.toString();
  };
  const schemaOf = (p: Place): string => new URL(p.db).searchParams.get('schema')!;
  const connect = async (p: Place): Promise<pg.Client> => {
    const u = new URL(p.db);
    u.searchParams.delete('schema');
    const c = new pg.Client({
      connectionString: u.toString(),
      options: `-c search_path=${schemaOf(p)}`,
      types: PG_TYPES,
    });
    await c.connect();
    return c;
  };
  /** Makes schema `to` with the store's migrations, then copies every row of `from` into it. */
  const copySchema = async (from: Place, to: Place): Promise<void> => {
    await (await openStore(to.db)).close();
    const c = await connect(from);
    try {
      const [src, dst] = [schemaOf(from), schemaOf(to)];
      const tables = await c.query<{ t: string }>(
        "SELECT table_name AS t FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE' AND table_name <> 'migrations'",
        [src],
      );
      await c.query('BEGIN');
      for (const { t } of tables.rows) {
        const identity = t === 'logs' ? 'OVERRIDING SYSTEM VALUE ' : '';
        await c.query(`INSERT INTO ${dst}."${t}" ${identity}SELECT * FROM ${src}."${t}"`);
      }
      await c.query(
        `SELECT setval(pg_get_serial_sequence('${dst}.logs', 'log_id'), (SELECT max(log_id) FROM ${dst}.logs))`,
      );
      await c.query('COMMIT');
    } finally {
      await c.end();
    }
  };
  const witness = (keyDir: string, url: string): string =>
    join(keyDir, 'witness', encodeURIComponent(witnessScope(url)));
  const driver: Driver = {
    async place(dir) {
      let schema = made.get(dir);
      if (schema === undefined) {
        schema = schemaName('t');
        made.set(dir, schema);
      }
      return { db: await urlOf(schema), keyDir: join(dir, 'keys') };
    },
    async copy(from, dir) {
      const to = await driver.place(dir);
      await copySchema(from, to);
      cpSync(from.keyDir, to.keyDir, { recursive: true });
      // The witness state is kept per database URL: the copy's is the original's.
      if (existsSync(witness(to.keyDir, from.db)))
        renameSync(witness(to.keyDir, from.db), witness(to.keyDir, to.db));
      return to;
    },
    async backup(p) {
      await copySchema(p, { ...p, db: await urlOf(`${schemaOf(p)}_backup`) });
    },
    async restore(p) {
      const c = await connect(p);
      await c.query(`DROP SCHEMA ${schemaOf(p)} CASCADE`).finally(() => c.end());
      await copySchema({ ...p, db: await urlOf(`${schemaOf(p)}_backup`) }, p);
    },
    async open(p) {
      const c = await connect(p);
      // As a superuser: the append-only triggers go first.
      for (const t of (
        await c.query<{ tgname: string; relname: string }>(
          `SELECT tgname, relname FROM pg_trigger JOIN pg_class ON pg_class.oid = tgrelid
           JOIN pg_namespace n ON n.oid = relnamespace AND n.nspname = $1 WHERE NOT tgisinternal`,
          [schemaOf(p)],
        )
      ).rows) {
        await c.query(`DROP TRIGGER "${t.tgname}" ON "${t.relname}"`);
      }
      const sql: Sql = {
        dialect: 'postgres',
        all: async (text, ...args) => (await c.query<Row>(numbered(text), args)).rows,
        one: async (text, ...args) => {
          const r = await c.query<Value[]>({ text: numbered(text), values: args, rowMode: 'array' });
          return r.rows[0]?.[0] ?? null;
        },
        run: async (text, ...args) => (await c.query(numbered(text), args)).rowCount ?? 0,
      };
      return { sql, close: () => c.end() };
    },
    async cleanup() {
      const name = await database;
      database = undefined;
      made.clear();
      if (name !== undefined) await adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
  return driver;
}

for (const backend of await backends()) {
  const x = backend.name === 'postgres' ? postgresDriver() : sqliteDriver;
  const where =
    backend.name === 'postgres'
      ? 'real PostgreSQL database, triggers dropped by a superuser'
      : 'real SQLite file, triggers dropped';
  const options = { skip: backend.skip ?? false };

  const open = (p: Place, more: { tenant?: string; log?: string } = {}): Promise<AuditTrail> =>
    openAuditTrail({ tenant: 'acme', db: p.db, keyDir: p.keyDir, checkpointIntervalMs: 0, ...more });

  /**
   * A log of `n` events (checkpoints at 20 and at the end) in the database of `dir`. Logs longer
   * than {@link N} append past 20 in one batch (they exist for their full tile).
   */
  async function makeLog(dir: string, n = N, tenant = 'acme', log?: string): Promise<Place> {
    const p = await x.place(dir);
    const trail = await open(p, { tenant, ...(log ? { log } : {}) });
    for (let i = 0; i < Math.min(n, 20); i++) await trail.record(sampleEvent(i));
    if (n >= 20) await trail.checkpoint();
    if (n > N) await trail.recordBatch(Array.from({ length: n - 20 }, (_, k) => sampleEvent(20 + k)));
    else for (let i = 20; i < n; i++) await trail.record(sampleEvent(i));
    await trail.checkpoint();
    await trail.close();
    return p;
  }

  /** Opens the database with plain SQL, as an attacker with database access would, triggers dropped. */
  async function tamper(p: Place, fn: (d: Sql) => Promise<unknown>): Promise<void> {
    const { sql, close } = await x.open(p);
    try {
      await fn(sql);
    } finally {
      await close();
    }
  }

  async function verify(p: Place, tenant = 'acme', log?: string): Promise<VerifyReport> {
    const trail = await open(p, { tenant, ...(log ? { log } : {}) });
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

  /** The stored disclosure's text with 'shipped' replaced, as bytes. */
  const refunded = (d: Sql): string =>
    dialect(
      d,
      "CAST(replace(CAST(disclosure AS TEXT), 'shipped', 'refunded') AS BLOB)",
      "convert_to(replace(convert_from(disclosure, 'UTF8'), 'shipped', 'refunded'), 'UTF8')",
    );

  const bases = new Map<number, Promise<Place>>();
  const dirs: string[] = [];
  const dirOf = (): string => {
    const d = tempDir();
    dirs.push(d);
    return d;
  };

  /**
   * A fresh copy of one log of `n` events (database and keys), so each case starts untouched.
   * Tile cases use 300 events: a full tile 0/0, whatever the layout of the partial tiles.
   */
  async function freshLog(n = N): Promise<Place> {
    let base = bases.get(n);
    if (!base) {
      base = makeLog(dirOf(), n);
      bases.set(n, base);
    }
    return x.copy(await base, dirOf());
  }

  describe(`tamper suite on ${backend.name}`, options, () => {
    after(async () => {
      await x.cleanup();
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    });

    describe(`tamper suite (${where})`, () => {
      it('an untouched log verifies', async () => {
        const db = await freshLog();
        const r = await verify(db);
        assert.equal(r.ok, true, JSON.stringify(r.failures));
        assert.equal(r.size, N);
        assert.equal(r.checkpoints_verified, 2); // sizes 20 and 40 (the witness file holds 40 too)
        assert.equal(r.unsigned_tail, 0);
      });

      it('catches an edited payload and names the seq', async () => {
        const db = await freshLog();
        await tamper(db, (d) =>
          d.run(
            `UPDATE disclosures SET disclosure = ${refunded(d)} WHERE seq = 5 AND pointer = '/outcome/result'`,
          ),
        );
        const r = await verify(db);
        assertFailure(r, 'payload_edited', 5);
        assert.equal(r.failures.length, 1);
      });

      it('catches a deleted payload', async () => {
        const db = await freshLog();
        await tamper(db, (d) => d.run("DELETE FROM disclosures WHERE seq = 8 AND pointer = ''"));
        assertFailure(await verify(db), 'payload_deleted', 8);
      });

      it('catches a payload overwritten with a copy of another payload of the same entry', async () => {
        const db = await freshLog();
        await tamper(db, async (d) => {
          const body = await d.one("SELECT disclosure FROM disclosures WHERE seq = 5 AND pointer = ''");
          await d.run(
            "UPDATE disclosures SET disclosure = ? WHERE seq = 5 AND pointer = '/outcome/result'",
            body,
          );
        });
        assertFailure(await verify(db), 'payload_edited', 5);
      });

      it('catches a payload rewritten as TEXT (PostgreSQL: as the bytes of a text)', async () => {
        const db = await freshLog();
        await tamper(db, (d) =>
          d.run(
            `UPDATE disclosures SET disclosure = ${dialect(d, "'hello'", "convert_to('hello', 'UTF8')")} WHERE seq = 2 AND pointer = ''`,
          ),
        );
        assertFailure(await verify(db), 'payload_edited', 2);
      });

      it('catches a payload erased without a real erasure event', async () => {
        const db = await freshLog();
        await tamper(db, (d) =>
          d.run(
            "UPDATE disclosures SET disclosure = NULL, erased_by_seq = 999 WHERE seq = 3 AND pointer = '/action/params'",
          ),
        );
        const r = await verify(db);
        assertFailure(r, 'payload_deleted', 3);
        assert.deepEqual(r.redactions, [], 'a forged erasure is not listed as a redaction');
      });

      it('catches a log head lowered below signed checkpoints', async () => {
        const db = await freshLog();
        await tamper(db, (d) => d.run('UPDATE logs SET tree_size = 30'));
        assertFailure(await verify(db), 'head_mismatch', null);
      });

      it('checks against an auditor key, not a replaced key file', async () => {
        const db = await freshLog();
        const trail = await open(db);
        const auditorKey = trail.verifierKey();
        await trail.close();
        // An attacker swaps the key file and re-signs every checkpoint with the new key.
        rmSync(db.keyDir, { recursive: true });
        const attacker = generateSigner('auditrail.local/t/acme/default');
        await tamper(db, async (d) => {
          for (const row of await d.all('SELECT size, root_hash FROM checkpoints')) {
            const note = signCheckpoint(
              {
                origin: 'auditrail.local/t/acme/default',
                size: row['size'] as number,
                root: row['root_hash'] as Buffer,
              },
              [attacker.signer],
            );
            await d.run('UPDATE checkpoints SET note = ? WHERE size = ?', note, row['size']!);
          }
        });
        const again = await open(db);
        const r = await again.verify({ trustedKeys: [auditorKey] });
        await again.close();
        assertFailure(r, 'checkpoint_forged', 20);
        assertFailure(r, 'checkpoint_forged', 40);
      });

      it('catches an edited leaf', async () => {
        const db = await freshLog();
        await tamper(db, async (d) => {
          const rec = parseLeaf((await d.one('SELECT leaf FROM entries WHERE seq = 7')) as Buffer);
          await d.run(
            'UPDATE entries SET leaf = ? WHERE seq = 7',
            encodeLeaf({ ...rec, type: 'action.failed' }),
          );
        });
        assertFailure(await verify(db), 'leaf_edited', 7);
      });

      it('catches a leaf rewritten together with its stored hash (in a full tile)', async () => {
        // Seq 12 of a 300-entry log lies in the full tile 0/0, which holds its original hash.
        const db = await freshLog(300);
        await tamper(db, async (d) => {
          const leaf = (await d.one('SELECT leaf FROM entries WHERE seq = 12')) as Buffer;
          const forged = encodeLeaf({ ...parseLeaf(leaf), type: 'action.failed' });
          await d.run(
            'UPDATE entries SET leaf = ?, leaf_hash = ?, type = ? WHERE seq = 12',
            forged,
            hashLeaf(forged),
            'action.failed',
          );
        });
        const r = await verify(db);
        assertFailure(r, 'tile_mismatch', 12);
        assertFailure(r, 'checkpoint_mismatch', 20);
      });

      it('catches a deleted entry', async () => {
        // Seq 10 of a 300-entry log lies in the full tile 0/0, which holds its hash.
        const db = await freshLog(300);
        await tamper(db, async (d) => {
          await d.run('DELETE FROM entries WHERE seq = 10');
          await d.run('DELETE FROM disclosures WHERE seq = 10');
          await d.run('DELETE FROM events WHERE seq = 10');
        });
        const r = await verify(db);
        assertFailure(r, 'entry_deleted', 10);
        // The tree stays aligned (tile hash), so nothing else is blamed.
        assert.deepEqual(
          r.failures.map((f) => f.kind),
          ['entry_deleted'],
        );
      });

      // The level-0 partial tile is read from the entries' leaf hashes (not stored): what catches
      // an edit there is the leaf bytes, and the signed checkpoints.
      it('catches a leaf hash edited in the range of the level-0 partial tile', async () => {
        const db = await freshLog();
        await tamper(db, (d) =>
          d.run('UPDATE entries SET leaf_hash = ? WHERE seq = 30', Buffer.alloc(32, 7)),
        );
        assertFailure(await verify(db), 'leaf_edited', 30);
      });

      it('catches a leaf rewritten together with its hash in the range of the level-0 partial tile', async () => {
        const db = await freshLog();
        await tamper(db, async (d) => {
          const leaf = (await d.one('SELECT leaf FROM entries WHERE seq = 30')) as Buffer;
          const forged = encodeLeaf({ ...parseLeaf(leaf), type: 'action.failed' });
          await d.run(
            'UPDATE entries SET leaf = ?, leaf_hash = ?, type = ? WHERE seq = 30',
            forged,
            hashLeaf(forged),
            'action.failed',
          );
        });
        assertFailure(await verify(db), 'checkpoint_mismatch', 40);
      });

      it('catches a deleted entry in the range of the level-0 partial tile (read from the entries)', async () => {
        const db = await freshLog();
        await tamper(db, async (d) => {
          for (const t of ['entries', 'disclosures', 'events'])
            await d.run(`DELETE FROM ${t} WHERE seq = 30`);
        });
        const r = await verify(db);
        assertFailure(r, 'entry_deleted', 30);
        // No stored copy of its hash: the tile is short from there on.
        assertFailure(r, 'tile_missing', 0);
      });

      it('catches a deleted entry at the end of a read chunk without blaming the tree', async () => {
        // Entries are read 256 at a time: seq 255 is the last of the first chunk, so the gap is only
        // seen when the next chunk is fed (its stored tile hash must still be at hand).
        const db = await freshLog(300);
        await tamper(db, async (d) => {
          for (const t of ['entries', 'disclosures', 'events'])
            await d.run(`DELETE FROM ${t} WHERE seq = 255`);
        });
        for (const threads of [0, 2]) {
          const trail = await open(db);
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
        const db = await freshLog();
        await tamper(db, async (d) => {
          await d.run('UPDATE entries SET seq = -1 WHERE seq = 3');
          await d.run('UPDATE entries SET seq = 3 WHERE seq = 4');
          await d.run('UPDATE entries SET seq = 4 WHERE seq = -1');
        });
        const r = await verify(db);
        assertFailure(r, 'reordered', 3);
        assertFailure(r, 'reordered', 4);
      });

      it('catches a truncated tail', async () => {
        const db = await freshLog();
        await tamper(db, async (d) => {
          await d.run('DELETE FROM entries WHERE seq >= 35');
          await d.run('DELETE FROM disclosures WHERE seq >= 35');
        });
        assertFailure(await verify(db), 'truncated', 35);
      });

      it('catches a truncated tail even when the head and checkpoints are rolled back too', async () => {
        const db = await freshLog();
        await tamper(db, async (d) => {
          await d.run('DELETE FROM entries WHERE seq >= 20');
          await d.run('DELETE FROM disclosures WHERE seq >= 20');
          await d.run('DELETE FROM checkpoints WHERE size > 20');
          const cp = await d.one('SELECT root_hash FROM checkpoints WHERE size = 20');
          await d.run('UPDATE logs SET tree_size = 20, root_hash = ?, right_edge = ?', cp, Buffer.alloc(0));
        });
        assertFailure(await verify(db), 'rolled_back', 20);
      });

      it('catches a forged entry inserted after the head', async () => {
        const db = await freshLog();
        await tamper(db, async (d) => {
          const leaf = (await d.one('SELECT leaf FROM entries WHERE seq = 39')) as Buffer;
          const forged = encodeLeaf({ ...parseLeaf(leaf), seq: N, eid: 'forged-1' });
          await d.run(
            "INSERT INTO entries VALUES (1, ?, ?, ?, 'forged-1', 'action.intent', ?)",
            N,
            forged,
            hashLeaf(forged),
            parseLeaf(leaf).ts,
          );
        });
        assertFailure(await verify(db), 'forged_entry', N);
      });

      it('catches a checkpoint replaced by one signed with another key', async () => {
        const db = await freshLog();
        await tamper(db, async (d) => {
          const root = (await d.one('SELECT root_hash FROM checkpoints WHERE size = 20')) as Buffer;
          const other = generateSigner('auditrail.local/t/acme/default').signer;
          const note = signCheckpoint({ origin: 'auditrail.local/t/acme/default', size: 20, root }, [other]);
          await d.run('UPDATE checkpoints SET note = ? WHERE size = 20', note);
        });
        assertFailure(await verify(db), 'checkpoint_forged', 20);
      });

      it('catches an older copy of the database restored after newer checkpoints were handed out', async () => {
        const db = await x.place(tempDir());
        const trail = await open(db);
        for (let i = 0; i < 20; i++) await trail.record(sampleEvent(i));
        await trail.checkpoint();
        await trail.close();
        await x.backup(db);
        const again = await open(db);
        for (let i = 20; i < 30; i++) await again.record(sampleEvent(i));
        await again.checkpoint(); // handed out: the witness file now holds size 30
        await again.close();
        await x.restore(db);
        assertFailure(await verify(db), 'rolled_back', 20);
      });

      it('catches an entry moved to another log', async () => {
        const dir = tempDir();
        const db = await makeLog(dir, N, 'acme', 'prod');
        await makeLog(dir, 10, 'acme', 'staging');
        await tamper(db, async (d) => {
          const ids = await d.all('SELECT origin, log_id FROM logs');
          const idOf = (name: string): Value =>
            ids.find((r) => (r['origin'] as string).endsWith(name))!['log_id']!;
          await d.run(
            'UPDATE entries SET log_id = ?, seq = 10 WHERE log_id = ? AND seq = 6',
            idOf('/staging'),
            idOf('/prod'),
          );
        });
        assertFailure(await verify(db, 'acme', 'prod'), 'entry_deleted', 6);
        assertFailure(await verify(db, 'acme', 'staging'), 'cross_log', 10);
      });
    });

    describe('tamper suite: derived rows (query index, tiles, log row, checkpoint rows)', () => {
      it('reports a deleted index row as index_missing at its seq', async () => {
        const db = await freshLog();
        await tamper(db, (d) => d.run('DELETE FROM events WHERE seq = 10'));
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
          await tamper(db, (d) => d.run(`UPDATE events SET ${col} = ${value} WHERE seq = ?`, seq));
          const r = await verify(db);
          assert.equal(r.ok, false, `${col}: ${JSON.stringify(r.failures)}`);
          assertFailure(r, 'index_mismatch', seq);
          assert.match(r.failures[0]!.detail, new RegExp(`\\b${col}\\b`), col);
        }
      });

      it('reports index values rewritten as bytes, a number or text with a NUL (PostgreSQL: look-alike text) as index_mismatch', async () => {
        // TEXT columns on PostgreSQL hold neither bytes nor NUL: the closest forgeries there are
        // values that print alike (a trailing space, a zero-width space).
        const edits: [string, string, string][] = [
          ['session_id', 'CAST(session_id AS BLOB)', "session_id || ' '"],
          ['run_id', '5', '5'],
          ['target', 'target || char(0)', 'target || chr(8203)'],
        ];
        for (const [col, sqlite, postgres] of edits) {
          const db = await freshLog();
          await tamper(db, (d) =>
            d.run(`UPDATE events SET ${col} = ${dialect(d, sqlite, postgres)} WHERE seq = 4`),
          );
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
        await tamper(db, (d) =>
          d.run(
            "INSERT INTO events (log_id, seq, ts, type, session_id) SELECT log_id, 77, ts, type, 's-1' FROM events WHERE seq = 3",
          ),
        );
        assertFailure(await verify(db), 'index_extra', 77);
      });

      it('reports a log row whose origin was renamed', async () => {
        const db = await freshLog();
        await tamper(db, (d) => d.run("UPDATE logs SET origin = 'auditrail.local/t/acme/other'"));
        assertFailure(await verify(db), 'cross_log', null);
      });

      it('reports an edited right_edge or last_ts of the log row', async () => {
        const db = await freshLog();
        await tamper(db, (d) => d.run("UPDATE logs SET right_edge = ?, last_ts = '1999'", Buffer.from([0])));
        const r = await verify(db);
        assert.equal(r.failures.filter((f) => f.kind === 'head_mismatch').length, 2);
      });

      it('reports a checkpoint row whose root_hash or size column differs from its note', async () => {
        const db = await freshLog();
        await tamper(db, async (d) => {
          await d.run('UPDATE checkpoints SET root_hash = ? WHERE size = 20', Buffer.alloc(32));
          await d.run('UPDATE checkpoints SET size = 41 WHERE size = 40');
        });
        const r = await verify(db);
        assertFailure(r, 'checkpoint_edited', 20);
        assertFailure(r, 'checkpoint_edited', 40);
      });

      it('reports the deleted latest checkpoint row as checkpoint_missing (the witness file holds it)', async () => {
        const db = await freshLog();
        await tamper(db, (d) => d.run('DELETE FROM checkpoints WHERE size = 40'));
        const r = await verify(db);
        assertFailure(r, 'checkpoint_missing', 40);
      });

      it('reports a deleted or shortened full tile as tile_missing', async () => {
        const db = await freshLog(300);
        await tamper(db, (d) => d.run('DELETE FROM tiles'));
        assertFailure(await verify(db), 'tile_missing', 0);
        const db2 = await freshLog(300);
        await tamper(db2, (d) =>
          d.run('UPDATE tiles SET hashes = substr(hashes, 1, 320), width = 10 WHERE level = 0 AND idx = 0'),
        );
        assertFailure(await verify(db2), 'tile_missing', 0);
      });

      it('reports a deleted or shortened stored partial tile, when the partial tile is stored', async () => {
        // The level-0 partial tile may be stored or derived from the entries: when a row is
        // stored, deleting or shortening it is caught; when none is, there is nothing to tamper.
        const db = await freshLog(300);
        let stored = 0;
        await tamper(db, async (d) => {
          stored = await d.run('DELETE FROM tiles WHERE level = 0 AND idx = 1');
        });
        const r = await verify(db);
        if (stored > 0) assertFailure(r, 'tile_missing', 256);
        else assert.equal(r.ok, true, JSON.stringify(r.failures));
        const db2 = await freshLog(300);
        await tamper(db2, async (d) => {
          stored = await d.run(
            'UPDATE tiles SET hashes = substr(hashes, 1, 320), width = 10 WHERE level = 0 AND idx = 1',
          );
        });
        const r2 = await verify(db2);
        if (stored > 0) assertFailure(r2, 'tile_missing', 256);
        else assert.equal(r2.ok, true, JSON.stringify(r2.failures));
      });

      it('reports tiles rewritten as TEXT or a number (PostgreSQL: other bytes) instead of failing to run', async () => {
        // A BYTEA column holds bytes only: the PostgreSQL forgeries are the hashes as hex text,
        // a text's bytes and one byte.
        const values: [string, string][] = [
          ['CAST(hashes AS TEXT)', "convert_to(encode(hashes, 'hex'), 'UTF8')"],
          ["'not hashes'", "convert_to('not hashes', 'UTF8')"],
          ['42', "'\\x2a'::bytea"],
        ];
        for (const [sqlite, postgres] of values) {
          const db = await freshLog(300);
          await tamper(db, (d) => d.run(`UPDATE tiles SET hashes = ${dialect(d, sqlite, postgres)}`));
          const r = await verify(db);
          assert.equal(r.ok, false, sqlite);
          assert.ok(
            r.failures.some((f) => f.kind === 'tile_mismatch' || f.kind === 'tile_missing'),
            `${sqlite}: ${JSON.stringify(r.failures.slice(0, 3))}`,
          );
        }
      });

      it('rebuildIndex() repairs the index, the tiles and the log row from verified entries', async () => {
        const db = await freshLog();
        let tiles = 0;
        await tamper(db, async (d) => {
          await d.run("UPDATE events SET session_id = 'elsewhere' WHERE seq = 4");
          await d.run('DELETE FROM events WHERE seq = 7');
          await d.run("INSERT INTO events (log_id, seq, ts, type) VALUES (1, 500, 'x', 'y')");
          // As many tiles as the layout stores for 40 entries (the partial tile, or none).
          tiles = await d.run('DELETE FROM tiles');
          await d.run("UPDATE logs SET last_ts = '1999'");
        });
        const trail = await open(db);
        try {
          const r = await trail.rebuildIndex();
          assert.equal(r.refused, null);
          assert.equal(r.before.ok, false);
          assert.equal(r.after?.ok, true, JSON.stringify(r.after?.failures));
          assert.deepEqual(r.rebuilt, {
            index_rows: 2,
            index_rows_removed: 1,
            tiles,
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

      it('rebuildIndex() stores a deleted full tile again', async () => {
        const db = await freshLog(300);
        await tamper(db, (d) => d.run('DELETE FROM tiles WHERE level = 0 AND idx = 0'));
        const trail = await open(db);
        try {
          const r = await trail.rebuildIndex();
          assert.equal(r.refused, null);
          assert.equal(r.rebuilt.tiles, 1);
          assert.equal(r.after?.ok, true, JSON.stringify(r.after?.failures));
          assert.equal((await trail.prove(100)).seq, 100);
        } finally {
          await trail.close();
        }
      });

      it('rebuildIndex() stores the deleted newest checkpoint again from the witness copy', async () => {
        const db = await freshLog();
        await tamper(db, (d) => d.run('DELETE FROM checkpoints WHERE size = 40'));
        const trail = await open(db);
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
        await tamper(db, async (d) => {
          await d.run('DELETE FROM events WHERE seq = 7');
          await d.run(
            `UPDATE disclosures SET disclosure = ${refunded(d)} WHERE seq = 5 AND pointer = '/outcome/result'`,
          );
        });
        const trail = await open(db);
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

    // SQLite cannot drop a primary key or a unique constraint; a PostgreSQL superuser can, and
    // then store a second row under a key, which a read may return instead of the first.
    if (backend.name === 'postgres') {
      describe('keys dropped too: a row stored twice under its key', () => {
        const twice: [string, string, (d: Sql) => Promise<unknown>, FailureKind, number | null, number?][] = [
          [
            'an entry',
            'ALTER TABLE entries DROP CONSTRAINT entries_pkey; DROP INDEX entries_eid',
            async (d) => {
              const leaf = (await d.one('SELECT leaf FROM entries WHERE seq = 5')) as Buffer;
              const forged = encodeLeaf({ ...parseLeaf(leaf), type: 'action.failed' });
              await d.run(
                "INSERT INTO entries SELECT log_id, seq, ?, ?, eid, 'action.failed', ts FROM entries WHERE seq = 5",
                forged,
                hashLeaf(forged),
              );
            },
            'reordered',
            5,
          ],
          [
            'a disclosure',
            'ALTER TABLE disclosures DROP CONSTRAINT disclosures_pkey',
            (d) =>
              d.run(
                `INSERT INTO disclosures SELECT log_id, seq, unit, pointer, ${refunded(d)}, erased_by_seq, erased_at
                 FROM disclosures WHERE seq = 5 AND pointer = '/outcome/result'`,
              ),
            'payload_edited',
            5,
          ],
          [
            'an index row',
            'ALTER TABLE events DROP CONSTRAINT events_pkey',
            (d) =>
              d.run(
                `INSERT INTO events SELECT log_id, seq, ts, type, tenant, 's-2', run_id, trace_id, actor_id,
                 action_type, target, decision, status, risk, time, subjects FROM events WHERE seq = 4`,
              ),
            'index_mismatch',
            4,
          ],
          [
            'a full tile',
            'ALTER TABLE tiles DROP CONSTRAINT tiles_pkey',
            (d) =>
              d.run(
                "INSERT INTO tiles SELECT log_id, level, idx, width, overlay(hashes PLACING '\\x00'::bytea FROM 100 FOR 1) FROM tiles WHERE level = 0 AND idx = 0",
              ),
            'tile_mismatch',
            null,
            300,
          ],
          [
            'a checkpoint',
            'ALTER TABLE checkpoints DROP CONSTRAINT checkpoints_pkey',
            (d) => d.run('INSERT INTO checkpoints SELECT * FROM checkpoints WHERE size = 40'),
            'checkpoint_edited',
            40,
          ],
          [
            'the log row',
            'ALTER TABLE logs DROP CONSTRAINT logs_origin_key',
            (d) =>
              d.run(
                `INSERT INTO logs (origin, tenant, state, tree_size, root_hash, right_edge, last_ts, created_at)
                 SELECT origin, tenant, state, 20, root_hash, right_edge, last_ts, created_at FROM logs`,
              ),
            'cross_log',
            null,
          ],
        ];
        for (const [what, drop, insert, kind, seq, n] of twice) {
          it(`catches ${what} stored twice (${kind})`, async () => {
            const db = await freshLog(n);
            await tamper(db, async (d) => {
              for (const statement of drop.split('; ')) await d.run(statement);
              await insert(d);
            });
            assertFailure(await verify(db), kind, seq);
          });
        }
      });
    }
  });
}
