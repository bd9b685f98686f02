import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { canonicalize } from '../core/canonical-json.js';
import { disclosureDigest } from '../core/disclosure.js';
import { AuditError } from '../errors.js';
import type { RecordedEvent } from '../event/types.js';
import type { AuditStore, ListedEvent } from '../store/store.js';
import type { ArchivedRange } from '../core/verify-log.js';
import { archivedRanges, readArchiveManifest, searchArchive, type LocatedArchivedRange } from './archive.js';
import type { AuditTrail } from './audit-trail.js';
import { describeHold, holdCovers, type Hold } from './holds.js';
import { storeOf, tagOf, toRecordedEvent } from './internals.js';

/**
 * GDPR erasure (Art. 17): the plaintext of the disclosures concerning a data subject is deleted,
 * and one `data.erased` event names what went (seq, pointer and digest of each disclosure, never
 * a value) and who asked. Leaves, digests and the tree are untouched, so every proof stays valid
 * and verify reports each erased field as "erased by seq N".
 */

/** What to erase: a data subject, whole events, or single disclosures. */
export type ErasureTarget =
  | { subject: string }
  | { seqs: readonly number[] }
  | { pointers: readonly { seq: number; pointer: string }[] };

export interface ErasureRequest {
  /** Why (recorded in the `data.erased` event; write no personal data here). */
  reason: string;
  /** Who asked: the person or service recorded as the erasure's actor. */
  requestedBy: string;
  /** List what would be erased, write nothing. */
  dryRun?: boolean;
  /**
   * Directories of the log's archives (`archiveLog`), searched for what the erasure names: an
   * erasure by subject is refused while any archived range has not been searched or holds the
   * subject's data; one by seqs or pointers, while an archived range holding a seq named has not
   * been searched or holds plaintext of what is named.
   */
  archives?: readonly string[];
}

/** An archived range, as an erasure by subject searched it (or could not). */
export interface ArchiveSearch extends LocatedArchivedRange {
  /** The archive's directory when it was given and searched, else null. */
  dir: string | null;
  /** Whether `location` (where `archiveLog` wrote the archive) still holds a manifest. */
  location_exists: boolean;
  /**
   * Seqs of the archived events concerning the subject, or holding plaintext an erasure by seqs
   * or pointers names (null: not searched; empty: none, or no seq named lies in the range).
   */
  seqs: number[] | null;
  /** A date for `archive --before` that archives the range again once the erasure is done. */
  rearchive_before: string;
}

/**
 * An erasure refused because archived ranges may hold (or do hold) data it names (the subject's,
 * or the plaintext of seqs or pointers inside an archived range), which the hot database cannot
 * reach: `archives` names every archived range and what its search found. Code `conflict`;
 * nothing was erased. The fix: restore each archive, erase, archive again.
 *
 * @example
 * try { await trail.erase({ subject: 'cust-7' }, req); }
 * catch (e) { if (e instanceof ArchivedDataError) for (const a of e.archives) console.log(a.by_seq, a.dir); }
 */
export class ArchivedDataError extends AuditError {
  override name = 'ArchivedDataError';
  constructor(
    message: string,
    /** Every archived range of the log, ascending, with what the search found. */
    readonly archives: ArchiveSearch[],
  ) {
    super('conflict', message);
  }
}

/** An archive searched for the subject and found to hold nothing about it. */
export interface SearchedArchive extends ArchivedRange {
  dir: string;
}

/** One erased (or, in a dry run, erasable) disclosure. */
export interface ErasedDisclosure {
  seq: number;
  pointer: string;
  /** The disclosure's digest as committed in its leaf. */
  digest: string;
  /** The event's type. */
  type: string;
}

export interface ErasureResult {
  /** The seq of the `data.erased` event; null in a dry run or when there was nothing to erase. */
  seq: number | null;
  dry_run: boolean;
  /** Events concerned. */
  events: number;
  erased: ErasedDisclosure[];
  /** Archives searched for the subject (given in `archives`) that hold nothing about it. */
  archives_searched: SearchedArchive[];
}

/** Events whose records must stay whole: erasures and legal holds are the evidence of themselves. */
const KEPT_TYPES = new Set(['data.erased', 'retention.purged', 'hold.placed', 'hold.released']);
/** Most disclosures one `data.erased` event can name (its body stays under the event size limit). */
export const MAX_ERASED_PER_EVENT = 2000;
const ID = /^[\x21-\x7e]{1,128}$/;
const PAGE = 1000;

interface Candidate {
  event: ListedEvent;
  /** Units to erase. */
  units: number[];
}

