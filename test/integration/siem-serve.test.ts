// SIEM sinks inside `auditrail serve` (the `exports:` of its config): a real server on 127.0.0.1
// with a SQLite file, three sinks — one to a healthy receiver, one to a receiver that is down, one
// to a receiver that refuses everything — and /metrics showing each sink's lag, lag age, dead
// letters and deliveries. The dead sink holds back only itself.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseExportConfig } from '../../src/export/index.js';
import { serve } from '../../src/server/index.js';
import { tempDir } from './helpers.js';

const servers: Server[] = [];
after(() => {
  for (const s of servers) s.close();
});

async function listen(handler: Parameters<typeof createServer>[1]): Promise<string> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function until(what: string, probe: () => Promise<boolean> | boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await probe())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function metric(text: string, name: string, sink: string): number | undefined {
  const m = new RegExp(`^${name}\\{sink="${sink}"\\} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}

describe('SIEM sinks inside auditrail serve', () => {
  it('delivers as events are recorded, and /metrics shows each sink’s lag and dead letters', async () => {
    const dir = tempDir();
    const seqs: number[] = [];
    const okUrl = await listen((req, res) => {
      const parts: Buffer[] = [];
      req.on('data', (c: Buffer) => parts.push(c));
      req.on('end', () => {
        for (const r of JSON.parse(Buffer.concat(parts).toString()) as { seq: number }[]) seqs.push(r.seq);
        res.writeHead(200).end('{}');
      });
    });
    const refusingUrl = await listen((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(400).end('{"error":"schema mismatch"}'));
    });
    // A port that was free a moment ago: nothing answers there.
    const downServer = createServer();
    await new Promise<void>((resolve) => downServer.listen(0, '127.0.0.1', resolve));
    const downUrl = `http://127.0.0.1:${(downServer.address() as AddressInfo).port}`;
    await new Promise<void>((resolve) => downServer.close(() => resolve()));

    const sink = (url: string): string => `{ type: webhook, url: "${url}", secret: "\${HOOK}" }`;
    const exports = parseExportConfig(
      [
        'exports:',
        `  - { name: ok, sink: ${sink(okUrl)}, batch: { max_events: 50, max_wait_ms: 20 } }`,
        `  - { name: down, sink: ${sink(downUrl)}, batch: { max_wait_ms: 20 }, retry: { initial_ms: 20, max_ms: 100 } }`,
        `  - { name: refused, sink: ${sink(refusingUrl)}, filter: { cel: "event.type == 'x.one'" }, batch: { max_events: 5, max_wait_ms: 20 } }`,
        '',
      ].join('\n'),
      { HOOK: 'hook-secret' },
    );
    const s = await serve(
      { db: join(dir, 'audit.db'), port: 0, logger: false, exports, firstKeyTenant: 'acme' },
      false,
    );
    try {
      const trail = await s.app.auditrail.trail('acme');
      const before = trail.size; // the first admin key's key.created event
      const n = 300;
      const started = process.hrtime.bigint();
      for (let i = 0; i < n; i++)
        await trail.record({
          type: i % 30 === 0 ? 'x.one' : 'x.other',
          actor: { type: 'service', id: 'svc' },
        });
      const recordMs = Number(process.hrtime.bigint() - started) / 1e6;
      const total = before + n;
      await until('every event at the healthy receiver', () => seqs.length >= total);
      assert.deepEqual(
        seqs,
        Array.from({ length: total }, (_, i) => i),
      );
      const scrape = async (): Promise<string> => {
        const r = await fetch(`${s.url}/metrics`, {
          headers: { authorization: `Bearer ${s.firstKey!.key}` },
        });
        assert.equal(r.status, 200);
        return r.text();
      };
      let text = '';
      await until('the refusing sink past the log’s end', async () => {
        text = await scrape();
        // The cursor moves just after the receiver answers: wait for both sinks to be past the end.
        return (
          metric(text, 'auditrail_export_lag_events', 'refused') === 0 &&
          metric(text, 'auditrail_export_lag_events', 'ok') === 0
        );
      }).catch((e: Error) => assert.fail(`${e.message}\n${text}`));
      assert.equal(metric(text, 'auditrail_export_lag_events', 'ok'), 0);
      assert.equal(metric(text, 'auditrail_export_lag_seconds', 'ok'), 0);
      assert.equal(metric(text, 'auditrail_export_delivered_events_total', 'ok'), total);
      assert.equal(metric(text, 'auditrail_export_dead_letters', 'ok'), 0);
      // The dead receiver holds back its own sink only: all its events wait, the oldest for a while.
      assert.equal(metric(text, 'auditrail_export_lag_events', 'down'), total);
      assert.ok(metric(text, 'auditrail_export_lag_seconds', 'down')! > 0);
      assert.equal(metric(text, 'auditrail_export_delivered_events_total', 'down'), 0);
      // 10 x.one events in batches of at most 5 (fewer when a poll finds fewer): 2 to 10 refused
      // batches; the other events were filtered out, so the whole log is behind the cursor.
      const dead = metric(text, 'auditrail_export_dead_letters', 'refused')!;
      assert.ok(dead >= 2 && dead <= 10, `dead letters: ${dead}`);
      assert.equal(metric(text, 'auditrail_export_delivered_events_total', 'refused'), 0);
      // Indicative only: recording 300 events one by one while three sinks run (one retrying).
      console.log(`# record(): ${(recordMs / n).toFixed(3)} ms per event with three sinks running`);
    } finally {
      await s.close();
    }
  });
});
