/**
 * Parquet encoding of one archive part (the `events` and `disclosures` files of entries [a, b)),
 * apart from reading: the rows arrive as packed columns (one byte buffer and its offsets per
 * text or byte column, typed arrays for numbers), which move to an encoding thread without a
 * copy (see archive-worker.ts), so reading the next part overlaps with encoding this one.
 */
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { INDEX_COLUMNS } from '../core/index-row.js';
import { snappyCompress } from './snappy.js';

/** A column of byte strings: value i is `data[offsets[i]..offsets[i+1])`, or null where `nulls[i]` is 1. */
export interface PackedColumn {
  data: Uint8Array;
  offsets: Uint32Array;
  nulls: Uint8Array | null;
}

/** The rows of one archive part, packed. */
export interface PackedPart {
  a: number;
  b: number;
  events: {
    seq: BigInt64Array;
    ts: PackedColumn;
    type: PackedColumn;
    event_id: PackedColumn;
    /** One per {@link INDEX_COLUMNS}, in that order. */
    cols: PackedColumn[];
    event: PackedColumn;
    leaf: PackedColumn;
    leaf_hash: PackedColumn;
  };
  disclosures: {
    seq: BigInt64Array;
    unit: Int32Array;
    pointer: PackedColumn;
    disclosure: PackedColumn;
    erased_by_seq: BigInt64Array;
    /** 1 where erased_by_seq is null. */
    erased_null: Uint8Array;
  };
}

/** Appends byte strings to one growing buffer: no object per value. */
export class ColumnBuilder {
  private buf: Buffer;
  private offsets: Uint32Array;
  private nulls: Uint8Array | null = null;
  private n = 0;
  private end = 0;

  constructor(rows: number, bytesPerRow: number) {
    this.buf = Buffer.allocUnsafeSlow(Math.max(1024, rows * bytesPerRow));
    this.offsets = new Uint32Array(rows + 1);
  }

  private room(bytes: number): void {
    if (this.end + bytes <= this.buf.length) return;
    const next = Buffer.allocUnsafeSlow(Math.max(this.buf.length * 2, this.end + bytes));
    this.buf.copy(next, 0, 0, this.end);
    this.buf = next;
  }

  private next(): void {
    if (this.n + 1 >= this.offsets.length) {
      const o = new Uint32Array(this.offsets.length * 2);
      o.set(this.offsets);
      this.offsets = o;
    }
    this.offsets[++this.n] = this.end;
  }

  /** Appends `s` as UTF-8. */
  text(s: string): void {
    this.room(s.length * 3);
    this.end += this.buf.write(s, this.end, 'utf8');
    this.next();
  }

  bytes(b: Uint8Array): void {
    this.room(b.length);
    this.buf.set(b, this.end);
    this.end += b.length;
    this.next();
  }

  /** Appends `b` as lower-case hex. */
  hex(b: Buffer): void {
    this.room(b.length * 2);
    this.end += this.buf.write(b.toString('hex'), this.end, 'latin1');
    this.next();
  }

  textOrNull(s: string | null | undefined): void {
    if (typeof s === 'string') {
      this.text(s);
      return;
    }
    this.nullValue();
  }

  bytesOrNull(b: Uint8Array | null): void {
    if (b === null) this.nullValue();
    else this.bytes(b);
  }

  private nullValue(): void {
    if (!this.nulls) this.nulls = new Uint8Array(this.offsets.length);
    else if (this.nulls.length < this.offsets.length) {
      const x = new Uint8Array(this.offsets.length);
      x.set(this.nulls);
      this.nulls = x;
    }
    this.nulls[this.n] = 1;
    this.next();
  }

  /** The packed column (its buffers are the builder's: build once). */
  done(): PackedColumn {
    return {
      data: new Uint8Array(this.buf.buffer, this.buf.byteOffset, this.end),
      offsets: this.offsets.subarray(0, this.n + 1),
      nulls: this.nulls ? this.nulls.subarray(0, this.n) : null,
    };
  }
}

/** The ArrayBuffers of a packed part, for a transfer list. */
export function transferables(p: PackedPart): ArrayBuffer[] {
  const cols = [
    p.events.ts,
    p.events.type,
    p.events.event_id,
    ...p.events.cols,
    p.events.event,
    p.events.leaf,
    p.events.leaf_hash,
    p.disclosures.pointer,
    p.disclosures.disclosure,
  ];
  const out = new Set<ArrayBuffer>();
  for (const c of cols) {
    out.add(c.data.buffer as ArrayBuffer);
    out.add(c.offsets.buffer as ArrayBuffer);
    if (c.nulls) out.add(c.nulls.buffer as ArrayBuffer);
  }
  for (const t of [
    p.events.seq,
    p.disclosures.seq,
    p.disclosures.unit,
    p.disclosures.erased_by_seq,
    p.disclosures.erased_null,
  ])
    out.add(t.buffer as ArrayBuffer);
  return [...out];
}

