/**
 * The cold archive (docs/storage.md "Cold archive", issue 16 item 4): a closed range of a log,
 * ending at a signed checkpoint, moves its disclosures and index rows to Parquet files that
 * DuckDB (or any Parquet reader) can query; the hot database keeps every leaf and tile, so every
 * proof keeps working. A `manifest.json` beside the files names the range, its signed
 * checkpoint, a consistency proof from it to the log's checkpoint at archive time, and the
 * SHA-256 of each file; the `archive.created` event appended to the log names the range and the
 * manifest's SHA-256, so verification tells an archived range from a deleted one.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import { parquetReadObjects } from 'hyparquet';
import { canonicalize } from '../core/canonical-json.js';
import { openCheckpoint, peekCheckpoint } from '../core/checkpoint.js';
import { assembleEvent, disclosureDigest, parseDisclosure } from '../core/disclosure.js';
import { INDEX_COLUMNS } from '../core/index-row.js';
import { parseLeaf } from '../core/leaf.js';
import { hashLeaf } from '../core/merkle.js';
import { verifyConsistency } from '../core/proof.js';
import {
  archiveEventFacts,
  type ArchivedRange,
  type VerifyFailure,
  type VerifyReport,
} from '../core/verify-log.js';
import { AuditError } from '../errors.js';
import type { AuditStore, DisclosureRow, LogHead, ScanRow, StoredIndexRow } from '../store/store.js';
import type { AuditTrail } from './audit-trail.js';
import {
  ColumnBuilder,
  transferables,
  type EncodeReply,
  type EncodeRequest,
  type PackedPart,
} from './archive-encode.js';
import { EventJsonWriter } from './archive-event-json.js';
import { keysOf, storeOf, toRecordedEvent } from './internals.js';
import { resolveVerifiers, verifyStoredLog, type VerifyOptions } from './verify.js';

/** The manifest's `format`. */
export const ARCHIVE_FORMAT = 'auditrail-archive/v1';
/** Entries per pair of Parquet files (events, disclosures): bounds the memory of one step. */
const FILE_ENTRIES = 65_536;
/** Entries read from the hot database per statement while archiving. */
const READ_CHUNK = 8_192;
/** A manifest larger than this is not one we wrote. */
const MAX_MANIFEST_BYTES = 16 * 1024 * 1024;

/** One Parquet file of an archive. */
export interface ArchiveFile {
  name: string;
  /** `events`: one row per entry (leaf, index columns, event JSON); `disclosures`: one per disclosure. */
  kind: 'events' | 'disclosures';
  /** Seq range of the entries it holds: [from, to). */
  from: number;
  to: number;
  rows: number;
  bytes: number;
  sha256: string;
}

/** `manifest.json` of an archive directory. */
export interface ArchiveManifest {
  format: typeof ARCHIVE_FORMAT;
  log: string;
  /** Archived entries: seq [from, to); `to` is the size of `checkpoint`. */
  range: { from: number; to: number };
  /** The signed checkpoint of size `range.to` (C2SP signed note). */
  checkpoint: string;
  /** The log's signed checkpoint when the archive was written. */
  current_checkpoint: string;
  /** RFC 9162 §2.1.4 consistency proof from `checkpoint` to `current_checkpoint`, base64 hashes. */
  consistency: string[];
  compression: 'SNAPPY';
  created_at: string;
  files: ArchiveFile[];
}

/** What {@link archiveLog} did. */
export interface ArchiveResult {
  dir: string;
  from: number;
  to: number;
  entries: number;
  /** Seq of the `archive.created` event. */
  by_seq: number;
  manifest_sha256: string;
  files: ArchiveFile[];
  /** Rows the hot database no longer holds. */
  dropped: { disclosures: number; index_rows: number };
}