/** Events naming `subject` in data_subject_ids (every disclosure), and those it acted in as a user (its id and name). */
async function subjectCandidates(
  store: AuditStore,
  logId: number,
  trail: AuditTrail,
  subject: string,
): Promise<Candidate[]> {
  const tag = tagOf(trail);
  if (!tag)
    throw new AuditError('conflict', `${trail.origin} has no index key yet: open it for writing once`);
  const out = new Map<number, Candidate>();
  const each = async (
    filter: { subject: string } | { actor_id: string },
    pick: (e: ListedEvent) => number[],
  ): Promise<void> => {
    let after: number | undefined;
    for (;;) {
      const page = await store.query(logId, filter, {
        limit: PAGE,
        order: 'asc',
        ...(after !== undefined ? { after } : {}),
      });
      for (const e of page) {
        const units = pick(e);
        if (units.length === 0) continue;
        const had = out.get(e.entry.seq);
        if (had) had.units = [...new Set([...had.units, ...units])].sort((a, b) => a - b);
        else out.set(e.entry.seq, { event: e, units });
      }
      if (page.length < PAGE) break;
      after = page[page.length - 1]!.entry.seq;
    }
  };
  const live = (e: ListedEvent): number[] =>
    e.disclosures.filter((d) => d.disclosure !== null).map((d) => d.unit);
  // The index finds them by tag; the plaintext is checked too (a tag collision erases nothing).
  await each({ subject: tag(subject) }, (e) => {
    const ev = toRecordedEvent(e, trail.origin);
    return ev.context?.data_subject_ids?.includes(subject) === true ? live(e) : [];
  });
  await each({ actor_id: `user:${tag(subject)}` }, (e) => {
    const ev = toRecordedEvent(e, trail.origin);
    if (ev.actor?.type !== 'user' || ev.actor.id !== subject) return [];
    return e.disclosures
      .filter((d) => d.disclosure !== null && (d.pointer === '/actor/id' || d.pointer === '/actor/name'))
      .map((d) => d.unit);
  });
  return [...out.values()].sort((a, b) => a.event.entry.seq - b.event.entry.seq);
}

/** Disclosures named by seq (all of the event's) or by seq and pointer: seq → pointers, or null for all. */
type Wanted = Map<number, Set<string> | null>;

function wantedOf(
  target: { seqs: readonly number[] } | { pointers: readonly { seq: number; pointer: string }[] },
): Wanted {
  const wanted: Wanted = new Map();
  if ('seqs' in target) {
    const seqs: unknown = target.seqs;
    if (!Array.isArray(seqs) || seqs.length === 0)
      throw new AuditError('invalid_argument', 'seqs must be a non-empty array of event seqs');
    for (const s of seqs as unknown[]) wanted.set(s as number, null);
  } else {
    const pointers: unknown = target.pointers;
    if (!Array.isArray(pointers) || pointers.length === 0)
      throw new AuditError('invalid_argument', 'pointers must be a non-empty array of { seq, pointer }');
    for (const p of pointers as { seq: number; pointer: string }[]) {
      if (typeof p?.pointer !== 'string')
        throw new AuditError('invalid_argument', 'each pointer needs a string pointer');
      const set = wanted.get(p.seq) ?? new Set<string>();
      set.add(p.pointer);
      wanted.set(p.seq, set);
    }
  }
  for (const seq of wanted.keys()) {
    if (!Number.isSafeInteger(seq) || seq < 0)
      throw new AuditError('invalid_argument', `seq ${String(seq)} is not a non-negative integer`);
  }
  return wanted;
}

async function explicitCandidates(store: AuditStore, logId: number, wanted: Wanted): Promise<Candidate[]> {
  const out: Candidate[] = [];
  for (const [seq, pointers] of [...wanted].sort((a, b) => a[0] - b[0])) {
    const stored = await store.getBySeq(logId, seq);
    if (!stored) throw new AuditError('not_found', `no event with seq ${seq}`);
    const units = stored.disclosures
      .filter((d) => d.disclosure !== null && (pointers === null || pointers.has(d.pointer)))
      .map((d) => d.unit);
    if (pointers !== null) {
      for (const p of pointers) {
        if (!stored.disclosures.some((d) => d.pointer === p))
          throw new AuditError('not_found', `event seq ${seq} has no disclosure ${p === '' ? '(body)' : p}`);
      }
    }
    if (units.length > 0) out.push({ event: stored, units });
  }
  return out;
}

function checkRequest(r: ErasureRequest): void {
  if (typeof r !== 'object' || r === null)
    throw new AuditError('invalid_argument', 'an erasure needs { reason, requestedBy }');
  if (typeof r.reason !== 'string' || r.reason.trim() === '' || r.reason.length > 16384)
    throw new AuditError('invalid_argument', 'reason must be a non-empty string of at most 16384 characters');
  if (typeof r.requestedBy !== 'string' || !ID.test(r.requestedBy))
    throw new AuditError(
      'invalid_argument',
      'requestedBy must be 1 to 128 printable characters without spaces',
    );
}