/** The values of a packed column: views into its buffer, null where null. */
function values(c: PackedColumn): (Uint8Array | null)[] {
  const n = c.offsets.length - 1;
  const out = new Array<Uint8Array | null>(n);
  for (let i = 0; i < n; i++)
    out[i] = c.nulls?.[i] === 1 ? null : c.data.subarray(c.offsets[i], c.offsets[i + 1]);
  return out;
}

/** Rows per row group: one per file, so a reader needs no more than one group's memory per file. */
const ROW_GROUP = 65_536;

/**
 * Encodes a packed part as its two Parquet files (SNAPPY: the one codec every Parquet reader,
 * hyparquet included, reads without a plug-in).
 */
export function encodePart(p: PackedPart): { events: Uint8Array; disclosures: Uint8Array } {
  // Statistics (min/max per page) only where a reader prunes by them: seq, ts, type. On the large
  // text and byte columns they cost a third of the writing and prune nothing.
  const common = {
    codec: 'SNAPPY' as const,
    // The same bytes as the writer's own SNAPPY, written without its byte-at-a-time writer.
    compressors: { SNAPPY: snappyCompress },
    statistics: false,
    rowGroupSize: ROW_GROUP,
  };
  const e = p.events;
  const events = parquetWriteBuffer({
    ...common,
    columnData: [
      { name: 'seq', data: e.seq, type: 'INT64', nullable: false, statistics: true },
      { name: 'ts', data: values(e.ts), type: 'STRING', nullable: false, statistics: true },
      { name: 'type', data: values(e.type), type: 'STRING', nullable: false, statistics: true },
      { name: 'event_id', data: values(e.event_id), type: 'STRING', nullable: false },
      ...INDEX_COLUMNS.map((col, i) => ({ name: col, data: values(e.cols[i]!), type: 'STRING' as const })),
      // Unique per row: a dictionary would never pay, so it is not tried.
      { name: 'event', data: values(e.event), type: 'STRING', nullable: false, encoding: 'PLAIN' },
      { name: 'leaf', data: values(e.leaf), type: 'BYTE_ARRAY', nullable: false, encoding: 'PLAIN' },
      { name: 'leaf_hash', data: values(e.leaf_hash), type: 'STRING', nullable: false, encoding: 'PLAIN' },
    ],
  });
  const d = p.disclosures;
  const erased = Array.from(d.erased_by_seq, (v, i) => (d.erased_null[i] === 1 ? null : v));
  const disclosures = parquetWriteBuffer({
    ...common,
    columnData: [
      { name: 'seq', data: d.seq, type: 'INT64', nullable: false, statistics: true },
      { name: 'unit', data: d.unit, type: 'INT32', nullable: false },
      { name: 'pointer', data: values(d.pointer), type: 'STRING', nullable: false },
      { name: 'disclosure', data: values(d.disclosure), type: 'BYTE_ARRAY', encoding: 'PLAIN' },
      { name: 'erased_by_seq', data: erased, type: 'INT64' },
    ],
  });
  return { events: new Uint8Array(events), disclosures: new Uint8Array(disclosures) };
}

/** A part to encode and write into `dir`. */
export interface EncodeRequest {
  id: number;
  dir: string;
  part: PackedPart;
}

/** One file written. */
export interface WrittenFile {
  name: string;
  kind: 'events' | 'disclosures';
  from: number;
  to: number;
  rows: number;
  bytes: number;
  sha256: string;
}

export type EncodeReply =
  { id: number; ok: true; files: WrittenFile[] } | { id: number; ok: false; error: string };

const pad = (n: number): string => String(n).padStart(12, '0');

/** Encodes `part` and writes its two files into `dir`. */
export function writePart(dir: string, part: PackedPart): WrittenFile[] {
  const encoded = encodePart(part);
  const write = (kind: WrittenFile['kind'], rows: number, bytes: Uint8Array): WrittenFile => {
    const name = `${kind}-${pad(part.a)}-${pad(part.b)}.parquet`;
    writeFileSync(join(dir, name), bytes, { mode: 0o600 });
    return {
      name,
      kind,
      from: part.a,
      to: part.b,
      rows,
      bytes: bytes.length,
      sha256: createHash('sha256').update(bytes).digest('hex'),
    };
  };
  return [
    write('events', part.events.seq.length, encoded.events),
    write('disclosures', part.disclosures.seq.length, encoded.disclosures),
  ];
}
