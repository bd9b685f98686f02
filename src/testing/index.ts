/**
 * Test helpers, exported as `auditrail/testing`: an in-memory store, a fixed clock and
 * sequential ids, so tests of code that records audit events are fast and deterministic.
 *
 * @example
 * import { MemoryStore, fixedClock } from 'auditrail/testing';
 * const trail = await openAuditTrail({ tenant: 't', store: new MemoryStore(), now: fixedClock() });
 */
export { MemoryStore } from '../store/memory/memory-store.js';

/** A clock that starts at `start` (epoch ms) and advances `stepMs` on each call. */
export function fixedClock(start = Date.UTC(2026, 0, 1), stepMs = 1): () => number {
  let t = start - stepMs;
  return () => (t += stepMs);
}

/**
 * Sequential, time-ordered-looking ids: `evt-000001`, `evt-000002`, … For `event_id`, and for the
 * `ids` option of `Governor` and `Approvals` (every event they record, and approval ids).
 *
 * @example
 * const gov = new Governor({ trail, policy, actor, ids: sequentialIds() }); // intent evt-000002, …
 */
export function sequentialIds(prefix = 'evt'): () => string {
  let n = 0;
  return () => `${prefix}-${String(++n).padStart(6, '0')}`;
}