/** What {@link restoreArchive} did. */
export interface RestoreResult {
  from: number;
  to: number;
  disclosures: number;
  index_rows: number;
  /** Seq of the `archive.restored` event. */
  by_seq: number;
  /** Verification of the archive and the hot data together, before restoring. */
  verified: VerifyReport;
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

function headOf(store: AuditStore, origin: string): Promise<LogHead> {
  return store.getLog(origin).then((h) => {
    if (!h) throw new AuditError('not_found', `log ${origin} does not exist`);
    return h;
  });
}

/** The instant `before` names (RFC 3339 date or date-time), as epoch ms. */
function parseBefore(before: string | Date): number {
  const ms = before instanceof Date ? before.getTime() : Date.parse(before);
  if (
    Number.isNaN(ms) ||
    (typeof before === 'string' && !/^\d{4}-\d{2}-\d{2}([T ][0-9:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(before))
  ) {
    throw new AuditError(
      'invalid_argument',
      `--before must be a date (YYYY-MM-DD) or an RFC 3339 date-time, not ${JSON.stringify(String(before)).slice(0, 60)}`,
    );
  }
  return ms;
}

/**
 * Moves a closed range of the log to Parquet files in `dir`: every entry from the end of the
 * last archived range up to the largest signed checkpoint whose entries all have a log time
 * before `before`. Writes the files and `manifest.json`, appends `archive.created`, records the
 * range and drops its disclosures and index rows from the hot database. Leaves and tiles stay.
 *
 * @example
 * const r = await archiveLog(trail, { before: '2026-01-01', dir: './archive/2025' });
 * console.log(`seq ${r.from}..${r.to - 1} archived by seq ${r.by_seq}`);
 */
export async function archiveLog(
  trail: AuditTrail,
  options: { before: string | Date; dir: string; onProgress?: (done: number, total: number) => void },
): Promise<ArchiveResult> {
  if (trail.readonly)
    throw new AuditError('read_only', `cannot archive ${trail.origin}: it is open read-only`);
  const cutoff = parseBefore(options.before);
  const dir = resolve(options.dir);
  if (existsSync(dir) && (!statSync(dir).isDirectory() || readdirSync(dir).length > 0)) {
    throw new AuditError(
      'invalid_argument',
      `${dir} exists and is not an empty directory: archive into a new one`,
    );
  }
  const store = storeOf(trail);
  // The current tree signed first: the manifest proves the range consistent with it.
  const current = await trail.checkpoint();
  const currentSize = peekCheckpoint(current).size;
  const head = await headOf(store, trail.origin);
  const archives = await store.listArchives(head.logId);
  const from = Math.max(0, ...archives.map((a) => a.to));
  const sizes = (await store.listCheckpoints(head.logId))
    .map((c) => c.size)
    .filter((s) => s > from && s <= currentSize);
  // Log time never decreases along seq: binary search for the largest closed checkpoint.
  let lo = 0;
  let hi = sizes.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const last = await store.getBySeq(head.logId, sizes[mid]! - 1);
    if (last && Date.parse(last.entry.ts) < cutoff) lo = mid + 1;
    else hi = mid;
  }
  const to = lo > 0 ? sizes[lo - 1]! : undefined;
  if (to === undefined) {
    throw new AuditError(
      'not_found',
      `nothing to archive in ${trail.origin}: no signed checkpoint after seq ${from} closes a range of entries all logged before ${new Date(cutoff).toISOString()}`,
    );
  }
  const cp = (await store.listCheckpoints(head.logId)).find((c) => c.size === to)!;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const files: ArchiveFile[] = [];
  const writer = new PartWriter();
  try {
    // One part encoding there while the next is read here: two parts in memory at most.
    let encoding: { done: Promise<ArchiveFile[]>; b: number } | undefined;
    for (let a = from; a < to; a += FILE_ENTRIES) {
      const b = Math.min(to, a + FILE_ENTRIES);
      const part = await collectPart(trail, store, head.logId, a, b);
      if (encoding) {
        files.push(...(await encoding.done));
        options.onProgress?.(encoding.b - from, to - from);
      }
      const done = writer.write(dir, part);
      // Awaited on the next turn; until then a failure is held, not reported as unhandled.
      done.catch(() => undefined);
      encoding = { done, b };
    }
    if (encoding) {
      files.push(...(await encoding.done));
      options.onProgress?.(encoding.b - from, to - from);
    }
  } finally {
    await writer.close();
  }
  const consistency = await trail.proveConsistency(to, currentSize);
  const manifest: ArchiveManifest = {
    format: ARCHIVE_FORMAT,
    log: trail.origin,
    range: { from, to },
    checkpoint: cp.note,
    current_checkpoint: current,
    consistency,
    compression: 'SNAPPY',
    created_at: new Date().toISOString(),
    files,
  };
  const manifestBytes = Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`, 'utf8');
  writeFileSync(join(dir, 'manifest.json'), manifestBytes, { mode: 0o600 });
  const manifestSha256 = sha256(manifestBytes);
  // The directory is recorded so that a refused erasure can name it (erasure.ts); not when this
  // trail's redaction rules would rewrite it, since a rewritten path names nothing.
  const recordDir = canonicalize(trail.redact({ dir }).value) === canonicalize({ dir });
  // The event first: a range whose rows were dropped without it would read as tampering.
  const receipt = await trail.record({
    type: 'archive.created',
    actor: { type: 'system', id: 'auditrail' },
    action: { type: 'archive.create', target: trail.origin },
    metadata: {
      archive: {
        from,
        to,
        manifest_sha256: manifestSha256,
        files: files.map((f) => ({ name: f.name, sha256: f.sha256 })),
        ...(recordDir ? { dir } : {}),
      },
    },
  });
  await store.addArchive(head.logId, {
    from,
    to,
    bySeq: receipt.seq,
    manifestSha256,
    createdAt: new Date().toISOString(),
  });
  const dropped = { disclosures: 0, index_rows: 0 };
  for (const [a, b] of dropRanges(from, to, await archiveEventSeqs(store, head.logId, from, to))) {
    const r = await store.dropArchivedRows(head.logId, a, b);
    dropped.disclosures += r.disclosures;
    dropped.index_rows += r.indexRows;
  }
  await trail.checkpoint();
  return {
    dir,
    from,
    to,
    entries: to - from,
    by_seq: receipt.seq,
    manifest_sha256: manifestSha256,
    files,
    dropped,
  };
}

/**
 * Seqs of the `archive.created` events in [from, to): they stay whole in the hot database (they
 * are also in the archive), since verification reads their bodies to vouch for earlier archives.
 */
async function archiveEventSeqs(
  store: AuditStore,
  logId: number,
  from: number,
  to: number,
): Promise<number[]> {
  const out: number[] = [];
  let after = from - 1;
  for (;;) {
    const page = await store.query(
      logId,
      { type: 'archive.created' },
      { after, before: to, limit: 1000, order: 'asc' },
    );
    for (const e of page) out.push(e.entry.seq);
    if (page.length < 1000) return out;
    after = page[page.length - 1]!.entry.seq;
  }
}

/** [from, to) without the `keep` seqs, cut into steps of at most {@link FILE_ENTRIES}. */
export function dropRanges(from: number, to: number, keep: readonly number[]): [number, number][] {
  const out: [number, number][] = [];
  const cuts = [...keep].filter((k) => k >= from && k < to).sort((x, y) => x - y);
  let a = from;
  for (const k of [...cuts, to]) {
    for (let b = a; b < k; b += FILE_ENTRIES) out.push([b, Math.min(k, b + FILE_ENTRIES)]);
    a = k + 1;
  }
  return out;
}

/** Packs the rows of entries [a, b) for {@link encodePart}: no object per value. */
async function collectPart(
  trail: AuditTrail,
  store: AuditStore,
  logId: number,
  a: number,
  b: number,
): Promise<PackedPart> {
  const n = b - a;
  const seq = new BigInt64Array(n);
  const ts = new ColumnBuilder(n, 27);
  const type = new ColumnBuilder(n, 16);
  const eventId = new ColumnBuilder(n, 36);
  const cols = INDEX_COLUMNS.map(() => new ColumnBuilder(n, 24));
  const event = new ColumnBuilder(n, 1536);
  const leaf = new ColumnBuilder(n, 320);
  const leafHash = new ColumnBuilder(n, 64);
  let dn = 0;
  let dSeq = new BigInt64Array(n * 2);
  let dUnit = new Int32Array(n * 2);
  let dBy = new BigInt64Array(n * 2);
  let dByNull = new Uint8Array(n * 2);
  const pointer = new ColumnBuilder(n * 2, 12);
  const disclosure = new ColumnBuilder(n * 2, 320);
  const eventJson = new EventJsonWriter(trail.origin);
  let i = 0;
  for (let c = a; c < b; c += READ_CHUNK) {
    const d = Math.min(b, c + READ_CHUNK);
    const events = await store.readEvents(logId, c, d);
    if (events.length !== d - c) {
      throw new AuditError(
        'store_failure',
        `entries ${c}..${d - 1} are not all stored: verify the log first`,
      );
    }
    const index = await store.readIndex(logId, c - 1, d - c);
    let x = 0;
    for (const e of events) {
      const s = e.entry.seq;
      while (x < index.length && index[x]!.seq < s) x++;
      const row = x < index.length && index[x]!.seq === s ? index[x] : undefined;
      seq[i++] = BigInt(s);
      ts.text(e.entry.ts);
      type.text(e.entry.type);
      eventId.text(e.entry.eid);
      leaf.bytes(e.entry.leaf);
      leafHash.hex(e.entry.leafHash);
      for (let k = 0; k < INDEX_COLUMNS.length; k++) cols[k]!.textOrNull(row?.[INDEX_COLUMNS[k]!]);
      // Encoded here: the writer's JSON type would walk and re-encode every value, and cache each
      // in a map. Built from the stored bytes when it can be, else parsed and rebuilt.
      const json = eventJson.build(e);
      if (json !== undefined) event.bytes(json);
      else event.text(JSON.stringify(toRecordedEvent(e, trail.origin)));
      for (const x of e.disclosures) {
        if (dn === dSeq.length) {
          const grow = <T extends BigInt64Array | Int32Array | Uint8Array>(t: T, m: T): T => {
            m.set(t as never);
            return m;
          };
          dSeq = grow(dSeq, new BigInt64Array(dn * 2));
          dUnit = grow(dUnit, new Int32Array(dn * 2));
          dBy = grow(dBy, new BigInt64Array(dn * 2));
          dByNull = grow(dByNull, new Uint8Array(dn * 2));
        }
        dSeq[dn] = BigInt(x.seq);
        dUnit[dn] = x.unit;
        if (x.erasedBySeq === null) dByNull[dn] = 1;
        else dBy[dn] = BigInt(x.erasedBySeq);
        dn++;
        pointer.text(x.pointer);
        disclosure.bytesOrNull(x.disclosure);
      }
    }
  }
  return {
    a,
    b,
    events: {
      seq,
      ts: ts.done(),
      type: type.done(),
      event_id: eventId.done(),
      cols: cols.map((c) => c.done()),
      event: event.done(),
      leaf: leaf.done(),
      leaf_hash: leafHash.done(),
    },
    disclosures: {
      seq: dSeq.slice(0, dn),
      unit: dUnit.slice(0, dn),
      pointer: pointer.done(),
      disclosure: disclosure.done(),
      erased_by_seq: dBy.slice(0, dn),
      erased_null: dByNull.slice(0, dn),
    },
  };
}

/**
 * The encoding thread of one archive run: parts are encoded and written there while the next
 * one is read here (2 cores: reading and encoding each get one). Without a worker (a runtime
 * that cannot start one) parts are written on this thread.
 */
class PartWriter {
  private readonly worker: Worker;
  private nextId = 1;
  private readonly waiters = new Map<
    number,
    { resolve: (f: ArchiveFile[]) => void; reject: (e: unknown) => void }
  >();
  private failed: unknown;

  constructor() {
    const self = new URL(import.meta.url);
    // From source (tests, tsx) the worker is TypeScript: register tsx inside it first.
    this.worker = self.pathname.endsWith('.ts')
      ? new Worker(
          `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(
            new URL('./archive-worker.ts', self).href,
          )}); }).catch((e) => setImmediate(() => { throw e; }));`,
          { eval: true },
        )
      : new Worker(new URL('./archive-worker.js', self));
    const fail = (e: unknown): void => {
      this.failed ??= e;
      for (const w of this.waiters.values())
        w.reject(
          new AuditError(
            'store_failure',
            `archive encoding thread stopped: ${String((e as Error)?.message ?? e)}`,
            { cause: e },
          ),
        );
      this.waiters.clear();
    };
    this.worker.on('message', (m: EncodeReply) => {
      const w = this.waiters.get(m.id);
      if (!w) return;
      this.waiters.delete(m.id);
      if (m.ok) w.resolve(m.files);
      else w.reject(new AuditError('store_failure', `cannot write the archive's Parquet files: ${m.error}`));
    });
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`exit code ${code}`)));
  }

  /** Hands `part` over (its buffers move to the thread) and resolves with its two files. */
  write(dir: string, part: PackedPart): Promise<ArchiveFile[]> {
    if (this.failed !== undefined)
      return Promise.reject(
        new AuditError('store_failure', 'archive encoding thread stopped', { cause: this.failed }),
      );
    const id = this.nextId++;
    return new Promise<ArchiveFile[]>((resolve, reject) => {
      this.waiters.set(id, { resolve, reject });
      const m: EncodeRequest = { id, dir, part };
      this.worker.postMessage(m, transferables(part));
    });
  }

  async close(): Promise<void> {
    this.failed ??= new Error('closed');
    await this.worker.terminate();
  }
}

