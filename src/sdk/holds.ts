import { disclosureDigest } from '../core/disclosure.js';
import { parseLeaf } from '../core/leaf.js';
import { AuditError } from '../errors.js';
import type { RecordedEvent } from '../event/types.js';
import type { AuditTrail } from './audit-trail.js';
import { storeOf } from './internals.js';

/**
 * Legal holds: what may not be purged or erased while a matter is open. Each hold is placed and
 * released by an event of the log (`hold.placed`, `hold.released`), and the active set is derived
 * from those events, each checked against its leaf: there is no side table to edit unseen, and
 * deleting or altering a hold event breaks `verify`.
 */

/** What a hold covers: every criterion given must match (none but a time range: all events in it). */
export interface HoldScope {
  session_id?: string;
  /** An actor id as recorded (`actor.id`), of any actor type. */
  actor_id?: string;
  /** A data subject id (`context.data_subject_ids`, or a user actor's id). */
  subject?: string;
  /** Inclusive lower bound on the log's receive time `ts` (RFC 3339). */
  since?: string;
  /** Exclusive upper bound on `ts` (RFC 3339). */
  until?: string;
}

/** An active (or released) legal hold, as derived from its events. */
export interface Hold {
  /** `hold-<seq>`: the seq of its `hold.placed` event. */
  id: string;
  seq: number;
  scope: HoldScope;
  reason: string;
  placed_by: string;
  placed_at: string;
  /** True when the `hold.placed` event's scope was erased: then it covers every event. */
  scope_erased?: boolean;
}

/** The fields of an event a hold is matched against (plain values, as the event holds them). */
export interface HoldEventFields {
  /** The log's receive time (RFC 3339). */
  ts: string;
  session_id?: string | null | undefined;
  actor?: { type?: string; id?: string } | null | undefined;
  data_subject_ids?: readonly string[] | null | undefined;
}

/** Who places or releases a hold, and why (both recorded in the hold's event). */
export interface HoldRequest {
  reason: string;
  /** The person or service acting: the event's actor. */
  by: string;
  /** The acting actor's type (default `user`). */
  byType?: 'user' | 'service' | 'system' | 'agent';
}

const ID = /^[\x21-\x7e]{1,128}$/;
const HOLD_ID = /^hold-(\d{1,15})$/;
const MAX_REASON = 16384;

function checkText(what: string, v: unknown, max: number): string {
  if (typeof v !== 'string' || v.trim() === '' || v.length > max)
    throw new AuditError(
      'invalid_argument',
      `${what} must be a non-empty string of at most ${max} characters`,
    );
  return v;
}

function checkTime(what: string, v: unknown): string {
  if (typeof v !== 'string' || v.length > 40 || !/^\d{4}-\d\d-\d\d(T[\d:.]+(Z|[+-]\d\d:\d\d))?$/.test(v))
    throw new AuditError(
      'invalid_argument',
      `${what} must be an RFC 3339 date or time, e.g. 2026-01-31 or 2026-01-31T00:00:00Z`,
    );
  const ms = Date.parse(v);
  if (!Number.isFinite(ms))
    throw new AuditError('invalid_argument', `${what} ${JSON.stringify(v)} is not a valid date`);
  return new Date(ms).toISOString();
}

/**
 * Checks and normalises a hold's scope (times as UTC ISO strings). Throws `invalid_argument`
 * naming the bad field.
 *
 * @example
 * normalizeHoldScope({ subject: 'cust-7', since: '2026-01-01' }) // { subject: 'cust-7', since: '2026-01-01T00:00:00.000Z' }
 */
