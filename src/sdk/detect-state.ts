import type { AuditTrail } from './audit-trail.js';
import { storeOf } from './internals.js';

/**
 * Where the detectors of one log keep their position and their learned state: the cursor is the
 * store's named cursor `detect:<name>` (compare-and-set, listed beside the exporters'), the state
 * one meta value. Reading never writes, so `anomalies list` works on a read-only trail.
 */
export interface DetectState {
  /** The next seq the detectors will read (0: nothing read yet). */
  cursor(name: string): Promise<number>;
  /** Moves the cursor from `from` to `to`; false when it was not at `from` (another detector moved it). */
  advance(name: string, from: number, to: number): Promise<boolean>;
  /** The last saved state snapshot (JSON text), or undefined. */
  snapshot(name: string): Promise<string | undefined>;
  saveSnapshot(name: string, json: string): Promise<void>;
}

const CURSOR_PREFIX = 'detect:';

/**
 * The detect state of `trail`'s log, on its store.
 *
 * @example
 * const state = detectState(trail);
 * const next = await state.cursor('default');
 */
export function detectState(trail: AuditTrail): DetectState {
  const store = storeOf(trail);
  const logId = trail['head'].logId;
  const metaKey = (name: string): string => `detect.state:${trail.origin}:${name}`;
  return {
    async cursor(name) {
      return (await store.getCursor(logId, CURSOR_PREFIX + name))?.seq ?? 0;
    },
    async advance(name, from, to) {
      const existing = await store.getCursor(logId, CURSOR_PREFIX + name);
      return store.setCursor(
        logId,
        CURSOR_PREFIX + name,
        to,
        existing === undefined && from === 0 ? null : from,
      );
    },
    snapshot: (name) => store.getMeta(metaKey(name)),
    saveSnapshot: (name, json) => store.setMeta(metaKey(name), json),
  };
}
