// `auditrail serve --config FILE` runs the `exports:` of the file: a real server process whose
// JSONL sink receives the log's events (the first key's `key.created`, then events posted to the
// API), stops on SIGTERM with exit 0, and leaves its cursor for `export status`.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { runCli, tempDir } from '../integration/helpers.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MAIN = join(ROOT, 'src', 'cli', 'main.ts');

async function until<T>(what: string, probe: () => T | undefined, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('auditrail serve --config with exports:', () => {
  it('delivers the log to the config’s sinks while serving, and stops cleanly', async () => {
    const dir = tempDir();
    const db = join(dir, 'audit.db');
    const out = join(dir, 'out.jsonl');
    const config = join(dir, 'auditrail.yaml');
    writeFileSync(
      config,
      [
        'exports:',
        '  - name: archive',
        `    sink: { type: file, path: out.jsonl }`,
        '    filter: { cel: "event.type != \'x.skip\'" }',
        '    batch: { max_wait_ms: 50 }',
        '',
      ].join('\n'),
    );
    const env: Record<string, string | undefined> = { ...process.env, NO_COLOR: '1' };
    for (const k of ['AUDITRAIL_TENANT', 'AUDITRAIL_LOG', 'AUDITRAIL_DB', 'AUDITRAIL_CONFIG']) delete env[k];
    const server = spawn(
      process.execPath,
      ['--import', 'tsx', MAIN, 'serve', '--db', db, '--port', '0', '--config', config, '--quiet'],
      { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    server.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    server.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const exited = new Promise<number | null>((r) => server.on('close', (code) => r(code)));
    try {
      const key = await until(
        'the first admin key',
        () => /shown once, store it now\):\n(\S+)\n/.exec(stdout)?.[1],
      );
      assert.match(stdout, /^export archive: file \(native\), log of tenant default$/m);
      const url = /auditrail serve: (http:\/\/\S+) /.exec(stdout)![1]!;
      const events = ['x.keep.one', 'x.skip', 'x.keep.two'].map((type) => ({
        type,
        actor: { type: 'service', id: 'e2e' },
      }));
      const res = await fetch(`${url}/v1/events`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify(events),
      });
      assert.ok(res.status < 300, `${res.status} ${await res.text()}`);
      const lines = await until('three lines in the sink’s file', () => {
        const text = existsSync(out) ? readFileSync(out, 'utf8') : '';
        const l = text.split('\n').filter((x) => x !== '');
        return l.length >= 3 ? l.map((x) => JSON.parse(x) as { seq: number; type: string }) : undefined;
      });
      assert.deepEqual(
        lines.map((l) => [l.seq, l.type]),
        [
          [0, 'key.created'],
          [1, 'x.keep.one'],
          [3, 'x.keep.two'],
        ],
      );
    } finally {
      server.kill('SIGTERM');
    }
    assert.equal(await exited, 0, stderr);
    const { code, stdout: status } = await runCli(
      ['export', 'status', '--db', db, '--tenant', 'default', '--config', config],
      { cwd: dir, env: { PATH: '' }, columns: 100 },
    );
    assert.equal(code, 0);
    assert.match(status, /^archive: next seq 4, lag 0 events, 0 dead letters$/m);
  });
});
