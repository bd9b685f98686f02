import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import type { RecordedEvent } from '../../event/types.js';
import type { ExportRecord } from '../sink.js';
import { datadogSink } from './datadog-sink.js';

const bodies: Buffer[] = [];
const server = createServer((req, res) => {
  const parts: Buffer[] = [];
  req.on('data', (c: Buffer) => parts.push(c));
  req.on('end', () => {
    bodies.push(gunzipSync(Buffer.concat(parts)));
    res.writeHead(202, { 'content-type': 'application/json' }).end('{}');
  });
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v2/logs`;
after(() => server.close());

function record(seq: number, text: string): ExportRecord {
  const event: RecordedEvent = {
    seq,
    ts: '2026-12-05T10:00:00.500Z',
    leaf_hash: 'ab'.repeat(32),
    log: 'auditrail.local/t/acme/default',
    event_id: `e-${seq}`,
    type: 'action.succeeded',
    actor: { type: 'agent', id: 'bot' },
    risk_level: 'high',
  };
  const json = JSON.stringify({ seq, text });
  return { event, record: JSON.parse(json) as Record<string, unknown>, json };
}

describe('Datadog sink', () => {
  it('splits a batch over 5 MB into bodies under it, each a JSON array, every entry once in order', async () => {
    bodies.length = 0;
    // 12 entries of about 500 kB each (two-byte characters, escaped quotes): over 5 MB together.
    const batch = Array.from({ length: 12 }, (_, i) => record(i, `"é${'ß'.repeat(250_000)}`));
    const sink = datadogSink({ type: 'datadog', url, api_key: 'k', ddtags: 'env:test' }, 'host-1');
    assert.deepEqual(await sink.send(batch), { kind: 'ok' });
    assert.ok(bodies.length >= 2, `${bodies.length} bodies`);
    const entries = bodies.flatMap((b) => {
      assert.ok(b.length <= 5_000_000, `a body of ${b.length} bytes`);
      return JSON.parse(b.toString('utf8')) as Record<string, unknown>[];
    });
    assert.deepEqual(
      entries.map((e) => (JSON.parse(e['message'] as string) as { seq: number }).seq),
      batch.map((r) => r.event.seq),
    );
    assert.deepEqual(entries[3], {
      ddsource: 'auditrail',
      service: 'auditrail',
      hostname: 'host-1',
      ddtags: 'env:test,seq:3,type:action.succeeded',
      status: 'warn',
      timestamp: Date.parse('2026-12-05T10:00:00.500Z'),
      message: batch[3]!.json,
    });
  });

  it('refuses an entry over 1 MB for good and sends nothing', async () => {
    bodies.length = 0;
    const sink = datadogSink({ type: 'datadog', url, api_key: 'k' }, 'host-1');
    const result = await sink.send([record(0, 'ok'), record(1, 'ß'.repeat(500_000))]);
    assert.equal(result.kind, 'permanent');
    assert.match((result as { detail: string }).detail, /over Datadog's 1 MB limit/);
    assert.equal(bodies.length, 0);
  });
});
