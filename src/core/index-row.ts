import { createHmac } from 'node:crypto';

/**
 * The query index columns of one event (the `events` table): derived from the event's fields.
 * People's ids (a user actor's id, `context.data_subject_ids`, a target naming one of them) are
 * indexed by a keyed hash ({@link personTagger}, HMAC-SHA256 with the log's index key), never in
 * plain. The write path (`sdk/prepare.ts`) and verification (`verify-index.ts`) both call
 * {@link deriveIndexValues}, so what is stored and what verify expects cannot drift apart.
 */

/** Index column values, in table order (seq, ts and type come from the leaf). */
export interface IndexValues {
  tenant: string | null;
  session_id: string | null;
  run_id: string | null;
  trace_id: string | null;
  actor_id: string | null;
  action_type: string | null;
  target: string | null;
  decision: string | null;
  status: string | null;
  risk: string | null;
  time: string | null;
  /** Tags of `context.data_subject_ids`, sorted, space-separated (null: none, or no index key). */
  subjects: string | null;
}

/** The fields of an event the index reads (structurally, an `AuditEvent` is one). */
export interface IndexedEvent {
  tenant?: string | undefined;
  session_id?: string | undefined;
  run_id?: string | undefined;
  trace_id?: string | undefined;
  time?: string | undefined;
  risk_level?: string | undefined;
  actor: { type: string; id: string };
  action?: { type?: string | undefined; target?: string | undefined } | undefined;
  policy?: { decision?: string | undefined; risk?: string | undefined } | undefined;
  outcome?: { status?: string | undefined } | undefined;
  context?: { data_subject_ids?: readonly string[] | undefined } | undefined;
}

/** Column names of {@link IndexValues}, in table order. */
export const INDEX_COLUMNS = [
  'tenant',
  'session_id',
  'run_id',
  'trace_id',
  'actor_id',
  'action_type',
  'target',
  'decision',
  'status',
  'risk',
  'time',
  'subjects',
] as const satisfies readonly (keyof IndexValues)[];

/**
 * JSON pointers each column is read from: verification only needs the disclosures holding these,
 * and cannot check a column whose source was erased.
 */
export const INDEX_SOURCES: Readonly<Record<keyof IndexValues, readonly string[]>> = {
  tenant: ['/tenant'],
  session_id: ['/session_id'],
  run_id: ['/run_id'],
  trace_id: ['/trace_id'],
  actor_id: ['/actor/type', '/actor/id'],
  action_type: ['/action/type'],
  // A target is hashed when it names a person: it depends on who the people of the event are.
  target: ['/action/target', '/context/data_subject_ids', '/actor/type', '/actor/id'],
  decision: ['/policy/decision'],
  status: ['/outcome/status'],
  risk: ['/risk_level', '/policy/risk'],
  time: ['/time'],
  subjects: ['/context/data_subject_ids'],
};

/** Maps a person's id to its index tag: hex of the first 128 bits of HMAC-SHA256(key, id). */
export type PersonTagger = (id: string) => string;

/** Bytes of a log's index key (random, created with the log's first write). */
export const INDEX_KEY_BYTES = 32;

/**
 * The tagger of a log's index key. Pure: the same key and id always give the same tag, so the
 * write path, a query's filter and verify agree without storing the id.
 *
 * @example
 * personTagger(key)('alice') // 'b1946ac92492d2347c6235b4d2611184' (32 hex digits)
 */
export function personTagger(key: Uint8Array): PersonTagger {
  if (key.length !== INDEX_KEY_BYTES) throw new RangeError(`an index key is ${INDEX_KEY_BYTES} bytes`);
  const k = Buffer.from(key);
  // The same few people recur on many events (verify derives every row again): their tags are
  // remembered, up to a bound, so memory stays constant whatever the log holds.
  const known = new Map<string, string>();
  return (id) => {
    let t = known.get(id);
    if (t === undefined) {
      t = createHmac('sha256', k).update(id, 'utf8').digest('hex').slice(0, 32);
      if (known.size >= TAG_CACHE) known.clear();
      known.set(id, t);
    }
    return t;
  };
}

/** Tags a tagger remembers (ids up to a few hundred bytes each: a few MB at most). */
const TAG_CACHE = 4096;

