import { AuditError } from '../../errors.js';
import type {
  ApiKeyRow,
  AppendContext,
  AppendPlan,
  ApprovalRow,
  ArchiveRow,
  AuditStore,
  CheckpointRow,
  CursorRow,
  DisclosureRow,
  EntryRow,
  EventFilter,
  ExistingEntry,
  IndexRow,
  LogHead,
  PersonalIndexColumn,
  ScanRow,
  SideWrites,
  StoredEvent,
  StoredIndexRow,
  TileInfo,
} from '../store.js';
import type { TileRow } from '../../core/tiles.js';
import { archiveRowProblem, checkCursorName, checkCursorSeq, tileKey } from '../store.js';
import { erasedIndexColumns } from '../../core/index-row.js';
import { compileFilterGlob, isFilterGlob, type StringMatcher } from '../../core/glob.js';

interface MemLog {
  head: LogHead;
  entries: EntryRow[];
  disclosures: Map<number, DisclosureRow[]>;
  index: Map<number, IndexRow & { type: string; ts: string }>;
  byEid: Map<string, number>;
  tiles: Map<string, Buffer>;
  checkpoints: CheckpointRow[];
  cursors: Map<string, number>;
  archives: ArchiveRow[];
}

/** A copy sharing nothing with `row` (parameters are any JSON value: rows are never aliased). */
function copyApproval(row: ApprovalRow): ApprovalRow {
  return structuredClone(row);
}

/**
 * An in-memory {@link AuditStore} for tests and examples: same contract as the SQLite and
 * PostgreSQL stores, nothing durable. Exported from `auditrail/testing`.
 *
 * @example
 * const trail = await openAuditTrail({ tenant: 't', store: new MemoryStore() });
 */
export class MemoryStore implements AuditStore {
  readonly kind = 'memory' as const;
  private readonly logs = new Map<string, MemLog>();
  private readonly byId = new Map<number, MemLog>();
  private readonly approvals = new Map<string, ApprovalRow>();
  private readonly meta = new Map<string, string>();
  private lock: Promise<unknown> = Promise.resolve();
  /** Set to make the next appends fail (fault injection in tests). */
  failAppends: Error | null = null;

  private log(logId: number): MemLog {
    const l = this.byId.get(logId);
    if (!l) throw new AuditError('not_found', `log ${logId} does not exist`);
    return l;
  }

  openLog(origin: string, tenant: string, emptyRoot: Buffer): Promise<LogHead> {
    let l = this.logs.get(origin);
    if (!l) {
      const head: LogHead = {
        logId: this.logs.size + 1,
        origin,
        tenant,
        size: 0,
        root: emptyRoot,
        rightEdge: Buffer.alloc(0),
        lastTs: null,
      };
      l = {
        head,
        entries: [],
        disclosures: new Map(),
        index: new Map(),
        archives: [],
        byEid: new Map(),
        tiles: new Map(),
        checkpoints: [],
        cursors: new Map(),
      };
      this.logs.set(origin, l);
      this.byId.set(head.logId, l);
    }
    return Promise.resolve({ ...l.head });
  }

  getLog(origin: string): Promise<LogHead | undefined> {
    const l = this.logs.get(origin);
    return Promise.resolve(l ? { ...l.head } : undefined);
  }

  listLogs(): Promise<LogHead[]> {
    return Promise.resolve([...this.logs.values()].map((l) => ({ ...l.head })));
  }

