import { INDEX_KEY_BYTES, personTagger, type PersonTagger } from '../core/index-row.js';
import { expectedIndexRow } from '../core/verify-index.js';
import { AuditError } from '../errors.js';
import { randomBytesFast } from '../internal/ids.js';
import type { AuditStore, LogHead, StoredIndexRow } from '../store/store.js';

/**
 * The index key of a log: 32 random bytes kept in the store's meta table, with which people's ids
 * are indexed by keyed hash (core/index-row.ts {@link personTagger}). Created by the first write
 * path that opens the log (never on a read path); a log without one (written before index keys)
 * is indexed and verified in plain until then.
 */

/** Meta key of a log's index key. */
export function indexKeyName(origin: string): string {
  return `index_key:${origin}`;
}

function parseKey(origin: string, text: string): Buffer {
  const key = Buffer.from(text, 'base64');
  if (key.length !== INDEX_KEY_BYTES || key.toString('base64') !== text)
    throw new AuditError(
      'store_failure',
      `the index key of ${origin} in the meta table is not ${INDEX_KEY_BYTES} bytes of base64`,
    );
  return key;
}

/**
 * The log's person tagger, or undefined when the log has no index key yet. Reads only.
 *
 * @example
 * const tag = await readIndexTagger(store, trail.origin);
 */
export async function readIndexTagger(store: AuditStore, origin: string): Promise<PersonTagger | undefined> {
  const text = await store.getMeta(indexKeyName(origin));
  return text === undefined ? undefined : personTagger(parseKey(origin, text));
}

const REINDEX_CHUNK = 4096;

/**
 * The log's person tagger, creating its index key when it has none (a write path: opening a log
 * for writing). Two processes creating one at once agree on the one stored first. A log that
 * already holds entries then has its index rows derived again, so no id stays in plain.
 */
export async function ensureIndexTagger(store: AuditStore, head: LogHead): Promise<PersonTagger> {
  const existing = await store.getMeta(indexKeyName(head.origin));
  if (existing !== undefined) return personTagger(parseKey(head.origin, existing));
  const stored = await store.addMeta(
    indexKeyName(head.origin),
    randomBytesFast(INDEX_KEY_BYTES).toString('base64'),
  );
  const tag = personTagger(parseKey(head.origin, stored));
  if (head.size > 0) await reindex(store, head, tag);
  return tag;
}

/** Derives the index rows of entries [0, head.size) again with `tag`, replacing those that differ. */
async function reindex(store: AuditStore, head: LogHead, tag: PersonTagger): Promise<void> {
  for await (const chunk of store.scan(head.logId, 0, head.size, REINDEX_CHUNK)) {
    const first = chunk[0]?.entry.seq;
    if (first === undefined) continue;
    const to = chunk[chunk.length - 1]!.entry.seq + 1;
    const stored = new Map<number, StoredIndexRow>();
    for (const r of await store.readIndex(head.logId, first - 1, to - first)) {
      if (typeof r.seq === 'number' && r.seq < to) stored.set(r.seq, r);
    }
    const rows: StoredIndexRow[] = [];
    for (const e of chunk) {
      const have = stored.get(e.entry.seq);
      const want = expectedIndexRow(e, have, tag) ?? have;
      if (want) rows.push(want);
    }
    await store.replaceIndex(head.logId, first, to, rows);
  }
}
