import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import type { RecordedEvent } from '../../event/types.js';
import type { ExportRecord } from '../sink.js';
import { stdoutSink } from './stdout-sink.js';

function rec(seq: number, risk?: RecordedEvent['risk_level']): ExportRecord {
  const event = {
    seq,
    ts: '2026-12-05T10:00:00Z',
    leaf_hash: 'ab'.repeat(32),
    log: 'l',
    event_id: `e${seq}`,
    type: 'policy.decision',
    actor: { type: 'agent', id: 'bot' },
    ...(risk ? { risk_level: risk } : {}),
  } as RecordedEvent;
  return { event, record: { seq, level: 'pipeline' }, json: '' };
}

describe('stdout sink', () => {
  it('writes one pino line per event, level from risk, the record under `event`', async () => {
    const lines: string[] = [];
    const out = new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(
          ...chunk
            .toString()
            .split('\n')
            .filter((l) => l !== ''),
        );
        cb();
      },
    });
    const sink = stdoutSink(out);
    const r = await sink.send([rec(0, 'low'), rec(1, 'medium'), rec(2, 'high'), rec(3, 'critical'), rec(4)]);
    assert.equal(r.kind, 'ok');
    const parsed = lines.map(
      (l) => JSON.parse(l) as { level: string; event: { seq: number; level: string } },
    );
    assert.deepEqual(
      parsed.map((p) => p.level),
      ['debug', 'info', 'warn', 'error', 'info'],
    );
    // The record's own `level` field stays the record's: nested, it cannot collide with pino's.
    assert.deepEqual(parsed[2]!.event, { seq: 2, level: 'pipeline' });
    await sink.close();
  });

  it('reports a stream that fails as a retry, without throwing', async () => {
    const out = new Writable({
      write(_chunk, _enc, cb) {
        cb(new Error('EPIPE: broken pipe'));
      },
    });
    const sink = stdoutSink(out);
    const r = await sink.send([rec(0)]);
    assert.equal(r.kind, 'retry');
    assert.match(r.kind === 'retry' ? r.detail : '', /cannot write to stdout: EPIPE/);
    await sink.close();
  });
});