  append<T>(
    origin: string,
    eids: readonly string[],
    plan: (ctx: AppendContext) => { plan: AppendPlan; result: T },
    sideWrites?: SideWrites,
  ): Promise<T> {
    const run = async (): Promise<T> => {
      await Promise.resolve();
      if (this.failAppends)
        throw new AuditError('store_failure', this.failAppends.message, { cause: this.failAppends });
      const l = this.logs.get(origin);
      if (!l) throw new AuditError('not_found', `log ${origin} does not exist`);
      const existing = new Map<string, ExistingEntry>();
      for (const eid of eids) {
        const seq = l.byEid.get(eid);
        if (seq !== undefined) existing.set(eid, { seq, leafHash: l.entries[seq]!.leafHash, eid });
      }
      const partialTiles = [];
      let n = l.head.size;
      for (let level = 0; n > 0; level++, n = Math.floor(n / 256)) {
        if (n % 256 === 0) continue;
        const index = Math.floor(n / 256);
        const hashes = l.tiles.get(tileKey(level, index))!;
        partialTiles.push({ level, index, width: hashes.length / 32, hashes });
      }
      const { plan: p, result } = plan({ head: { ...l.head }, existing, partialTiles });
      // Same constraints as the SQL stores' keys: consecutive seqs, unique ids; all or nothing.
      const eidsSeen = new Set<string>();
      p.entries.forEach((e, i) => {
        if (e.seq !== l.head.size + i || l.entries[e.seq] || l.byEid.has(e.eid) || eidsSeen.has(e.eid)) {
          throw new AuditError(
            'store_failure',
            `append to ${origin} failed: entry ${e.seq} (${e.eid}) conflicts`,
          );
        }
        eidsSeen.add(e.eid);
      });
      const approvals = sideWrites?.approvals ?? [];
      const ids = new Set<string>();
      for (const a of approvals) {
        if (this.approvals.has(a.id) || ids.has(a.id))
          throw new AuditError('conflict', `approval ${a.id} exists`);
        ids.add(a.id);
      }
      // Checked all of it above: from here on nothing throws, so the append is all or nothing.
      for (const a of approvals) this.approvals.set(a.id, copyApproval(a));
      for (const e of p.entries) {
        l.entries[e.seq] = e;
        l.byEid.set(e.eid, e.seq);
      }
      for (const d of p.disclosures) {
        const list = l.disclosures.get(d.seq) ?? [];
        list.push({ ...d });
        l.disclosures.set(d.seq, list);
      }
      p.index.forEach((x, i) => l.index.set(x.seq, { ...x, type: p.entries[i]!.type, ts: p.entries[i]!.ts }));
      if (p.index.length > 0) this.sortedIndex.delete(l);
      for (const t of p.tiles) l.tiles.set(tileKey(t.level, t.index), Buffer.from(t.hashes));
      l.head = { ...l.head, ...p.head };
      return result;
    };
    const next = this.lock.then(run, run);
    this.lock = next.catch(() => undefined);
    return next;
  }

  private stored(l: MemLog, seq: number): StoredEvent | undefined {
    const entry = l.entries[seq];
    if (!entry) return undefined;
    return { entry, disclosures: (l.disclosures.get(seq) ?? []).map((d) => ({ ...d })) };
  }

  readEvents(logId: number, from: number, to: number): Promise<StoredEvent[]> {
    const l = this.log(logId);
    const out: StoredEvent[] = [];
    for (let s = from; s < Math.min(to, l.entries.length); s++) {
      const e = this.stored(l, s);
      if (e) out.push(e);
    }
    return Promise.resolve(out);
  }

  getBySeq(logId: number, seq: number): Promise<StoredEvent | undefined> {
    return Promise.resolve(this.stored(this.log(logId), seq));
  }

  getByEid(logId: number, eid: string): Promise<StoredEvent | undefined> {
    const l = this.log(logId);
    const seq = l.byEid.get(eid);
    return Promise.resolve(seq === undefined ? undefined : this.stored(l, seq));
  }

  getByEids(logId: number, eids: readonly string[]): Promise<StoredEvent[]> {
    const l = this.log(logId);
    const out: StoredEvent[] = [];
    for (const eid of new Set(eids)) {
      const seq = l.byEid.get(eid);
      const e = seq === undefined ? undefined : this.stored(l, seq);
      if (e) out.push(e);
    }
    return Promise.resolve(out);
  }

