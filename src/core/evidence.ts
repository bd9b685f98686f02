/**
 * Offline verification of an evidence package `auditrail-evidence/v1` or `/v2` (docs/verification.md §11),
 * given its files as bytes: no database, no network. Pure: the caller unpacks the archive.
 * Every problem is a failure with a kind, and checking goes on after the first.
 */
import { isUtf8 } from 'node:buffer';
import { createHash } from 'node:crypto';
import { openCheckpoint } from './checkpoint.js';
import type { Checkpoint } from './checkpoint.js';
import {
  assembleEvent,
  decodeUtf8Strict,
  disclosureDigest,
  parseDisclosure,
  pointerProblem,
} from './disclosure.js';
import { parseLeaf } from './leaf.js';
import type { LeafRecord } from './leaf.js';
import { hashLeaf } from './merkle.js';
import { decodeBase64Strict, hasLoneSurrogate, parseVerifierKey } from './note.js';
import type { NoteVerifier } from './note.js';
import { verifyConsistency, verifyInclusion } from './proof.js';
import { rangeRoot } from './range-proof.js';

/** A view of `bytes` as a Buffer: itself when it is one (most leaves are), else a new view. */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export const EVIDENCE_FORMAT = 'auditrail-evidence/v1';
/**
 * The lighter format (docs/verification.md §11.5): a line may hold its leaf record as text, and
 * leave out the leaf's digest list when it ships every disclosure the leaf commits to.
 */
export const EVIDENCE_FORMAT_V2 = 'auditrail-evidence/v2';
export type EvidenceFormat = typeof EVIDENCE_FORMAT | typeof EVIDENCE_FORMAT_V2;

export type EvidenceFailureKind =
  | 'manifest_malformed'
  | 'manifest_mismatch'
  | 'key_invalid'
  | 'key_mismatch'
  | 'checkpoint_forged'
  | 'checkpoint_mismatch'
  | 'checkpoint_order'
  | 'inconsistent'
  | 'entry_malformed'
  | 'cross_log'
  | 'reordered'
  | 'entry_missing'
  | 'entry_extra'
  | 'range_proof_failed'
  | 'inclusion_failed'
  | 'payload_edited'
  | 'payload_missing'
  | 'field_out_of_scope'
  | 'erasure_unproven'
  | 'incomplete'
  | 'out_of_window'
  | 'policy_mismatch';

export interface EvidenceFailure {
  kind: EvidenceFailureKind;
  /** The entry concerned, or the checkpoint size for checkpoint kinds; null when none. */
  seq: number | null;
  message: string;
}

export type EvidenceRole = 'event' | 'withheld' | 'boundary' | 'reference';

/** One line of `events.jsonl` after its checks. */
export interface EvidenceEntry {
  seq: number;
  role: EvidenceRole;
  ts: string;
  type: string;
  event_id: string;
  /** Reassembled from the disclosures that verified; null when none was shipped. */
  event: Record<string, unknown> | null;
  erased: { pointer: string; by_seq: number }[];
}

export interface EvidenceSummary {
  log: string;
  tree_size: number;
  created_at: string;
  created_by: string;
  query: Record<string, unknown>;
  period: { since: string | null; until: string | null; first_ts: string | null; last_ts: string | null };
  range: { from: number; to: number };
  /** Entries the query selected (role `event`). */
  events: number;
  /** Entries in the window excluded by the query's other filters: leaf only. */
  withheld: number;
  checkpoints: number[];
  keys: string[];
  erased: { seq: number; pointer: string; by_seq: number }[];
  policies: { seq: number; policy_id: string; version: unknown; snapshot: string }[];
  /** The only fields (disclosure pointers, `""` the body) the `event` lines disclose; null: all. */
  fields: string[] | null;
}

export interface EvidenceReport {
  ok: boolean;
  failures: EvidenceFailure[];
  summary: EvidenceSummary | null;
  entries: EvidenceEntry[];
}

interface Manifest {
  format: EvidenceFormat;
  log: string;
  created_at: string;
  created_by: string;
  generator: string;
  query: Record<string, unknown>;
  window: { since: string | null; until: string | null };
  range: { from: number; to: number };
  tree_size: number;
  checkpoints: number[];
  files: Record<string, string>;
  fields?: string[];
}

