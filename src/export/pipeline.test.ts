import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { openAuditTrail, type AuditTrail } from '../index.js';
import { exportState } from '../sdk/export-state.js';
import { parseExportConfig } from './config.js';
import { formatJson } from './format.js';
import { ExportPipeline } from './pipeline.js';
import type { ExportRecord, SendResult, Sink } from './sink.js';

const CONTEXT = { hostname: 'test-host', productVersion: '0.0.0-test' };

async function trailOf(n: number): Promise<AuditTrail> {
  const db = join(mkdtempSync(join(tmpdir(), 'export-pipeline-')), 'audit.db');
  const trail = await openAuditTrail({ tenant: 'acme', db, checkpointIntervalMs: 0 });
  await trail.recordBatch(
    Array.from({ length: n }, (_, i) => ({
      type: 'action.intent' as const,
      actor: { type: 'agent' as const, id: `agent-${i % 3}` },
      // Records of different sizes, so batches cut by bytes end at uneven places.
      action: { type: 'read:doc', target: `doc/${i}`, params: { pad: 'x'.repeat((i * 37) % 300) } },
      risk_level: (['low', 'medium', 'high'] as const)[i % 3]!,
    })),
  );
  return trail;
}

/** A sink that keeps every batch; `answers` are its results, one a call, then ok. */
function keepingSink(answers: SendResult[] = []): Sink & { batches: ExportRecord[][] } {
  const batches: ExportRecord[][] = [];
  return {
    batches,
    limits: {},
    send(batch) {
      batches.push([...batch]);
      return Promise.resolve(answers.shift() ?? { kind: 'ok' });
    },
    close: () => Promise.resolve(),
  };
}

/** The batches of the pipeline's contract: page by page from each batch's end, cut by count and bytes. */
async function expectedBatches(
  trail: AuditTrail,
  maxEvents: number,
  maxBytes: number,
  accept: (seq: number) => boolean,
): Promise<number[][]> {
  const out: number[][] = [];
  let next = 0;
  for (;;) {
    const page = await trail.query({ limit: maxEvents, ...(next > 0 ? { cursor: `a${next - 1}` } : {}) });
    if (page.events.length === 0) return out;
    const batch: number[] = [];
    let bytes = 0;
    let end = next;
    for (const e of page.events) {
      if (accept(e.seq)) {
        const size = Buffer.byteLength(formatJson('ocsf', e, CONTEXT)) + 1;
        if (batch.length > 0 && bytes + size > maxBytes) break;
        batch.push(e.seq);
        bytes += size;
      }
      end = e.seq + 1;
      if (batch.length >= maxEvents) break;
    }
    if (batch.length > 0) out.push(batch);
    next = end;
  }
}

describe('export pipeline batches', () => {
  it('cuts batches by bytes as a fresh read of each page would, reading each event once', async () => {
    const trail = await trailOf(230);
    const [config] = parseExportConfig(
      'exports:\n  - name: b\n    sink: { type: stdout }\n    format: ocsf\n    filter: { risk: medium }\n' +
        '    batch: { max_events: 50, max_bytes: 20000 }\n',
    );
    let read = 0;
    const query = trail.query.bind(trail);
    trail.query = async (o) => {
      const page = await query(o);
      read += page.events.length;
      return page;
    };
    const sink = keepingSink();
    const report = await new ExportPipeline(trail, exportState(trail), config!, sink, {
      context: CONTEXT,
    }).run();
    trail.query = query;
    const sent = sink.batches.map((b) => b.map((r) => r.event.seq));
    const medium = (seq: number): boolean => seq % 3 !== 0;
    assert.deepEqual(sent, await expectedBatches(trail, 50, 20_000, medium));
    assert.deepEqual(sent.flat(), Array.from({ length: 230 }, (_, i) => i).filter(medium));
    assert.ok(sent.length > 230 / 50 + 1, `cut by bytes: ${sent.length} batches`);
    // Each event is read once: a batch starts with the events the one before left of its page.
    assert.equal(read, 230);
    assert.equal(report.cursor, 230);
    for (const b of sink.batches)
      for (const r of b) assert.equal(r.json, formatJson('ocsf', r.event, CONTEXT));
    await trail.close();
  });

  it('sends the same batches again after a retry, and a later run reads what was recorded since', async () => {
    const trail = await trailOf(120);
    const [config] = parseExportConfig(
      'exports:\n  - name: r\n    sink: { type: stdout }\n    format: ocsf\n' +
        '    batch: { max_events: 40, max_bytes: 15000 }\n    retry: { max_attempts: 3, initial_ms: 1, max_ms: 1 }\n',
    );
    const sink = keepingSink([{ kind: 'retry', status: 503, detail: 'busy' }]);
    const pipeline = new ExportPipeline(trail, exportState(trail), config!, sink, {
      context: CONTEXT,
      sleep: () => Promise.resolve(),
    });
    await pipeline.run();
    const seqs = sink.batches.map((b) => b.map((r) => r.event.seq));
    assert.deepEqual(seqs[0], seqs[1], 'the refused batch is sent again as it was');
    assert.deepEqual(seqs.slice(1), await expectedBatches(trail, 40, 15_000, () => true));
    await trail.recordBatch([{ type: 'agent.lifecycle', actor: { type: 'agent', id: 'late' } }]);
    sink.batches.length = 0;
    const again = await pipeline.run();
    assert.equal(again.delivered, 1);
    assert.deepEqual(
      sink.batches.map((b) => b.map((r) => r.event.seq)),
      [[120]],
    );
    await trail.close();
  });
});
