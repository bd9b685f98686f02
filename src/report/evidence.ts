/**
 * Evidence packages (`auditrail-evidence/v1`, docs/evidence.md, docs/verification.md §11): the
 * events of a period with everything an auditor needs to check them offline — leaf bytes and
 * disclosures, signed checkpoints and the consistency proofs between them, one range proof for
 * the whole window, the boundary entries that prove nothing in it was left out, the verifier key
 * and the policies in force. Built through the public SDK only.
 */
import { isUtf8 } from 'node:buffer';
import { createHash } from 'node:crypto';
import { writeFileSync, renameSync } from 'node:fs';
import {
  AuditError,
  EVIDENCE_FORMAT,
  EVIDENCE_FORMAT_V2,
  verifyEvidenceFiles,
  type EvidenceFormat,
  type AuditTrail,
  type EvidenceLine,
  type EvidenceReport,
  type LogEntryText,
  type QueryOptions,
} from '../index.js';
import { packArchive, unpackArchive } from './archive.js';

/** A view of `bytes` as a Buffer: itself when it is one (most leaves are), else a new view. */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The filters of `auditrail log`: the time window plus any of the index filters. */
export type EvidenceQuery = Omit<QueryOptions, 'limit' | 'cursor' | 'order'>;

export interface EvidenceOptions {
  query?: EvidenceQuery;
  /** Who builds the package (recorded in the manifest); default the OS user. */
  createdBy?: string;
  /** Build time; default now. */
  now?: () => Date;
  /** The generator named in the manifest, e.g. `auditrail 0.1.0`. */
  generator?: string;
  /** At most this many checkpoints (evenly spaced, first and last kept); default 64. */
  maxCheckpoints?: number;
  /**
   * Selective disclosure: the only fields disclosed for each selected event, as dotted paths of
   * separately stored disclosures (`action.params`, `outcome.result`, …) or `body` for the rest of
   * the event. Every other disclosure stays a salted digest in the leaf. Default: all of them.
   */
  fields?: readonly string[];
  /**
   * Also return the lines of events.jsonl as built (`lines`), for a caller that checks the package
   * at once: `verifyEvidenceFiles(files, { lines })` then skips parsing them back from JSON.
   */
  keepLines?: boolean;
  /**
   * `auditrail-evidence/v1` (default) or the lighter `auditrail-evidence/v2` (docs/verification.md
   * §11.5: leaf records as text, without their digest list when every disclosure ships), which
   * reports embed.
   */
  format?: EvidenceFormat;
}

export interface EvidenceBuild {
  files: Map<string, Buffer>;
  /** With `keepLines`: the lines of events.jsonl, in its order. */
  lines?: EvidenceLine[];
  events: number;
  range: { from: number; to: number };
  tree_size: number;
  /** With `fields`: per chosen field, how many events disclosed it (0: the field is never stored apart). */
  fields?: { field: string; pointer: string; events: number }[];
}

/** The field name of the disclosure holding the rest of the event (pointer `""`). */
export const BODY_FIELD = 'body';

/**
 * The disclosure pointer a `--fields` name stands for: `body` → `""`, `a.b` → `/a/b` (RFC 6901).
 * Throws AuditError('invalid_argument') for a name that cannot be one.
 *
 * @example
 * fieldPointer('action.params') // '/action/params'
 */
export function fieldPointer(field: string): string {
  if (field === BODY_FIELD) return '';
  const tokens = field.split('.');
  if (tokens.some((t) => t === '' || t === '__proto__' || t === 'constructor' || t === 'prototype'))
    throw new AuditError(
      'invalid_argument',
      `field ${JSON.stringify(field)} is not "${BODY_FIELD}" or a dotted path such as action.params`,
    );
  return tokens.map((t) => `/${t.replaceAll('~', '~0').replaceAll('/', '~1')}`).join('');
}

const ERASURES = new Set(['data.erased', 'retention.purged']);

/** Seq of the first entry with ts ≥ `at`, or `size` when none. */
async function firstAtOrAfter(trail: AuditTrail, at: string, size: number): Promise<number> {
  const page = await trail.query({ since: at, limit: 1 });
  const seq = page.events[0]?.seq;
  return seq === undefined ? size : Math.min(seq, size);
}

type Role = 'event' | 'withheld' | 'boundary' | 'reference';

