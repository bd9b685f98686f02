import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { verifyConsistency } from '../core/consistency.js';
import { AuditError } from '../errors.js';
import { MemoryStore } from '../testing/index.js';
import { openAuditTrail } from './open.js';
import { sampleEvent } from '../../test/integration/helpers.js';

const open = (store = new MemoryStore(), tenant = 'acme') =>
  openAuditTrail({ tenant, store, checkpointIntervalMs: 0 });

describe('AuditTrail.proveConsistencyFrom + verifyConsistency', () => {
  it('proves that the log only appended since a saved checkpoint, and to a given later one', async () => {
    const trail = await open();
    for (let i = 0; i < 5; i++) await trail.record(sampleEvent(i));
    const saved = await trail.checkpoint();
    for (let i = 5; i < 23; i++) await trail.record(sampleEvent(i));
    const later = await trail.checkpoint();
    for (let i = 23; i < 30; i++) await trail.record(sampleEvent(i));
    const vkey = trail.verifierKey();

    const b = await trail.proveConsistencyFrom(saved);
    assert.deepEqual(
      [b.format, b.log, b.old_size, b.new_size],
      ['auditrail-consistency/v1', trail.origin, 5, 23],
    );
    assert.equal(b.checkpoint, later);
    assert.equal(b.verifier_key, vkey);
    const r = verifyConsistency(saved, b.checkpoint, b.proof, vkey);
    assert.deepEqual(r.failures, []);
    assert.deepEqual([r.ok, r.old?.size, r.new?.size], [true, 5, 23]);

    const now = await trail.checkpoint();
    const b2 = await trail.proveConsistencyFrom(later, now);
    assert.equal(verifyConsistency(later, now, b2.proof, vkey).ok, true);
    // The proof for other sizes does not fit.
    assert.equal(verifyConsistency(saved, now, b.proof, vkey).ok, false);
    await trail.close();
  });

  it('refuses a note of another log, a swapped pair, and a checkpoint larger than the log', async () => {
    const other = await open(new MemoryStore(), 'beta');
    await other.record(sampleEvent(0));
    const betaNote = await other.checkpoint();
    await other.close();

    const trail = await open();
    for (let i = 0; i < 4; i++) await trail.record(sampleEvent(i));
    const small = await trail.checkpoint();
    for (let i = 4; i < 8; i++) await trail.record(sampleEvent(i));
    const big = await trail.checkpoint();
    const code = (c: string) => (e: unknown) => e instanceof AuditError && e.code === c;
    await assert.rejects(trail.proveConsistencyFrom(betaNote), code('invalid_argument'));
    await assert.rejects(trail.proveConsistencyFrom('junk'), code('invalid_argument'));
    await assert.rejects(trail.proveConsistencyFrom(big, small), code('conflict'));
    const fresh = await open();
    await fresh.record(sampleEvent(0));
    await assert.rejects(fresh.proveConsistencyFrom(small), code('not_found')); // no checkpoint yet
    await fresh.checkpoint();
    await assert.rejects(fresh.proveConsistencyFrom(big), /smaller than the old one \(8\)/);
    await assert.rejects(
      fresh.proveConsistencyFrom(small, big),
      /holds 1 entry, fewer than the new checkpoint's size 8/,
    );
    await fresh.close();
    await trail.close();
  });
});