  /** A filter as one test per row; globs go through the shared matcher, compiled once. */
  private matcher(f: EventFilter): (x: IndexRow & { type: string; ts: string }) => boolean {
    const globs: [k: 'action_type' | 'target' | 'type', m: StringMatcher][] = [];
    for (const k of ['action_type', 'target', 'type'] as const) {
      const v = f[k];
      if (typeof v === 'string' && isFilterGlob(v)) globs.push([k, compileFilterGlob(v)]);
    }
    return (x) => {
      for (const [k, v] of Object.entries(f) as [
        keyof EventFilter,
        string | readonly string[] | undefined,
      ][]) {
        if (v === undefined) continue;
        if (typeof v !== 'string') {
          const have = x[k as 'actor_id' | 'target'];
          if (typeof have !== 'string' || !v.includes(have)) return false;
        } else if (k === 'subject') {
          if (x.subjects === null || !x.subjects.split(' ').includes(v)) return false;
        } else if (k === 'since') {
          if (x.ts < v) return false;
        } else if (k === 'until') {
          if (x.ts >= v) return false;
        } else if (!globs.some(([g]) => g === k) && x[k] !== v) return false;
      }
      for (const [k, m] of globs) {
        const have = x[k];
        if (typeof have !== 'string' || !m(have)) return false;
      }
      return true;
    };
  }

  query(
    logId: number,
    filter: EventFilter,
    options: { after?: number; before?: number; limit: number; order: 'asc' | 'desc' },
  ): Promise<StoredEvent[]> {
    const l = this.log(logId);
    const seqs = [...l.index.keys()].sort((a, b) => (options.order === 'asc' ? a - b : b - a));
    const matches = this.matcher(filter);
    const out: StoredEvent[] = [];
    for (const s of seqs) {
      if (options.after !== undefined && s <= options.after) continue;
      if (options.before !== undefined && s >= options.before) continue;
      if (!matches(l.index.get(s)!)) continue;
      const e = this.stored(l, s);
      if (e) out.push(e);
      if (out.length >= options.limit) break;
    }
    return Promise.resolve(out);
  }

  countEvents(logId: number, filter: EventFilter): Promise<number> {
    const l = this.log(logId);
    const matches = this.matcher(filter);
    let n = 0;
    for (const x of l.index.values()) if (matches(x)) n++;
    return Promise.resolve(n);
  }

  eraseDisclosures(
    logId: number,
    units: readonly { seq: number; unit: number }[],
    bySeq: number,
    _erasedAt: string,
  ): Promise<number> {
    const l = this.log(logId);
    let n = 0;
    for (const u of units) {
      const d = l.disclosures.get(u.seq)?.find((x) => x.unit === u.unit);
      if (!d || d.disclosure === null) continue;
      d.disclosure = null;
      d.erasedBySeq = bySeq;
      n++;
      // The index columns read from what is now erased go with it (as the SQLite store does).
      const row = l.index.get(u.seq);
      const erased = (l.disclosures.get(u.seq) ?? [])
        .filter((x) => x.disclosure === null)
        .map((x) => x.pointer);
      if (row) for (const c of erasedIndexColumns(erased)) row[c] = null;
    }
    return Promise.resolve(n);
  }

  listArchives(logId: number): Promise<ArchiveRow[]> {
    return Promise.resolve(this.log(logId).archives.map((a) => ({ ...a })));
  }

  addArchive(logId: number, row: ArchiveRow): Promise<void> {
    const l = this.log(logId);
    const problem = archiveRowProblem(row);
    if (problem) return Promise.reject(new AuditError('invalid_argument', problem));
    const clash = l.archives.find((a) => a.from < row.to && a.to > row.from);
    if (clash) {
      return Promise.reject(
        new AuditError(
          'conflict',
          `seq ${row.from}..${row.to - 1} overlaps the archived range ${clash.from}..${clash.to - 1}`,
        ),
      );
    }
    l.archives.push({ ...row });
    l.archives.sort((a, b) => a.from - b.from);
    return Promise.resolve();
  }

