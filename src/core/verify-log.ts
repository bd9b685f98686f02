import { hash } from 'node:crypto';
import { openCheckpoint } from './checkpoint.js';
import type { CheckpointOpener } from './checkpoint-opener.js';
import { disclosureDigest, parseDisclosure } from './disclosure.js';
import { parseLeaf } from './leaf.js';
import { CompactRange, HASH_SIZE, hashLeaf, hashLeafText, hashLeafTextHex } from './merkle.js';
import type { NoteVerifier } from './note.js';

/**
 * Offline verification of one log from its stored bytes (DESIGN §3 "Verify"): every leaf is
 * re-hashed from its bytes, every disclosure re-digested and matched to its leaf, the tree
 * rebuilt from the leaves, and every signed checkpoint checked (signature, then root at its
 * size). Each failure is reported with its `seq` and kind; verification never stops at the first.
 */
export type FailureKind =
  | 'payload_edited'
  | 'payload_deleted'
  | 'leaf_edited'
  | 'leaf_malformed'
  | 'index_edited'
  | 'index_missing'
  | 'index_mismatch'
  | 'index_extra'
  | 'tile_missing'
  | 'checkpoint_missing'
  | 'checkpoint_edited'
  | 'entry_deleted'
  | 'reordered'
  | 'truncated'
  | 'forged_entry'
  | 'cross_log'
  | 'tile_mismatch'
  | 'head_mismatch'
  | 'checkpoint_forged'
  | 'checkpoint_mismatch'
  | 'rolled_back'
  | 'unapproved_execution'
  | 'archive_mismatch'
  | 'key_unannounced'
  | 'not_witnessed';

export interface VerifyFailure {
  /** The entry (or, for checkpoints, the tree size) the failure is about; null when global. */
  seq: number | null;
  kind: FailureKind;
  detail: string;
}

export interface Redaction {
  seq: number;
  pointer: string;
  /** The `data.erased` / `retention.purged` event that erased it. */
  by_seq: number;
}

/** A range whose disclosures and index rows moved to a cold archive, as verify vouched for it. */
export interface ArchivedRange {
  /** First seq of the range. */
  from: number;
  /** First seq after it (a signed checkpoint size). */
  to: number;
  /** The `archive.created` event naming the range and its manifest. */
  by_seq: number;
  /** Hex SHA-256 of the archive's manifest, as the event names it. */
  manifest_sha256: string;
}

/** An archived range as the store records it (unverified: checked against its event). */
export interface ArchiveClaim {
  from: number;
  to: number;
  bySeq: number;
  manifestSha256: string;
}

/** What an `archive.created` event says (its body's `metadata.archive`). */
export interface ArchiveEventFacts {
  seq: number;
  from: number;
  to: number;
  manifestSha256: string;
}

export interface VerifyReport {
  ok: boolean;
  log: string;
  size: number;
  /** Hex root recomputed from the stored leaves. */
  root: string;
  checkpoints_verified: number;
  /** Entries after the newest signed checkpoint (valid, but not yet committed to by a signature). */
  unsigned_tail: number;
  redactions: Redaction[];
  /**
   * Ranges held in a cold archive (their entries verified from leaves alone), each recorded by an
   * `archive.created` event; absent when none.
   */
  archived?: ArchivedRange[];
  failures: VerifyFailure[];
  /**
   * Incremental verification only: the first seq this run checked. Entries below it were not
   * re-read; they are vouched for by the trusted checkpoint of that size, with which the stored
   * tiles were shown consistent. Absent for a full verification (everything from seq 0).
   */
  verified_from?: number;
}

/** One stored entry as the verifier sees it (structurally the store's rows). */
export interface VerifyEntry {
  /** `leaf` is the record's bytes or, equivalently, their exact UTF-8 text. */
  entry: {
    seq: number;
    leaf: Uint8Array | string;
    leafHash: Uint8Array;
    /** `leafHash` as lowercase hex, when the store reads it so (checked against the leaf in hex). */
    leafHashHex?: string;
    eid: string;
    type: string;
    ts: string;
  };
  disclosures: readonly {
    pointer: string;
    disclosure: Uint8Array | string | null;
    erasedBySeq: number | null;
  }[];
}

export interface LogVerifierOptions {
  origin: string;
  /** Trusted verifier keys for this log (never read from the database under test). */
  verifiers: readonly NoteVerifier[];
  /** Stored checkpoint notes. */
  checkpoints: readonly string[];
  /** Checkpoints handed out earlier and kept elsewhere (witness file, auditor's copy). */
  witnessed?: readonly string[];
  /**
   * Opens a checkpoint note with `verifiers` for `origin` (default: {@link openCheckpoint}); a
   * {@link checkpointOpener} shared with the other checks of one run opens each note once.
   */
  open?: CheckpointOpener;
  /** Stored tile hash of a node at a level multiple of 8, for cross-checking tiles. */
  tileHash?: (level: number, index: number) => Uint8Array | undefined;
  /**
   * Stored hash of a node at a level that is not a multiple of 8 (tree level and index), from the
   * interior of an expanded full tile; undefined when none is stored.
   */
  interiorHash?: (level: number, index: number) => Uint8Array | undefined;
  /** Cap on the number of failures kept (the count is still exact). */
  maxFailures?: number;
  /**
   * Incremental verification: the compact range of a trusted tree (its root matched a trusted
   * checkpoint). Verification starts at seq `start.size`; entries below it are not checked.
   */
  start?: CompactRange;
  /**
   * Segment mode (parallel verification): the entries pushed are the part of a larger tree that
   * starts at seq `offset`, a multiple of the next power of two at or above the segment's length,
   * so the segment's leaves form perfect subtrees of the whole tree. Its tree is rebuilt locally
   * (node indices of the tile checks are the whole tree's), approval facts are collected instead
   * of checked, and {@link LogVerifier.segmentResult} hands what the whole log's verifier needs to
   * {@link LogVerifier.absorb}. `snapshots`: tree sizes (signed heads) at which the segment's
   * compact range is kept, so their roots can be checked.
   */
  segment?: { offset: number; snapshots?: readonly number[] };
  /**
   * Archived ranges as the store records them: an entry inside one with no disclosure row is
   * archived, not deleted, once the range's `archive.created` event is found to name it.
   */
  archived?: readonly ArchiveClaim[];
}

