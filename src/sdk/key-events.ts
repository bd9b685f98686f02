import { announcementOf, KeyChain } from '../core/key-chain.js';
import { assembleEvent, disclosureDigest, parseDisclosure } from '../core/disclosure.js';
import { parseLeaf } from '../core/leaf.js';
import type { NoteVerifier } from '../core/note.js';
import type { VerifyFailure } from '../core/verify-log.js';
import type { AuditStore } from '../store/store.js';

/** One `key.added` / `key.retired` entry of a log, with its announcement note (if readable). */
export interface KeyEvent {
  seq: number;
  type: 'key.added' | 'key.retired';
  announcement: unknown;
}

const KEY_TYPES = ['key.added', 'key.retired'] as const;

/**
 * The key events of a log in seq order. Found through the query index, then each read from its
 * entry: the type comes from the leaf and the announcement from disclosures whose digest the leaf
 * names, so an edited index or payload cannot add a key (verify reports the edit itself).
 */
export async function readKeyEvents(store: AuditStore, logId: number, before?: number): Promise<KeyEvent[]> {
  const seqs = new Set<number>();
  for (const type of KEY_TYPES) {
    let after: number | undefined;
    for (;;) {
      const page = await store.query(
        logId,
        { type },
        { limit: 500, order: 'asc', ...(after !== undefined ? { after } : {}) },
      );
      for (const e of page) seqs.add(e.entry.seq);
      if (page.length < 500) break;
      after = page[page.length - 1]!.entry.seq;
    }
  }
  const out: KeyEvent[] = [];
  for (const seq of [...seqs].sort((a, b) => a - b)) {
    if (before !== undefined && seq >= before) break;
    const stored = await store.getBySeq(logId, seq);
    if (!stored) continue;
    let leaf;
    try {
      leaf = parseLeaf(stored.entry.leaf);
    } catch {
      continue;
    }
    if (leaf.type !== 'key.added' && leaf.type !== 'key.retired') continue;
    const digests = new Set(leaf.d);
    const parts = [];
    for (const d of stored.disclosures) {
      if (d.disclosure === null) continue;
      try {
        if (!digests.has(disclosureDigest(d.disclosure))) continue;
        const { pointer, value } = parseDisclosure(d.disclosure);
        parts.push({ pointer, value });
      } catch {
        // A disclosure that does not parse announces nothing.
      }
    }
    out.push({ seq, type: leaf.type, announcement: announcementOf(assembleEvent(parts)) });
  }
  return out;
}

/**
 * The key chain of a log from the pinned `verifiers` through its key events, and a failure for
 * each announcement that does not verify.
 */
export async function buildKeyChain(
  store: AuditStore,
  logId: number,
  origin: string,
  verifiers: readonly NoteVerifier[],
): Promise<{ chain: KeyChain; failures: VerifyFailure[] }> {
  const chain = new KeyChain(origin, verifiers);
  const failures: VerifyFailure[] = [];
  for (const e of await readKeyEvents(store, logId)) {
    const problem = chain.apply(e.seq, e.type, e.announcement);
    if (problem !== undefined) failures.push({ seq: e.seq, kind: 'key_unannounced', detail: problem });
  }
  return { chain, failures };
}