  dropArchivedRows(
    logId: number,
    from: number,
    to: number,
  ): Promise<{ disclosures: number; indexRows: number }> {
    const l = this.log(logId);
    if (!l.archives.some((a) => a.from <= from && a.to >= to)) {
      return Promise.reject(
        new AuditError(
          'invalid_argument',
          `seq ${from}..${to - 1} is not inside one recorded archive: nothing dropped`,
        ),
      );
    }
    let disclosures = 0;
    let indexRows = 0;
    for (let seq = from; seq < to; seq++) {
      disclosures += l.disclosures.get(seq)?.length ?? 0;
      l.disclosures.delete(seq);
      if (l.index.delete(seq)) indexRows++;
    }
    if (indexRows > 0) this.sortedIndex.delete(l);
    return Promise.resolve({ disclosures, indexRows });
  }

  restoreArchivedRows(
    logId: number,
    disclosures: readonly DisclosureRow[],
    index: readonly StoredIndexRow[],
  ): Promise<number> {
    const l = this.log(logId);
    let n = 0;
    for (const d of disclosures) {
      const list = l.disclosures.get(d.seq) ?? [];
      if (list.some((x) => x.unit === d.unit)) continue;
      list.push({ ...d, disclosure: d.disclosure === null ? null : Buffer.from(d.disclosure) });
      list.sort((a, b) => a.unit - b.unit);
      l.disclosures.set(d.seq, list);
      n++;
    }
    for (const x of index) if (!l.index.has(x.seq)) l.index.set(x.seq, { ...x });
    if (index.length > 0) this.sortedIndex.delete(l);
    return Promise.resolve(n);
  }

  removeArchive(logId: number, from: number): Promise<boolean> {
    const l = this.log(logId);
    const before = l.archives.length;
    l.archives = l.archives.filter((a) => a.from !== from);
    return Promise.resolve(l.archives.length < before);
  }

  getTiles(logId: number, keys: readonly { level: number; index: number }[]): Promise<Map<string, Buffer>> {
    const l = this.log(logId);
    const out = new Map<string, Buffer>();
    for (const k of keys) {
      const t = l.tiles.get(tileKey(k.level, k.index));
      if (t) out.set(tileKey(k.level, k.index), t);
    }
    return Promise.resolve(out);
  }

  addCheckpoint(logId: number, row: CheckpointRow): Promise<void> {
    const l = this.log(logId);
    if (!l.checkpoints.some((c) => c.size === row.size)) {
      l.checkpoints.push(row);
      l.checkpoints.sort((a, b) => a.size - b.size);
    }
    return Promise.resolve();
  }

  listCheckpoints(logId: number): Promise<CheckpointRow[]> {
    return Promise.resolve([...this.log(logId).checkpoints]);
  }

  latestCheckpoint(logId: number): Promise<CheckpointRow | undefined> {
    const c = this.log(logId).checkpoints;
    return Promise.resolve(c[c.length - 1]);
  }

  async *scan(logId: number, from: number, to: number, chunk: number): AsyncIterable<ScanRow[]> {
    for (let a = from; a < to; a += chunk) yield await this.readEvents(logId, a, Math.min(to, a + chunk));
  }

  storedSize(logId: number): Promise<{ count: number; maxSeq: number | null }> {
    const l = this.log(logId);
    const count = l.entries.filter(Boolean).length;
    return Promise.resolve({ count, maxSeq: l.entries.length > 0 ? l.entries.length - 1 : null });
  }

  lastSeq(logId: number): Promise<number | null> {
    const l = this.log(logId);
    return Promise.resolve(l.entries.length > 0 ? l.entries.length - 1 : null);
  }

  /** Index seqs in order, sorted once per change of the index (pages must not re-sort). */
  private readonly sortedIndex = new WeakMap<MemLog, number[]>();