/**
 * Lines of text encoded straight into one growing buffer: a package of 100,000 events is about
 * 120 MB, and joining strings or concatenating chunks would copy all of it once more.
 */
class LineBuffer {
  private buf: Buffer;
  private length = 0;

  /** `expected`: the likely size in bytes, so that the buffer seldom grows. */
  constructor(expected: number) {
    this.buf = Buffer.allocUnsafe(Math.min(Math.max(expected, 1 << 16), 1 << 30));
  }

  private reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.length + n));
    this.buf.copy(next, 0, 0, this.length);
    this.buf = next;
  }

  /** Appends `text` and a newline. */
  push(text: string): void {
    this.reserve(text.length * 3 + 1); // UTF-8 takes at most 3 bytes per UTF-16 unit
    // With the encoding named, Node takes its fast path (16 times faster than without, Node 20).
    this.length += this.buf.write(text, this.length, 'utf8');
    this.buf[this.length++] = 0x0a;
  }

  /** The bytes written so far (a view, not a copy). */
  bytes(): Buffer {
    return this.buf.subarray(0, this.length);
  }
}

/**
 * One line of events.jsonl. `chosen`: the pointers an `event` line may disclose (null: all); a
 * reference (a policy in force, an erasure) is always shown in full, since the checks read it.
 */
function line(
  e: LogEntryText,
  role: Role,
  chosen: ReadonlySet<string> | null,
  proof?: string[],
): EvidenceLine {
  const payload = role === 'event' || role === 'reference';
  const disclosures: string[] = [];
  const erased: { pointer: string; by_seq: number }[] = [];
  if (payload)
    for (const d of e.disclosures) {
      if (role !== 'reference' && chosen !== null && !chosen.has(d.pointer)) continue;
      if (d.disclosure !== null) disclosures.push(d.disclosure);
      else if (d.erased_by_seq !== null) erased.push({ pointer: d.pointer, by_seq: d.erased_by_seq });
    }
  return { seq: e.seq, role, leaf: e.leaf, disclosures, erased, ...(proof ? { proof } : {}) };
}

/**
 * The leaf record of a line as v2 text (docs/verification.md §11.5), without its `d` member when
 * `omit` and the line ships exactly the disclosures the leaf commits to; undefined when the leaf
 * is not UTF-8 (the line then keeps the base64 `leaf`).
 */
function recordText(l: EvidenceLine, omit: boolean): string | undefined {
  const bytes = asBuffer(l.leaf);
  if (!isUtf8(bytes)) return undefined;
  const text = bytes.toString('utf8');
  if (!omit || l.erased.length > 0 || !text.startsWith('{"d":[')) return text;
  // Digests are base64url: no quote or bracket inside the list, two quotes per digest.
  const end = text.indexOf(']');
  if (end < 0 || text[end + 1] !== ',') return text;
  let quotes = 0;
  for (let i = 6; i < end; i++) if (text.charCodeAt(i) === 0x22) quotes++;
  const ds = l.disclosures;
  if (quotes !== 2 * ds.length) return text;
  // The verifier rebuilds the list from the disclosures: two equal ones would not give it back.
  for (let i = 1; i < ds.length; i++) for (let j = 0; j < i; j++) if (ds[i] === ds[j]) return text;
  return `{${text.slice(end + 2)}`;
}

/**
 * A line as JSON text (docs/verification.md §11.2): the leaf in base64, the disclosures as
 * strings. In `auditrail-evidence/v2` (§11.5) the leaf is its record as text instead, without the
 * digest list on an `event` (unless `scoped`: a package of chosen fields) or `reference` line
 * that ships every disclosure.
 */
export function lineJson(l: EvidenceLine, format: EvidenceFormat = EVIDENCE_FORMAT, scoped = false): string {
  const record =
    format === EVIDENCE_FORMAT_V2
      ? recordText(l, l.role === 'reference' || (l.role === 'event' && !scoped))
      : undefined;
  if (record !== undefined)
    // The members of the object below, in its order, without building it.
    return `{"seq":${l.seq},"role":${JSON.stringify(l.role)},"record":${JSON.stringify(record)},"disclosures":${JSON.stringify(l.disclosures)},"erased":${JSON.stringify(l.erased)}${l.proof ? `,"proof":${JSON.stringify(l.proof)}` : ''}}`;
  return JSON.stringify({
    seq: l.seq,
    role: l.role,
    leaf: asBuffer(l.leaf).toString('base64'),
    disclosures: l.disclosures,
    erased: l.erased,
    ...(l.proof ? { proof: l.proof } : {}),
  });
}

