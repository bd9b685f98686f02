// `auditrail log`: narrow terminals, type globs, and --follow with another process appending.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { main, type Io } from '../../src/cli/main.js';
import { compileFilterGlob } from '../../src/core/glob.js';
import { type RecordedEvent } from '../../src/index.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MAIN = join(ROOT, 'src', 'cli', 'main.ts');
const INDEX = join(ROOT, 'src', 'index.ts');

const dir = mkdtempSync(join(tmpdir(), 'auditrail-cli-log-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function inProcess(
  args: string[],
  options: { columns?: number; db: string },
): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io: Io = {
    stdout: { write: (s) => void (stdout += s) },
    stderr: { write: (s) => void (stderr += s) },
    isTTY: { stdout: options.columns !== undefined, stderr: false },
    env: { AUDITRAIL_DB: options.db, NO_COLOR: '1' },
    cwd: dir,
    ...(options.columns !== undefined ? { columns: options.columns } : {}),
  };
  const code = await main(args, io);
  return { code, stdout, stderr };
}

function jsonl(text: string): RecordedEvent[] {
  return text
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as RecordedEvent);
}

describe('auditrail log', () => {
  const db = join(dir, 'demo', 'audit.db');
  before(async () => {
    const r = await inProcess(['demo'], { db });
    assert.equal(r.code, 0, r.stderr);
  });

  it('stays within 80 columns on an 80-column terminal, with every time in full', async () => {
    const r = await inProcess(['log', '--limit', '200'], { db, columns: 80 });
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.split('\n').filter((l) => l.length > 0);
    for (const line of lines) assert.ok(line.length <= 80, `line too wide (${line.length}): ${line}`);
    const rows = lines.filter((l) => /^ {0,8}\d+ {2}/.test(l)); // notes are indented further
    assert.ok(rows.length > 60);
    for (const row of rows) assert.match(row, /^\s*\d+ {2}\d{4}-\d\d-\d\d \d\d:\d\d:\d\d {2}\S/, row);
    // Types are not cut, and the actor is still shown (in the notes).
    assert.ok(rows.some((row) => / action\.dispatched /.test(row)));
    assert.ok(
      rows.every((row) => !/^\s*\d+ {2}\S+ \S+ {2}\S*…/.test(row)),
      'no type is truncated',
    );
    assert.match(r.stdout, /↳ actor acme-support/);
    // Wide terminals keep the actor column.
    const wide = await inProcess(['log', '--limit', '5'], { db, columns: 120 });
    assert.match(wide.stdout.split('\n')[0]!, /\bactor\b/);
  });

  it("--type takes the SDK's globs: 'action.*', 'approval.?ranted'", async () => {
    const all = jsonl((await inProcess(['log', '--limit', '1000', '--format', 'jsonl'], { db })).stdout);
    const r = await inProcess(['log', '--type', 'action.*', '--limit', '1000', '--format', 'jsonl'], { db });
    assert.equal(r.code, 0, r.stderr);
    const actions = jsonl(r.stdout);
    assert.equal(actions.length, all.filter((e) => e.type.startsWith('action.')).length);
    assert.ok(actions.length > 10);
    const granted = jsonl(
      (await inProcess(['log', '--type', 'approval.?ranted', '--format', 'jsonl'], { db })).stdout,
    );
    assert.ok(granted.length > 0 && granted.every((e) => e.type === 'approval.granted'));
  });

  it('--target and --action take the same globs as --type, matched by the shared matcher', async () => {
    const all = jsonl((await inProcess(['log', '--limit', '1000', '--format', 'jsonl'], { db })).stdout);
    const cases: [flag: '--target' | '--action', field: 'target' | 'type', glob: string][] = [
      ['--target', 'target', 'order/*'],
      ['--target', 'target', '*/*4*'],
      ['--target', 'target', 'status.???.example'],
      ['--action', 'type', 'write:*'],
      ['--action', 'type', '*:ticket'],
      ['--action', 'type', 'read:??'],
    ];
    for (const [flag, field, glob] of cases) {
      const r = await inProcess(['log', flag, glob, '--limit', '1000', '--format', 'jsonl'], { db });
      assert.equal(r.code, 0, r.stderr);
      const m = compileFilterGlob(glob);
      const want = all.filter((e) => typeof e.action?.[field] === 'string' && m(e.action[field]));
      assert.deepEqual(
        jsonl(r.stdout).map((e) => e.seq),
        want.map((e) => e.seq),
        `${flag} ${glob}`,
      );
      if (glob !== 'read:??') assert.ok(want.length > 0, `${flag} ${glob} selects something`);
    }
  });
});