export function normalizeHoldScope(scope: HoldScope): HoldScope {
  if (typeof scope !== 'object' || scope === null)
    throw new AuditError('invalid_argument', 'a hold scope is an object');
  const known = new Set(['session_id', 'actor_id', 'subject', 'since', 'until']);
  for (const k of Object.keys(scope))
    if (!known.has(k))
      throw new AuditError('invalid_argument', `unknown hold scope field ${JSON.stringify(k)}`);
  const out: HoldScope = {};
  for (const k of ['session_id', 'actor_id', 'subject'] as const) {
    const v = scope[k];
    if (v === undefined) continue;
    if (typeof v !== 'string' || !ID.test(v))
      throw new AuditError(
        'invalid_argument',
        `hold ${k} must be 1 to 128 printable characters without spaces`,
      );
    out[k] = v;
  }
  if (scope.since !== undefined) out.since = checkTime('hold since', scope.since);
  if (scope.until !== undefined) out.until = checkTime('hold until', scope.until);
  if (out.since !== undefined && out.until !== undefined && out.since >= out.until)
    throw new AuditError('invalid_argument', `hold since (${out.since}) must be before until (${out.until})`);
  if (Object.keys(out).length === 0)
    throw new AuditError(
      'invalid_argument',
      'a hold needs at least one of session_id, actor_id, subject, since, until',
    );
  return out;
}

/**
 * True when `hold` covers an event with these fields: pure, for purge and erasure to call per
 * event. Every criterion of the scope must match; a hold whose scope was erased covers all.
 *
 * @example
 * holdCovers(hold, { ts: '2026-03-01T10:00:00.000000Z', data_subject_ids: ['cust-7'] }) // true for { subject: 'cust-7' }
 */
export function holdCovers(
  hold: Pick<Hold, 'scope'> & { scope_erased?: boolean },
  event: HoldEventFields,
): boolean {
  if (hold.scope_erased === true) return true;
  const s = hold.scope;
  if (s.session_id !== undefined && event.session_id !== s.session_id) return false;
  if (s.actor_id !== undefined && event.actor?.id !== s.actor_id) return false;
  if (s.subject !== undefined) {
    const asUser = event.actor?.type === 'user' && event.actor.id === s.subject;
    if (!asUser && !(event.data_subject_ids ?? []).includes(s.subject)) return false;
  }
  if (s.since !== undefined || s.until !== undefined) {
    const t = Date.parse(event.ts);
    // An unreadable time cannot be shown to be outside the hold: covered.
    if (!Number.isFinite(t)) return true;
    if (s.since !== undefined && t < Date.parse(s.since)) return false;
    if (s.until !== undefined && t >= Date.parse(s.until)) return false;
  }
  return true;
}

/** A one-line description of a hold's scope, e.g. `subject cust-7, since 2026-01-01T00:00:00.000Z`. */
export function describeHold(hold: Hold): string {
  if (hold.scope_erased === true) return 'everything (its scope was erased)';
  return Object.entries(hold.scope)
    .map(([k, v]) => `${k.replace('_id', '')} ${String(v)}`)
    .join(', ');
}

/**
 * The legal holds of one trail (`trail.holds`).
 *
 * @example
 * const hold = await trail.holds.place({ subject: 'cust-7' }, { reason: 'case 2026-14', by: 'legal@acme' });
 * (await trail.holds.list()).map((h) => h.id); // ['hold-42']
 * await trail.holds.release(hold.id, { reason: 'case closed', by: 'legal@acme' });
 */
export class Holds {
  constructor(private readonly trail: AuditTrail) {}

  /**
   * Places a hold: records a `hold.placed` event and resolves with the hold (its id is
   * `hold-<seq>`). Throws `invalid_argument` for a bad scope, reason or `by`.
   */
  async place(scope: HoldScope, request: HoldRequest): Promise<Hold> {
    const clean = normalizeHoldScope(scope);
    const { reason, by, actorType } = checkRequest(request);
    const receipt = await this.trail.record({
      type: 'hold.placed',
      actor: { type: actorType, id: by },
      action: { type: 'hold.place', target: 'legal-hold', params: { scope: clean, reason } },
    });
    return {
      id: `hold-${receipt.seq}`,
      seq: receipt.seq,
      scope: clean,
      reason,
      placed_by: by,
      placed_at: (await this.trail.get(receipt.seq))?.ts ?? new Date().toISOString(),
    };
  }

  /**
   * Releases an active hold: records a `hold.released` event. `not_found` when no such hold was
   * placed, `conflict` when it was released already.
   */
  async release(id: string, request: HoldRequest): Promise<void> {
    const { reason, by, actorType } = checkRequest(request);
    const m = typeof id === 'string' ? HOLD_ID.exec(id) : null;
    if (!m)
      throw new AuditError('invalid_argument', `a hold id looks like hold-42, not ${JSON.stringify(id)}`);
    const { placed, released } = await this.read();
    if (!placed.has(id))
      throw new AuditError('not_found', `no hold ${id} in ${this.trail.origin} (auditrail hold list)`);
    if (released.has(id))
      throw new AuditError('conflict', `hold ${id} was already released (seq ${released.get(id)})`);
    await this.trail.record({
      type: 'hold.released',
      actor: { type: actorType, id: by },
      action: { type: 'hold.release', target: id, params: { hold_id: id, reason } },
    });
  }