function thin<T>(items: T[], max: number): T[] {
  if (items.length <= max) return items;
  const out: T[] = [];
  for (let i = 0; i < max; i++) out.push(items[Math.round((i * (items.length - 1)) / (max - 1))]!);
  return [...new Set(out)];
}

function verifyMd(
  format: EvidenceFormat,
  origin: string,
  from: number,
  to: number,
  size: number,
  pointers: readonly string[] | null,
): string {
  const scope =
    pointers === null
      ? ''
      : `
   This package discloses only the fields ${pointers.map((p) => JSON.stringify(p)).join(', ')}
   (\`manifest.fields\`, JSON pointers; \`""\` is the body) of its \`event\` lines: every other
   field stays a salted digest in the leaf, so its content cannot be read or guessed, and an
   \`event\` line may ship fewer disclosures than its leaf commits to. Check that no disclosure of an
   \`event\` line has a pointer outside that list. \`reference\` lines are shown in full.`;
  return `# Verifying this evidence package by hand

This package (format \`${format}\`) holds entries [${from}, ${to}) of the log
\`${origin}\` and proves them against its signed checkpoint of size ${size}. The full format is
docs/verification.md §11 of auditrail; the steps are:

1. **Files.** For every file listed in \`manifest.json\` \`files\`, compute SHA-256 and compare
   (\`sha256sum\`). No other file may be present.
2. **Key.** Get the log's verifier key from the operator through a channel you trust and compare it
   with \`keys/log.vkey\` (C2SP verifier key: \`name+keyid+base64(0x01 ‖ public key)\`).
3. **Checkpoints.** Each \`checkpoints/<size>.checkpoint\` is a C2SP signed note; check its
   Ed25519 signature with the key. Between consecutive checkpoints (the order of
   \`manifest.checkpoints\`) check \`consistency/<m>-<n>.proof\` (RFC 9162 §2.1.4.2): the log was
   only appended to.
4. **Entries.** In \`events.jsonl\`, every seq of [${from}, ${to}) has one line. Leaf hash =
   SHA-256(0x00 ‖ base64-decoded \`leaf\`).${
     format === EVIDENCE_FORMAT_V2
       ? `
   A line may hold its leaf record as text instead (\`record\`, its UTF-8 being the leaf
   bytes); a record that does not start with \`{"d":\` leaves out the digest list, which is
   then the sorted digests of the line's disclosures (step 5), placed first:
   \`{"d":["<digest>",…],\` followed by the record after its \`{\` (docs/verification.md §11.5).`
       : ''
   } \`proofs/range.json\` lists the hashes of the subtrees
   beside the range; recompute the root of the checkpoint of size ${size} from them and the leaf
   hashes (docs/verification.md §11.4). \`reference\` lines outside the range carry their own
   RFC 9162 inclusion proof.
5. **Disclosures.** Each disclosure's digest base64url(SHA-256("auditrail/disclosure/v1\\n" ‖
   bytes)) must be in the leaf's \`d\`. Fields in \`erased\` name the seq of the \`data.erased\`
   entry that erased them; that entry is in the package.${scope}
6. **Completeness.** Leaf \`ts\` never decreases along seq. With a lower bound \`since\`, the first
   line of the range (unless seq 0) has ts < since; with an upper bound \`until\`, the last line
   (unless at the tree size) has ts ≥ until. So no entry of the window was left out.
7. **Policies.** Each entry of \`policies.json\` names a \`policy.updated\` line with that
   policy id and snapshot hash.

Or run: \`auditrail verify-evidence <this file> --key "<trusted verifier key>"\`.
`;
}

/**
 * Builds the files of an evidence package for the events of `query` (time window and filters).
 * Signs a checkpoint of the current log first (unless the trail is read-only: then the latest
 * signed one is used). Throws AuditError('not_found') for an empty log or no checkpoint.
 *
 * @example
 * const { files } = await buildEvidence(trail, { query: { since: '2026-10-01T00:00:00.000000Z' } });
 */