/** Failures of one kind listed per package at most this often; the rest are counted. */
const MAX_PER_KIND = 100;
const ERASURE_TYPES = new Set(['data.erased', 'retention.purged']);
const isUint = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) >= 0;
const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const isStringOrNull = (v: unknown): v is string | null => v === null || typeof v === 'string';

/**
 * The lines of a UTF-8 file (validated by the caller), without the final newline: each decoded
 * on its own, so that a 100 MB file never becomes one string that its lines keep alive.
 */
function textLines(bytes: Uint8Array): string[] {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lines: string[] = [];
  for (let start = 0; start < buf.length;) {
    const nl = buf.indexOf(0x0a, start);
    const end = nl === -1 ? buf.length : nl;
    lines.push(buf.toString('utf8', start, end));
    start = end + 1;
  }
  return lines;
}

function parseManifest(bytes: Uint8Array | undefined): Manifest | string {
  if (bytes === undefined) return 'manifest.json is missing';
  let m: unknown;
  try {
    m = JSON.parse(decodeUtf8Strict(bytes));
  } catch (e) {
    return `manifest.json is not JSON: ${(e as Error).message}`;
  }
  if (!isObject(m) || (m.format !== EVIDENCE_FORMAT && m.format !== EVIDENCE_FORMAT_V2))
    return `manifest.json is not an ${EVIDENCE_FORMAT} or ${EVIDENCE_FORMAT_V2} manifest`;
  const w = m.window;
  const r = m.range;
  if (
    typeof m.log !== 'string' ||
    typeof m.created_at !== 'string' ||
    typeof m.created_by !== 'string' ||
    typeof m.generator !== 'string' ||
    !isObject(m.query) ||
    !isObject(w) ||
    !isStringOrNull(w.since) ||
    !isStringOrNull(w.until) ||
    !isObject(r) ||
    !isUint(r.from) ||
    !isUint(r.to) ||
    r.from >= r.to ||
    !isUint(m.tree_size) ||
    r.to > m.tree_size ||
    !Array.isArray(m.checkpoints) ||
    m.checkpoints.length === 0 ||
    !m.checkpoints.every(isUint) ||
    !isObject(m.files) ||
    !Object.values(m.files).every((h) => typeof h === 'string') ||
    (m.fields !== undefined &&
      (!Array.isArray(m.fields) ||
        m.fields.length === 0 ||
        m.fields.length > 64 ||
        !m.fields.every((p) => pointerProblem(p) === undefined)))
  ) {
    return 'manifest.json lacks a member or has one of the wrong type';
  }
  return m as unknown as Manifest;
}

function decodeHashes(v: unknown, max: number): Buffer[] | undefined {
  if (!Array.isArray(v) || v.length > max) return undefined;
  const out: Buffer[] = [];
  for (const p of v) {
    const h = typeof p === 'string' ? decodeBase64Strict(p) : undefined;
    if (h?.length !== 32) return undefined;
    out.push(h);
  }
  return out;
}

/** Base64 hashes one per line (a consistency proof file), or undefined when not canonical. */
function hashLines(bytes: Uint8Array): Buffer[] | undefined {
  let text: string;
  try {
    text = decodeUtf8Strict(bytes);
  } catch {
    return undefined;
  }
  const lines = text === '' ? [] : text.endsWith('\n') ? text.slice(0, -1).split('\n') : undefined;
  return lines && decodeHashes(lines, 64);
}

/**
 * One line of `events.jsonl` as its builder holds it, before it is written as JSON: the leaf
 * record's bytes (not base64) and each shipped disclosure's text.
 */
export interface EvidenceLine {
  seq: number;
  role: EvidenceRole;
  leaf: Uint8Array;
  disclosures: readonly string[];
  erased: readonly { pointer: string; by_seq: number }[];
  proof?: readonly string[];
}

interface ParsedLine {
  seq: number;
  role: EvidenceRole;
  leafBytes: Buffer;
  leaf: LeafRecord;
  disclosures: unknown[];
  /** The digest of each disclosure, when the leaf was rebuilt from them (§11.5). */
  digests?: string[];
  erased: { pointer: string; by_seq: number }[];
  proof: unknown;
}

/** How a v2 record that leaves out the leaf's `d` starts: any other member (§11.5). */
const WITH_DIGESTS = '{"d":';

