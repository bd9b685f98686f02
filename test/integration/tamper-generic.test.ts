import Database from 'better-sqlite3';
import assert from 'node:assert/strict';
import { cpSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { main, type Io } from '../../src/cli/main.js';
import {
  ApprovalRequiredError,
  Governor,
  openAuditTrail,
  parsePolicy,
  type AuditTrail,
  type QueryOptions,
} from '../../src/index.js';
import { tempDir } from './helpers.js';

/**
 * The generic tamper test: for every table of a real demo database (found in sqlite_master, so a
 * table added later is covered without touching this file) and every column, with the triggers
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

const quietIo = (cwd: string): Io => ({
  stdout: { write: () => undefined },
  stderr: { write: () => undefined },
  isTTY: { stdout: false, stderr: false },
  env: {},
  cwd,
});

interface Probes {
  filters: QueryOptions[];
  seqs: number[];
  eids: string[];
}

type Value = number | bigint | string | Buffer | null;
type Row = Record<string, Value>;

interface Column {
  name: string;
  pk: number;
}

interface Mutation {
  label: string;
  apply: (d: Database.Database) => boolean;
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
async function outputs(db: string, probes: Probes): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let trail: AuditTrail;
  try {
    trail = await openAuditTrail({ tenant: TENANT, db, checkpointIntervalMs: 0, writeThread: false });
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

async function verifies(db: string): Promise<{ ok: boolean; kinds: string[] }> {
  try {
    const trail = await openAuditTrail({ tenant: TENANT, db, checkpointIntervalMs: 0, writeThread: false });
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

function dropTriggers(d: Database.Database): void {
  const names = d.prepare("SELECT name FROM sqlite_master WHERE type = 'trigger'").pluck().all() as string[];
  for (const t of names) d.exec(`DROP TRIGGER "${t}"`);
}

const q = (name: string): string => `"${name.replace(/"/g, '""')}"`;

/** Another plausible value of the same type, most plausible first. */
function candidates(d: Database.Database, table: string, col: string, v: Value): Value[] {
  const others = (
    d
      .prepare(
        `SELECT ${q(col)} FROM ${q(table)} WHERE ${q(col)} IS NOT NULL AND ${q(col)} IS NOT ?
         GROUP BY ${q(col)} ORDER BY count(*) DESC LIMIT 3`,
      )
      .pluck()
      .all(v) as Value[]
  ).filter((x) => typeof x === typeof v || v === null);
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

/** Columns that must stay unique (primary key and unique indexes), for inserting a copy. */
function uniqueColumns(d: Database.Database, table: string, cols: Column[]): Set<string> {
  const out = new Set(cols.filter((c) => c.pk > 0).map((c) => c.name));
  for (const idx of d.prepare(`PRAGMA index_list(${q(table)})`).all() as { name: string; unique: number }[]) {
    if (!idx.unique) continue;
    for (const c of d.prepare(`PRAGMA index_info(${q(idx.name)})`).all() as { name: string }[])
      out.add(c.name);
  }
  return out;
}

function changedKey(v: Value): Value {
  if (typeof v === 'number' || typeof v === 'bigint') return Number(v) + 1_000_003;
  if (typeof v === 'string') return `${v}-copy`;
  if (Buffer.isBuffer(v)) return Buffer.concat([v, Buffer.from([1])]);
  return 'copy';
}

/** Every mutation of every table: one edit per column, one deletion, one inserted copy. */
function mutations(db: string): {
  mutations: Mutation[];
  tables: string[];
  empty: string[];
  midSeqs: number[];
  eids: string[];
} {
  const d = new Database(db, { readonly: true });
  const out: Mutation[] = [];
  const midSeqs: number[] = [];
  const eids: string[] = [];
  const empty: string[] = [];
  const tables = d
    .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
    .pluck()
    .all() as string[];
  for (const table of tables) {
    const cols = d.prepare(`PRAGMA table_info(${q(table)})`).all() as Column[];
    const pk = cols.filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk);
    const keyCols = pk.length > 0 ? pk.map((c) => c.name) : ['rowid'];
    const count = d
      .prepare(`SELECT count(*) FROM ${q(table)}`)
      .pluck()
      .get() as number;
    if (count === 0) {
      empty.push(table);
      continue;
    }
    const row = d
      .prepare(
        `SELECT ${keyCols.includes('rowid') ? 'rowid, ' : ''}* FROM ${q(table)} ORDER BY ${keyCols.map(q).join(', ')} LIMIT 1 OFFSET ?`,
      )
      .get(Math.floor(count / 2)) as Row;
    if (typeof row['seq'] === 'number') midSeqs.push(row['seq']);
    if (typeof row['eid'] === 'string') eids.push(row['eid']);
    const where = keyCols.map((c) => `${q(c)} IS ?`).join(' AND ');
    const key = keyCols.map((c) => row[c] ?? null);
    const unique = uniqueColumns(d, table, cols);
    for (const col of cols) {
      out.push({
        label: `${table}.${col.name}: edit the middle row`,
        apply: (w) => {
          for (const v of candidates(w, table, col.name, row[col.name] ?? null)) {
            try {
              if (
                w.prepare(`UPDATE ${q(table)} SET ${q(col.name)} = ? WHERE ${where}`).run(v, ...key).changes
              )
                return true;
            } catch {
              // A unique key refused this value: try the next one.
            }
          }
          return false;
        },
      });
    }
    out.push({
      label: `${table}: delete the middle row`,
      apply: (w) => w.prepare(`DELETE FROM ${q(table)} WHERE ${where}`).run(...key).changes === 1,
    });
    out.push({
      label: `${table}: insert a copy of the middle row`,
      apply: (w) => {
        const names = cols.map((c) => c.name);
        const insert = w.prepare(
          `INSERT INTO ${q(table)} (${names.map(q).join(', ')}) VALUES (${names.map(() => '?').join(', ')})`,
        );
        const plain = names.map((n) => row[n] ?? null);
        try {
          return insert.run(...plain).changes === 1;
        } catch {
          // The unique key refuses a plain copy: copy it under a changed key.
          const keyed = names.map((n) => (unique.has(n) ? changedKey(row[n] ?? null) : (row[n] ?? null)));
          try {
            return insert.run(...keyed).changes === 1;
          } catch {
            return false;
          }
        }
      },
    });
  }
  d.close();
  return { mutations: out, tables, empty, midSeqs, eids };
}

function probesOf(db: string, midSeqs: number[], eids: string[]): Probes {
  const d = new Database(db, { readonly: true });
  const filters: QueryOptions[] = [];
  const size = d.prepare('SELECT max(seq) + 1 FROM entries').pluck().get() as number;
  const mid = Math.floor(size / 2);
  for (const col of FILTERS) {
    const values = new Set(
      d
        .prepare(
          `SELECT ${col} FROM events WHERE ${col} IS NOT NULL GROUP BY ${col} ORDER BY count(*) DESC LIMIT ?`,
        )
        .pluck()
        .all(VALUES_PER_FILTER) as string[],
    );
    const atMid = d.prepare(`SELECT ${col} FROM events WHERE seq = ?`).pluck().get(mid) as string | null;
    if (atMid !== null && atMid !== undefined) values.add(atMid);
    for (const v of values) filters.push({ [col]: v });
  }
  const ts = d.prepare('SELECT ts FROM entries WHERE seq = ?').pluck().get(mid) as string;
  filters.push({ since: ts }, { until: ts });
  d.close();
  return { filters, seqs: [...new Set([0, mid, size - 1, ...midSeqs])], eids };
}

function copyDir(from: string, to: string): string {
  cpSync(from, to, { recursive: true });
  return join(to, 'audit.db');
}

describe('generic tamper test: every table, every column of a demo database', () => {
  const root = tempDir('auditrail-tamper-generic-');
  const base = join(root, 'base');

  before(async () => {
    const db = join(base, 'audit.db');
    // Two demo runs: more than 256 events (full and partial tiles, a level-1 tile), two checkpoints.
    assert.equal(await main(['demo', '--db', db, '--events', '300'], quietIo(root)), 0);
    assert.equal(await main(['demo', '--db', db], quietIo(root)), 0);
    // Governed actions: approval requests (the approvals table) and the policy in force (meta).
    const trail = await openAuditTrail({ tenant: TENANT, db, checkpointIntervalMs: 0, writeThread: false });
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
    // One self-contained file to copy per mutation.
    const d = new Database(db);
    d.pragma('wal_checkpoint(TRUNCATE)');
    d.close();
    rmSync(`${db}-wal`, { force: true });
    rmSync(`${db}-shm`, { force: true });
  });

  after(() => rmSync(root, { recursive: true, force: true }));

  it('fails verify whenever a mutation changes what a user sees', async (t) => {
    const baseDb = join(base, 'audit.db');
    const { mutations: all, tables, empty, midSeqs, eids } = mutations(baseDb);
    // A table the demo leaves empty has no row to edit: say so, so that a new one is noticed.
    if (empty.length > 0) t.diagnostic(`tables without rows in the demo database: ${empty.join(', ')}`);
    for (const t of ['logs', 'entries', 'disclosures', 'events', 'tiles', 'checkpoints'])
      assert.ok(tables.includes(t), `table ${t} discovered`);
    const probes = probesOf(baseDb, midSeqs, eids);
    const baseline = await outputs(copyDir(base, join(root, 'baseline')), probes);
    assert.ok(!baseline.has('open'));
    assert.equal((await verifies(copyDir(base, join(root, 'baseline-verify')))).ok, true);

    const missed: string[] = [];
    let applied = 0;
    let visible = 0;
    for (const [i, m] of all.entries()) {
      const a = join(root, `m${i}-a`);
      const db = copyDir(base, a);
      const d = new Database(db);
      dropTriggers(d);
      const done = m.apply(d);
      d.close();
      if (!done) {
        rmSync(a, { recursive: true, force: true });
        continue;
      }
      applied++;
      const b = join(root, `m${i}-b`);
      const seen = await outputs(copyDir(a, b), probes);
      const result = await verifies(db);
      const changed = [...new Set([...baseline.keys(), ...seen.keys()])].filter(
        (k) => baseline.get(k) !== seen.get(k),
      );
      if (changed.length > 0) {
        visible++;
        if (result.ok)
          missed.push(`${m.label}: changes ${changed.slice(0, 3).join('; ')} but verify says OK`);
      }
      rmSync(a, { recursive: true, force: true });
      rmSync(b, { recursive: true, force: true });
    }
    // The test must have teeth: most mutations apply, and many change what users see.
    assert.ok(applied >= all.length - 5, `only ${applied} of ${all.length} mutations applied`);
    assert.ok(visible >= 20, `only ${visible} mutations changed an output`);
    t.diagnostic(`${applied} mutations applied, ${visible} changed an output`);
    assert.deepEqual(missed, []);
  });
});