export async function buildEvidence(
  trail: AuditTrail,
  options: EvidenceOptions = {},
): Promise<EvidenceBuild> {
  const query = options.query ?? {};
  const { since, until, ...others } = query;
  const fields = options.fields === undefined ? null : [...new Set(options.fields)];
  if (fields?.length === 0)
    throw new AuditError('invalid_argument', 'fields: name at least one field to disclose');
  const pointers = fields?.map(fieldPointer) ?? null;
  const format = options.format ?? EVIDENCE_FORMAT;
  const scope = pointers === null ? null : new Set(pointers);
  const disclosedBy = new Map<string, number>(pointers?.map((p) => [p, 0]));
  if (!trail.readonly) await trail.checkpoint();
  const cps = await trail.checkpoints();
  const final = cps[cps.length - 1];
  if (!final || final.size === 0)
    throw new AuditError('not_found', `${trail.origin} has no signed checkpoint of a non-empty log`);
  const size = final.size;

  // The window [first, end) in seq; ts never decreases along seq, so it is contiguous.
  const first = since === undefined ? 0 : await firstAtOrAfter(trail, since, size);
  const end = until === undefined ? size : await firstAtOrAfter(trail, until, size);
  const windowEnd = Math.max(first, end);
  const from = since !== undefined && first > 0 ? first - 1 : 0;
  const to = until !== undefined && windowEnd < size ? windowEnd + 1 : size;

  // Which entries of the window the other filters select.
  let selected: Set<number> | null = null;
  if (Object.values(others).some((v) => v !== undefined)) {
    selected = new Set();
    let cursor: string | undefined;
    do {
      const page = await trail.query({ ...query, limit: 10_000, ...(cursor ? { cursor } : {}) });
      for (const e of page.events) if (e.seq >= first && e.seq < windowEnd) selected.add(e.seq);
      cursor = page.next_cursor ?? undefined;
    } while (cursor);
  }

  // Policies in force: per policy id, the last policy.updated before the window and those in it.
  const policyEvents: { seq: number; policy_id: string; version: unknown; snapshot: string }[] = [];
  let cursor: string | undefined;
  do {
    const page = await trail.query({ type: 'policy.updated', limit: 10_000, ...(cursor ? { cursor } : {}) });
    for (const e of page.events) {
      const p = e.policy as
        { policy_id?: unknown; policy_snapshot?: unknown; policy_version?: unknown } | undefined;
      if (e.seq < windowEnd && typeof p?.policy_id === 'string' && typeof p.policy_snapshot === 'string')
        policyEvents.push({
          seq: e.seq,
          policy_id: p.policy_id,
          version: p.policy_version,
          snapshot: p.policy_snapshot,
        });
    }
    cursor = page.next_cursor ?? undefined;
  } while (cursor);
  const inForce = policyEvents.filter(
    (p) =>
      p.seq >= first ||
      !policyEvents.some((q) => q.policy_id === p.policy_id && q.seq > p.seq && q.seq < first),
  );

  const inForceSeqs = new Set(inForce.map((p) => p.seq));
  // About 1.2 kB a line for a disclosed event, 0.5 kB for a leaf alone.
  const jsonl = new LineBuffer((to - from) * (selected === null ? 1300 : 600));
  const kept: EvidenceLine[] | undefined = options.keepLines ? [] : undefined;
  const push = (l: EvidenceLine): void => {
    jsonl.push(lineJson(l, format, scope !== null));
    kept?.push(l);
  };
  // An entry outside the range the package refers to (a policy, an erasure), with its own proof.
  const reference = async (seq: number): Promise<void> => {
    for await (const chunk of trail.readEntryTexts(seq, seq + 1)) {
      for (const e of chunk) {
        const type = (JSON.parse(e.leaf.toString('utf8')) as { type?: string }).type ?? '';
        if (!inForceSeqs.has(seq) && !ERASURES.has(type)) continue;
        push(line(e, 'reference', scope, await trail.proveInclusion(seq, size)));
      }
    }
  };
  // Before the range: policies in force (an erasure always comes after what it erases).
  for (const seq of [...inForceSeqs].sort((a, b) => a - b)) if (seq < from) await reference(seq);
  const erasedBy = new Set<number>();
  let events = 0;
  for await (const chunk of trail.readEntryTexts(from, to)) {
    for (const e of chunk) {
      const inWindow = e.seq >= first && e.seq < windowEnd;
      let role: Role = !inWindow
        ? 'boundary'
        : selected === null || selected.has(e.seq)
          ? 'event'
          : 'withheld';
      // A policy in force is shown in full even when the filters or the fields leave it out.
      if ((role !== 'event' || scope !== null) && inForceSeqs.has(e.seq)) role = 'reference';
      if (role === 'event') {
        events++;
        for (const d of e.disclosures) {
          if (scope !== null && !scope.has(d.pointer)) continue;
          if (d.erased_by_seq !== null) erasedBy.add(d.erased_by_seq);
          const n = disclosedBy.get(d.pointer);
          if (n !== undefined && d.disclosure !== null) disclosedBy.set(d.pointer, n + 1);
        }
      }
      push(line(e, role, scope));
    }
  }
  // After the range: the erasures of shipped fields, when they lie beyond it.
  for (const seq of [...erasedBy].sort((a, b) => a - b)) if (seq >= to && seq < size) await reference(seq);

  const files = new Map<string, Buffer>();
  files.set('events.jsonl', jsonl.bytes());
  files.set(
    'proofs/range.json',
    Buffer.from(
      `${JSON.stringify({ from, to, tree_size: size, proof: await trail.proveRange(from, to, size) }, null, 2)}\n`,
    ),
  );
  // Checkpoints: the last one before the range, those signed during it, and the final one.
  const lastBefore = cps.filter((c) => c.size <= from).pop();
  const chosen = thin(
    [...(lastBefore ? [lastBefore] : []), ...cps.filter((c) => c.size > from && c.size < size), final],
    options.maxCheckpoints ?? 64,
  );
  for (const [i, c] of chosen.entries()) {
    files.set(`checkpoints/${c.size}.checkpoint`, Buffer.from(c.note));
    const prev = chosen[i - 1];
    if (prev) {
      const proof = await trail.proveConsistency(prev.size, c.size);
      files.set(`consistency/${prev.size}-${c.size}.proof`, Buffer.from(proof.map((h) => `${h}\n`).join('')));
    }
  }
  files.set('keys/log.vkey', Buffer.from(`${trail.verifierKey()}\n`));
  files.set('policies.json', Buffer.from(`${JSON.stringify(inForce, null, 2)}\n`));
  files.set('VERIFY.md', Buffer.from(verifyMd(format, trail.origin, from, to, size, pointers)));
  const digests: Record<string, string> = {};
  for (const [name, bytes] of files) digests[name] = createHash('sha256').update(bytes).digest('hex');
  const manifest = {
    format,
    log: trail.origin,
    created_at: (options.now?.() ?? new Date()).toISOString(),
    created_by: options.createdBy ?? process.env.USER ?? 'unknown',
    generator: options.generator ?? 'auditrail',
    query,
    window: { since: since ?? null, until: until ?? null },
    ...(pointers !== null ? { fields: pointers } : {}),
    range: { from, to },
    tree_size: size,
    checkpoints: chosen.map((c) => c.size),
    files: digests,
  };
  files.set('manifest.json', Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`));
  return {
    files,
    ...(kept ? { lines: kept } : {}),
    events,
    range: { from, to },
    tree_size: size,
    ...(fields !== null
      ? {
          fields: fields.map((field, i) => ({
            field,
            pointer: pointers![i]!,
            events: disclosedBy.get(pointers![i]!) ?? 0,
          })),
        }
      : {}),
  };
}

/**
 * Builds an evidence package and writes it to `path` as .tar.gz (the file appears only once complete).
 *
 * @example
 * await writeEvidence(trail, 'q4.evidence.tar.gz', { query: { since: '2026-10-01T00:00:00.000000Z' } });
 */
export async function writeEvidence(
  trail: AuditTrail,
  path: string,
  options: EvidenceOptions = {},
): Promise<EvidenceBuild> {
  const build = await buildEvidence(trail, options);
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, await packArchive(build.files), { mode: 0o600 });
  renameSync(tmp, path);
  return build;
}

/**
 * Checks an evidence package (.tar.gz bytes) offline. `trustedKey`: the auditor's own copy of the
 * log's verifier key. Throws AuditError('invalid_argument') only when the bytes are not an archive.
 *
 * @example
 * const r = await verifyEvidence(readFileSync('q4.evidence.tar.gz'), { trustedKey });
 * console.log(r.ok, r.summary?.events);
 */
export async function verifyEvidence(
  archive: Uint8Array,
  options: { trustedKey?: string } = {},
): Promise<EvidenceReport> {
  return verifyEvidenceFiles(await unpackArchive(archive), options);
}
