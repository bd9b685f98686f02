import { encodeLeaf } from './leaf.js';
import { CompactRange, hashLeaf } from './merkle.js';
import { TileAccumulator } from './tiles.js';
import { formatTs } from '../internal/time.js';
import type { IndexValues } from './index-row.js';
import type { TileRow } from './tiles.js';

/** The state of one log: its tree head and what is needed to extend it. */
export interface LogHead {
  logId: number;
  origin: string;
  tenant: string;
  size: number;
  root: Buffer;
  /** Compact range [0, size): concatenated 32-byte perfect-subtree roots, largest first. */
  rightEdge: Buffer;
  lastTs: string | null;
}

export interface EntryRow {
  seq: number;
  leaf: Buffer;
  leafHash: Buffer;
  eid: string;
  type: string;
  ts: string;
}

export interface DisclosureRow {
  seq: number;
  unit: number;
  pointer: string;
  /** JCS([salt, pointer, value]); null once erased. */
  disclosure: Buffer | null;
  erasedBySeq: number | null;
}

/** Columns used for filtering; they mirror fields of the event (never hashed, only indexed). */
export interface IndexRow extends IndexValues {
  seq: number;
}

export interface AppendPlan {
  entries: EntryRow[];
  disclosures: DisclosureRow[];
  index: IndexRow[];
  tiles: TileRow[];
  head: { size: number; root: Buffer; rightEdge: Buffer; lastTs: string | null };
}

export interface ExistingEntry {
  seq: number;
  leafHash: Buffer;
  eid: string;
}

/** What the store hands the planner inside the append transaction, with the log row locked. */
export interface AppendContext {
  head: LogHead;
  /** Entries already stored under the batch's event ids (idempotent re-sends). */
  existing: Map<string, ExistingEntry>;
  /** The current rightmost (partial) tile of each level. */
  partialTiles: TileRow[];
}

/** What the planner needs of one event, prepared outside the write lock. */
export interface PreparedLeaf {
  eid: string;
  type: string;
  /** Sorted disclosure digests (the leaf's `d`). */
  digests: string[];
  disclosures: { pointer: string; bytes: Buffer }[];
  index: IndexValues;
}

/**
 * A disclosure as `prepareEvent` makes it: its UTF-8 text, whose bytes are made only when a
 * store asks for them. The SQLite write thread never does: its batches are packed by writing
 * each text straight into the one buffer that crosses to the thread (store/sqlite/wire.ts), so
 * preparing an event allocates no Buffer per disclosure.
 */
export class TextDisclosure {
  #bytes: Buffer | undefined;
  constructor(
    readonly pointer: string,
    /** The disclosure text (docs/verification.md §3.1). */
    readonly text: string,
    /** Its UTF-8 length in bytes. */
    readonly size: number,
  ) {}

  get bytes(): Buffer {
    return (this.#bytes ??= Buffer.from(this.text, 'utf8'));
  }
}

/** What `record()` resolves with, once the event is durable. */
export interface Receipt {
  seq: number;
  event_id: string;
  /** Hex SHA-256 leaf hash (RFC 6962 §2.1). */
  leaf_hash: string;
  /** True when this event id was already in the log (nothing new was stored). */
  duplicate?: boolean;
  /** True when sampling dropped the event (nothing stored; `seq` is -1): see docs/privacy.md § Sampling. */
  sampled_out?: boolean;
}

/**
 * The in-transaction half of an append (DESIGN §4 write path): assign seq and ts, build leaf
 * bytes and hashes, extend the compact range and tiles. Pure; the store writes what it returns.
 */
export function planAppend(
  ctx: AppendContext,
  items: readonly PreparedLeaf[],
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