/** An archive directory opened: its manifest, the manifest's digest, and problems found reading it. */
interface OpenedArchive {
  dir: string;
  manifest: ArchiveManifest;
  sha256: string;
}

/** Reads and checks the shape of `dir/manifest.json`. */
export function readArchiveManifest(dirArg: string): OpenedArchive {
  const dir = resolve(dirArg);
  const path = join(dir, 'manifest.json');
  let bytes: Buffer;
  try {
    bytes = statSync(path).size > MAX_MANIFEST_BYTES ? Buffer.alloc(0) : readFileSync(path);
  } catch (e) {
    throw new AuditError('not_found', `cannot read ${path}: ${(e as Error).message}`, { cause: e });
  }
  if (bytes.length === 0) throw new AuditError('invalid_argument', `${path} is empty or larger than 16 MiB`);
  let m: ArchiveManifest;
  try {
    m = JSON.parse(bytes.toString('utf8')) as ArchiveManifest;
  } catch (e) {
    throw new AuditError('invalid_argument', `${path} is not JSON: ${(e as Error).message}`, { cause: e });
  }
  const bad = (what: string): never => {
    throw new AuditError('invalid_argument', `${path} is not an ${ARCHIVE_FORMAT} manifest: ${what}`);
  };
  if (m === null || typeof m !== 'object' || m.format !== ARCHIVE_FORMAT) bad('wrong or missing "format"');
  const int = (n: unknown): boolean => Number.isSafeInteger(n) && (n as number) >= 0;
  if (typeof m.log !== 'string') bad('"log" is not a string');
  if (!m.range || !int(m.range.from) || !int(m.range.to) || m.range.from >= m.range.to) bad('bad "range"');
  if (typeof m.checkpoint !== 'string' || typeof m.current_checkpoint !== 'string') bad('bad checkpoints');
  if (!Array.isArray(m.consistency) || !m.consistency.every((h) => typeof h === 'string'))
    bad('bad "consistency"');
  if (!Array.isArray(m.files)) bad('"files" is not a list');
  for (const f of m.files) {
    const ok =
      f !== null &&
      typeof f === 'object' &&
      typeof f.name === 'string' &&
      /^(events|disclosures)-\d{12}-\d{12}\.parquet$/.test(f.name) &&
      (f.kind === 'events' || f.kind === 'disclosures') &&
      int(f.from) &&
      int(f.to) &&
      typeof f.sha256 === 'string';
    if (!ok) bad(`file entry ${JSON.stringify(f).slice(0, 80)}`);
  }
  return { dir, manifest: m, sha256: sha256(bytes) };
}