/**
 * What one segment's verification gives the whole log's verifier (structured-clone safe: it
 * crosses from a worker thread).
 */
export interface SegmentResult {
  offset: number;
  /** Entries checked (the segment's tree size). */
  size: number;
  /** The segment's compact range, encoded ({@link CompactRange.encode}). */
  hashes: Uint8Array;
  /** The compact range of the segment's first `size - offset` leaves, at each requested size. */
  snapshots: { size: number; hashes: Uint8Array }[];
  /** Failures found in the segment, tile mismatches included (they must be zero to merge). */
  failures: number;
  /** ts of the first entry whose leaf parsed, and the highest ts seen; null when none parsed. */
  firstTs: string | null;
  lastTs: string;
  redactions: Redaction[];
  /** For each redaction (same order): the leaf digests its erased disclosure may have had. */
  redactionDigests: string[][];
  erasureSeqs: number[];
  /** What each `data.erased` event of the segment names (see {@link erasureClaims}). */
  erasureClaims: [number, string[]][];
  /** What each `retention.purged` event of the segment names (see {@link purgeClaim}). */
  purgeClaims: PurgeClaim[];
  /** Archive records (by their event's seq) the segment's entries relied on. */
  archiveClaims: number[];
  /** `archive.created` events of the segment. */
  archiveEvents: ArchiveEventFacts[];
  /** Approval facts other than executions, in seq order. */
  facts: ApprovalFact[];
  /** Execution facts, in seq order (kept by the worker until asked for, see sdk/verify-parallel). */
  executions: number;
}

interface SignedHead {
  size: number;
  root: Buffer;
  source: 'stored' | 'witnessed';
}

const ZERO = Buffer.alloc(HASH_SIZE);

export class LogVerifier {
  private readonly range: CompactRange;
  private readonly from: number;
  private readonly failures: VerifyFailure[] = [];
  private failureCount = 0;
  private readonly redactions: Redaction[] = [];
  /** For each redaction: the digests of its leaf no stored disclosure accounts for. */
  private readonly redactionDigests: string[][] = [];
  /** Per `data.erased` seq: the `seq pointer digest` keys its body names. */
  private readonly claims = new Map<number, Set<string>>();
  /** Per `retention.purged` seq: the range, count and digest of the disclosures it names. */
  private readonly purges = new Map<number, PurgeClaim>();
  private readonly heads: SignedHead[] = [];
  private headIdx = 0;
  private checkpointsVerified = 0;
  private lastTs = '';
  private lastGoodCheckpoint = 0;
  private readonly maxFailures: number;
  private readonly leafCheck: (level: number, index: number, hash: Buffer) => void;
  private tileFailures = 0;
  private readonly erasureSeqs = new Set<number>();
  private readonly archiveClaims = new Set<number>();
  private readonly archiveEvents = new Map<number, ArchiveEventFacts>();
  private readonly archived: readonly ArchiveClaim[];
  private readonly approvalCheck = new ApprovalCheck((seq, detail) =>
    this.fail(seq, 'unapproved_execution', detail),
  );
  /** Segment mode: seq of the segment's first leaf (0 otherwise: the tree is the whole log's). */
  private readonly offset: number;
  private readonly segment: boolean;
  private firstTs: string | null = null;
  private readonly snapshots: { size: number; hashes: Uint8Array }[] = [];
  private readonly snapshotSizes: ReadonlySet<number>;
  private readonly facts: ApprovalFact[] = [];
  /** Segment mode: execution facts, kept apart (only those of held intents are ever needed). */
  readonly executionFacts: ApprovalFact[] = [];

