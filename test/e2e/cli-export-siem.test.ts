// `auditrail export --sink`, `export status` and `export replay` in process against a real
// SQLite file and a real HTTP receiver on 127.0.0.1.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { openAuditTrail } from '../../src/index.js';
import { runCli, tempDir } from '../integration/helpers.js';

const run = (args: string[], cwd: string, env: Record<string, string> = {}) =>
  runCli(args, { cwd, env: { PATH: '', ...env }, columns: 100 });

/**
 * Name and hash of every file in `dir`: unchanged means nothing was written. SQLite's shared-memory
 * index and an empty WAL, which a read-only open of a WAL database may create, hold no data.
 */
function snapshot(dir: string): string {
  return readdirSync(dir)
    .filter((f) => !f.endsWith('-shm') && !(f.endsWith('-wal') && readFileSync(join(dir, f)).length === 0))
    .sort()
    .map((f) => {
      try {
        return `${f}:${createHash('sha256')
          .update(readFileSync(join(dir, f)))
          .digest('hex')}`;
      } catch {
        return `${f}:dir`;
      }
    })
    .join('\n');
}

const server = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    hits++;
    if (refuse > 0) {
      refuse--;
      res.writeHead(400).end('{"text":"Invalid data format","code":6}');
      return;
    }
    res.writeHead(200).end('{"text":"Success","code":0}');
  });
});
let hits = 0;
let refuse = 0;
after(() => server.close());

describe('auditrail export --sink / status / replay', () => {
  it('delivers, shows status without writing, and replays a dead letter with the printed hint', async () => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const dir = tempDir();
    const db = join(dir, 'audit.db');
    const trail = await openAuditTrail({ tenant: 'acme', db });
    await trail.recordBatch(
      Array.from({ length: 25 }, (_, i) => ({
        type: 'action.intent' as const,
        actor: { type: 'agent' as const, id: `bot-${i}` },
      })),
    );
    await trail.close();
    writeFileSync(
      join(dir, 'auditrail.yaml'),
      `exports:\n  - name: file\n    sink: { type: file, path: out.jsonl }\n  - name: hec\n    sink: { type: splunk, url: "${url}", token: "\${HEC_TOKEN}" }\n    format: ecs\n    batch: { max_events: 10 }\n`,
    );
    const target = ['--db', db, '--tenant', 'acme'];
    const env = { HEC_TOKEN: 'tok-secret-77' };

    const f = await run(['export', '--sink', 'file', ...target], dir, env);
    assert.equal(f.code, 0, f.stderr);
    assert.match(f.stderr, /file: delivered 25 events/);
    // A relative sink path is relative to the config file.
    assert.equal(readFileSync(join(dir, 'out.jsonl'), 'utf8').trim().split('\n').length, 25);

    refuse = 1;
    const h = await run(['export', '--sink', 'hec', ...target], dir, env);
    assert.equal(h.code, 1, 'a dead letter makes the run fail');
    assert.match(h.stderr, /refused \(dead letters\)/);
    assert.doesNotMatch(h.stderr, /tok-secret-77/);

    const before = snapshot(dir);
    const s = await run(['export', 'status', ...target], dir, env);
    assert.equal(s.code, 0, s.stderr);
    assert.equal(snapshot(dir), before, 'export status writes nothing');
    assert.match(s.stdout, /hec: next seq 25, lag 0 events, 1 dead letters/);
    assert.match(s.stdout, /seq 0-9 \(10 events\) .*Invalid data format/);
    const hint = /replay: (.*)$/m.exec(s.stdout)![1]!;
    const words = hint.split(' ');
    assert.deepEqual(words.slice(0, 2), ['npx', 'auditrail']);

    const r = await run(words.slice(2), dir, env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /1 dead letters delivered \(10 events\)/);
    const json = JSON.parse((await run(['export', 'status', '--json', ...target], dir, env)).stdout) as {
      sinks: { name: string; dead_letters: unknown[]; cursor: number }[];
    };
    assert.deepEqual(
      json.sinks.map((x) => [x.name, x.cursor, x.dead_letters.length]),
      [
        ['file', 25, 0],
        ['hec', 25, 0],
      ],
    );
    assert.equal(hits, 4);
  });

  it('names the config field at fault and stores nothing', async () => {
    const dir = tempDir();
    const db = join(dir, 'audit.db');
    const trail = await openAuditTrail({ tenant: 'acme', db });
    await trail.record({ type: 'action.intent', actor: { type: 'agent', id: 'bot' } });
    await trail.close();
    writeFileSync(
      join(dir, 'bad.yaml'),
      'exports:\n  - name: x\n    sink: { type: splunk, url: "http://127.0.0.1:9" }\n',
    );
    const r = await run(
      ['export', '--sink', 'x', '--config', 'bad.yaml', '--db', db, '--tenant', 'acme'],
      dir,
    );
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /exports\[0\]\.sink\.token is required/);
    const u = await run(['export', 'replay', '--db', db], dir);
    assert.equal(u.code, 2);
    // No config anywhere: status still shows the log (and any cursors stored in it).
    const s = await run(['export', 'status', '--db', db, '--tenant', 'acme'], dir);
    assert.equal(s.code, 0, s.stderr);
    assert.match(s.stdout, /^log auditrail\.local\/t\/acme\/default: 1 events$/m);
  });
});
