import Database from 'better-sqlite3';
import assert from 'node:assert/strict';
import { cpSync, existsSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import {
  ApprovalRequiredError,
  Governor,
  openAuditTrail,
  parsePolicy,
  type AuditTrail,
  type QueryOptions,
} from '../../src/index.js';
import { adminQuery, backends, databaseName, databaseUrl } from '../postgres.js';
import { witnessScope } from '../../src/sdk/open.js';
import { runCli, tempDir } from './helpers.js';

/**
 * The generic tamper test, on SQLite and on PostgreSQL: for every table of a real demo database
 * (found in the catalogue, so a table added later is covered without touching this file) and every column, with the triggers
 * dropped, edit one middle row, delete it, and insert a copy. Whenever a mutation changes what a
 * user sees (`log` with and without each filter, `show`, `prove`, `export`, `checkpoint`, through
 * the SDK calls those commands make), `verify` must fail. The principle: no edit, deletion or
 * insertion of any stored row changes what a user or an auditor sees without verify naming it.
 */

const TENANT = 'demo';
const FILTERS = [
  'session_id',
  'run_id',
  'trace_id',
  'actor_id',
  'action_type',
  'target',
  'type',
  'decision',
  'status',
  'risk',
] as const;
const POLICY = `policy_id: refunds
version: 1
default: deny
rules:
  - id: approve-large-refunds
    match: { action: "write:refund" }
    when: "params.amount > 500.0"
    effect: require_approval
    approvers: [finance_lead]
    approval_ttl: 15m
  - id: allow-refunds
    match: { action: "write:refund" }
    effect: allow
`;
/** Values probed per filter (the most frequent ones, plus the middle row's). */
const VALUES_PER_FILTER = 3;

/** `auditrail <args>` in process, output discarded: the exit code. */
const quiet = async (args: string[], cwd: string): Promise<number> => (await runCli(args, { cwd })).code;

interface Probes {
  filters: QueryOptions[];
  seqs: number[];
  eids: string[];
}

type Value = number | bigint | string | Buffer | null;
type Row = Record<string, Value>;

/** A copy of the demo database: where it is, and the key directory it is opened with. */
interface Place {
  db: string;
  keyDir: string;
}

/** Plain SQL on a copy, as an attacker with database access would (triggers dropped first). */
interface Sql {
  all(sql: string, args?: Value[]): Promise<Row[]>;
  /** Rows changed. */
  run(sql: string, args?: Value[]): Promise<number>;
  close(): Promise<void>;
}

/** What differs between the backends: copies, catalogue, placeholders, null-safe equality. */
interface Driver {
  build(root: string): Promise<Place>;
  copy(from: Place, to: string): Promise<Place>;
  drop(place: Place): Promise<void>;
  open(place: Place): Promise<Sql>;
  dropTriggers(d: Sql): Promise<void>;
  tables(d: Sql): Promise<string[]>;
  /** Columns with their position in the primary key (0: not in it). */
  columns(d: Sql, table: string): Promise<{ name: string; pk: number }[]>;
  /** Columns of unique indexes. */
  uniqueColumns(d: Sql, table: string): Promise<Set<string>>;
  /** The i-th placeholder (1-based). */
  p(i: number): string;
  /** Null-safe equality (`a IS b`). */
  is: string;
  isNot: string;
}

const q = (name: string): string => `"${name.replace(/"/g, '""')}"`;

async function buildDemo(root: string, flag: string, db: string, keyDir: string): Promise<void> {
  // Two demo runs: more than 256 events (full and partial tiles, a level-1 tile), two checkpoints.
  assert.equal(await quiet(['demo', flag, db, '--events', '300'], root), 0);
  assert.equal(await quiet(['demo', flag, db], root), 0);
  // Governed actions: approval requests (the approvals table) and the policy in force (meta).
  const trail = await openAuditTrail({
    tenant: TENANT,
    db,
    keyDir,
    checkpointIntervalMs: 0,
    writeThread: false,
  });
  const gov = new Governor({
    trail,
    policy: parsePolicy(POLICY),
    actor: { type: 'agent', id: 'refund-bot' },
    approvals: { wait: false },
  });
  for (const amount of [900, 40, 1200, 700]) {
    await gov
      .run({ type: 'write:refund', target: `order/${amount}`, params: { amount } }, () => Promise.resolve())
      .catch((e: unknown) => assert.ok(e instanceof ApprovalRequiredError));
  }
  await trail.close();
}

const sqliteDriver: Driver = {
  async build(root) {
    const db = join(root, 'base', 'audit.db');
    await buildDemo(root, '--db', db, join(root, 'base', 'keys'));
    // One self-contained file to copy per mutation.
    const d = new Database(db);
    d.pragma('wal_checkpoint(TRUNCATE)');
    d.close();
    rmSync(`${db}-wal`, { force: true });
    rmSync(`${db}-shm`, { force: true });
    return { db, keyDir: join(root, 'base', 'keys') };
  },
  copy(from, to) {
    cpSync(join(from.db, '..'), to, { recursive: true });
    return Promise.resolve({ db: join(to, 'audit.db'), keyDir: join(to, 'keys') });
  },
  drop(place) {
    rmSync(join(place.db, '..'), { recursive: true, force: true });
    return Promise.resolve();
  },
  open(place) {
    const d = new Database(place.db);
    return Promise.resolve({
      all: (sql, args = []) => Promise.resolve(d.prepare(sql).all(...args) as Row[]),
      run: (sql, args = []) => Promise.resolve(d.prepare(sql).run(...args).changes),
      close: () => {
        d.close();
        return Promise.resolve();
      },
    });
  },
  async dropTriggers(d) {
    for (const t of await d.all("SELECT name FROM sqlite_master WHERE type = 'trigger'"))
      await d.run(`DROP TRIGGER ${q(t['name'] as string)}`);
  },
  async tables(d) {
    return (
      await d.all(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
      )
    ).map((r) => r['name'] as string);
  },
  async columns(d, table) {
    return (await d.all(`PRAGMA table_info(${q(table)})`)).map((c) => ({
      name: c['name'] as string,
      pk: c['pk'] as number,
    }));
  },
  async uniqueColumns(d, table) {
    const out = new Set<string>();
    for (const idx of await d.all(`PRAGMA index_list(${q(table)})`)) {
      if (!idx['unique']) continue;
      for (const c of await d.all(`PRAGMA index_info(${q(idx['name'] as string)})`))
        out.add(c['name'] as string);
    }
    return out;
  },
  p: () => '?',
  is: 'IS',
  isNot: 'IS NOT',
};

/** PostgreSQL: one database per copy (CREATE DATABASE … TEMPLATE), tables in schema `auditrail`. */
const postgresDriver: Driver = {
  async build(root) {
    const name = databaseName('tamper_base');
    await adminQuery(`CREATE DATABASE ${name}`);
    const db = databaseUrl(name);
    const keyDir = join(root, '.auditrail', 'keys');
    await buildDemo(root, '--postgres', db, keyDir);
    return { db, keyDir };
  },
  async copy(from, to) {
    const name = databaseName('tamper');
    await adminQuery(`CREATE DATABASE ${name} TEMPLATE ${new URL(from.db).pathname.slice(1)}`);
    cpSync(from.keyDir, join(to, 'keys'), { recursive: true });
    // The witness state is kept per database URL: the copy's is the original's, as a restored
    // database's would be under its old name.
    const db = databaseUrl(name);
    const witness = (url: string) => join(to, 'keys', 'witness', encodeURIComponent(witnessScope(url)));
    if (existsSync(witness(from.db))) renameSync(witness(from.db), witness(db));
    return { db, keyDir: join(to, 'keys') };
  },
  async drop(place) {
    await adminQuery(`DROP DATABASE IF EXISTS ${new URL(place.db).pathname.slice(1)} WITH (FORCE)`);
    rmSync(join(place.keyDir, '..'), { recursive: true, force: true });
  },
  async open(place) {
    const c = new pg.Client({
      connectionString: place.db,
      options: '-c search_path=auditrail',
      // INT8 as a number, as SQLite gives integers (seqs, sizes, ids).
      types: {
        getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
          oid === 20
            ? (v: string) => Number(v)
            : (pg.types.getTypeParser(oid, format ?? 'text') as (
                v: string,
              ) => unknown)) as typeof pg.types.getTypeParser,
      },
    });
    await c.connect();
    return {
      all: async (sql, args = []) => (await c.query<Row>(sql, args)).rows,
      run: async (sql, args = []) => (await c.query(sql, args)).rowCount ?? 0,
      close: () => c.end(),
    };
  },
  async dropTriggers(d) {
    for (const t of await d.all(
      'SELECT tgname, relname FROM pg_trigger JOIN pg_class ON pg_class.oid = tgrelid WHERE NOT tgisinternal',
    ))
      await d.run(`DROP TRIGGER ${q(t['tgname'] as string)} ON ${q(t['relname'] as string)}`);
  },
  async tables(d) {
    return (
      await d.all(
        "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'auditrail' AND table_type = 'BASE TABLE' ORDER BY 1",
      )
    ).map((r) => r['name'] as string);
  },
  async columns(d, table) {
    return (
      await d.all(
        `SELECT a.attname AS name, coalesce((SELECT k.n FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(att, n) WHERE k.att = a.attnum), 0) AS pk
         FROM pg_attribute a
         JOIN pg_class c ON c.oid = a.attrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'auditrail'
         LEFT JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary
         WHERE c.relname = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
        [table],
      )
    ).map((r) => ({ name: r['name'] as string, pk: Number(r['pk']) }));
  },
  async uniqueColumns(d, table) {
    const rows = await d.all(
      `SELECT a.attname AS name FROM pg_index i
       JOIN pg_class c ON c.oid = i.indrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'auditrail'
       JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = ANY(i.indkey)
       WHERE c.relname = $1 AND i.indisunique`,
      [table],
    );
    return new Set(rows.map((r) => r['name'] as string));
  },
  p: (i) => `$${i}`,
  is: 'IS NOT DISTINCT FROM',
  isNot: 'IS DISTINCT FROM',
};

interface Mutation {
  label: string;
  apply: (d: Sql) => Promise<boolean>;
}

function message(e: unknown): string {
  return `error: ${e instanceof Error ? e.message : String(e)}`;
}

async function allPages(trail: AuditTrail, filter: QueryOptions, limit = 1000): Promise<unknown[]> {
  const out: unknown[] = [];
  let cursor: string | null = null;
  do {
    const page = await trail.query({ ...filter, limit, ...(cursor !== null ? { cursor } : {}) });
    out.push(...page.events);
    cursor = page.next_cursor;
  } while (cursor !== null);
  return out;
}

/** What a user sees of the log, one entry per command and argument. */
async function outputs({ db, keyDir }: Place, probes: Probes): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let trail: AuditTrail;
  try {
    trail = await openAuditTrail({ tenant: TENANT, db, keyDir, checkpointIntervalMs: 0, writeThread: false });
  } catch (e) {
    out.set('open', message(e));
    return out;
  }
  const see = async (name: string, fn: () => Promise<unknown>): Promise<void> => {
    try {
      out.set(name, JSON.stringify(await fn()));
    } catch (e) {
      out.set(name, message(e));
    }
  };
  try {
    await see('log', () => allPages(trail, {}));
    await see(
      'log --order desc --limit 20',
      async () => (await trail.query({ order: 'desc', limit: 20 })).events,
    );
    await see('export (pages of 100)', () => allPages(trail, {}, 100));
    for (const f of probes.filters) await see(`log ${JSON.stringify(f)}`, () => allPages(trail, f));
    for (const s of probes.seqs) await see(`show ${s}`, () => trail.get(s));
    for (const e of probes.eids) await see(`show ${e}`, () => trail.get(e));
    // Writing commands last: prove and checkpoint may sign.
    for (const s of probes.seqs) await see(`prove ${s}`, () => trail.prove(s));
    await see('checkpoint', () => trail.checkpoint());
  } finally {
    await trail.close().catch(() => undefined);
  }
  return out;
}

async function verifies({ db, keyDir }: Place): Promise<{ ok: boolean; kinds: string[] }> {
  try {
    const trail = await openAuditTrail({
      tenant: TENANT,
      db,
      keyDir,
      checkpointIntervalMs: 0,
      writeThread: false,
    });
    try {
      const r = await trail.verify();
      return { ok: r.ok, kinds: [...new Set(r.failures.map((f) => f.kind))] };
    } finally {
      await trail.close().catch(() => undefined);
    }
  } catch (e) {
    return { ok: false, kinds: [message(e)] };
  }
}

/** Another plausible value of the same type, most plausible first. */
async function candidates(x: Driver, d: Sql, table: string, col: string, v: Value): Promise<Value[]> {
  const others = (
    await d.all(
      `SELECT ${q(col)} AS v FROM ${q(table)} WHERE ${q(col)} IS NOT NULL AND ${q(col)} ${x.isNot} ${x.p(1)}
       GROUP BY ${q(col)} ORDER BY count(*) DESC LIMIT 3`,
      [v],
    )
  )
    .map((r) => r['v'] ?? null)
    .filter((o) => typeof o === typeof v || v === null);
  if (typeof v === 'number' || typeof v === 'bigint') {
    const n = Number(v);
    return Number.isInteger(n) ? [n + 1, n - 1, n + 1_000_003] : [n + 0.5];
  }
  if (typeof v === 'string') return [...others, `${v}x`];
  if (Buffer.isBuffer(v)) {
    const flipped = Buffer.from(v);
    if (flipped.length > 0) flipped[flipped.length >> 1]! ^= 0x01;
    else return [Buffer.from([0])];
    return [flipped, ...others];
  }
  return [...others, 'x'];
}

function changedKey(v: Value): Value {
  if (typeof v === 'number' || typeof v === 'bigint') return Number(v) + 1_000_003;
  if (typeof v === 'string') return `${v}-copy`;
  if (Buffer.isBuffer(v)) return Buffer.concat([v, Buffer.from([1])]);
  return 'copy';
}

/** Runs `sql` in a savepoint-free way that a refused value does not poison (PostgreSQL aborts the transaction). */
async function attempt(d: Sql, sql: string, args: Value[]): Promise<number | null> {
  try {
    return await d.run(sql, args);
  } catch {
    return null;
  }
}

/** Every mutation of every table: one edit per column, one deletion, one inserted copy. */
async function mutations(
  x: Driver,
  place: Place,
): Promise<{ mutations: Mutation[]; tables: string[]; empty: string[]; midSeqs: number[]; eids: string[] }> {
  const d = await x.open(place);
  const out: Mutation[] = [];
  const midSeqs: number[] = [];
  const eids: string[] = [];
  const empty: string[] = [];
  const tables = await x.tables(d);
  for (const table of tables) {
    const cols = await x.columns(d, table);
    const pk = cols.filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk);
    const keyCols = pk.length > 0 ? pk.map((c) => c.name) : ['rowid'];
    const count = Number((await d.all(`SELECT count(*) AS n FROM ${q(table)}`))[0]!['n']);
    if (count === 0) {
      empty.push(table);
      continue;
    }
    const row = (
      await d.all(
        `SELECT ${keyCols.includes('rowid') ? 'rowid, ' : ''}* FROM ${q(table)} ORDER BY ${keyCols.map(q).join(', ')} LIMIT 1 OFFSET ${x.p(1)}`,
        [Math.floor(count / 2)],
      )
    )[0]!;
    if (typeof row['seq'] === 'number') midSeqs.push(row['seq']);
    if (typeof row['eid'] === 'string') eids.push(row['eid']);
    const where = (from: number) => keyCols.map((c, i) => `${q(c)} ${x.is} ${x.p(from + i)}`).join(' AND ');
    const key = keyCols.map((c) => row[c] ?? null);
    const unique = await x.uniqueColumns(d, table);
    for (const c of cols) unique.add(c.pk > 0 ? c.name : '');
    for (const col of cols) {
      out.push({
        label: `${table}.${col.name}: edit the middle row`,
        apply: async (w) => {
          for (const v of await candidates(x, w, table, col.name, row[col.name] ?? null)) {
            const n = await attempt(
              w,
              `UPDATE ${q(table)} SET ${q(col.name)} = ${x.p(1)} WHERE ${where(2)}`,
              [v, ...key],
            );
            // A unique key refused this value: try the next one.
            if (n) return true;
          }
          return false;
        },
      });
    }
    out.push({
      label: `${table}: delete the middle row`,
      apply: async (w) => (await w.run(`DELETE FROM ${q(table)} WHERE ${where(1)}`, key)) === 1,
    });
    out.push({
      label: `${table}: insert a copy of the middle row`,
      apply: async (w) => {
        const names = cols.map((c) => c.name);
        const insert = `INSERT INTO ${q(table)} (${names.map(q).join(', ')}) ${table === 'logs' && x === postgresDriver ? 'OVERRIDING SYSTEM VALUE ' : ''}VALUES (${names.map((_, i) => x.p(i + 1)).join(', ')})`;
        const plain = names.map((n) => row[n] ?? null);
        if ((await attempt(w, insert, plain)) === 1) return true;
        // The unique key refuses a plain copy: copy it under a changed key.
        const keyed = names.map((n) => (unique.has(n) ? changedKey(row[n] ?? null) : (row[n] ?? null)));
        return (await attempt(w, insert, keyed)) === 1;
      },
    });
  }
  await d.close();
  return { mutations: out, tables, empty, midSeqs, eids };
}

async function probesOf(x: Driver, place: Place, midSeqs: number[], eids: string[]): Promise<Probes> {
  const d = await x.open(place);
  const filters: QueryOptions[] = [];
  const size = Number((await d.all('SELECT max(seq) + 1 AS n FROM entries'))[0]!['n']);
  const mid = Math.floor(size / 2);
  for (const col of FILTERS) {
    const values = new Set(
      (
        await d.all(
          `SELECT ${col} AS v FROM events WHERE ${col} IS NOT NULL GROUP BY ${col} ORDER BY count(*) DESC LIMIT ${x.p(1)}`,
          [VALUES_PER_FILTER],
        )
      ).map((r) => r['v'] as string),
    );
    const atMid = (await d.all(`SELECT ${col} AS v FROM events WHERE seq = ${x.p(1)}`, [mid]))[0]?.['v'];
    if (typeof atMid === 'string') values.add(atMid);
    for (const v of values) filters.push({ [col]: v });
  }
  const ts = (await d.all(`SELECT ts FROM entries WHERE seq = ${x.p(1)}`, [mid]))[0]!['ts'] as string;
  filters.push({ since: ts }, { until: ts });
  await d.close();
  return { filters, seqs: [...new Set([0, mid, size - 1, ...midSeqs])], eids };
}

for (const backend of await backends()) {
  const x = backend.name === 'postgres' ? postgresDriver : sqliteDriver;
  describe(
    `generic tamper test: every table, every column of a demo database (${backend.name})`,
    {
      skip: backend.skip ?? false,
    },
    () => {
      const root = tempDir('auditrail-tamper-generic-');
      let base: Place;

      before(async () => {
        base = await x.build(root);
      });

      after(async () => {
        if (backend.name === 'postgres' && base !== undefined) await x.drop(base);
        rmSync(root, { recursive: true, force: true });
      });

      it('fails verify whenever a mutation changes what a user sees', async (t) => {
        const { mutations: all, tables, empty, midSeqs, eids } = await mutations(x, base);
        // A table the demo leaves empty has no row to edit: say so, so that a new one is noticed.
        if (empty.length > 0) t.diagnostic(`tables without rows in the demo database: ${empty.join(', ')}`);
        for (const name of ['logs', 'entries', 'disclosures', 'events', 'tiles', 'checkpoints'])
          assert.ok(tables.includes(name), `table ${name} discovered`);
        const probes = await probesOf(x, base, midSeqs, eids);
        const b1 = await x.copy(base, join(root, 'baseline'));
        const baseline = await outputs(b1, probes);
        await x.drop(b1);
        assert.ok(!baseline.has('open'), baseline.get('open'));
        const b2 = await x.copy(base, join(root, 'baseline-verify'));
        assert.equal((await verifies(b2)).ok, true);
        await x.drop(b2);

        const missed: string[] = [];
        let applied = 0;
        let visible = 0;
        for (const [i, m] of all.entries()) {
          const a = await x.copy(base, join(root, `m${i}-a`));
          const d = await x.open(a);
          await x.dropTriggers(d);
          const done = await m.apply(d);
          await d.close();
          if (!done) {
            await x.drop(a);
            continue;
          }
          applied++;
          const b = await x.copy(a, join(root, `m${i}-b`));
          const seen = await outputs(b, probes);
          const result = await verifies(a);
          const changed = [...new Set([...baseline.keys(), ...seen.keys()])].filter(
            (k) => baseline.get(k) !== seen.get(k),
          );
          if (changed.length > 0) {
            visible++;
            if (result.ok)
              missed.push(`${m.label}: changes ${changed.slice(0, 3).join('; ')} but verify says OK`);
          }
          await x.drop(a);
          await x.drop(b);
        }
        // The test must have teeth: most mutations apply, and many change what users see.
        assert.ok(applied >= all.length - 5, `only ${applied} of ${all.length} mutations applied`);
        assert.ok(visible >= 20, `only ${visible} mutations changed an output`);
        t.diagnostic(`${applied} mutations applied, ${visible} changed an output`);
        assert.deepEqual(missed, []);
      });
    },
  );
}