  constructor(private readonly options: LogVerifierOptions) {
    this.maxFailures = options.maxFailures ?? 10_000;
    this.segment = options.segment !== undefined;
    this.offset = options.segment?.offset ?? 0;
    this.snapshotSizes = new Set(options.segment?.snapshots ?? []);
    this.archived = options.archived ?? [];
    if (this.segment && options.start) throw new RangeError('a segment has no trusted start');
    this.range = options.start?.clone() ?? new CompactRange();
    this.from = this.offset + this.range.size;
    this.lastGoodCheckpoint = this.from;
    for (const note of options.checkpoints) this.addHead(note, 'stored');
    for (const note of options.witnessed ?? []) this.addHead(note, 'witnessed');
    this.heads.sort((a, b) => a.size - b.size || (a.source === 'stored' ? -1 : 1));
    // The same checkpoint held in the witness file and in the database counts once.
    for (let i = this.heads.length - 1; i > 0; i--) {
      const a = this.heads[i - 1]!;
      const b = this.heads[i]!;
      if (a.size === b.size && a.root.equals(b.root)) this.heads.splice(i, 1);
    }
    while (this.heads[0]?.size === 0) this.checkHead(this.heads.shift()!);
    // Incremental: signed heads inside the trusted part are not re-derived (their signatures were
    // checked above); the one at the start itself is compared with the trusted tree.
    while (this.from > 0 && this.headIdx < this.heads.length && this.heads[this.headIdx]!.size <= this.from) {
      const h = this.heads[this.headIdx++]!;
      if (h.size === this.from) this.checkHead(h);
    }
    const tileHash = options.tileHash;
    const interiorHash = options.interiorHash;
    const offset = this.offset;
    const check: (level: number, index: number, hash: Buffer) => void = tileHash
      ? (level, index, hash) => {
          if (level % 8 !== 0) {
            const inner = interiorHash?.(level, index);
            if (inner && !hash.equals(inner) && this.tileFailures++ < 100) {
              this.fail(
                null,
                'tile_mismatch',
                `stored interior hash of a full tile at level ${level} index ${index} differs from the hash recomputed from the leaves`,
              );
            }
            return;
          }
          const stored = tileHash(level / 8, index);
          if (stored && !hash.equals(stored) && this.tileFailures++ < 100) {
            this.fail(
              level === 0 ? index : null,
              'tile_mismatch',
              `stored tile hash at level ${level} index ${index} differs from the hash recomputed from the leaves`,
            );
          }
        }
      : () => undefined;
    // A segment's local node (level, i) is node (level, i + offset / 2^level) of the whole tree.
    this.leafCheck =
      offset === 0 ? check : (level, index, hash) => check(level, index + offset / 2 ** level, hash);
  }

  private fail(seq: number | null, kind: FailureKind, detail: string): void {
    this.failureCount++;
    if (this.failures.length < this.maxFailures) this.failures.push({ seq, kind, detail });
  }

  private addHead(note: string, source: SignedHead['source']): void {
    try {
      const cp = this.options.open
        ? this.options.open(note)
        : openCheckpoint(note, this.options.verifiers, this.options.origin);
      this.heads.push({ size: cp.size, root: cp.root, source });
    } catch (e) {
      const size = /^[^\n]*\n(\d+)\n/.exec(note)?.[1];
      this.fail(
        size === undefined ? null : Number(size),
        'checkpoint_forged',
        `${source} checkpoint${size === undefined ? '' : ` of size ${size}`} does not verify with the log's key: ${(e as Error).message}`,
      );
    }
  }

  /** The compact range of the tree rebuilt so far (what the log row's `right_edge` must hold). */
  get rightEdge(): Buffer {
    return this.range.encode();
  }

  /** Next seq expected. */
  get position(): number {
    return this.offset + this.range.size;
  }

  /** Sizes of the signed heads (stored and witnessed checkpoints that opened), ascending. */
  get signedSizes(): number[] {
    return this.heads.map((h) => h.size);
  }

  /** Failures found so far, tile mismatches included (also those beyond the kept ones). */
  get problems(): number {
    return this.failureCount + this.tileFailures;
  }

  /** Feeds the next stored entry; entries must come in ascending seq order (gaps are reported). */
  push(e: VerifyEntry): void {
    const seq = e.entry.seq;
    if (seq < this.position) {
      this.fail(seq, 'reordered', `entry ${seq} appears twice or out of order`);
      return;
    }
    while (this.position < seq) this.missing(this.position);
    this.check(e);
  }

  private missing(seq: number): void {
    this.fail(seq, 'entry_deleted', `no entry stored at seq ${seq}`);
    // Keep the tree aligned with the stored tile so later checkpoints are still checked.
    const fromTile = this.options.tileHash?.(0, seq);
    const h = fromTile?.length === HASH_SIZE ? fromTile : ZERO;
    this.appendLeaf(Buffer.from(h));
  }

