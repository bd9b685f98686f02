import { assembleEvent, parseDisclosure } from '../core/disclosure.js';
import { AuditError } from '../errors.js';
import type { AuditEvent, RecordedEvent } from '../event/types.js';
import { type Redactor } from '../redact/index.js';
import type { AuditStore, ListedEvent, SideWrites } from '../store/store.js';
import type { Receipt } from '../core/append-plan.js';
import type { KeyRing } from './keys.js';
import type { PersonTagger } from '../core/index-row.js';
import type { AuditTrail } from './audit-trail.js';

/** Each trail's redactor, for what the SDK stores beside the log (approval rows). Not public. */
export const REDACTORS = new WeakMap<object, Redactor>();

/**
 * The redactor of `trail` (built from its `redaction` options), so that rows stored outside the
 * log pass through the same rules as the log's events. Internal: not exported by the package.
 */
export function redactorOf(trail: object): Redactor {
  const redactor = REDACTORS.get(trail);
  if (redactor === undefined) throw new AuditError('invalid_argument', 'not an audit trail');
  return redactor;
}

/** Converts a stored entry back into the event a producer sent (plus seq, ts, leaf hash). */
export function toRecordedEvent(s: ListedEvent, origin: string): RecordedEvent {
  const parts = [];
  const erased: { pointer: string; by_seq: number | null }[] = [];
  for (const d of s.disclosures) {
    if (d.disclosure === null) {
      erased.push({ pointer: d.pointer, by_seq: d.erasedBySeq });
      continue;
    }
    const { pointer, value } = parseDisclosure(d.disclosure);
    parts.push({ pointer, value });
  }
  const body = assembleEvent(parts) as unknown as AuditEvent;
  const out: RecordedEvent = {
    seq: s.entry.seq,
    ts: s.entry.ts,
    leaf_hash: s.entry.leafHash.toString('hex'),
    log: origin,
    ...body,
    event_id: s.entry.eid,
    type: s.entry.type as AuditEvent['type'],
  };
  if (erased.length > 0) out.erased = erased;
  return out;
}

export const INTERNALS = new WeakMap<AuditTrail, { store: AuditStore; keys: KeyRing }>();

/** @internal The trail's store, for SDK internals (approvals, governor); not exported by the package. */
export function storeOf(trail: AuditTrail): AuditStore {
  const i = INTERNALS.get(trail);
  if (!i) throw new AuditError('invalid_argument', 'not an audit trail opened by openAuditTrail');
  return i.store;
}

/** @internal The trail's clock (epoch ms), the default of the governor and approvals; not exported by the package. */
/** @internal The trail's injected id source, if any: the default of the governor and approvals. */
export function idsOf(trail: AuditTrail): (() => string) | undefined {
  // Bracket access reads the private member: the options stay off the public surface.
  return trail['options'].ids;
}

export function clockOf(trail: AuditTrail): () => number {
  // Bracket access reads the private member: the clock stays off the public surface.
  return trail['now'];
}

/**
 * @internal Records `event` with rows of the store's other concerns (an approval request) in the
 * same transaction; not exported by the package.
 */
export function recordWithSideWrites(
  trail: AuditTrail,
  event: AuditEvent,
  sideWrites: SideWrites,
): Promise<Receipt> {
  // Bracket access reads the private member: side writes stay off the public surface.
  return trail['recordWith'](event, sideWrites);
}

/** @internal The trail's key ring, for SDK internals; not exported by the package. */
export function keysOf(trail: AuditTrail): KeyRing {
  const i = INTERNALS.get(trail);
  if (!i) throw new AuditError('invalid_argument', 'not an audit trail opened by openAuditTrail');
  return i.keys;
}

export function stripLogFields(e: RecordedEvent): AuditEvent {
  const { seq: _s, ts: _t, leaf_hash: _l, log: _g, erased: _e, ...rest } = e;
  return rest;
}

/** @internal The trail's person tagger (its log's index key); undefined before the log has one. */
export function tagOf(trail: AuditTrail): PersonTagger | undefined {
  // Bracket access reads the private member: the key stays off the public surface.
  return trail['tag'];
}