/**
 * The leaf bytes of a v2 line's `record` (docs/verification.md §11.5): the record's UTF-8 when
 * it holds `d`, else the record with `d` rebuilt first from the digests of the line's
 * disclosures, sorted. Returns a problem instead when the record cannot be one, and the digests
 * when it rebuilt them (each disclosure then need not be hashed again).
 */
function leafOfRecord(
  record: string,
  disclosures: readonly unknown[],
  mayOmit: boolean,
): { bytes: Buffer; digests?: string[] } | string {
  if (hasLoneSurrogate(record)) return 'its record is not well-formed text';
  if (record.startsWith(WITH_DIGESTS)) return { bytes: Buffer.from(record, 'utf8') };
  if (!mayOmit)
    return 'its record leaves out the leaf digests, which only an event or reference line shipping every disclosure may';
  if (!record.startsWith('{"') || record.length < 3) return 'its record is not a JSON object';
  const digests: string[] = [];
  for (const d of disclosures) {
    if (typeof d !== 'string' || hasLoneSurrogate(d))
      return 'its record leaves out the leaf digests and a disclosure is not a well-formed string';
    digests.push(disclosureDigest(d));
  }
  // Digests are base64url (ASCII): sorting by UTF-16 code unit is sorting by byte, as §4.1 has it.
  const sorted = [...digests].sort();
  return {
    bytes: Buffer.from(`{"d":[${sorted.map((x) => `"${x}"`).join(',')}],${record.slice(1)}`, 'utf8'),
    digests,
  };
}

/**
 * Checks an evidence package's files (name → bytes) as docs/verification.md §11.3 specifies.
 * `trustedKey` is the auditor's own copy of the log's verifier key; without it the package's key
 * is used and the result shows only that the package is internally consistent.
 *
 * @example
 * const r = verifyEvidenceFiles(files, { trustedKey: readFileSync('log.vkey', 'utf8').trim() });
 * for (const f of r.failures) console.error(f.kind, f.seq, f.message);
 */
