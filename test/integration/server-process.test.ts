// The real `auditrail serve` process on 127.0.0.1 with a real SQLite file: the first admin key,
// keys created and revoked by the CLI while it runs, and a graceful SIGTERM (exit 0, final
// checkpoint signed over everything acknowledged).
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { openAuditTrail } from '../../src/index.js';
import { tempDir } from './helpers.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MAIN = join(ROOT, 'src', 'cli', 'main.ts');

const children: ChildProcess[] = [];
after(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
});

function cli(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', MAIN, ...args], { encoding: 'utf8', cwd: ROOT });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Starts `serve` and resolves once it printed its URL and first key. */
function startServer(
  db: string,
  extra: string[] = [],
): Promise<{ child: ChildProcess; url: string; key: string; out: () => string }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', MAIN, 'serve', '--db', db, '--port', '0', '--quiet', ...extra],
    {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  children.push(child);
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${out} ${err}`)), 30_000);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const url = /auditrail serve: (http:\/\/\S+)/.exec(out)?.[1];
      const key = /^(atr_[0-9a-f]{16}_[A-Za-z0-9_-]{43})$/m.exec(out)?.[1];
      if (url && key) {
        clearTimeout(timer);
        resolve({ child, url, key, out: () => out });
      }
    });
    child.once('exit', (code) => reject(new Error(`serve exited ${code}: ${out} ${err}`)));
  });
}

describe('auditrail serve (real process)', () => {
  it('prints the first admin key once, sees CLI key changes live, and stops gracefully on SIGTERM', async () => {
    const db = join(tempDir(), 'audit.db');
    const s = await startServer(db);
    const auth = (key: string) => ({ authorization: `Bearer ${key}`, 'content-type': 'application/json' });
    assert.equal((await fetch(`${s.url}/healthz`)).status, 200);
    const receipts = [];
    for (let i = 0; i < 3; i++) {
      const r = await fetch(`${s.url}/v1/events`, {
        method: 'POST',
        headers: auth(s.key),
        body: JSON.stringify({
          type: 'action.intent',
          actor: { type: 'agent', id: 'a' },
          action: { type: 'read:x' },
        }),
      });
      assert.equal(r.status, 201);
      receipts.push(...((await r.json()) as { receipts: { seq: number }[] }).receipts);
    }
    // A key made by the CLI works at once; revoked, it stops at once.
    const made = cli([
      'apikeys',
      'create',
      '--db',
      db,
      '--tenant',
      'default',
      '--name',
      'reader',
      '--scope',
      'read',
      '--json',
    ]);
    assert.equal(made.code, 0, made.stderr);
    const k = JSON.parse(made.stdout) as { key: string; id: string };
    assert.equal((await fetch(`${s.url}/v1/events`, { headers: auth(k.key) })).status, 200);
    const listed = cli(['apikeys', 'list', '--db', db, '--json']);
    assert.ok(!listed.stdout.includes(k.key.slice(22)), 'a listing never shows a secret');
    assert.equal(cli(['apikeys', 'revoke', '--db', db, k.id]).code, 0);
    assert.equal((await fetch(`${s.url}/v1/events`, { headers: auth(k.key) })).status, 401);

    const exited = new Promise<number | null>((resolve) => s.child.once('exit', (code) => resolve(code)));
    s.child.kill('SIGTERM');
    assert.equal(await exited, 0);
    assert.match(s.out(), /stopped/);
    const trail = await openAuditTrail({ tenant: 'default', db, readonly: true });
    try {
      const cp = await trail.latestCheckpointInfo();
      assert.equal(cp?.size, trail.size, 'the final checkpoint covers the whole log');
      assert.ok(trail.size >= receipts.length);
      assert.equal((await trail.verify()).ok, true);
    } finally {
      await trail.close();
    }
    // A second start of the same database prints no new key.
    const again = spawnSync(process.execPath, ['--import', 'tsx', MAIN, 'apikeys', 'list', '--db', db], {
      encoding: 'utf8',
      cwd: ROOT,
    });
    assert.match(again.stdout, /admin/);
  });

  it('--rate-limit N answers 429 with Retry-After past N requests a minute per key; a bad N is a usage error', async () => {
    const bad = cli(['serve', '--db', join(tempDir(), 'audit.db'), '--port', '0', '--rate-limit', '0']);
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /--rate-limit/);
    const s = await startServer(join(tempDir(), 'audit.db'), ['--rate-limit', '3']);
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 5; i++) {
      const r = await fetch(`${s.url}/v1/events/count`, { headers: { authorization: `Bearer ${s.key}` } });
      statuses.push(r.status);
      if (r.status === 429) retryAfter = r.headers.get('retry-after');
      await r.text();
    }
    assert.deepEqual(statuses, [200, 200, 200, 429, 429]);
    assert.match(retryAfter ?? '', /^\d+$/);
    const exited = new Promise<number | null>((resolve) => s.child.once('exit', (code) => resolve(code)));
    s.child.kill('SIGTERM');
    assert.equal(await exited, 0);
  });
});