  private check(e: VerifyEntry): void {
    const { entry } = e;
    const seq = entry.seq;
    let hash: Buffer;
    // Hex digests compare as strings: equal hex is equal bytes, and the tree takes the stored ones.
    if (typeof entry.leaf === 'string' && entry.leafHashHex !== undefined) {
      const hex = hashLeafTextHex(entry.leaf);
      if (hex === entry.leafHashHex && entry.leafHash.length === HASH_SIZE) {
        hash = Buffer.isBuffer(entry.leafHash) ? entry.leafHash : Buffer.from(entry.leafHash);
      } else {
        hash = Buffer.from(hex, 'hex');
        this.fail(seq, 'leaf_edited', 'leaf bytes do not hash to the stored leaf hash');
      }
    } else {
      hash = typeof entry.leaf === 'string' ? hashLeafText(entry.leaf) : hashLeaf(entry.leaf);
      if (!hash.equals(entry.leafHash)) {
        this.fail(seq, 'leaf_edited', 'leaf bytes do not hash to the stored leaf hash');
      }
    }
    let leaf;
    try {
      leaf = parseLeaf(entry.leaf);
    } catch (err) {
      this.fail(seq, 'leaf_malformed', (err as Error).message);
      this.appendLeaf(hash);
      return;
    }
    if (leaf.log !== this.options.origin) {
      this.fail(
        seq,
        'cross_log',
        `entry belongs to log ${leaf.log} (seq ${leaf.seq}), not ${this.options.origin}`,
      );
    } else if (leaf.seq !== seq) {
      this.fail(seq, 'reordered', `entry ${leaf.seq} is stored at seq ${seq}`);
    }
    if (leaf.eid !== entry.eid || leaf.type !== entry.type || leaf.ts !== entry.ts) {
      this.fail(seq, 'index_edited', 'the eid/type/ts columns differ from the leaf record');
    }
    if (this.firstTs === null) this.firstTs = leaf.ts;
    if (leaf.ts < this.lastTs) {
      this.fail(seq, 'reordered', `ts ${leaf.ts} is earlier than the previous entry's ${this.lastTs}`);
    } else {
      this.lastTs = leaf.ts;
    }
    if (e.disclosures.length === 0 && leaf.d.length > 0) {
      const claim = this.archived.find((a) => a.from <= seq && seq < a.to);
      if (claim) {
        // Checked in finish(): the claim must be an archive.created event naming this range.
        this.archiveClaims.add(claim.bySeq);
        // The leaf's type is enough to count an erasure event (its body is in the archive).
        if (leaf.type === 'data.erased' || leaf.type === 'retention.purged') this.erasureSeqs.add(seq);
        this.appendLeaf(hash);
        return;
      }
    }
    // Digests accounted for, by their position in the (sorted, unique) `d`: a bit each, or a set
    // for a leaf with more digests than bits.
    const digests = leaf.d;
    const many = digests.length > 30 ? new Set<string>() : undefined;
    let mask = 0;
    let covered = 0;
    let body: Uint8Array | string | undefined;
    let erased = 0;
    let erasedHere: Redaction[] | undefined;
    for (const d of e.disclosures) {
      if (d.disclosure === null) {
        if (d.erasedBySeq === null) {
          this.fail(
            seq,
            'payload_deleted',
            `disclosure ${d.pointer || '(body)'} was removed without an erasure record`,
          );
        } else {
          // Checked in finish(): the erasure must be a data.erased / retention.purged entry of this
          // log, and a data.erased one must name this disclosure's digest.
          erased++;
          (erasedHere ??= []).push({ seq, pointer: d.pointer, by_seq: d.erasedBySeq });
        }
        continue;
      }
      const digest = disclosureDigest(d.disclosure);
      const at = digests.indexOf(digest);
      if (at < 0) {
        this.fail(
          seq,
          'payload_edited',
          `disclosure ${d.pointer || '(body)'} does not match any digest in the leaf`,
        );
      } else if (many ? many.has(digest) : (mask & (1 << at)) !== 0) {
        this.fail(
          seq,
          'payload_edited',
          `disclosure ${d.pointer || '(body)'} is stored twice (another one was overwritten)`,
        );
      } else {
        if (many) many.add(digest);
        else mask |= 1 << at;
        covered++;
        if (d.pointer === '') body = d.disclosure;
      }
    }
    // Rows reported as edited above still stand for a digest; only absent rows count as deleted.
    const missing = digests.length - Math.max(e.disclosures.length, covered + erased);
    if (missing > 0) this.fail(seq, 'payload_deleted', `${missing} committed disclosure(s) are missing`);
    if (erasedHere !== undefined) {
      const open = digests.filter((x, i) => (many ? !many.has(x) : (mask & (1 << i)) === 0));
      for (const r of erasedHere) {
        this.redactions.push(r);
        this.redactionDigests.push(open);
      }
    }
    if (leaf.type === 'data.erased' || leaf.type === 'retention.purged') this.erasureSeqs.add(seq);
    if (leaf.type === 'data.erased')
      this.claims.set(seq, new Set(body === undefined ? [] : erasureClaims(body)));
    if (leaf.type === 'retention.purged' && body !== undefined) {
      const claim = purgeClaim(seq, body);
      if (claim) this.purges.set(seq, claim);
    }
    if (leaf.type === 'archive.created' && body !== undefined) {
      const facts = archiveEventFacts(seq, body);
      if (facts) this.archiveEvents.set(seq, facts);
    }
    // Only a body whose digest is committed in the leaf speaks for the event.
    if (body !== undefined) {
      if (!this.segment) this.approvalCheck.push(seq, leaf.type, body);
      else {
        const fact = approvalFact(seq, leaf.type, body);
        if (fact) (fact.kind === 'execution' ? this.executionFacts : this.facts).push(fact);
      }
    }
    this.appendLeaf(hash);
  }

  private appendLeaf(hash: Buffer): void {
    this.range.append(hash, this.leafCheck);
    const size = this.position;
    if (this.segment) {
      if (this.snapshotSizes.has(size)) this.snapshots.push({ size, hashes: this.range.encode() });
      return;
    }
    while (this.headIdx < this.heads.length && this.heads[this.headIdx]!.size <= size) {
      const h = this.heads[this.headIdx++]!;
      if (h.size < size) continue;
      this.checkHead(h);
    }
  }

