import { AuditError } from '../errors.js';
import type { RecordedEvent } from '../event/types.js';
import type { AuditTrail } from './audit-trail.js';
import { holdCovers, type Hold } from './holds.js';
import { storeOf, tagOf } from './internals.js';

/**
 * A data subject access export (GDPR Art. 15): everything the log holds about one subject, read
 * through the index by the subject's tag and checked in plaintext. Reads only.
 */

/** An approval request made by the subject (a user actor), as the approvals table holds it. */
export interface SubjectApproval {
  id: string;
  status: string;
  action_type: string;
  target: string | null;
  params?: unknown;
  created_at: string;
  decided_by: string | null;
  decided_at: string | null;
  reason: string | null;
}

export interface SubjectAccessExport {
  format: 'auditrail-dsar/v1';
  log: string;
  subject: string;
  generated_at: string;
  /** The log's size when read. */
  tree_size: number;
  /** Events naming the subject in `context.data_subject_ids`, or where the subject acted as a user; disclosed fields included. */
  events: RecordedEvent[];
  /** Approval requests the subject made. */
  approvals: SubjectApproval[];
  /** Active legal holds that cover at least one of these events (their data cannot be erased now). */
  holds: Hold[];
}

const ID = /^[\x21-\x7e]{1,128}$/;
const PAGE = 1000;

/**
 * Everything held about `subject` in `trail`'s log (see {@link SubjectAccessExport}).
 *
 * @example
 * const dsar = await subjectAccess(trail, 'cust-7'); // dsar.events.length, dsar.approvals
 */
export async function subjectAccess(trail: AuditTrail, subject: string): Promise<SubjectAccessExport> {
  if (typeof subject !== 'string' || !ID.test(subject))
    throw new AuditError('invalid_argument', 'subject must be 1 to 128 printable characters without spaces');
  const bySeq = new Map<number, RecordedEvent>();
  for (const filter of [{ subject }, { actor_id: `user:${subject}` }]) {
    let cursor: string | undefined;
    do {
      const page = await trail.query({ ...filter, limit: PAGE, ...(cursor ? { cursor } : {}) });
      for (const e of page.events) {
        // The index finds by tag; the plaintext decides (a tag collision is not the subject's).
        const names =
          e.context?.data_subject_ids?.includes(subject) === true ||
          (e.actor?.type === 'user' && e.actor.id === subject);
        if (names) bySeq.set(e.seq, e);
      }
      cursor = page.next_cursor ?? undefined;
    } while (cursor !== undefined);
  }
  const events = [...bySeq.values()].sort((a, b) => a.seq - b.seq);
  const tag = tagOf(trail);
  const approvals: SubjectApproval[] = [];
  if (tag) {
    const mine = `user:${tag(subject)}`;
    for (const r of await storeOf(trail).listApprovals(undefined, trail.origin)) {
      if (r.actorType !== 'user' || r.actorId !== mine) continue;
      approvals.push({
        id: r.id,
        status: r.status,
        action_type: r.actionType,
        target: r.target,
        ...(r.params !== undefined ? { params: r.params } : {}),
        created_at: r.createdAt,
        decided_by: r.decidedBy,
        decided_at: r.decidedAt,
        reason: r.reason,
      });
    }
  }
  const active = await trail.holds.list();
  const holds = active.filter((h) =>
    events.some((e) =>
      holdCovers(h, {
        ts: e.ts,
        session_id: e.session_id,
        actor: e.actor,
        data_subject_ids: e.context?.data_subject_ids,
      }),
    ),
  );
  return {
    format: 'auditrail-dsar/v1',
    log: trail.origin,
    subject,
    generated_at: new Date().toISOString(),
    tree_size: trail.size,
    events,
    approvals,
    holds,
  };
}