/** Archived rows of one file pair, loaded. */
interface LoadedPart {
  from: number;
  to: number;
  /** By seq: the archived entry's leaf bytes and index row. */
  events: Map<number, { leaf: Uint8Array; index: StoredIndexRow }>;
  disclosures: Map<number, DisclosureRow[]>;
}

/**
 * The archive's files, read part by part as verification or restore reaches their seqs. Every
 * file is checked against the manifest's SHA-256 before it is parsed.
 */
class ArchiveReader {
  private cache: LoadedPart | undefined;
  readonly failures: VerifyFailure[] = [];
  private readonly reported = new Set<string>();
  private readonly failedSeqs = new Set<number | null>();

  /**
   * `hotLeafHashes`: the hot tree's leaf hashes of entries [from, to); an archived event whose
   * leaf does not hash to its seq's is reported and left out (its rows are never used).
   */
  constructor(
    private readonly opened: OpenedArchive,
    private readonly hotLeafHashes: (from: number, to: number) => Promise<Map<number, Uint8Array>>,
  ) {}

  /** [from, to) of each file pair, ascending. */
  get parts(): { from: number; to: number }[] {
    const seen = new Map<number, number>();
    for (const f of this.opened.manifest.files) seen.set(f.from, f.to);
    return [...seen].sort((x, y) => x[0] - y[0]).map(([from, to]) => ({ from, to }));
  }