  /**
   * Incremental verification: the erasure events (by_seq) named by disclosures in the checked
   * range that lie before it, so the caller can check them against the trusted tree.
   */
  priorErasures(): number[] {
    return [...new Set(this.redactions.map((r) => r.by_seq).filter((s) => s < this.from))];
  }

  /**
   * Marks `seq` (before the checked range) as an erasure event the caller proved in the trusted
   * tree; `claims`: what it names when it is a `data.erased` event (see {@link erasureClaims}).
   */
  acceptPriorErasure(seq: number, claims?: readonly string[]): void {
    if (seq >= this.from) return;
    this.erasureSeqs.add(seq);
    if (claims) this.claims.set(seq, new Set(claims));
  }

  /**
   * Segment mode: what the whole log's verifier needs from this segment (see
   * {@link LogVerifier.absorb}).
   */
  segmentResult(): SegmentResult {
    const erasureSeqs = [...this.erasureSeqs];
    return {
      offset: this.offset,
      size: this.range.size,
      hashes: this.range.encode(),
      snapshots: this.snapshots,
      failures: this.problems,
      firstTs: this.firstTs,
      lastTs: this.lastTs,
      redactions: this.redactions,
      redactionDigests: this.redactionDigests,
      erasureSeqs,
      erasureClaims: [...this.claims].map(([k, v]) => [k, [...v]]),
      purgeClaims: [...this.purges.values()],
      archiveClaims: [...this.archiveClaims],
      archiveEvents: [...this.archiveEvents.values()],
      facts: this.facts,
      executions: this.executionFacts.length,
    };
  }

  /**
   * Takes in a segment verified elsewhere (in seq order, the next one starting at
   * {@link LogVerifier.position}): its subtrees join the tree (stored tiles checked for every node
   * they complete), signed heads inside it are checked from its snapshots, its redactions and
   * erasures are kept. Returns false when the segment cannot stand in for pushing its entries one
   * by one here without changing the report (it had failures, its first ts is earlier than an
   * earlier segment's, a tile or signed head differs): the caller must then verify sequentially
   * with a new verifier, this one being left in an unspecified state. Approval facts are the
   * caller's (see {@link ApprovalCheck}).
   */
  absorb(s: SegmentResult): boolean {
    if (s.offset !== this.position) {
      throw new RangeError(`segment at ${s.offset} absorbed at position ${this.position}`);
    }
    if (s.failures > 0) return false;
    if (s.firstTs !== null && s.firstTs < this.lastTs) return false;
    const before = this.problems;
    const end = s.offset + s.size;
    while (this.headIdx < this.heads.length && this.heads[this.headIdx]!.size <= end) {
      const h = this.heads[this.headIdx++]!;
      if (h.size <= s.offset) continue;
      const snap = s.snapshots.find((x) => x.size === h.size);
      if (!snap) return false;
      const at = this.range.clone();
      joinRange(at, h.size - s.offset, snap.hashes);
      this.checkHead(h, at.root());
    }
    joinRange(this.range, s.size, s.hashes, this.leafCheck);
    if (s.lastTs > this.lastTs) this.lastTs = s.lastTs;
    for (const r of s.redactions) this.redactions.push(r);
    for (const d of s.redactionDigests) this.redactionDigests.push(d);
    for (const seq of s.erasureSeqs) this.erasureSeqs.add(seq);
    for (const [seq, c] of s.erasureClaims) this.claims.set(seq, new Set(c));
    for (const c of s.purgeClaims) this.purges.set(c.seq, c);
    for (const seq of s.archiveClaims) this.archiveClaims.add(seq);
    for (const f of s.archiveEvents) this.archiveEvents.set(f.seq, f);
    return this.problems === before;
  }

  private checkHead(h: SignedHead, treeRoot?: Buffer): void {
    const root = h.size === 0 ? new CompactRange().root() : (treeRoot ?? this.range.root());
    if (root.equals(h.root)) {
      this.checkpointsVerified++;
      this.lastGoodCheckpoint = Math.max(this.lastGoodCheckpoint, h.size);
      return;
    }
    this.fail(
      h.size,
      h.source === 'witnessed' ? 'rolled_back' : 'checkpoint_mismatch',
      `the tree of the first ${h.size} stored entries does not match the ${h.source} signed checkpoint` +
        (h.source === 'witnessed' ? ' handed out earlier: history was rewritten' : ''),
    );
  }

  /**
   * Each `retention.purged` event's list against what is marked erased by it: the same count and
   * the same digest of `seq pointer` lines (docs/verification.md). Skipped for an event whose
   * range this run did not read whole (incremental start after its first seq, or archived).
   */
  private checkPurges(named: readonly Redaction[], archived: readonly ArchivedRange[]): void {
    if (this.purges.size === 0) return;
    const by = new Map<number, Redaction[]>();
    for (const r of named) {
      if (!this.purges.has(r.by_seq)) continue;
      const list = by.get(r.by_seq);
      if (list) list.push(r);
      else by.set(r.by_seq, [r]);
    }
    for (const claim of this.purges.values()) {
      if (claim.from < this.from) continue;
      if (archived.some((a) => a.from <= claim.to && claim.from < a.to)) continue;
      const list = by.get(claim.seq) ?? [];
      if (list.length === claim.disclosures && purgeDigest(list) === claim.sha256) continue;
      const fewer = list.length < claim.disclosures;
      this.fail(
        claim.seq,
        fewer ? 'payload_edited' : 'payload_deleted',
        `retention.purged at seq ${claim.seq} names ${claim.disclosures} purged disclosure(s) of seq ${claim.from}..${claim.to}, ` +
          `but ${list.length} are marked erased by it` +
          (list.length === claim.disclosures ? ', not the same ones' : '') +
          (fewer
            ? ': plaintext it purged was put back, or the purge stopped part way'
            : ': disclosures were removed in its name that it does not list'),
      );
    }
  }