  private indexOrder(l: MemLog): number[] {
    let keys = this.sortedIndex.get(l);
    if (!keys) {
      keys = [...l.index.keys()].sort((a, b) => a - b);
      this.sortedIndex.set(l, keys);
    }
    return keys;
  }

  readIndex(logId: number, after: number | null, limit: number): Promise<StoredIndexRow[]> {
    const l = this.log(logId);
    const keys = this.indexOrder(l);
    // First position after `after` by binary search.
    let lo = 0;
    let hi = keys.length;
    while (after !== null && lo < hi) {
      const mid = (lo + hi) >> 1;
      if (keys[mid]! <= after) lo = mid + 1;
      else hi = mid;
    }
    const out: StoredIndexRow[] = [];
    for (let i = lo; i < keys.length && out.length < limit; i++) out.push({ ...l.index.get(keys[i]!)! });
    return Promise.resolve(out);
  }

  replaceIndex(logId: number, from: number, to: number, rows: readonly StoredIndexRow[]): Promise<void> {
    const l = this.log(logId);
    for (const s of [...l.index.keys()]) if (s >= from && s < to) l.index.delete(s);
    for (const r of rows) l.index.set(r.seq, { ...r });
    this.sortedIndex.delete(l);
    return Promise.resolve();
  }

  clearIndexColumns(
    logId: number,
    seqs: readonly number[],
    columns: readonly PersonalIndexColumn[],
  ): Promise<number> {
    const l = this.log(logId);
    let n = 0;
    for (const seq of seqs) {
      const row = l.index.get(seq);
      if (!row) continue;
      for (const c of columns) row[c] = null;
      n++;
    }
    return Promise.resolve(n);
  }

  pruneIndex(logId: number, size: number): Promise<number> {
    const l = this.log(logId);
    let n = 0;
    for (const s of [...l.index.keys()]) {
      if (!Number.isSafeInteger(s) || s < 0 || s >= size) {
        l.index.delete(s);
        this.sortedIndex.delete(l);
        n++;
      }
    }
    return Promise.resolve(n);
  }

  listTiles(logId: number, fromLeaf = 0): Promise<TileInfo[]> {
    const out: TileInfo[] = [];
    for (const [key, hashes] of this.log(logId).tiles) {
      const [level, index] = key.split('/').map(Number) as [number, number];
      if (index < firstTileIndex(level, fromLeaf)) continue;
      // A full tile holds its interior heights after its 256 hashes (core/tiles.ts).
      out.push({ level, index, width: Math.min(256, hashes.length / 32), bytes: hashes.length });
    }
    return Promise.resolve(out.sort((a, b) => a.level - b.level || a.index - b.index));
  }

  putTiles(logId: number, tiles: readonly TileRow[]): Promise<void> {
    const l = this.log(logId);
    for (const t of tiles) l.tiles.set(tileKey(t.level, t.index), Buffer.from(t.hashes));
    return Promise.resolve();
  }

  setHead(
    logId: number,
    head: { size: number; root: Buffer; rightEdge: Buffer; lastTs: string | null },
  ): Promise<void> {
    const l = this.log(logId);
    l.head = { ...l.head, ...head };
    return Promise.resolve();
  }

  putApproval(row: ApprovalRow): Promise<void> {
    if (this.approvals.has(row.id))
      return Promise.reject(new AuditError('conflict', `approval ${row.id} exists`));
    this.approvals.set(row.id, copyApproval(row));
    return Promise.resolve();
  }

  getApproval(id: string): Promise<ApprovalRow | undefined> {
    const a = this.approvals.get(id);
    return Promise.resolve(a ? copyApproval(a) : undefined);
  }

  listApprovals(status?: ApprovalRow['status'], logOrigin?: string): Promise<ApprovalRow[]> {
    return Promise.resolve(
      [...this.approvals.values()]
        .filter(
          (a) =>
            (status === undefined || a.status === status) &&
            (logOrigin === undefined || a.logOrigin === logOrigin),
        )
        .sort((a, b) =>
          a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.id < b.id ? -1 : 1,
        )
        .map(copyApproval),
    );
  }

