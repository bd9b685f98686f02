// Runs every *.test.ts under src/ and test/ with node's test runner (TypeScript through tsx).
// Usage: node scripts/run-tests.mjs [substring filter...]
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';

function findTests(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (name === 'node_modules' || name === 'dist') continue;
    if (statSync(p).isDirectory()) out.push(...findTests(p));
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const filters = process.argv.slice(2);
const files = ['src', 'test']
  .flatMap((d) => findTests(d))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(2);
}
// Spec output for people, TAP to a file so the closing line can state the counts plainly. The
// tests get their own TMPDIR inside the run's directory, and the whole of it is removed after a
// passing run: a test that is killed or forgets a directory leaves nothing behind. A failing run
// keeps it (databases of failed tests) and says where.
const base = mkdtempSync(join(tmpdir(), 'auditrail-tests-'));
const tap = join(base, 'results.tap');
const testTmp = join(base, 'tmp');
mkdirSync(testTmp);
// tsx keeps its compile cache in $TMPDIR/tsx-<euid>: share the usual one instead of starting cold.
const tsxCache = `tsx-${process.geteuid?.() ?? userInfo().username}`;
mkdirSync(join(tmpdir(), tsxCache), { recursive: true, mode: 0o700 });
symlinkSync(join(tmpdir(), tsxCache), join(testTmp, tsxCache));
const r = spawnSync(
  process.execPath,
  [
    '--import',
    'tsx',
    '--test',
    '--test-concurrency=2',
    '--test-reporter=spec',
    '--test-reporter-destination=stdout',
    '--test-reporter=tap',
    `--test-reporter-destination=${tap}`,
    ...files,
  ],
  { stdio: 'inherit', env: { ...process.env, TMPDIR: testTmp } },
);
let summary = '';
try {
  const text = readFileSync(tap, 'utf8');
  const count = (k) => Number(new RegExp(`^# ${k} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
  summary = `${count('pass')} passed, ${count('fail') + count('cancelled')} failed, ${count('skipped')} skipped`;
} catch {
  summary = '';
}
if (r.status === 0) rmSync(base, { recursive: true, force: true });
else rmSync(tap, { force: true });
if (summary) console.log(summary);
if (r.status !== 0) console.log(`temporary files of this run: ${testTmp} (remove when done)`);
process.exit(r.status ?? 1);
