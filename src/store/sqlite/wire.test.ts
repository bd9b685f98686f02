import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PreparedLeaf, Receipt } from '../../core/append-plan.js';
import { INDEX_COLUMNS, type IndexValues } from '../../core/index-row.js';
import { decodeBatch, decodeReceipts, encodeBatch, encodeReceipts } from './wire.js';

function leaf(i: number, disclosures: number): PreparedLeaf {
  const index = Object.fromEntries(INDEX_COLUMNS.map((c, k) => [c, k % 3 === 0 ? null : `${c}-${i}`]));
  return {
    eid: `01J-"quoted"\\-${i}`,
    type: 'action.intent',
    digests: Array.from({ length: disclosures }, (_, k) => `digest-${i}-${k}`),
    disclosures: Array.from({ length: disclosures }, (_, k) => ({
      pointer: k === 0 ? '' : `/action/params/é${k}`,
      // Pooled Buffers, as prepareEvent makes them: only their own bytes may cross.
      bytes: Buffer.from(`["salt${i}","/p${k}",{"v":"\\u2028 ${'x'.repeat(i * 7 + k)}"}]`),
    })),
    index: index as unknown as IndexValues,
  };
}

describe('write thread wire', () => {
  it('carries a batch across structured clone unchanged, bytes transferred not shared', () => {
    const items = [leaf(0, 1), leaf(1, 3), leaf(2, 0), leaf(3, 2)];
    const { batch, transfer } = encodeBatch(items);
    const posted = structuredClone(batch, { transfer });
    assert.equal(batch.bytes.byteLength, 0, 'the sender no longer holds the bytes (transferred)');
    const back = decodeBatch(posted);
    assert.deepEqual(
      back.map((b) => ({ ...b, disclosures: b.disclosures.map((d) => [d.pointer, d.bytes.toString()]) })),
      items.map((b) => ({ ...b, disclosures: b.disclosures.map((d) => [d.pointer, d.bytes.toString()]) })),
    );
    assert.ok(back.every((b) => b.disclosures.every((d) => Buffer.isBuffer(d.bytes))));
  });

  it('refuses a batch whose lengths run past its bytes', () => {
    const { batch } = encodeBatch([leaf(1, 2)]);
    const short = { items: batch.items, bytes: batch.bytes.subarray(0, 5) };
    assert.throws(() => decodeBatch(short), { name: 'AuditError', code: 'store_failure' });
  });

  it('carries receipts, duplicates included, and refuses a count that does not match', () => {
    const items = [leaf(0, 1), leaf(1, 1), leaf(2, 1)];
    const receipts: Receipt[] = items.map((x, i) => ({
      seq: 2 ** 40 + i,
      event_id: x.eid,
      leaf_hash: Buffer.alloc(32, i + 1).toString('hex'),
      ...(i === 1 ? { duplicate: true } : {}),
    }));
    const { receipts: wire, transfer } = encodeReceipts(receipts);
    const posted = structuredClone(wire, { transfer });
    assert.deepEqual(decodeReceipts(posted, items), receipts);
    assert.throws(() => decodeReceipts(posted, items.slice(1)), { code: 'store_failure' });
  });
});