/** Prefix of a hashed target in the `target` column. */
export const HASHED_TARGET = 'h:';

const NO_SUBJECTS: readonly unknown[] = Object.freeze([]);

/** True when `target` names one of `people` (contains one of their ids). */
function namesPerson(target: string, people: readonly unknown[]): boolean {
  for (const p of people) if (typeof p === 'string' && p.length > 0 && target.includes(p)) return true;
  return false;
}

/**
 * The index columns of an event. People are indexed as `user:<tag>` (a user actor), their tags in
 * `subjects` (`context.data_subject_ids`) and a target naming one of them as `h:<tag of the
 * target>`, with `tag` the log's {@link personTagger}. Without a tagger (a log written before
 * index keys existed) people are indexed as `user:<id>` and nothing else is hashed.
 *
 * @example
 * deriveIndexValues({ actor: { type: 'agent', id: 'bot' }, action: { type: 'read:order' } }, tag)
 * // { tenant: null, …, actor_id: 'bot', action_type: 'read:order', …, time: null, subjects: null }
 */
export function deriveIndexValues(event: IndexedEvent, tag?: PersonTagger): IndexValues {
  const isUser = event.actor.type === 'user';
  if (tag) {
    const raw: unknown = event.context?.data_subject_ids;
    const subjects: readonly unknown[] = Array.isArray(raw) ? (raw as unknown[]) : NO_SUBJECTS;
    // An erased user id (or a non-string one in tampered data) derives nothing: verify treats
    // the column by what was erased, never by a guess.
    const userId = isUser && typeof event.actor.id === 'string' ? event.actor.id : undefined;
    const target = event.action?.target;
    // Most events name no data subject: no arrays to build for them.
    const tags =
      subjects.length === 0
        ? subjects
        : [...new Set(subjects.filter((s): s is string => typeof s === 'string').map(tag))].sort();
    return {
      tenant: event.tenant ?? null,
      session_id: event.session_id ?? null,
      run_id: event.run_id ?? null,
      trace_id: event.trace_id ?? null,
      actor_id: isUser ? (userId !== undefined ? `user:${tag(userId)}` : null) : event.actor.id,
      action_type: event.action?.type ?? null,
      target:
        typeof target === 'string' &&
        (namesPerson(target, subjects) ||
          (userId !== undefined && userId.length > 0 && target.includes(userId)))
          ? `${HASHED_TARGET}${tag(target)}`
          : (target ?? null),
      decision: event.policy?.decision ?? null,
      status: event.outcome?.status ?? null,
      risk: event.risk_level ?? event.policy?.risk ?? null,
      time: event.time ?? null,
      subjects: tags.length > 0 ? tags.join(' ') : null,
    };
  }
  const actorId = isUser ? null : event.actor.id;
  return {
    tenant: event.tenant ?? null,
    session_id: event.session_id ?? null,
    run_id: event.run_id ?? null,
    trace_id: event.trace_id ?? null,
    actor_id: actorId ?? `user:${event.actor.id}`,
    action_type: event.action?.type ?? null,
    target: event.action?.target ?? null,
    decision: event.policy?.decision ?? null,
    status: event.outcome?.status ?? null,
    risk: event.risk_level ?? event.policy?.risk ?? null,
    time: event.time ?? null,
    subjects: null,
  };
}

/** True when a disclosure stored under `pointer` may hold a value one of the sources reads. */
export function feedsIndex(pointer: string): boolean {
  if (pointer === '') return true;
  for (const sources of Object.values(INDEX_SOURCES)) {
    for (const s of sources) {
      if (s === pointer || s.startsWith(`${pointer}/`) || pointer.startsWith(`${s}/`)) return true;
    }
  }
  return false;
}

/**
 * The index columns read from any of these (erased) disclosure pointers: erasure clears them,
 * and verify requires them cleared (a column it can no longer derive must not claim a value).
 *
 * @example
 * erasedIndexColumns(['/context/data_subject_ids']) // ['target', 'subjects']
 */
export function erasedIndexColumns(pointers: readonly string[]): (keyof IndexValues)[] {
  return INDEX_COLUMNS.filter((col) =>
    INDEX_SOURCES[col].some((s) => pointers.some((p) => p === '' || s === p || s.startsWith(`${p}/`))),
  );
}
