import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TextDisclosure, type PreparedLeaf, type Receipt } from '../../core/append-plan.js';
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
      // Pooled Buffers, as a store SPI caller may pass them: only their own bytes may cross.
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

  it('writes text disclosures straight into the batch, byte for byte, next to Buffer ones', () => {
    const texts = ['["s","",{"a":"plain"}]', '["s","/n",{"v":"é ✓ 𝄞 \u2028"}]', ''];
    const mixed: PreparedLeaf = {
      ...leaf(5, 1),
      disclosures: [
        ...texts.map((t, k) => new TextDisclosure(`/t${k}`, t, Buffer.byteLength(t))),
        { pointer: '/b', bytes: Buffer.from('["s","/b","bytes"]') },
      ],
    };
    const items = [leaf(0, 2), mixed];
    const { batch, transfer } = encodeBatch(items);
    assert.equal(batch.bytes.byteOffset, 0);
    assert.equal(transfer[0]!.byteLength, batch.bytes.byteLength, 'its own buffer, not a slice of a pool');
    const back = decodeBatch(structuredClone(batch, { transfer }));
    assert.deepEqual(
      back[1]!.disclosures.map((d) => [d.pointer, d.bytes.toString('utf8')]),
      [...texts.map((t, k) => [`/t${k}`, t]), ['/b', '["s","/b","bytes"]']],
    );
    // The bytes a store asks for are the text's UTF-8, made once.
    const d = mixed.disclosures[1] as TextDisclosure;
    assert.ok(d.bytes.equals(Buffer.from(texts[1]!, 'utf8')));
    assert.equal(d.bytes, d.bytes);
  });

  it('refuses a text disclosure whose size is not its UTF-8 length', () => {
    const bad: PreparedLeaf = { ...leaf(1, 0), disclosures: [new TextDisclosure('/x', 'é', 1)] };
    assert.throws(() => encodeBatch([bad]), { name: 'AuditError', code: 'store_failure' });
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