  updateApproval(
    id: string,
    from: ApprovalRow['status'],
    to: Partial<Pick<ApprovalRow, 'status' | 'decidedBy' | 'decidedAt' | 'reason'>>,
  ): Promise<boolean> {
    const a = this.approvals.get(id);
    if (!a || a.status !== from) return Promise.resolve(false);
    const defined = Object.fromEntries(Object.entries(to).filter(([, v]) => v !== undefined));
    this.approvals.set(id, { ...a, ...defined });
    return Promise.resolve(true);
  }

  getCursor(logId: number, name: string): Promise<CursorRow | undefined> {
    const seq = this.log(logId).cursors.get(name);
    return Promise.resolve(seq === undefined ? undefined : { name, seq });
  }

  setCursor(logId: number, name: string, seq: number, expectedSeq?: number | null): Promise<boolean> {
    const bad =
      checkCursorName(name) ??
      checkCursorSeq(seq) ??
      (expectedSeq === undefined || expectedSeq === null ? null : checkCursorSeq(expectedSeq));
    if (bad) return Promise.reject(new AuditError('invalid_argument', bad));
    const cursors = this.log(logId).cursors;
    const now = cursors.get(name);
    if (expectedSeq !== undefined && (expectedSeq === null ? now !== undefined : now !== expectedSeq)) {
      return Promise.resolve(false);
    }
    cursors.set(name, seq);
    return Promise.resolve(true);
  }

  listCursors(logId: number): Promise<CursorRow[]> {
    const out = [...this.log(logId).cursors].map(([name, seq]) => ({ name, seq }));
    return Promise.resolve(out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)));
  }

  getMeta(key: string): Promise<string | undefined> {
    return Promise.resolve(this.meta.get(key));
  }

  setMeta(key: string, value: string): Promise<void> {
    this.meta.set(key, value);
    return Promise.resolve();
  }

  addMeta(key: string, value: string): Promise<string> {
    if (!this.meta.has(key)) this.meta.set(key, value);
    return Promise.resolve(this.meta.get(key)!);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  // -------------------------------------------------------------------------------------------
  // API keys of the HTTP server (see ApiKeyRow in store.ts).
  // -------------------------------------------------------------------------------------------

  private readonly apiKeys = new Map<string, ApiKeyRow>();

  putApiKey(row: ApiKeyRow): Promise<void> {
    if (this.apiKeys.has(row.id))
      return Promise.reject(new AuditError('conflict', `API key ${row.id} exists`));
    this.apiKeys.set(row.id, { ...row, hash: Buffer.from(row.hash), scopes: [...row.scopes] });
    return Promise.resolve();
  }

  getApiKey(id: string): Promise<ApiKeyRow | undefined> {
    const r = this.apiKeys.get(id);
    return Promise.resolve(r ? { ...r, scopes: [...r.scopes] } : undefined);
  }

  listApiKeys(tenant?: string): Promise<ApiKeyRow[]> {
    // Oldest first, as the other stores list them.
    const rows = [...this.apiKeys.values()]
      .filter((r) => tenant === undefined || r.tenant === tenant)
      .sort((a, b) =>
        a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.id < b.id ? -1 : 1,
      );
    return Promise.resolve(rows.map((r) => ({ ...r, scopes: [...r.scopes] })));
  }

  revokeApiKey(id: string, at: string): Promise<boolean> {
    const r = this.apiKeys.get(id);
    if (!r || r.revokedAt !== null) return Promise.resolve(false);
    r.revokedAt = at;
    return Promise.resolve(true);
  }
}

/** Index of the tile of `level` holding the hash of leaf `leaf` (C2SP tlog-tiles: 256 per tile). */
function firstTileIndex(level: number, leaf: number): number {
  return Math.floor(leaf / 256 ** (level + 1));
}
