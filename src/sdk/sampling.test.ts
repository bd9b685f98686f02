import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { canonicalize } from '../core/canonical-json.js';
import type { AuditEvent, RecordedEvent } from '../event/types.js';
import { MemoryStore } from '../testing/index.js';
import { openAuditTrail } from './open.js';
import { parsePrivacyConfig } from './retention-config.js';
import { keptBySampling, Sampler, type SamplingSummary } from './sampling.js';

const policy = parsePrivacyConfig(
  'sampling:\n  flush_seconds: 3600\n  rules:\n    - name: reads\n      type: context.accessed\n      risk: low\n      keep: 1/10\n',
).sampling!;

function read(i: number, extra: Partial<AuditEvent> = {}): AuditEvent {
  return {
    type: 'context.accessed',
    event_id: `0190a5d0-0000-7000-8000-${String(i).padStart(12, '0')}`,
    time: '2026-12-01T10:00:00Z',
    actor: { type: 'agent', id: 'bot' },
    risk_level: 'low',
    context: { data_accessed: [`doc/${i}`] },
    ...extra,
  };
}

async function all(trail: Awaited<ReturnType<typeof openAuditTrail>>): Promise<RecordedEvent[]> {
  return (await trail.query({ limit: 10_000 })).events;
}

describe('sampling at record time', () => {
  it('keeps 1 in N by a hash of the event id; kept + summarized = recorded', async () => {
    const store = new MemoryStore();
    const trail = await openAuditTrail({ tenant: 'acme', store, checkpointIntervalMs: 0, sampling: policy });
    let dropped = 0;
    const hash = createHash('sha256');
    for (let i = 0; i < 1000; i++) {
      const e = read(i);
      const r = await trail.record(e);
      assert.equal(r.sampled_out === true, !keptBySampling(e.event_id!, 10), `event ${i}`);
      if (r.sampled_out) {
        assert.equal(r.seq, -1);
        dropped++;
      }
    }
    // Kept: about one in ten (the hash is uniform), never all, never none.
    assert.ok(dropped > 850 && dropped < 950, `dropped ${dropped}`);
    assert.equal(trail.emit(read(5000)), true);
    await trail.close();
    const reopened = await openAuditTrail({ tenant: 'acme', store, checkpointIntervalMs: 0 });
    const events = await all(reopened);
    const kept = events.filter((e) => e.type === 'context.accessed').length;
    const summaries = events.filter((e) => e.type === 'sampling.summary');
    assert.equal(summaries.length, 1, 'flushed once, on close');
    const s = summaries[0]!.metadata!['sampling'] as SamplingSummary;
    assert.equal(s.rule, 'reads');
    assert.equal(s.every, 10);
    assert.equal(s.matched, 1001);
    assert.equal(s.kept + s.dropped, s.matched);
    assert.equal(kept, s.kept, 'the kept events are in the log');
    assert.equal(kept + s.dropped, 1001, 'kept + summarized = recorded');
    // The digest is SHA-256 over each dropped event as it would have been stored, one per line.
    for (let i = 0; i < 1001; i++) {
      const e = read(i === 1000 ? 5000 : i);
      if (!keptBySampling(e.event_id!, 10))
        hash.update(`${canonicalize({ ...e, level: 'agent', tenant: 'acme', schema_version: 1 })}\n`);
    }
    assert.equal(s.dropped_digest, `sha256:${hash.digest('hex')}`);
    await reopened.close();
  });

  it('never drops a decision, a failure or a denial, nor an event of another risk or type', async () => {
    const store = new MemoryStore();
    const trail = await openAuditTrail({ tenant: 'acme', store, checkpointIntervalMs: 0, sampling: policy });
    let stored = 0;
    for (let i = 0; i < 200; i++) {
      const variants: AuditEvent[] = [
        read(i, { policy: { decision: 'deny', policy_id: 'p', matched_rule: 'r' } }),
        read(i + 1000, { outcome: { status: 'failure' } }),
        read(i + 2000, { risk_level: 'medium' }),
        read(i + 3000, { type: 'action.succeeded' }),
        (({ risk_level: _r, ...rest }) => rest)(read(i + 4000)),
        read(i + 5000, {
          type: 'policy.decision',
          policy: { decision: 'allow', policy_id: 'p', matched_rule: 'r' },
        }),
      ];
      for (const v of variants) {
        const r = await trail.record(v);
        assert.notEqual(
          r.sampled_out,
          true,
          `${v.type} ${JSON.stringify(v.policy ?? v.outcome ?? v.risk_level)}`,
        );
        stored++;
      }
    }
    await trail.close();
    const again = await openAuditTrail({ tenant: 'acme', store, checkpointIntervalMs: 0 });
    assert.equal(await again.count({}), stored, 'nothing dropped, no summary');
    await again.close();
  });

  it('the same id gets the same answer (deterministic)', () => {
    const ids = Array.from({ length: 200 }, (_v, i) => `id-${i}`);
    assert.deepEqual(
      ids.map((id) => keptBySampling(id, 7)),
      ids.map((id) => keptBySampling(id, 7)),
    );
    assert.ok(ids.some((id) => keptBySampling(id, 7)) && ids.some((id) => !keptBySampling(id, 7)));
  });

  it('recordBatch samples too and keeps receipts in order', async () => {
    const store = new MemoryStore();
    const trail = await openAuditTrail({ tenant: 'acme', store, checkpointIntervalMs: 0, sampling: policy });
    const events = Array.from({ length: 50 }, (_v, i) => read(i));
    const receipts = await trail.recordBatch(events);
    assert.equal(receipts.length, 50);
    for (let i = 0; i < 50; i++) {
      assert.equal(receipts[i]!.event_id, events[i]!.event_id);
      assert.equal(receipts[i]!.sampled_out === true, !keptBySampling(events[i]!.event_id!, 10));
    }
    await trail.close();
  });

  it('a summary that cannot be recorded is kept and recorded at the next flush', async () => {
    const recorded: AuditEvent[] = [];
    let fail = true;
    const sampler = new Sampler(
      policy,
      'acme',
      (e) => {
        if (fail) return Promise.reject(new Error('disk full'));
        recorded.push(e);
        return Promise.resolve();
      },
      () => undefined,
    );
    let dropped = 0;
    for (let i = 0; i < 100; i++) {
      const e = read(i) as AuditEvent & { event_id: string };
      if (sampler.drop(e)) dropped++;
    }
    await assert.rejects(sampler.flush(), /disk full/);
    fail = false;
    await sampler.close();
    assert.equal(recorded.length, 1);
    assert.equal((recorded[0]!.metadata!['sampling'] as SamplingSummary).dropped, dropped);
  });
});