export function verifyEvidenceFiles(
  files: ReadonlyMap<string, Uint8Array>,
  options: {
    trustedKey?: string;
    /**
     * The lines of `events.jsonl` as the caller built them, checked instead of the file's (which
     * is then neither read nor compared with its manifest digest): a builder checking the package
     * it just wrote skips encoding every line to JSON and parsing it back.
     */
    lines?: readonly EvidenceLine[];
  } = {},
): EvidenceReport {
  const failures: EvidenceFailure[] = [];
  const perKind = new Map<string, number>();
  const fail = (kind: EvidenceFailureKind, seq: number | null, message: string): void => {
    const n = (perKind.get(kind) ?? 0) + 1;
    perKind.set(kind, n);
    if (n <= MAX_PER_KIND) failures.push({ kind, seq, message });
  };
  const done = (summary: EvidenceSummary | null, entries: EvidenceEntry[] = []): EvidenceReport => {
    for (const [kind, n] of perKind) {
      if (n > MAX_PER_KIND)
        failures.push({
          kind: kind as EvidenceFailureKind,
          seq: null,
          message: `${n - MAX_PER_KIND} more ${kind} failures`,
        });
    }
    return { ok: failures.length === 0, failures, summary, entries };
  };

  // 1. The manifest and the file digests.
  const manifest = parseManifest(files.get('manifest.json'));
  if (typeof manifest === 'string') {
    fail('manifest_malformed', null, manifest);
    return done(null);
  }
  for (const [name, digest] of Object.entries(manifest.files)) {
    if (name === 'events.jsonl' && options.lines !== undefined) continue;
    const bytes = files.get(name);
    if (bytes === undefined) fail('manifest_mismatch', null, `${name} is listed in the manifest but missing`);
    else if (createHash('sha256').update(bytes).digest('hex') !== digest)
      fail('manifest_mismatch', null, `${name} does not have the SHA-256 the manifest lists`);
  }
  for (const name of files.keys()) {
    if (name !== 'manifest.json' && !Object.hasOwn(manifest.files, name))
      fail('manifest_mismatch', null, `${name} is in the package but not in the manifest`);
  }
  const origin = manifest.log;

  // 2. The key: the auditor's own copy, else the package's.
  const shipped = files.get('keys/log.vkey');
  const shippedKey = shipped ? Buffer.from(shipped).toString('utf8').trim() : undefined;
  let verifier: NoteVerifier;
  try {
    verifier = parseVerifierKey(options.trustedKey ?? shippedKey ?? '');
  } catch (e) {
    fail('key_invalid', null, `verifier key: ${(e as Error).message}`);
    return done(null);
  }
  if (options.trustedKey !== undefined && shippedKey !== undefined && shippedKey !== options.trustedKey)
    fail('key_mismatch', null, 'the package names a different verifier key than the trusted one');
  if (verifier.name !== origin)
    fail('key_mismatch', null, `the verifier key is for ${verifier.name}, not ${origin}`);
  const keys = [options.trustedKey ?? shippedKey ?? ''];

  // 3. Checkpoints, in the manifest's order, each consistent with the one before.
  let previous: Checkpoint | null = null;
  let last: Checkpoint | null = null;
  for (const [i, size] of manifest.checkpoints.entries()) {
    const note = files.get(`checkpoints/${size}.checkpoint`);
    let cp: Checkpoint | null = null;
    if (note === undefined) fail('checkpoint_forged', size, `checkpoints/${size}.checkpoint is missing`);
    else {
      try {
        cp = openCheckpoint(decodeUtf8Strict(note), [verifier], origin);
      } catch (e) {
        fail('checkpoint_forged', size, `checkpoint ${size} does not verify: ${(e as Error).message}`);
      }
    }
    if (cp && cp.size !== size) {
      fail(
        'checkpoint_mismatch',
        size,
        `checkpoints/${size}.checkpoint holds a checkpoint of size ${cp.size}`,
      );
    }
    if (cp && previous) {
      if (cp.size < previous.size) {
        fail(
          'checkpoint_order',
          cp.size,
          `checkpoint ${cp.size} comes after the larger ${previous.size}: rolled back or swapped`,
        );
      } else {
        const name = `consistency/${previous.size}-${cp.size}.proof`;
        const bytes = files.get(name);
        const proof = bytes && hashLines(bytes);
        if (!proof) fail('inconsistent', cp.size, `${name} is missing or not base64 hashes one per line`);
        else if (!verifyConsistency(previous.size, cp.size, proof, previous.root, cp.root))
          fail(
            'inconsistent',
            cp.size,
            `checkpoint ${cp.size} does not extend checkpoint ${previous.size}: history was rewritten`,
          );
      }
    }
    if (cp) previous = cp;
    if (i === manifest.checkpoints.length - 1) last = cp;
  }
  if (last && last.size !== manifest.tree_size)
    fail(
      'checkpoint_mismatch',
      last.size,
      `the last checkpoint has size ${last.size}, the manifest says ${manifest.tree_size}`,
    );

  // 4. Entries: parse, order, disclosures.
  const lines: ParsedLine[] = [];
  const leafOf = (seq: number, leafBytes: Buffer): LeafRecord | undefined => {
    let leaf: LeafRecord;
    try {
      leaf = parseLeaf(leafBytes);
    } catch (e) {
      fail('entry_malformed', seq, `the leaf of seq ${seq}: ${(e as Error).message}`);
      return undefined;
    }
    if (leaf.log !== origin) fail('cross_log', seq, `seq ${seq} is an entry of ${leaf.log}, not ${origin}`);
    if (leaf.seq !== seq) fail('reordered', seq, `the line of seq ${seq} holds the leaf of seq ${leaf.seq}`);
    return leaf;
  };
  for (const l of options.lines ?? []) {
    const leafBytes = asBuffer(l.leaf);
    const leaf = leafOf(l.seq, leafBytes);
    if (leaf)
      lines.push({
        seq: l.seq,
        role: l.role,
        leafBytes,
        leaf,
        disclosures: l.disclosures as unknown[],
        erased: l.erased as { pointer: string; by_seq: number }[],
        proof: l.proof,
      });
  }
  const eventsFile = options.lines !== undefined ? Buffer.alloc(0) : files.get('events.jsonl');
  if (eventsFile === undefined) fail('entry_malformed', null, 'events.jsonl is missing');
  else if (!isUtf8(eventsFile)) fail('entry_malformed', null, 'events.jsonl is not UTF-8');
  const raw = eventsFile && isUtf8(eventsFile) ? textLines(eventsFile) : [];
  const v2 = manifest.format === EVIDENCE_FORMAT_V2;
  const scope = manifest.fields === undefined ? null : new Set(manifest.fields);
  for (const [i, line] of raw.entries()) {
    let o: unknown;
    try {
      o = JSON.parse(line);
    } catch {
      fail('entry_malformed', null, `events.jsonl line ${i + 1} is not JSON`);
      continue;
    }
    const roles: readonly string[] = ['event', 'withheld', 'boundary', 'reference'];
    // v1: the leaf as base64 (`leaf`); v2: that or the record as text (`record`), one of the two.
    const asText = v2 && isObject(o) && typeof o.record === 'string' && o.leaf === undefined;
    if (
      !isObject(o) ||
      !isUint(o.seq) ||
      typeof o.role !== 'string' ||
      !roles.includes(o.role) ||
      (!asText && (typeof o.leaf !== 'string' || (v2 && o.record !== undefined))) ||
      !Array.isArray(o.disclosures) ||
      o.disclosures.length > 64 ||
      !Array.isArray(o.erased) ||
      !o.erased.every((x) => isObject(x) && typeof x.pointer === 'string' && isUint(x.by_seq))
    ) {
      fail(
        'entry_malformed',
        isObject(o) && isUint(o.seq) ? o.seq : null,
        `events.jsonl line ${i + 1} lacks a member or has one of the wrong type`,
      );
      continue;
    }
    let leafBytes: Buffer | undefined;
    let digests: string[] | undefined;
    if (asText) {
      const mayOmit =
        o.erased.length === 0 && (o.role === 'reference' || (o.role === 'event' && scope === null));
      const rebuilt = leafOfRecord(o.record as string, o.disclosures, mayOmit);
      if (typeof rebuilt === 'string') {
        fail('entry_malformed', o.seq, `the line of seq ${o.seq}: ${rebuilt}`);
        continue;
      }
      leafBytes = rebuilt.bytes;
      digests = rebuilt.digests;
    } else {
      leafBytes = decodeBase64Strict(o.leaf as string);
      if (leafBytes === undefined) {
        fail('entry_malformed', o.seq, `the leaf of seq ${o.seq} is not canonical base64`);
        continue;
      }
    }
    const leaf = leafOf(o.seq, leafBytes);
    if (!leaf) continue;
    lines.push({
      seq: o.seq,
      role: o.role as EvidenceRole,
      leafBytes: leafBytes,
      leaf,
      disclosures: o.disclosures,
      ...(digests ? { digests } : {}),
      erased: o.erased as { pointer: string; by_seq: number }[],
      proof: o.proof,
    });
  }
  for (let i = 1; i < lines.length; i++) {
    if (lines[i]!.seq <= lines[i - 1]!.seq)
      fail(
        lines[i]!.seq === lines[i - 1]!.seq ? 'entry_extra' : 'reordered',
        lines[i]!.seq,
        lines[i]!.seq === lines[i - 1]!.seq
          ? `seq ${lines[i]!.seq} appears twice`
          : `seq ${lines[i]!.seq} comes after seq ${lines[i - 1]!.seq}`,
      );
  }

  // 5. The range [from, to): every entry present, the range proof to the last checkpoint.
  const { from, to } = manifest.range;
  const bySeq = new Map<number, ParsedLine>();
  for (const l of lines) if (!bySeq.has(l.seq)) bySeq.set(l.seq, l);
  const rangeHashes: Buffer[] = [];
  let lastTs = '';
  for (let s = from; s < to; s++) {
    const l = bySeq.get(s);
    if (!l) {
      fail('entry_missing', s, `seq ${s} lies in the range [${from}, ${to}) but is not in the package`);
      continue;
    }
    rangeHashes.push(hashLeaf(l.leafBytes));
    if (l.leaf.ts < lastTs)
      fail('reordered', s, `seq ${s} has ts ${l.leaf.ts}, before the previous entry's ${lastTs}`);
    else lastTs = l.leaf.ts;
  }
  const rangeFile = files.get('proofs/range.json');
  let rangeProofHashes: Buffer[] | undefined;
  try {
    const r = rangeFile ? (JSON.parse(decodeUtf8Strict(rangeFile)) as unknown) : undefined;
    if (isObject(r) && r.from === from && r.to === to && r.tree_size === manifest.tree_size)
      rangeProofHashes = decodeHashes(r.proof, 128);
  } catch {
    rangeProofHashes = undefined;
  }
  if (!rangeProofHashes)
    fail('range_proof_failed', null, 'proofs/range.json is missing, malformed, or for another range');
  else if (last && rangeHashes.length === to - from) {
    const root = rangeRoot(from, to, last.size, rangeHashes, rangeProofHashes);
    if (!root?.equals(last.root))
      fail(
        'range_proof_failed',
        null,
        `entries [${from}, ${to}) do not lead to the root of checkpoint ${last.size}: an entry was changed, added, dropped or moved`,
      );
  }
  for (const l of lines) {
    // Inside the range the range proof covers every line, references included.
    if (l.seq >= from && l.seq < to) continue;
    if (l.role !== 'reference') {
      fail(
        'entry_extra',
        l.seq,
        `seq ${l.seq} lies outside the range [${from}, ${to}) and is not a reference entry`,
      );
      continue;
    }
    const proof = decodeHashes(l.proof, 64);
    if (!last || !proof || !verifyInclusion(hashLeaf(l.leafBytes), l.seq, last.size, proof, last.root))
      fail(
        'inclusion_failed',
        l.seq,
        `the inclusion proof of seq ${l.seq} does not lead to the last checkpoint`,
      );
  }

  // 6. Disclosures: committed to by the leaf, none missing but the erased ones; with
  // manifest.fields, an event line discloses those fields only (the rest stay digests).
  const entries: EvidenceEntry[] = [];
  for (const l of lines) {
    const scoped = scope !== null && l.role === 'event';
    const parts = [];
    let committed = 0;
    for (const [i, d] of l.disclosures.entries()) {
      if (typeof d !== 'string' || hasLoneSurrogate(d)) {
        fail('payload_edited', l.seq, `disclosure ${i} of seq ${l.seq} is not a well-formed string`);
        continue;
      }
      // The digest of the text is the digest of its UTF-8 bytes (no lone surrogate: checked above).
      if (!l.leaf.d.includes(l.digests?.[i] ?? disclosureDigest(d))) {
        fail('payload_edited', l.seq, `disclosure ${i} of seq ${l.seq} is not committed to by its leaf`);
        continue;
      }
      try {
        const part = parseDisclosure(d);
        if (scoped && !scope.has(part.pointer))
          fail(
            'field_out_of_scope',
            l.seq,
            `disclosure ${i} of seq ${l.seq} discloses ${JSON.stringify(part.pointer)}, which is not among the manifest's fields`,
          );
        parts.push(part);
        committed++;
      } catch (e) {
        fail('payload_edited', l.seq, `disclosure ${i} of seq ${l.seq}: ${(e as Error).message}`);
      }
    }
    for (const e of l.erased) {
      if (scoped && !scope.has(e.pointer))
        fail(
          'field_out_of_scope',
          l.seq,
          `seq ${l.seq} lists ${JSON.stringify(e.pointer)} as erased, which is not among the manifest's fields`,
        );
    }
    const shipsPayload = (l.role === 'event' && !scoped) || l.role === 'reference';
    if (shipsPayload && committed + l.erased.length < l.leaf.d.length)
      fail(
        'payload_missing',
        l.seq,
        `seq ${l.seq} commits to ${l.leaf.d.length} disclosures; ${committed} are shipped and ${l.erased.length} marked erased`,
      );
    const event = parts.length > 0 ? assembleEvent(parts) : null;
    if (
      event &&
      ((event.event_id !== undefined && event.event_id !== l.leaf.eid) ||
        (event.type !== undefined && event.type !== l.leaf.type))
    )
      fail('payload_edited', l.seq, `the body of seq ${l.seq} names another event id or type than its leaf`);
    for (const e of l.erased) {
      const by = bySeq.get(e.by_seq);
      if (!by || !ERASURE_TYPES.has(by.leaf.type))
        fail(
          'erasure_unproven',
          l.seq,
          `${e.pointer} of seq ${l.seq} is marked erased by seq ${e.by_seq}, which is not an erasure entry in the package`,
        );
    }
    entries.push({
      seq: l.seq,
      role: l.role,
      ts: l.leaf.ts,
      type: l.leaf.type,
      event_id: l.leaf.eid,
      event,
      erased: l.erased,
    });
  }

  // 7. Completeness of the time window: only the boundary entries lie outside it.
  const { since, until } = manifest.window;
  const at = (s: number): ParsedLine | undefined => bySeq.get(s);
  if (since === null && from !== 0)
    fail('incomplete', from, `no lower time bound, yet the range starts at seq ${from}, not 0`);
  if (since !== null && from > 0) {
    const b = at(from);
    if (b && !(b.leaf.ts < since))
      fail(
        'incomplete',
        from,
        `seq ${from} (ts ${b.leaf.ts}) is in the window, so the entry before it is missing: entries before the first one shown may have been left out`,
      );
  }
  if (until === null && to !== manifest.tree_size)
    fail(
      'incomplete',
      to,
      `no upper time bound, yet the range ends at seq ${to}, not at the tree size ${manifest.tree_size}`,
    );
  if (until !== null && to < manifest.tree_size) {
    const b = at(to - 1);
    if (b && !(b.leaf.ts >= until))
      fail(
        'incomplete',
        to - 1,
        `seq ${to - 1} (ts ${b.leaf.ts}) is in the window, so the entry after it is missing: entries after the last one shown may have been left out`,
      );
  }
  let firstTs: string | null = null;
  let lastInTs: string | null = null;
  for (let s = from; s < to; s++) {
    const l = at(s);
    if (!l) continue;
    const inWindow = (since === null || l.leaf.ts >= since) && (until === null || l.leaf.ts < until);
    const edge =
      (s === from && since !== null && from > 0) ||
      (s === to - 1 && until !== null && to < manifest.tree_size);
    if (!inWindow && !edge)
      fail(
        'out_of_window',
        s,
        `seq ${s} (ts ${l.leaf.ts}) lies outside the window and is not a boundary entry`,
      );
    if (inWindow && l.role === 'boundary')
      fail('out_of_window', s, `seq ${s} is marked boundary but lies inside the window`);
    if (inWindow && l.role === 'event') {
      firstTs ??= l.leaf.ts;
      lastInTs = l.leaf.ts;
    }
  }

  // 8. Policies in force: each names a policy.updated entry of the package.
  const policies: EvidenceSummary['policies'] = [];
  const policyFile = files.get('policies.json');
  let listed: unknown = [];
  try {
    listed = policyFile ? JSON.parse(decodeUtf8Strict(policyFile)) : [];
  } catch {
    fail('policy_mismatch', null, 'policies.json is not JSON');
  }
  for (const p of Array.isArray(listed) ? listed : []) {
    const seq = isObject(p) && isUint(p.seq) ? p.seq : null;
    const entry = seq === null ? undefined : entries.find((e) => e.seq === seq);
    const pol = entry?.event && isObject(entry.event.policy) ? entry.event.policy : undefined;
    if (
      !isObject(p) ||
      seq === null ||
      entry?.type !== 'policy.updated' ||
      !pol ||
      pol.policy_id !== p.policy_id ||
      pol.policy_snapshot !== p.snapshot
    ) {
      fail(
        'policy_mismatch',
        seq,
        `a policy listed in policies.json is not a policy.updated entry of the package with that id and snapshot`,
      );
      continue;
    }
    policies.push({
      seq,
      policy_id: String(p.policy_id),
      version: pol.policy_version,
      snapshot: String(p.snapshot),
    });
  }

  // One pass over what may be 100,000 entries, with no array per entry.
  const counts: Record<EvidenceRole, number> = { event: 0, withheld: 0, boundary: 0, reference: 0 };
  const erased: EvidenceSummary['erased'] = [];
  for (const e of entries) {
    counts[e.role]++;
    for (const x of e.erased) erased.push({ seq: e.seq, pointer: x.pointer, by_seq: x.by_seq });
  }
  const summary: EvidenceSummary = {
    log: origin,
    tree_size: manifest.tree_size,
    created_at: manifest.created_at,
    created_by: manifest.created_by,
    query: manifest.query,
    period: { since, until, first_ts: firstTs, last_ts: lastInTs },
    range: { from, to },
    events: counts.event,
    withheld: counts.withheld,
    checkpoints: manifest.checkpoints,
    keys,
    erased,
    policies,
    fields: manifest.fields ?? null,
  };
  return done(summary, entries);
}