/**
 * Erases from `trail` what `target` names (see {@link AuditTrail.erase}). Refused, with nothing
 * written, when an active legal hold covers any event concerned.
 */
export async function eraseFromTrail(
  trail: AuditTrail,
  target: ErasureTarget,
  request: ErasureRequest,
): Promise<ErasureResult> {
  checkRequest(request);
  if (typeof target !== 'object' || target === null)
    throw new AuditError('invalid_argument', 'erase needs { subject } | { seqs } | { pointers }');
  const store = storeOf(trail);
  const log = await store.getLog(trail.origin);
  if (!log) throw new AuditError('not_found', `log ${trail.origin} does not exist`);
  let candidates: Candidate[];
  let searched: SearchedArchive[] = [];
  if ('subject' in target) {
    if (typeof target.subject !== 'string' || !ID.test(target.subject))
      throw new AuditError(
        'invalid_argument',
        'subject must be 1 to 128 printable characters without spaces',
      );
    const subject = target.subject;
    ({ searched } = await checkArchives(trail, store, log.logId, request.archives ?? [], {
      about: 'the subject',
      inRange: () => true,
      match: (e) => concerns(e, subject),
    }));
    candidates = await subjectCandidates(store, log.logId, trail, subject);
  } else if ('seqs' in target || 'pointers' in target) {
    const wanted = wantedOf(target);
    // Named seqs inside an archived range: their rows are in the archive, as for a subject.
    const checked = await checkArchives(trail, store, log.logId, request.archives ?? [], {
      about: 'the request',
      inRange: (r) => [...wanted.keys()].some((s) => s >= r.from && s < r.to),
      match: (_e, seq, pointers) => {
        if (!wanted.has(seq)) return false;
        const named = wanted.get(seq);
        return named === null || pointers.some((p) => named!.has(p));
      },
    });
    searched = checked.searched;
    // Not refused: every archived seq named was searched and holds no plaintext named.
    for (const seq of [...wanted.keys()])
      if (checked.ranges.some((r) => seq >= r.from && seq < r.to)) wanted.delete(seq);
    candidates = await explicitCandidates(store, log.logId, wanted);
  } else {
    throw new AuditError('invalid_argument', 'erase needs { subject } | { seqs } | { pointers }');
  }
  const holds = await trail.holds.list();
  const erased: ErasedDisclosure[] = [];
  const units: { seq: number; unit: number }[] = [];
  for (const c of candidates) {
    const seq = c.event.entry.seq;
    const type = c.event.entry.type;
    if (KEPT_TYPES.has(type))
      throw new AuditError(
        'invalid_argument',
        `seq ${seq} is a ${type} event: erasure and hold records are kept whole`,
      );
    const ev: RecordedEvent = toRecordedEvent(c.event, trail.origin);
    const hold = holds.find((h) =>
      holdCovers(h, {
        ts: ev.ts,
        session_id: ev.session_id,
        actor: ev.actor,
        data_subject_ids: ev.context?.data_subject_ids,
      }),
    );
    if (hold) throw holdError(hold, seq);
    for (const unit of c.units) {
      const d = c.event.disclosures.find((x) => x.unit === unit)!;
      erased.push({ seq, pointer: d.pointer, digest: disclosureDigest(d.disclosure!), type });
      units.push({ seq, unit });
    }
  }
  if (erased.length > MAX_ERASED_PER_EVENT)
    throw new AuditError(
      'invalid_argument',
      `${erased.length} disclosures concern this request, more than one data.erased event names (${MAX_ERASED_PER_EVENT}): erase by seqs in parts`,
    );
  const events = candidates.length;
  if (request.dryRun === true || erased.length === 0)
    return { seq: null, dry_run: request.dryRun === true, events, erased, archives_searched: searched };
  const metadata = { erased: erased.map(({ seq, pointer, digest }) => ({ seq, pointer, digest })) };
  // The list must be stored as given: a redaction rule that rewrote it would make it name nothing.
  if (canonicalize(trail.redact(metadata).value) !== canonicalize(metadata))
    throw new AuditError(
      'invalid_argument',
      "this trail's redaction rules rewrite the erasure list: allowlist /metadata/erased",
    );
  const receipt = await trail.record({
    type: 'data.erased',
    actor: { type: 'user', id: request.requestedBy },
    action: {
      type: 'data.erase',
      target: 'subject' in target ? 'subject' : 'seqs' in target ? 'seqs' : 'pointers',
    },
    context: { purpose: request.reason },
    metadata,
  });
  await store.eraseDisclosures(log.logId, units, receipt.seq, new Date().toISOString());
  return { seq: receipt.seq, dry_run: false, events, erased, archives_searched: searched };
}