  private fail(seq: number | null, detail: string): void {
    if (this.reported.has(detail)) return;
    this.reported.add(detail);
    this.failedSeqs.add(seq);
    this.failures.push({ seq, kind: 'archive_mismatch', detail });
  }

  private async file(kind: ArchiveFile['kind'], from: number): Promise<Record<string, unknown>[] | null> {
    const f = this.opened.manifest.files.find((x) => x.kind === kind && x.from === from);
    if (!f) {
      this.fail(from, `the manifest names no ${kind} file for the entries from seq ${from}`);
      return null;
    }
    let bytes: Buffer;
    try {
      bytes = readFileSync(join(this.opened.dir, f.name));
    } catch (e) {
      this.fail(from, `cannot read ${f.name}: ${(e as Error).message}`);
      return null;
    }
    if (sha256(bytes) !== f.sha256) {
      this.fail(
        from,
        `${f.name} does not match the SHA-256 in the manifest: the file was edited or replaced`,
      );
      return null;
    }
    try {
      const ab = new ArrayBuffer(bytes.length);
      new Uint8Array(ab).set(bytes);
      return (await parquetReadObjects({ file: ab, utf8: false })) as Record<string, unknown>[];
    } catch (e) {
      this.fail(from, `${f.name} is not a readable Parquet file: ${(e as Error).message}`);
      return null;
    }
  }

  /** The loaded part holding `seq`, or undefined when no file covers it (reported). */
  async part(seq: number): Promise<LoadedPart | undefined> {
    if (this.cache && this.cache.from <= seq && seq < this.cache.to) return this.cache;
    const p = this.parts.find((x) => x.from <= seq && seq < x.to);
    if (!p) return undefined;
    const part: LoadedPart = { ...p, events: new Map(), disclosures: new Map() };
    const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
    for (const r of (await this.file('events', p.from)) ?? []) {
      const s = Number(r['seq']);
      const index = { seq: s, ts: String(r['ts']), type: String(r['type']) } as StoredIndexRow;
      for (const col of INDEX_COLUMNS) index[col] = str(r[col]);
      const leaf = r['leaf'];
      if (leaf instanceof Uint8Array) part.events.set(s, { leaf, index });
    }
    const hot = await this.hotLeafHashes(p.from, p.to);
    for (const [s, e] of part.events) {
      const want = hot.get(s);
      if (want && hashLeaf(Buffer.from(e.leaf)).equals(Buffer.from(want))) continue;
      part.events.delete(s);
      this.fail(s, `the archived leaf of seq ${s} does not hash to the hot tree's leaf hash at that seq`);
    }
    for (const r of (await this.file('disclosures', p.from)) ?? []) {
      const s = Number(r['seq']);
      const d = r['disclosure'];
      const by = r['erased_by_seq'];
      const list = part.disclosures.get(s) ?? [];
      list.push({
        seq: s,
        unit: Number(r['unit']),
        pointer: String(r['pointer']),
        disclosure: d instanceof Uint8Array ? Buffer.from(d) : null,
        erasedBySeq: by === null || by === undefined ? null : Number(by),
      });
      part.disclosures.set(s, list);
    }
    this.cache = part;
    return part;
  }

  /** The part holding the archived entry at `seq` (its leaf matched with the hot tree's), if any. */
  async entry(seq: number): Promise<LoadedPart | undefined> {
    const part = await this.part(seq);
    if (part?.events.has(seq)) return part;
    if (!this.failedSeqs.has(seq)) {
      this.fail(seq, `entry ${seq} is inside the archived range but not in the archive's files`);
    }
    return undefined;
  }
}

/** Reads the hot tree's leaf hashes of a seq range. */
function hotLeafHashes(store: AuditStore, logId: number) {
  return async (from: number, to: number): Promise<Map<number, Uint8Array>> => {
    const out = new Map<number, Uint8Array>();
    for await (const chunk of store.scan(logId, from, to, 8192)) {
      for (const r of chunk) out.set(r.entry.seq, r.entry.leafHash);
    }
    return out;
  };
}

/**
 * The store seen with the archive's rows put back: entries of the range that have no
 * disclosure in the hot database get the archived ones (after their leaf is matched with the
 * hot one), and the index reads include the archived rows. Verification then runs unchanged.
 */