describe('auditrail log --follow', () => {
  it('prints events another process appends, and stops on SIGINT with exit 0', async () => {
    const db = join(dir, 'follow', 'audit.db');
    const seed = await inProcess(['demo', '--events', '20'], { db });
    assert.equal(seed.code, 0, seed.stderr);
    const env: Record<string, string | undefined> = { ...process.env, AUDITRAIL_DB: db, NO_COLOR: '1' };
    for (const k of ['AUDITRAIL_TENANT', 'AUDITRAIL_LOG', 'AUDITRAIL_DEBUG', 'FORCE_COLOR']) delete env[k];
    const follow = spawn(
      process.execPath,
      ['--import', 'tsx', MAIN, 'log', '--follow', '--type', 'x.*', '--format', 'jsonl'],
      { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    follow.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
    follow.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
    const exited = new Promise<number | null>((r) => follow.on('close', (code) => r(code)));
    try {
      // Another process appends three custom events, one by one, while follow runs.
      const writer = join(dir, 'append.mts');
      writeFileSync(
        writer,
        `import { openAuditTrail } from ${JSON.stringify(INDEX)};
         const trail = await openAuditTrail({ tenant: 'demo', db: ${JSON.stringify(db)}, writeThread: false });
         for (let i = 0; i < 3; i++) {
           await trail.record({ type: 'x.follow.test', actor: { type: 'service', id: 'appender' }, metadata: { i } });
           await new Promise((r) => setTimeout(r, 200));
         }
         await trail.close();`,
      );
      await new Promise((r) => setTimeout(r, 1500)); // follow is up and has printed its backlog (none)
      const appender = spawn(process.execPath, ['--import', 'tsx', writer], {
        cwd: ROOT,
        env,
        stdio: 'inherit',
      });
      assert.equal(await new Promise((r) => appender.on('close', r)), 0);
      const deadline = Date.now() + 20_000;
      while (jsonl(out).length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      const seen = jsonl(out);
      assert.deepEqual(
        seen.map((e) => [e.type, e.metadata?.['i']]),
        [
          ['x.follow.test', 0],
          ['x.follow.test', 1],
          ['x.follow.test', 2],
        ],
        err,
      );
      assert.ok(seen[0]!.seq >= 20, 'only new events (the demo had none of this type)');
      follow.kill('SIGINT');
      assert.equal(await exited, 0, err);
    } finally {
      follow.kill('SIGKILL');
    }
  });

  it('prints the last N matching events first; `stop` ends it', async () => {
    const db = join(dir, 'backlog', 'audit.db');
    assert.equal((await inProcess(['demo', '--events', '30'], { db })).code, 0);
    let stdout = '';
    const io: Io = {
      stdout: { write: (s) => void (stdout += s) },
      stderr: { write: () => undefined },
      isTTY: { stdout: false, stderr: false },
      env: { AUDITRAIL_DB: db },
      cwd: dir,
    };
    const { run } = await import('../../src/cli/commands/log.js');
    const stop = new AbortController();
    const done = run(['--follow', '--limit', '3', '--format', 'jsonl'], io, stop.signal);
    await new Promise((r) => setTimeout(r, 700));
    stop.abort();
    assert.equal(await done, 0);
    const seqs = jsonl(stdout).map((e) => e.seq);
    const size = jsonl(
      (await inProcess(['log', '--order', 'desc', '--limit', '1', '--format', 'jsonl'], { db })).stdout,
    )[0]!.seq;
    assert.deepEqual(seqs, [size - 2, size - 1, size]);
  });
});
