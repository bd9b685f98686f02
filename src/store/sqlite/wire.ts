/**
 * What crosses between a trail and its SQLite write thread, packed so that posting a batch costs
 * little on either side. Structured clone of a batch as objects costs tens of µs per event on
 * each thread (a dozen small strings and objects each, and every pooled Buffer's whole 8 KiB
 * slab); here a batch is one JSON text (one string to clone; JSON.parse is fast) and one buffer
 * of disclosure bytes, transferred, not copied. Receipts come back the same way.
 */
import { INDEX_COLUMNS, type IndexValues } from '../../core/index-row.js';
import { TextDisclosure, type PreparedLeaf, type Receipt } from '../../core/append-plan.js';
import { AuditError } from '../../errors.js';

/** A batch of prepared events on the wire. */
export interface WireBatch {
  /** JSON: per event `[eid, type, digests, pointers, byte lengths, index values]`. */
  items: string;
  /** Every disclosure's bytes, end to end, in item order. */
  bytes: Uint8Array;
}

/** A batch's receipts on the wire, in item order. */
export interface WireReceipts {
  seqs: Float64Array;
  /** 32 bytes of leaf hash per item. */
  hashes: Uint8Array;
  /** 1 where the event id was already in the log. */
  duplicate: Uint8Array;
}

type WireRow = [string, string, string[], string[], number[], (string | null)[]];

/** Packs `items`; post the batch with `transfer` (its buffers move to the other thread). */
export function encodeBatch(items: readonly PreparedLeaf[]): { batch: WireBatch; transfer: ArrayBuffer[] } {
  let total = 0;
  for (const item of items)
    for (const d of item.disclosures) total += d instanceof TextDisclosure ? d.size : d.bytes.length;
  // Its own ArrayBuffer (never a slice of Node's shared pool): it is transferred, not copied.
  const bytes = Buffer.allocUnsafeSlow(total);
  let at = 0;
  const rows: WireRow[] = items.map((item) => {
    const pointers: string[] = [];
    const lengths: number[] = [];
    for (const d of item.disclosures) {
      let length: number;
      if (d instanceof TextDisclosure) {
        length = bytes.write(d.text, at, d.size, 'utf8');
        if (length !== d.size) throw new AuditError('store_failure', 'a disclosure changed size on the wire');
      } else {
        length = d.bytes.length;
        bytes.set(d.bytes, at);
      }
      at += length;
      pointers.push(d.pointer);
      lengths.push(length);
    }
    const index = INDEX_COLUMNS.map((c) => item.index[c]);
    return [item.eid, item.type, item.digests, pointers, lengths, index];
  });
  return { batch: { items: JSON.stringify(rows), bytes }, transfer: [bytes.buffer] };
}

/** Unpacks a batch; the disclosure bytes are views into its buffer (no copy). */
export function decodeBatch(batch: WireBatch): PreparedLeaf[] {
  const rows = JSON.parse(batch.items) as WireRow[];
  const all = Buffer.from(batch.bytes.buffer, batch.bytes.byteOffset, batch.bytes.byteLength);
  let at = 0;
  return rows.map(([eid, type, digests, pointers, lengths, values]) => {
    const disclosures = pointers.map((pointer, k) => {
      const bytes = all.subarray(at, at + lengths[k]!);
      at += lengths[k]!;
      return { pointer, bytes };
    });
    if (at > all.length || values.length !== INDEX_COLUMNS.length)
      throw new AuditError('store_failure', 'write thread received a malformed batch');
    const index = {} as IndexValues;
    INDEX_COLUMNS.forEach((c, k) => (index[c] = values[k] ?? null));
    return { eid, type, digests, disclosures, index };
  });
}

/** Packs receipts; post them with `transfer`. */
export function encodeReceipts(receipts: readonly Receipt[]): {
  receipts: WireReceipts;
  transfer: ArrayBuffer[];
} {
  const seqs = new Float64Array(receipts.length);
  const hashes = Buffer.alloc(32 * receipts.length);
  const duplicate = new Uint8Array(receipts.length);
  receipts.forEach((r, i) => {
    seqs[i] = r.seq;
    hashes.write(r.leaf_hash, 32 * i, 32, 'hex');
    if (r.duplicate) duplicate[i] = 1;
  });
  return {
    receipts: { seqs, hashes, duplicate },
    transfer: [seqs.buffer, hashes.buffer, duplicate.buffer],
  };
}

/** Unpacks receipts for `items` (the batch they answer, in order). */
export function decodeReceipts(wire: WireReceipts, items: readonly PreparedLeaf[]): Receipt[] {
  if (wire.seqs.length !== items.length)
    throw new AuditError('store_failure', 'write thread answered with the wrong number of receipts');
  const hashes = Buffer.from(wire.hashes.buffer, wire.hashes.byteOffset, wire.hashes.byteLength);
  return items.map((item, i) => {
    const receipt: Receipt = {
      seq: wire.seqs[i]!,
      event_id: item.eid,
      leaf_hash: hashes.toString('hex', 32 * i, 32 * i + 32),
    };
    if (wire.duplicate[i] === 1) receipt.duplicate = true;
    return receipt;
  });
}
