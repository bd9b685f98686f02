import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { AuditEvent } from '../event/types.js';
import { openAuditTrail } from './open.js';
import { EventJsonWriter } from './archive-event-json.js';
import { storeOf, toRecordedEvent } from './internals.js';

/** Events of every stored shape: body alone, fields under a parent (empty or not), a person actor, hostile text. */
function events(): AuditEvent[] {
  const hostile = 'q"uote \\ back {brace} [br] \u2028 é 😀 \u0001';
  return [
    {
      type: 'context.accessed',
      actor: { type: 'agent', id: 'bot' },
      action: { type: 'read:x', target: 't/1' },
    },
    {
      type: 'action.intent',
      actor: { type: 'agent', id: 'bot', trust_tier: 'standard' },
      action: { type: 'read:order', target: 'order/1', params: { order_id: 1 } },
      context: { reasoning: hostile, data_classification: 'pii' },
    },
    {
      type: 'action.succeeded',
      actor: { type: 'user', id: 'alice', name: 'Alice "A" Liddell' },
      action: { type: 'write:note', target: hostile },
      outcome: { status: 'success', result: { rows: [1, 2, { deep: hostile }] } },
    },
    {
      type: 'action.failed',
      actor: { type: 'agent', id: 'bot' },
      action: { type: 'write:refund', target: 'r/1', params: { '10': 'a', '9': 'b' } },
      outcome: { status: 'failure', error_message: hostile, result: null },
      context: { user_message: 'please refund', reasoning: 'asked' },
      metadata: { nested: { a: [1, { b: '}' }] } },
    },
  ];
}

describe('EventJsonWriter', () => {
  it('builds the text of JSON.stringify(toRecordedEvent(e)) from the stored bytes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'auditrail-event-json-'));
    const trail = await openAuditTrail({ tenant: 'acme', db: join(dir, 'audit.db') });
    try {
      for (const e of events()) await trail.record(e);
      await trail.erase(
        { pointers: [{ seq: 1, pointer: '/context/reasoning' }] },
        { reason: 'test', requestedBy: 'dpo' },
      );
      await trail.flush();
      const store = storeOf(trail);
      const head = (await store.getLog(trail.origin))!;
      const stored = await store.readEvents(head.logId, 0, head.size);
      const writer = new EventJsonWriter(trail.origin);
      let built = 0;
      for (const e of stored) {
        const text = writer.build(e);
        const expected = JSON.stringify(toRecordedEvent(e, trail.origin));
        if (text === undefined) continue;
        built++;
        const got = Buffer.from(text).toString('utf8');
        // Same value; same text except where JS orders integer-like keys first (canonical JSON does not).
        assert.deepEqual(JSON.parse(got), JSON.parse(expected), `seq ${e.entry.seq}`);
        if (e.entry.seq !== 3) assert.equal(got, expected, `seq ${e.entry.seq}`);
      }
      // Every event but the one with an erased field is built here (the erasure event too).
      assert.equal(built, stored.length - 1, `${built} of ${stored.length} built`);
      assert.equal(
        writer.build(stored[1]!),
        undefined,
        'an event with an erased field is left to the caller',
      );
      // Bytes the strict parse would refuse are left to it, too.
      const body = stored[0]!.disclosures[0]!;
      const bad = Buffer.from(body.disclosure!);
      bad[bad.indexOf('bot')] = 0xff;
      const broken = { ...stored[0]!, disclosures: [{ ...body, disclosure: bad }] };
      assert.equal(writer.build(broken), undefined, 'not UTF-8');
      assert.ok(writer.build(stored[0]!) !== undefined);
    } finally {
      await trail.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