function overlay(store: AuditStore, reader: ArchiveReader, range: { from: number; to: number }): AuditStore {
  const inRange = (seq: number): boolean => range.from <= seq && seq < range.to;
  const scan = async function* (logId: number, from: number, to: number, chunk: number) {
    for await (const rows of store.scan(logId, from, to, chunk)) {
      const out: ScanRow[] = [];
      for (const r of rows) {
        const seq = r.entry.seq;
        if (!inRange(seq) || r.disclosures.length > 0) {
          out.push(r);
          continue;
        }
        const part = await reader.entry(seq);
        out.push(part ? { entry: r.entry, disclosures: part.disclosures.get(seq) ?? [] } : r);
      }
      yield out;
    }
  };
  const readIndex = async (logId: number, after: number | null, limit: number): Promise<StoredIndexRow[]> => {
    const hot = await store.readIndex(logId, after, limit);
    const archived: StoredIndexRow[] = [];
    let seq = Math.max(range.from, after === null ? 0 : after + 1);
    while (seq < range.to && archived.length < limit) {
      const part = await reader.part(seq);
      if (!part) break;
      for (; seq < part.to && archived.length < limit; seq++) {
        const e = part.events.get(seq);
        if (e) archived.push(e.index);
      }
    }
    const seen = new Set(hot.map((r) => r.seq));
    const merged = [...hot, ...archived.filter((r) => !seen.has(r.seq))];
    merged.sort((x, y) => (typeof x.seq === 'number' && typeof y.seq === 'number' ? x.seq - y.seq : 0));
    return merged.slice(0, limit);
  };
  const overrides: Partial<Record<keyof AuditStore, unknown>> = {
    scan,
    readIndex,
    readIndexPacked: undefined,
    parallelReads: false,
  };
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (Object.prototype.hasOwnProperty.call(overrides, prop)) return overrides[prop as keyof AuditStore];
      const v: unknown = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

/**
 * Verifies the hot log and an archive of it together (`auditrail verify --archive DIR`): the
 * manifest must be the one an `archive.created` event of the log names, each file must match its
 * SHA-256, the range's checkpoint must be the stored one of that size and be consistent with
 * the manifest's current checkpoint, and the whole log is then verified with the archived
 * disclosures and index rows in place of the dropped ones (every archived leaf matched with the
 * hot tree's). The report is the one verify gives as if the range had never left.
 *
 * @example
 * const r = await verifyArchive(trail, './archive/2025');
 * if (!r.ok) console.error(r.failures);
 */
export async function verifyArchive(
  trail: AuditTrail,
  dir: string,
  options: VerifyOptions = {},
): Promise<VerifyReport> {
  await trail.flush();
  const opened = readArchiveManifest(dir);
  const m = opened.manifest;
  const store = storeOf(trail);
  const keys = keysOf(trail);
  const head = await headOf(store, trail.origin);
  const failures: VerifyFailure[] = [];
  const fail = (seq: number | null, detail: string): void => {
    failures.push({ seq, kind: 'archive_mismatch', detail });
  };
  if (m.log !== trail.origin) fail(null, `the archive is of log ${m.log}, not ${trail.origin}`);
  // The log vouches for the manifest: an archive.created event names its SHA-256.
  const event = await findArchiveEvent(store, head, opened.sha256);
  if (!event) {
    fail(
      m.range.from,
      `no archive.created event of ${trail.origin} names this manifest (SHA-256 ${opened.sha256}): the manifest was edited or belongs to another archive`,
    );
  } else {
    if (event.from !== m.range.from || event.to !== m.range.to) {
      fail(event.seq, `the archive.created event at seq ${event.seq} names another range than the manifest`);
    }
    const named = new Map(event.files.map((f) => [f.name, f.sha256]));
    for (const f of m.files) {
      if (named.get(f.name) !== f.sha256)
        fail(event.seq, `${f.name} is not named with this SHA-256 by the archive.created event`);
    }
    if (named.size !== m.files.length)
      fail(event.seq, 'the archive.created event names files the manifest does not list');
  }
  // The range's checkpoint: signed by the log's key, the stored one of its size, consistent with the current one.
  const verifiers = resolveVerifiers(keys, trail.origin, options, true);
  try {
    const cp = openCheckpoint(m.checkpoint, verifiers, trail.origin);
    const cur = openCheckpoint(m.current_checkpoint, verifiers, trail.origin);
    if (cp.size !== m.range.to)
      fail(m.range.to, `the manifest's checkpoint has size ${cp.size}, not the range's end ${m.range.to}`);
    const stored = (await store.listCheckpoints(head.logId)).find((c) => c.size === cp.size);
    if (stored?.note !== m.checkpoint)
      fail(cp.size, `the manifest's checkpoint of size ${cp.size} is not the log's stored one`);
    const proof = m.consistency.map((h) => Buffer.from(h, 'base64'));
    if (!verifyConsistency(cp.size, cur.size, proof, cp.root, cur.root)) {
      fail(cp.size, `the manifest's consistency proof from size ${cp.size} to ${cur.size} does not verify`);
    }
  } catch (e) {
    fail(m.range.to, `the manifest's checkpoints do not verify with the log's key: ${(e as Error).message}`);
  }
  const reader = new ArchiveReader(opened, hotLeafHashes(store, head.logId));
  // Every file is read once up front (hash, parse), so a damaged file is named even outside the range verified.
  for (const p of reader.parts) await reader.part(p.from);
  const report = await verifyStoredLog(overlay(store, reader, m.range), keys, trail.origin, {
    ...options,
    threads: 0,
  });
  const all = [...failures, ...reader.failures];
  if (all.length > 0) {
    report.failures.unshift(...all);
    report.ok = false;
  }
  return report;
}

/** The `archive.created` event naming the manifest with this SHA-256, with what it says. */
async function findArchiveEvent(
  store: AuditStore,
  head: LogHead,
  manifestSha256: string,
): Promise<{ seq: number; from: number; to: number; files: { name: string; sha256: string }[] } | undefined> {
  let before: number | undefined;
  for (;;) {
    const page = await store.query(
      head.logId,
      { type: 'archive.created' },
      { limit: 100, order: 'desc', ...(before !== undefined ? { before } : {}) },
    );
    for (const e of page) {
      const body = e.disclosures.find((d) => d.pointer === '')?.disclosure;
      if (body === null || body === undefined) continue;
      // Only a body whose digest the leaf commits to speaks for the event.
      const stored = await store.getBySeq(head.logId, e.entry.seq);
      if (!stored || !parseLeaf(stored.entry.leaf).d.includes(disclosureDigest(body))) continue;
      const facts = archiveEventFacts(e.entry.seq, body);
      if (facts?.manifestSha256 !== manifestSha256) continue;
      const files = (
        toRecordedEvent(e, head.origin).metadata as { archive?: { files?: unknown } } | undefined
      )?.archive?.files;
      const list = Array.isArray(files)
        ? files.filter(
            (f): f is { name: string; sha256: string } =>
              typeof (f as { name?: unknown }).name === 'string' &&
              typeof (f as { sha256?: unknown }).sha256 === 'string',
          )
        : [];
      return { seq: facts.seq, from: facts.from, to: facts.to, files: list };
    }
    if (page.length < 100) return undefined;
    before = page[page.length - 1]!.entry.seq;
  }
}

/**
 * Brings an archived range back into the hot database (`auditrail restore DIR`): verifies the
 * archive with the hot data first ({@link verifyArchive}; refused when anything fails), puts back
 * its disclosures and index rows, removes the archive record and appends `archive.restored`.
 * Verification afterwards is as before the archive.
 *
 * @example
 * const r = await restoreArchive(trail, './archive/2025');
 * console.log(`seq ${r.from}..${r.to - 1} restored, recorded at seq ${r.by_seq}`);
 */
export async function restoreArchive(
  trail: AuditTrail,
  dir: string,
  options: VerifyOptions = {},
): Promise<RestoreResult> {
  if (trail.readonly)
    throw new AuditError('read_only', `cannot restore into ${trail.origin}: it is open read-only`);
  const opened = readArchiveManifest(dir);
  const m = opened.manifest;
  const store = storeOf(trail);
  const head = await headOf(store, trail.origin);
  const record = (await store.listArchives(head.logId)).find((a) => a.from === m.range.from);
  if (!record) {
    throw new AuditError(
      'not_found',
      `seq ${m.range.from}..${m.range.to - 1} of ${trail.origin} is not archived (restored already?): nothing to restore`,
    );
  }
  if (record.to !== m.range.to || record.manifestSha256 !== opened.sha256) {
    throw new AuditError(
      'proof_invalid',
      `the archive of seq ${record.from}..${record.to - 1} was recorded with manifest SHA-256 ${record.manifestSha256}, ` +
        `not ${opened.sha256}: the manifest was edited or belongs to another archive; nothing restored`,
    );
  }
  const verified = await verifyArchive(trail, dir, options);
  if (!verified.ok) {
    const first = verified.failures[0];
    throw new AuditError(
      'proof_invalid',
      `the archive does not verify with the log (${verified.failures.length} failure(s)${first ? `, first: seq ${first.seq ?? '-'} ${first.kind}: ${first.detail}` : ''}): nothing restored`,
    );
  }
  const reader = new ArchiveReader(opened, hotLeafHashes(store, head.logId));
  let disclosures = 0;
  let indexRows = 0;
  for (const p of reader.parts) {
    const part = await reader.part(p.from);
    if (!part) continue;
    const ds = [...part.disclosures.values()]
      .flat()
      .filter((d) => d.seq >= m.range.from && d.seq < m.range.to);
    const index = [...part.events.values()].map((e) => e.index);
    disclosures += await store.restoreArchivedRows(head.logId, ds, index);
    indexRows += index.length;
  }
  if (reader.failures.length > 0) {
    throw new AuditError(
      'proof_invalid',
      `the archive changed while it was restored: ${reader.failures[0]!.detail}`,
    );
  }
  await store.removeArchive(head.logId, m.range.from);
  const receipt = await trail.record({
    type: 'archive.restored',
    actor: { type: 'system', id: 'auditrail' },
    action: { type: 'archive.restore', target: trail.origin },
    metadata: {
      archive: {
        from: m.range.from,
        to: m.range.to,
        manifest_sha256: opened.sha256,
        archived_by_seq: record.bySeq,
      },
    },
  });
  await trail.checkpoint();
  return {
    from: m.range.from,
    to: m.range.to,
    disclosures,
    index_rows: indexRows,
    by_seq: receipt.seq,
    verified,
  };
}

/** The facts of every `archive.created` or `archive.restored` event whose body its leaf commits to. */
async function archiveFacts(
  store: AuditStore,
  logId: number,
  type: 'archive.created' | 'archive.restored',
): Promise<{ seq: number; from: number; to: number; manifestSha256: string; dir?: string }[]> {
  const out: { seq: number; from: number; to: number; manifestSha256: string; dir?: string }[] = [];
  let after: number | undefined;
  for (;;) {
    const page = await store.query(
      logId,
      { type },
      { limit: 1000, order: 'asc', ...(after !== undefined ? { after } : {}) },
    );
    for (const e of page) {
      const body = e.disclosures.find((d) => d.pointer === '')?.disclosure;
      if (body === null || body === undefined) continue;
      // Only a body whose digest the leaf commits to speaks for the event.
      const stored = await store.getBySeq(logId, e.entry.seq);
      if (!stored || !parseLeaf(stored.entry.leaf).d.includes(disclosureDigest(body))) continue;
      const facts = archiveEventFacts(e.entry.seq, body);
      if (!facts) continue;
      const dir = recordedDir(body);
      out.push(dir === undefined ? facts : { ...facts, dir });
    }
    if (page.length < 1000) return out;
    after = page[page.length - 1]!.entry.seq;
  }
}

/** `metadata.archive.dir` of an `archive.created` body: an absolute path, when recorded. */
function recordedDir(body: Uint8Array | string): string | undefined {
  try {
    const value = parseDisclosure(body).value as { metadata?: { archive?: { dir?: unknown } } } | null;
    const dir = value?.metadata?.archive?.dir;
    return typeof dir === 'string' && isAbsolute(dir) && dir.length <= 4096 ? dir : undefined;
  } catch {
    return undefined;
  }
}

/** An archived range with where `archiveLog` wrote it. */
export interface LocatedArchivedRange extends ArchivedRange {
  /**
   * The directory `archiveLog` wrote the archive to (absolute), as its `archive.created` event
   * records it; null for an archive made before the directory was recorded (or when the trail's
   * redaction rules would have rewritten it). It may have moved since.
   */
  location: string | null;
}

/**
 * The ranges of `trail` that are archived now (their rows are in Parquet files, not in the hot
 * database): each `archive.created` event not followed by an `archive.restored` event naming the
 * same manifest, and each archive the store records (so a range whose event body cannot be read
 * is not forgotten). Ascending by range.
 *
 * @example
 * for (const a of await archivedRanges(trail)) console.log(`seq ${a.from}..${a.to - 1} archived by seq ${a.by_seq}`);
 */
export async function archivedRanges(trail: AuditTrail): Promise<LocatedArchivedRange[]> {
  const store = storeOf(trail);
  const head = await headOf(store, trail.origin);
  const created = await archiveFacts(store, head.logId, 'archive.created');
  const restored = await archiveFacts(store, head.logId, 'archive.restored');
  const out = new Map<number, LocatedArchivedRange>();
  for (const c of created) {
    if (restored.some((r) => r.seq > c.seq && r.manifestSha256 === c.manifestSha256)) continue;
    out.set(c.seq, {
      by_seq: c.seq,
      from: c.from,
      to: c.to,
      manifest_sha256: c.manifestSha256,
      location: c.dir ?? null,
    });
  }
  for (const a of await store.listArchives(head.logId)) {
    if (!out.has(a.bySeq))
      out.set(a.bySeq, {
        by_seq: a.bySeq,
        from: a.from,
        to: a.to,
        manifest_sha256: a.manifestSha256,
        location: null,
      });
  }
  return [...out.values()].sort((x, y) => x.from - y.from || x.by_seq - y.by_seq);
}

/**
 * Searches the archive in `dir` for the events `match` selects, reading its Parquet files with
 * hyparquet. The archive must be the one `range` names (its manifest's SHA-256), each file must
 * match the manifest, each archived leaf the hot tree's, and each disclosure a digest its leaf
 * commits to; anything else is refused (`proof_invalid`), since a search of an edited archive
 * proves nothing. Returns the seqs of the matching events that still hold plaintext; `match` gets
 * the event assembled from its live disclosures, its seq and the pointers of those disclosures.
 *
 * @example
 * const seqs = await searchArchive(trail, './archive/2025', range, (e) => e.actor?.id === 'alice');
 */
export async function searchArchive(
  trail: AuditTrail,
  dir: string,
  range: ArchivedRange,
  match: (event: Record<string, unknown>, seq: number, pointers: readonly string[]) => boolean,
): Promise<number[]> {
  const opened = readArchiveManifest(dir);
  if (opened.sha256 !== range.manifest_sha256) {
    throw new AuditError(
      'invalid_argument',
      `${opened.dir} is not the archive made by seq ${range.by_seq} (its manifest SHA-256 is ${opened.sha256}, not ${range.manifest_sha256})`,
    );
  }
  const store = storeOf(trail);
  const head = await headOf(store, trail.origin);
  const reader = new ArchiveReader(opened, hotLeafHashes(store, head.logId));
  const found: number[] = [];
  for (const p of reader.parts) {
    const part = await reader.part(p.from);
    if (reader.failures.length > 0) break;
    if (!part) continue;
    for (const [seq, rows] of part.disclosures) {
      if (seq < range.from || seq >= range.to) continue;
      const e = part.events.get(seq);
      if (!e) continue;
      const digests = parseLeaf(e.leaf).d;
      const live = rows.filter((r) => r.disclosure !== null);
      if (live.length === 0) continue;
      for (const r of live) {
        if (!digests.includes(disclosureDigest(r.disclosure!))) {
          throw new AuditError(
            'proof_invalid',
            `${opened.dir}: the archived disclosure ${r.pointer === '' ? '(body)' : r.pointer} of seq ${seq} is not committed in its leaf: the archive cannot be searched`,
          );
        }
      }
      const event = assembleEvent(live.map((r) => parseDisclosure(r.disclosure!)));
      if (
        match(
          event,
          seq,
          live.map((r) => r.pointer),
        )
      )
        found.push(seq);
    }
  }
  if (reader.failures.length > 0) {
    throw new AuditError(
      'proof_invalid',
      `${opened.dir} does not match the log, so it cannot be searched: ${reader.failures[0]!.detail}`,
    );
  }
  return found.sort((a, b) => a - b);
}
