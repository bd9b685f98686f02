import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { ExportRecord } from '../sink.js';
import { fileSink } from './file-sink.js';

const dir = mkdtempSync(join(tmpdir(), 'auditrail-file-sink-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function rec(seq: number): ExportRecord {
  const record = { seq };
  return { event: { seq } as ExportRecord['event'], record, json: JSON.stringify(record) };
}

describe('file sink', () => {
  it('starts a new file at a new UTC day', async () => {
    let now = Date.parse('2026-12-05T23:59:00Z');
    const path = join(dir, 'daily.jsonl');
    const sink = fileSink({ type: 'file', path, daily: true }, () => now);
    assert.equal((await sink.send([rec(0), rec(1)])).kind, 'ok');
    now = Date.parse('2026-12-06T00:01:00Z');
    assert.equal((await sink.send([rec(2)])).kind, 'ok');
    await sink.close();
    const files = readdirSync(dir)
      .filter((f) => f.startsWith('daily'))
      .sort();
    assert.deepEqual(files, ['daily.jsonl', 'daily.jsonl.2026-12-06T00-01-00-000Z']);
    assert.equal(readFileSync(join(dir, files[1]!), 'utf8'), '{"seq":0}\n{"seq":1}\n');
    assert.equal(readFileSync(path, 'utf8'), '{"seq":2}\n');
  });

  it('reports a write it cannot make as a retry, without throwing', async () => {
    const sink = fileSink({ type: 'file', path: join(dir, 'missing', 'x.jsonl') });
    const r = await sink.send([rec(0)]);
    assert.equal(r.kind, 'retry');
    await sink.close();
  });
});