  /** The active holds, oldest first, derived from the verified hold events of the log. */
  async list(): Promise<Hold[]> {
    const { placed, released } = await this.read();
    return [...placed.values()].filter((h) => !released.has(h.id));
  }

  /** The first active hold covering an event with these fields, if any. */
  async covering(event: HoldEventFields): Promise<Hold | undefined> {
    return (await this.list()).find((h) => holdCovers(h, event));
  }

  private async read(): Promise<{ placed: Map<string, Hold>; released: Map<string, number> }> {
    const placed = new Map<string, Hold>();
    const released = new Map<string, number>();
    for await (const e of this.events('hold.placed')) {
      const params = e.action?.params as { scope?: HoldScope; reason?: string } | undefined;
      const id = `hold-${e.seq}`;
      const erased = params?.scope === undefined;
      let scope: HoldScope = {};
      if (!erased) {
        try {
          scope = normalizeHoldScope(params.scope!);
        } catch (cause) {
          throw new AuditError('proof_invalid', `hold event seq ${e.seq} holds an unreadable scope`, {
            cause,
          });
        }
      }
      placed.set(id, {
        id,
        seq: e.seq,
        scope,
        reason: typeof params?.reason === 'string' ? params.reason : '',
        placed_by: e.actor?.id ?? '(erased)',
        placed_at: e.ts,
        ...(erased ? { scope_erased: true } : {}),
      });
    }
    for await (const e of this.events('hold.released')) {
      const id = e.action?.target;
      if (typeof id === 'string' && placed.has(id) && !released.has(id)) released.set(id, e.seq);
    }
    return { placed, released };
  }

  /** Events of one type, each checked against its leaf (a disclosure not in the leaf is refused). */
  private async *events(type: 'hold.placed' | 'hold.released'): AsyncGenerator<RecordedEvent> {
    const store = storeOf(this.trail);
    const log = await store.getLog(this.trail.origin);
    if (!log) return;
    let cursor: string | undefined;
    do {
      const page = await this.trail.query({ type, limit: 1000, ...(cursor ? { cursor } : {}) });
      for (const e of page.events) {
        const stored = await store.getBySeq(log.logId, e.seq);
        const leaf = stored ? leafOf(stored.entry.leaf) : undefined;
        const ok =
          stored !== undefined &&
          leaf !== undefined &&
          leaf.type === type &&
          stored.disclosures.every(
            (d) => d.disclosure === null || leaf.d.includes(disclosureDigest(d.disclosure)),
          );
        if (!ok)
          throw new AuditError(
            'proof_invalid',
            `the ${type} event at seq ${e.seq} does not match its leaf: run auditrail verify`,
          );
        yield e;
      }
      cursor = page.next_cursor ?? undefined;
    } while (cursor !== undefined);
  }
}

function checkRequest(r: HoldRequest): {
  reason: string;
  by: string;
  actorType: 'user' | 'service' | 'system' | 'agent';
} {
  if (typeof r !== 'object' || r === null)
    throw new AuditError('invalid_argument', 'a hold request needs { reason, by }');
  const reason = checkText('the reason', r.reason, MAX_REASON);
  if (typeof r.by !== 'string' || !ID.test(r.by))
    throw new AuditError('invalid_argument', '`by` must be 1 to 128 printable characters without spaces');
  const actorType = r.byType ?? 'user';
  if (!['user', 'service', 'system', 'agent'].includes(actorType))
    throw new AuditError('invalid_argument', '`byType` must be user, service, system or agent');
  return { reason, by: r.by, actorType };
}

/** The parsed leaf, or undefined when it does not parse (reported as not matching). */
function leafOf(bytes: Buffer): ReturnType<typeof parseLeaf> | undefined {
  try {
    return parseLeaf(bytes);
  } catch {
    return undefined;
  }
}
