/**
 * Runs the benchmark suite: `npm run bench` (full) or `npm run bench -- --quick` (CI, under a
 * minute). Prints one table row per figure and writes `bench/results/latest.json`.
 *
 * Options:
 *   --quick           smaller sizes (100k-event log instead of 1M)
 *   --only a,b        run only these groups (and the groups they need)
 *   --rebuild         rebuild cached fixtures (the large log in bench/.cache/)
 *   --strict          exit 1 when a figure misses its target (errors always exit 1)
 * With --only the results go to bench/results/partial.json instead.
 */
import Database from 'better-sqlite3';
import { execFileSync } from 'node:child_process';
import {
  appendFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { availableParallelism, cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import './cases/index.js';
import { benchmarks, passes, since, type BenchContext, type BenchResult, type Benchmark } from './suite.js';

// bench/ of the package (npm runs scripts at its root; the suite itself runs compiled from build/bench).
const BENCH_DIR = join(process.cwd(), 'bench');

interface Row extends BenchResult {
  group: string;
  pass: boolean | null;
}

function select(all: readonly Benchmark[], only: string[] | undefined): Benchmark[] {
  if (!only) return [...all];
  const wanted = new Set<string>();
  const add = (name: string): void => {
    const b = all.find((x) => x.name === name);
    if (!b)
      throw new Error(`no benchmark group named ${name} (groups: ${all.map((x) => x.name).join(', ')})`);
    if (wanted.has(name)) return;
    wanted.add(name);
    for (const n of b.needs ?? []) add(n);
  };
  for (const name of only) add(name);
  return all.filter((b) => wanted.has(b.name));
}

function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (Math.abs(v) >= 1000) return Math.round(v).toLocaleString('en-US');
  if (Math.abs(v) >= 100) return v.toFixed(0);
  if (Math.abs(v) >= 10) return v.toFixed(1);
  if (Math.abs(v) >= 1) return v.toFixed(2);
  return v.toFixed(3);
}

function formatTarget(r: BenchResult): string {
  if (!r.target) return '';
  const t = `${r.target.op === '>=' ? '≥' : '<'} ${formatNumber(r.target.value)}`;
  return r.target.basis ? `${t} (${r.target.basis})` : t;
}

function table(rows: Row[]): string {
  const cells = rows.map((r) => [
    r.name,
    formatNumber(r.value),
    r.unit,
    formatTarget(r),
    r.pass === null ? '' : r.pass ? 'pass' : 'FAIL',
    r.note ?? '',
  ]);
  const head = ['name', 'value', 'unit', 'target', 'result', 'note'];
  const width = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]): string =>
    c
      .map((s, i) => (i === 1 ? s.padStart(width[i]!) : s.padEnd(width[i]!)))
      .join('  ')
      .trimEnd();
  return [line(head), line(width.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}

function machine(): Record<string, unknown> {
  const mem = new Database(':memory:');
  const sqlite = mem.prepare('SELECT sqlite_version()').pluck().get() as string;
  mem.close();
  const pkg = JSON.parse(readFileSync(join(BENCH_DIR, '..', 'package.json'), 'utf8')) as { version: string };
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: availableParallelism(),
    memory_gb: Math.round(totalmem() / 2 ** 30),
    platform: `${process.platform} ${release()} ${process.arch}`,
    node: process.version,
    sqlite,
    auditrail: pkg.version,
  };
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      rebuild: { type: 'boolean', default: false },
      strict: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    allowPositionals: false,
  });
  if (values.help) {
    console.log('usage: npm run bench [-- --quick] [--only group,group] [--rebuild] [--strict]');
    console.log(
      `groups: ${benchmarks()
        .map((b) => b.name)
        .join(', ')}`,
    );
    return 0;
  }
  const quick = values.quick;
  const groups = select(benchmarks(), values.only?.split(',').filter(Boolean));
  const tmp = mkdtempSync(join(tmpdir(), 'auditrail-bench-'));
  let groupTmp = tmp;
  const figures = new Map<string, number>();
  const fixtures = new Map<string, Promise<unknown>>();
  const log = (m: string): void => void process.stderr.write(`[bench] ${m}\n`);
  const ctx: BenchContext = {
    quick,
    scale: (q, f) => (quick ? q : f),
    get tmpDir() {
      return groupTmp;
    },
    cacheDir: join(BENCH_DIR, '.cache'),
    rebuild: values.rebuild,
    result: (name) => figures.get(name),
    fixture: <T>(key: string, build: () => Promise<T>): Promise<T> => {
      let f = fixtures.get(key) as Promise<T> | undefined;
      if (!f) {
        f = build();
        fixtures.set(key, f);
      }
      return f;
    },
    log,
  };
  const loadBefore = loadavg();
  const rows: Row[] = [];
  const errors: { group: string; error: string }[] = [];
  const started = performance.now();
  try {
    for (const b of groups) {
      log(`${b.name} …`);
      const t = performance.now();
      // Each group writes in its own folder, removed when it is done: files of an earlier group
      // left behind would be written back to disk while a later one measures its own commits.
      groupTmp = join(tmp, b.name);
      mkdirSync(groupTmp);
      try {
        for (const r of await b.run(ctx)) {
          if (figures.has(r.name)) throw new Error(`figure ${r.name} is reported twice`);
          figures.set(r.name, r.value);
          rows.push({ ...r, group: b.name, pass: passes(r) });
        }
      } catch (e) {
        const message = e instanceof Error ? (e.stack ?? e.message) : String(e);
        errors.push({ group: b.name, error: message });
        log(`${b.name} failed: ${message}`);
      }
      rmSync(groupTmp, { recursive: true, force: true });
      log(`${b.name} done in ${(since(t) / 1000).toFixed(1)} s`);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  const seconds = since(started) / 1000;
  console.log(table(rows));
  for (const e of errors) console.log(`ERROR in ${e.group}: ${e.error.split('\n')[0]}`);
  const failed = rows.filter((r) => r.pass === false).map((r) => r.name);
  console.log(
    `\n${quick ? 'quick' : 'full'} run, ${seconds.toFixed(0)} s; ` +
      `targets: ${rows.filter((r) => r.pass === true).length} pass, ${failed.length} fail${errors.length ? `; ${errors.length} error(s)` : ''}`,
  );
  const results = {
    format: 'auditrail-bench/v1',
    date: new Date().toISOString(),
    mode: quick ? 'quick' : 'full',
    command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
    seconds: Math.round(seconds),
    groups: groups.map((g) => g.name),
    machine: {
      ...machine(),
      loadavg_before: loadBefore.map((l) => +l.toFixed(2)),
      loadavg_after: loadavg().map((l) => +l.toFixed(2)),
    },
    results: rows.map((r) => ({
      group: r.group,
      name: r.name,
      value: r.value,
      unit: r.unit,
      target: r.target ?? null,
      pass: r.pass,
      note: r.note ?? null,
    })),
    errors,
  };
  const dir = join(BENCH_DIR, 'results');
  mkdirSync(dir, { recursive: true });
  // A partial run (--only) must not replace the full run's record.
  const out = join(dir, values.only ? 'partial.json' : 'latest.json');
  writeFileSync(`${out}.tmp`, `${JSON.stringify(results, null, 2)}\n`);
  renameSync(`${out}.tmp`, out);
  log(`wrote ${out}`);
  if (!values.only) {
    // One line per whole run, so a slowdown between commits shows in `git log -p` of this file.
    const line = {
      date: results.date,
      commit: commitOf(),
      mode: results.mode,
      loadavg_before: results.machine.loadavg_before,
      figures: Object.fromEntries(rows.map((r) => [r.name, r.value])),
    };
    appendFileSync(join(dir, 'history.jsonl'), `${JSON.stringify(line)}\n`);
    log(`appended to ${join(dir, 'history.jsonl')}`);
  }
  if (errors.length > 0) return 1;
  return values.strict && failed.length > 0 ? 1 : 0;
}

/** The commit measured (with `+` when the tree has changes), or null outside a git checkout. */
function commitOf(): string | null {
  try {
    const head = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], {
      encoding: 'utf8',
    }).trim();
    return dirty ? `${head}+` : head;
  } catch {
    return null;
  }
}

process.exitCode = await main();