function holdError(hold: Hold, seq: number): AuditError {
  return new AuditError(
    'conflict',
    `erasure refused, nothing was erased: seq ${seq} is under legal hold ${hold.id} (${describeHold(hold)}; reason: ${hold.reason}; placed by ${hold.placed_by})`,
  );
}

/** Whether an event assembled from its disclosures concerns `subject` (as {@link subjectCandidates} matches). */
function concerns(event: Record<string, unknown>, subject: string): boolean {
  const ctx = event['context'] as { data_subject_ids?: unknown } | undefined;
  if (Array.isArray(ctx?.data_subject_ids) && ctx.data_subject_ids.includes(subject)) return true;
  const actor = event['actor'] as { type?: unknown; id?: unknown } | undefined;
  return actor?.type === 'user' && actor.id === subject;
}

/** Where an unsearched archive was written, as the refusal says it. */
function whereIs(a: ArchiveSearch): string {
  if (a.location === null) return 'its directory was not recorded; ';
  return a.location_exists
    ? `written to ${a.location}; `
    : `written to ${a.location}, which no longer holds it; `;
}

/**
 * Archived ranges hold rows the hot database cannot reach: an erasure by subject goes on only
 * when every archived range was searched (its directory given) and holds nothing about the
 * subject; otherwise it is refused, naming each archive, before anything is written.
 */
async function checkArchives(
  trail: AuditTrail,
  store: AuditStore,
  logId: number,
  given: readonly string[],
  request: {
    /** What the request is about, in the refusal: "the subject". */
    about: string;
    /** Whether the request may concern rows of this range at all (else it needs no search). */
    inRange: (r: ArchivedRange) => boolean;
    match: (event: Record<string, unknown>, seq: number, pointers: readonly string[]) => boolean;
  },
): Promise<{ searched: SearchedArchive[]; ranges: ArchivedRange[] }> {
  const list: unknown = given;
  if (!Array.isArray(list) || list.some((d) => typeof d !== 'string' || d === ''))
    throw new AuditError('invalid_argument', 'archives must be a list of archive directories');
  const dirs = list as string[];
  const ranges = await archivedRanges(trail);
  const byManifest = new Map<string, string>();
  for (const d of dirs) {
    const opened = readArchiveManifest(d);
    if (!ranges.some((r) => r.manifest_sha256 === opened.sha256))
      throw new AuditError(
        'invalid_argument',
        `${opened.dir} is not an archived range of ${trail.origin} now (manifest SHA-256 ${opened.sha256}; restored already, or another log's)`,
      );
    byManifest.set(opened.sha256, opened.dir);
  }
  if (ranges.length === 0) return { searched: [], ranges };
  const all: ArchiveSearch[] = [];
  for (const r of ranges) {
    const dir = byManifest.get(r.manifest_sha256) ?? null;
    const seqs = !request.inRange(r)
      ? []
      : dir === null
        ? null
        : await searchArchive(trail, dir, r, request.match);
    const last = await store.getBySeq(logId, r.to - 1);
    const ms = last ? Date.parse(last.entry.ts) : NaN;
    all.push({
      ...r,
      dir,
      location_exists: r.location !== null && existsSync(join(r.location, 'manifest.json')),
      seqs,
      rearchive_before: Number.isNaN(ms) ? (last?.entry.ts ?? '') : new Date(ms + 1).toISOString(),
    });
  }
  if (all.every((a) => a.seqs?.length === 0)) {
    const searched = all
      .filter((a) => a.dir !== null && request.inRange(a))
      .map(({ by_seq, from, to, manifest_sha256, dir }) => ({
        by_seq,
        from,
        to,
        manifest_sha256,
        dir: dir!,
      }));
    return { searched, ranges };
  }
  const lines = all.map((a) => {
    const what = !request.inRange(a)
      ? 'no seq named lies in it'
      : a.seqs === null
        ? `not searched (${whereIs(a)}give its directory to search it)`
        : a.seqs.length === 0
          ? `searched, nothing about ${request.about}`
          : `${a.seqs.length} archived event${a.seqs.length === 1 ? '' : 's'} concern ${request.about} (seq ${a.seqs.slice(0, 10).join(', ')}${a.seqs.length > 10 ? ', …' : ''})`;
    return `  archive.created at seq ${a.by_seq}: seq ${a.from}..${a.to - 1}, manifest SHA-256 ${a.manifest_sha256}${a.dir === null ? '' : ` (${a.dir})`}: ${what}`;
  });
  throw new ArchivedDataError(
    `erasure refused, nothing was erased: archived ranges of ${trail.origin} are out of the hot database's reach and may hold data about ${request.about}:\n${lines.join('\n')}\n` +
      'restore the archives from the first one holding such data on (auditrail restore DIR, the latest first), erase, then archive the range again (auditrail archive --before DATE -o NEW_DIR)',
    all,
  );
}