  /**
   * Ends verification. `head` is the log row (size and root) as stored; entries beyond it and
   * checkpoints beyond the stored entries are reported.
   */
  finish(head: { size: number; root: Uint8Array }): VerifyReport {
    const archived: ArchivedRange[] = [];
    for (const claim of this.archived) {
      if (!this.archiveClaims.has(claim.bySeq)) continue;
      const ev = this.archiveEvents.get(claim.bySeq);
      if (ev && ev.from === claim.from && ev.to === claim.to && ev.manifestSha256 === claim.manifestSha256) {
        archived.push({ from: ev.from, to: ev.to, by_seq: ev.seq, manifest_sha256: ev.manifestSha256 });
        continue;
      }
      this.fail(
        claim.from,
        'payload_deleted',
        `disclosures of seq ${claim.from}..${claim.to - 1} are missing and the archive record names seq ${claim.bySeq}, ` +
          `which is not an archive.created event of this log for that range and manifest`,
      );
    }
    const named: Redaction[] = [];
    this.redactions.forEach((r, i) => {
      if (!this.erasureSeqs.has(r.by_seq)) {
        this.fail(
          r.seq,
          'payload_deleted',
          `disclosure ${r.pointer || '(body)'} is marked erased by seq ${r.by_seq}, which is not an erasure event of this log`,
        );
        return;
      }
      // A data.erased event names each disclosure it erased (seq, pointer, digest): an erasure done
      // in the database, pointing at some erasure event, is still a deletion.
      const claims = this.claims.get(r.by_seq);
      const digests = this.redactionDigests[i] ?? [];
      if (claims && !digests.some((d) => claims.has(claimKey(r.seq, r.pointer, d)))) {
        this.fail(
          r.seq,
          'payload_deleted',
          `disclosure ${r.pointer || '(body)'} is marked erased by seq ${r.by_seq}, but that data.erased event does not name it`,
        );
        return;
      }
      // A retention.purged event names the seq range, the count and a digest of the disclosures
      // it purged: one marked erased by it outside its range is a deletion pointed at it.
      const purge = this.purges.get(r.by_seq);
      if (purge && (r.seq < purge.from || r.seq > purge.to)) {
        this.fail(
          r.seq,
          'payload_deleted',
          `disclosure ${r.pointer || '(body)'} is marked erased by seq ${r.by_seq}, but that retention.purged event names seq ${purge.from}..${purge.to} only`,
        );
        return;
      }
      named.push(r);
    });
    this.checkPurges(named, archived);
    if (this.range.size > head.size) {
      const beyond = this.range.size - head.size;
      const signedBeyond = this.heads.some((h) => h.size > head.size);
      if (signedBeyond) {
        this.fail(
          null,
          'head_mismatch',
          `the stored log head says size ${head.size} but signed checkpoints cover more entries`,
        );
      } else {
        this.fail(
          head.size,
          'forged_entry',
          `${beyond} entr${beyond === 1 ? 'y' : 'ies'} from seq ${head.size} on lie beyond the log head and no signed checkpoint`,
        );
      }
    }
    const expected = Math.max(head.size, ...this.heads.map((h) => h.size));
    if (this.range.size < expected) {
      const witnessedMax = Math.max(
        0,
        ...this.heads.filter((h) => h.source === 'witnessed').map((h) => h.size),
      );
      const storedMax = Math.max(
        head.size,
        0,
        ...this.heads.filter((h) => h.source === 'stored').map((h) => h.size),
      );
      if (witnessedMax > this.range.size && witnessedMax > storedMax) {
        this.fail(
          this.range.size,
          'rolled_back',
          `the database holds ${this.range.size} entries but a checkpoint of size ${witnessedMax} was handed out: an older copy was restored or the log rewritten`,
        );
      } else {
        this.fail(
          this.range.size,
          'truncated',
          `entries ${this.range.size}..${expected - 1} are missing: the log head or a signed checkpoint covers ${expected}`,
        );
      }
    }
    const root = this.range.size === head.size ? this.range.root() : null;
    if (root && !root.equals(Buffer.from(head.root))) {
      this.fail(
        null,
        'head_mismatch',
        'the stored log head does not match the tree recomputed from the entries',
      );
    }
    const size = this.range.size;
    return {
      ok: this.failureCount === 0,
      log: this.options.origin,
      size,
      root: this.range.root().toString('hex'),
      checkpoints_verified: this.checkpointsVerified,
      unsigned_tail: Math.max(0, size - this.lastGoodCheckpoint),
      redactions: named,
      ...(archived.length > 0 ? { archived } : {}),
      failures: this.failures,
      ...(this.from > 0 ? { verified_from: this.from } : {}),
    };
  }
}

