import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { openAuditTrail } from '../../index.js';
import { MemoryStore } from '../../store/memory/memory-store.js';
import { LOOPBACK, openModeServer } from '../test-helpers.js';

describe('dashboard event page after an erasure', () => {
  it('marks each erased field "erased by seq N" and still shows the rest', async () => {
    const store = new MemoryStore();
    const trail = await openAuditTrail({ tenant: 'acme', store, checkpointIntervalMs: 0 });
    await trail.record({
      type: 'action.intent',
      actor: { type: 'user', id: 'alice', name: 'Alice' },
      action: { type: 'write:refund', target: 'order/7', params: { amount: 3 } },
    });
    const r = await trail.erase({ subject: 'alice' }, { reason: 'DSR-1', requestedBy: 'dpo' });
    assert.equal(r.seq, 1);
    const app = await openModeServer(store);
    try {
      const page = await app.inject({ method: 'GET', url: '/events/0', headers: LOOPBACK });
      assert.equal(page.statusCode, 200, page.body);
      assert.equal(page.body.match(/erased by seq 1/g)?.length, 2, 'the id and the name');
      assert.match(page.body, /write:refund/);
      assert.equal(page.body.includes('Alice'), false);
    } finally {
      await app.close();
      await trail.close();
    }
  });
});
