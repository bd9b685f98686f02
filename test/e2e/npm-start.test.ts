// `npm start` = `auditrail demo --show --serve`: records the demo through the Governor, verifies
// it, prints the dashboard URL and serves it until Ctrl-C; `--no-serve` prints and exits.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MAIN = join(ROOT, 'src', 'cli', 'main.ts');
const dir = mkdtempSync(join(tmpdir(), 'auditrail-npm-start-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** The arguments `npm start` passes (package.json "start"), plus the test's own. */
function startArgs(extra: string[]): string[] {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } };
  const [node, bin, ...args] = pkg.scripts.start.split(' ');
  assert.equal(`${node} ${bin}`, 'node bin/auditrail.js');
  return ['--import', 'tsx', MAIN, ...args, ...extra];
}

const env = (): Record<string, string | undefined> => {
  const e: Record<string, string | undefined> = { ...process.env, NO_COLOR: '1' };
  for (const k of ['AUDITRAIL_DB', 'AUDITRAIL_TENANT', 'AUDITRAIL_LOG']) delete e[k];
  return e;
};

describe('npm start', () => {
  it('records and verifies the demo, serves the dashboard until SIGINT, then exits 0', async () => {
    const db = join(dir, 'served', 'audit.db');
    const child = spawn(process.execPath, startArgs(['--port', '0', '--db', db, '--open-as', 'maria.chen']), {
      cwd: ROOT,
      env: env(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    try {
      const deadline = Date.now() + 60_000;
      let url: string | undefined;
      while (!(url = /dashboard: (http:\/\/127\.0\.0\.1:\d+)\//.exec(out)?.[1])) {
        assert.ok(Date.now() < deadline, `no dashboard URL printed:\n${out}\n${err}`);
        assert.equal(child.exitCode, null, `exited early:\n${out}\n${err}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.match(out, /recorded \d+ events/);
      assert.match(out, /verified: +OK/);
      assert.match(out, /open mode: no sign-in, this machine only, you act as maria\.chen/);
      const home = await fetch(`${url}/`);
      assert.equal(home.status, 200);
      const body = await home.text();
      assert.match(body, /<h1>Overview<\/h1>/);
      assert.match(body, /Open mode \(serve --open\)/);
      const runs = await (
        await fetch(`${url}/runs`, { headers: { cookie: home.headers.get('set-cookie')!.split(';')[0]! } })
      ).text();
      assert.match(runs, /href="\/runs\/[^"]+"/, 'the demo run is listed');
    } finally {
      child.kill('SIGINT');
    }
    assert.equal(await exited, 0, err);
    assert.match(out, /dashboard stopped/);
  });

  it('with --no-serve prints the summary and exits', () => {
    const r = spawnSync(process.execPath, startArgs(['--no-serve', '--db', join(dir, 'once', 'audit.db')]), {
      cwd: ROOT,
      env: env(),
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /verified: +OK/);
    assert.doesNotMatch(r.stdout, /dashboard:/);
  });
});