/**
 * Appends to `range` a segment's compact range of `size` leaves (`hashes`, encoded): one perfect
 * subtree per set bit of `size`, largest first.
 */
function joinRange(
  range: CompactRange,
  size: number,
  hashes: Uint8Array,
  onNode?: (level: number, index: number, hash: Buffer) => void,
): void {
  let i = 0;
  for (let level = 52; level >= 0; level--) {
    if (Math.floor(size / 2 ** level) % 2 !== 1) continue;
    if ((i + 1) * HASH_SIZE > hashes.length) throw new RangeError('segment compact range too short');
    range.appendSubtree(level, Buffer.from(hashes.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE)), onNode);
    i++;
  }
}

/**
 * What an `archive.created` event's body (committed in its leaf) says about its range:
 * `metadata.archive` = `{ from, to, manifest_sha256 }`; undefined when it says nothing usable.
 *
 * @example
 * archiveEventFacts(1024, body) // { seq: 1024, from: 0, to: 1000, manifestSha256: '9f…' }
 */
export function archiveEventFacts(seq: number, body: Uint8Array | string): ArchiveEventFacts | undefined {
  let a: { from?: unknown; to?: unknown; manifest_sha256?: unknown } | undefined;
  try {
    const value = parseDisclosure(body).value as { metadata?: { archive?: typeof a } } | null;
    a = value?.metadata?.archive;
  } catch {
    return undefined; // A malformed body is reported by the digest checks.
  }
  if (a === null || typeof a !== 'object') return undefined;
  const { from, to, manifest_sha256: m } = a;
  if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to) || typeof m !== 'string') return undefined;
  return { seq, from: from as number, to: to as number, manifestSha256: m };
}

/** Event types that mean the action ran (or started to): they need a grant when one was required. */
const EXECUTION_TYPES = new Set([
  'action.dispatched',
  'action.succeeded',
  'action.failed',
  'action.retried',
  'action.timed_out',
  'action.dead_lettered',
  'action.cancelled',
]);

interface ApprovalFields {
  parent_event_id?: unknown;
  policy?: { decision?: unknown; mode?: unknown };
  approval?: { request_id?: unknown; request_digest?: unknown };
  outcome?: { status?: unknown };
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/**
 * What one event tells the approval check (see {@link ApprovalCheck}): a held decision, an
 * approval request or grant, or an execution of an intent. Structured-clone safe.
 */
export interface ApprovalFact {
  seq: number;
  kind: 'held' | 'requested' | 'granted' | 'execution';
  /** The event type (executions: named in the failure). */
  type: string;
  /** The intent's event id (`parent_event_id`). */
  parent?: string;
  requestId?: string;
  digest?: string;
}

/**
 * The approval fact of an event whose body (the disclosure at pointer `""`, committed in its
 * leaf) is `body`; undefined for events the check ignores.
 *
 * @example
 * approvalFact(7, 'approval.granted', body) // { seq: 7, kind: 'granted', requestId: 'apr-1', … }
 */
export function approvalFact(seq: number, type: string, body: Uint8Array | string): ApprovalFact | undefined {
  const execution = EXECUTION_TYPES.has(type);
  if (
    !execution &&
    type !== 'policy.decision' &&
    type !== 'approval.granted' &&
    type !== 'approval.requested'
  )
    return undefined;
  let e: ApprovalFields;
  try {
    const value = parseDisclosure(body).value;
    if (value === null || typeof value !== 'object') return undefined;
    e = value;
  } catch {
    return undefined; // A malformed body is reported by the digest checks, not here.
  }
  const parent = str(e.parent_event_id);
  const requestId = str(e.approval?.request_id);
  const digest = str(e.approval?.request_digest);
  let kind: ApprovalFact['kind'];
  if (type === 'policy.decision') {
    if (!parent || e.policy?.decision !== 'require_approval' || e.policy.mode === 'shadow') return undefined;
    kind = 'held';
  } else if (type === 'approval.requested') {
    if (!parent || !requestId) return undefined;
    kind = 'requested';
  } else if (type === 'approval.granted') {
    if (!requestId && !digest) return undefined;
    kind = 'granted';
  } else {
    const status = e.outcome?.status;
    if (!parent || status === 'blocked' || status === 'denied') return undefined;
    kind = 'execution';
  }
  const fact: ApprovalFact = { seq, kind, type };
  if (parent !== undefined) fact.parent = parent;
  if (requestId !== undefined) fact.requestId = requestId;
  if (digest !== undefined) fact.digest = digest;
  return fact;
}

/**
 * DESIGN §5: an action the policy held for approval runs only after a person granted it. Streams
 * over the log once (constant work per event, memory per held action): an execution event whose
 * intent's decision was an enforced `require_approval`, with no `approval.granted` for its
 * request id (or request digest) earlier in the log, is an unapproved execution — e.g. an approval
 * row flipped in the database, which the log never saw. Fed events ({@link ApprovalCheck.push})
 * or their facts ({@link ApprovalCheck.apply}, in seq order).
 *
 * @example
 * const check = new ApprovalCheck((seq, detail) => failures.push({ seq, detail }));
 * for (const f of facts) check.apply(f);
 */
export class ApprovalCheck {
  /** Intent event id -> the held decision (its seq and the request it names, if any). */
  private readonly held = new Map<string, { seq: number; requestId: string | undefined }>();
  /** Intent event id -> request id, from `approval.requested` (logs whose decisions name none). */
  private readonly requested = new Map<string, string>();
  private readonly grantedIds = new Set<string>();
  private readonly grantedDigests = new Set<string>();
  private readonly reported = new Set<string>();

