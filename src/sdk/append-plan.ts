import { encodeLeaf } from '../core/leaf.js';
import { CompactRange, hashLeaf } from '../core/merkle.js';
import { TileAccumulator } from '../core/tiles.js';
import { formatTs } from '../internal/time.js';
import type { AppendContext, AppendPlan, DisclosureRow, EntryRow, IndexRow } from '../store/store.js';
import type { PreparedEvent } from './prepare.js';

/** What `record()` resolves with, once the event is durable. */
export interface Receipt {
  seq: number;
  event_id: string;
  /** Hex SHA-256 leaf hash (RFC 6962 §2.1). */
  leaf_hash: string;
  /** True when this event id was already in the log (nothing new was stored). */
  duplicate?: boolean;
}

/**
 * The in-transaction half of an append (DESIGN §4 write path): assign seq and ts, build leaf
 * bytes and hashes, extend the compact range and tiles. Pure; the store writes what it returns.
 */
export function planAppend(
  ctx: AppendContext,
  items: readonly PreparedEvent[],
  nowMs: number,
): { plan: AppendPlan; result: Receipt[] } {
  const { head } = ctx;
  const range = CompactRange.decode(head.size, head.rightEdge);
  const tiles = new TileAccumulator(ctx.partialTiles);
  const nowTs = formatTs(nowMs);
  // Log time never goes backwards (integrity-design §7.2): ts = max(now, last_ts).
  const ts = head.lastTs !== null && head.lastTs > nowTs ? head.lastTs : nowTs;
  const entries: EntryRow[] = [];
  const disclosures: DisclosureRow[] = [];
  const index: IndexRow[] = [];
  const receipts: Receipt[] = [];
  const inBatch = new Map<string, Receipt>();
  for (const item of items) {
    const prior = ctx.existing.get(item.eid);
    if (prior) {
      receipts.push({
        seq: prior.seq,
        event_id: item.eid,
        leaf_hash: prior.leafHash.toString('hex'),
        duplicate: true,
      });
      continue;
    }
    const again = inBatch.get(item.eid);
    if (again) {
      receipts.push({ ...again, duplicate: true });
      continue;
    }
    const seq = range.size;
    const leaf = encodeLeaf({
      v: 1,
      log: head.origin,
      seq,
      ts,
      type: item.type,
      eid: item.eid,
      d: item.digests,
    });
    const leafHash = hashLeaf(leaf);
    range.append(leafHash, tiles.onNode);
    entries.push({ seq, leaf, leafHash, eid: item.eid, type: item.type, ts });
    for (let unit = 0; unit < item.disclosures.length; unit++) {
      const d = item.disclosures[unit]!;
      disclosures.push({ seq, unit, pointer: d.pointer, disclosure: d.bytes, erasedBySeq: null });
    }
    index.push({ seq, ...item.index });
    const receipt: Receipt = { seq, event_id: item.eid, leaf_hash: leafHash.toString('hex') };
    inBatch.set(item.eid, receipt);
    receipts.push(receipt);
  }
  return {
    plan: {
      entries,
      disclosures,
      index,
      tiles: entries.length > 0 ? tiles.changed() : [],
      head: {
        size: range.size,
        root: range.root(),
        rightEdge: range.encode(),
        lastTs: entries.length > 0 ? ts : head.lastTs,
      },
    },
    result: receipts,
  };
}