  constructor(private readonly fail: (seq: number, detail: string) => void) {}

  push(seq: number, type: string, body: Uint8Array | string): void {
    // Most events need no parsing: executions only matter once some action was held.
    if (this.held.size === 0 && EXECUTION_TYPES.has(type)) return;
    const fact = approvalFact(seq, type, body);
    if (fact) this.apply(fact);
  }

  apply(f: ApprovalFact): void {
    const parent = f.parent;
    if (f.kind === 'held') {
      if (parent) this.held.set(parent, { seq: f.seq, requestId: f.requestId });
      return;
    }
    if (f.kind === 'requested') {
      if (parent && f.requestId) this.requested.set(parent, f.requestId);
      return;
    }
    if (f.kind === 'granted') {
      if (f.requestId) this.grantedIds.add(f.requestId);
      if (f.digest) this.grantedDigests.add(f.digest);
      return;
    }
    if (!parent) return;
    const held = this.held.get(parent);
    if (!held || this.reported.has(parent)) return;
    const id = f.requestId ?? held.requestId ?? this.requested.get(parent);
    const digest = f.digest;
    if ((id && this.grantedIds.has(id)) || (digest && this.grantedDigests.has(digest))) return;
    this.reported.add(parent);
    this.fail(
      f.seq,
      `${f.type} of intent ${parent} ran after require_approval (decision at seq ${held.seq}) ` +
        `with no approval.granted${id ? ` for ${id}` : ''} before it`,
    );
  }
}

/** The key of one erased disclosure in a `data.erased` event's list. */
function claimKey(seq: number, pointer: string, digest: string): string {
  return `${seq} ${pointer} ${digest}`;
}

/**
 * What a `data.erased` event's body names: its `metadata.erased` list of `{seq, pointer, digest}`
 * (docs/verification.md), as keys. Items that are not of that shape name nothing.
 *
 * @example
 * erasureClaims(bodyDisclosure) // ['23 /context/data_subject_ids 3q2-…']
 */
export function erasureClaims(body: Uint8Array | string): string[] {
  let value: unknown;
  try {
    const text = typeof body === 'string' ? body : Buffer.from(body).toString('utf8');
    const parsed: unknown = JSON.parse(text);
    value = Array.isArray(parsed) ? parsed[2] : undefined;
  } catch {
    return [];
  }
  const list = (value as { metadata?: { erased?: unknown } } | null)?.metadata?.erased;
  if (!Array.isArray(list)) return [];
  const out: string[] = [];
  for (const item of list as unknown[]) {
    const x = item as { seq?: unknown; pointer?: unknown; digest?: unknown } | null;
    if (
      x !== null &&
      typeof x === 'object' &&
      Number.isSafeInteger(x.seq) &&
      typeof x.pointer === 'string' &&
      typeof x.digest === 'string'
    )
      out.push(claimKey(x.seq as number, x.pointer, x.digest));
  }
  return out;
}

/** What a `retention.purged` event names (its `metadata.purged`, docs/verification.md). */
export interface PurgeClaim {
  seq: number;
  /** First and last seq purged (inclusive). */
  from: number;
  to: number;
  disclosures: number;
  /** See {@link purgeDigest}. */
  sha256: string;
}

/**
 * The digest a `retention.purged` event gives of the disclosures it purged: SHA-256 (hex) of one
 * line `<seq> <pointer>\n` per disclosure, ordered by seq, then by pointer (UTF-16 code units).
 *
 * @example
 * purgeDigest([{ seq: 3, pointer: '/action/params' }]) // sha256('3 /action/params\n')
 */
export function purgeDigest(items: readonly { seq: number; pointer: string }[]): string {
  const sorted = [...items].sort((a, b) =>
    a.seq !== b.seq ? a.seq - b.seq : a.pointer < b.pointer ? -1 : a.pointer > b.pointer ? 1 : 0,
  );
  let text = '';
  for (const x of sorted) text += `${x.seq} ${x.pointer}\n`;
  return hash('sha256', text, 'hex');
}

/** The `metadata.purged` of a `retention.purged` body, or undefined (an older event names none). */
export function purgeClaim(seq: number, body: Uint8Array | string): PurgeClaim | undefined {
  let value: unknown;
  try {
    const text = typeof body === 'string' ? body : Buffer.from(body).toString('utf8');
    const parsed: unknown = JSON.parse(text);
    value = Array.isArray(parsed) ? parsed[2] : undefined;
  } catch {
    return undefined;
  }
  const p = (value as { metadata?: { purged?: unknown } } | null)?.metadata?.purged as
    { from_seq?: unknown; to_seq?: unknown; disclosures?: unknown; sha256?: unknown } | undefined;
  if (p === null || typeof p !== 'object') return undefined;
  const int = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) >= 0;
  if (!int(p.from_seq) || !int(p.to_seq) || !int(p.disclosures) || typeof p.sha256 !== 'string')
    return undefined;
  return { seq, from: p.from_seq, to: p.to_seq, disclosures: p.disclosures, sha256: p.sha256 };
}
