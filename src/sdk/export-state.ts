import { AuditError } from '../errors.js';
import type { AuditTrail } from './audit-trail.js';
import { storeOf } from './internals.js';

/**
 * A batch a receiver refused for good (a 4xx other than 408/429), kept so an operator can see why
 * and send it again. Holds the seq range, not the events: the log still has them, and replay reads
 * them back from it.
 */
export interface DeadLetter {
  /** Unique within the sink: `<from_seq>-<to_seq>`. */
  id: string;
  from_seq: number;
  to_seq: number;
  /** Events of the range that passed the sink's filter when it was sent. */
  events: number;
  /** HTTP status, or null when the refusal was not an HTTP answer. */
  status: number | null;
  /** The receiver's answer (redacted, at most 2,048 characters). */
  response: string;
  /** When it was dead-lettered (RFC 3339). */
  at: string;
}

/** Where the export pipeline keeps its position and its dead letters, per sink name. */
export interface ExportState {
  /** The next seq the sink will be sent (0: nothing sent yet). */
  cursor(name: string): Promise<number>;
  /** Moves the cursor from `from` to `to`; false when it was not at `from` (another exporter moved it). */
  advance(name: string, from: number, to: number): Promise<boolean>;
  /** Every sink's cursor on this log, by name. */
  cursors(): Promise<{ name: string; seq: number }[]>;
  deadLetters(name: string): Promise<DeadLetter[]>;
  addDeadLetter(name: string, letter: DeadLetter): Promise<void>;
  removeDeadLetter(name: string, id: string): Promise<void>;
}

/** Whose state: SIEM sinks (`export`) or alert channels (`alert`), each with its own names. */
export type DeliveryKind = 'export' | 'alert';
/** Bound on a sink's dead letters: past it the pipeline stops instead of dropping any. */
export const MAX_DEAD_LETTERS = 10_000;

/**
 * The export state of `trail`'s log, on its store: cursors are the store's named cursors
 * (`export:<sink>`, or `alert:<channel>` for alert channels; compare-and-set), dead letters one
 * meta value per sink. Reading it never writes, so `export status` works on a trail opened read-only.
 *
 * @example
 * const state = exportState(trail);
 * const next = await state.cursor('splunk');
 */
export function exportState(trail: AuditTrail, kind: DeliveryKind = 'export'): ExportState {
  const store = storeOf(trail);
  const logId = trail['head'].logId;
  const CURSOR_PREFIX = `${kind}:`;
  const deadKey = (name: string): string => `${kind}.dead:${trail.origin}:${name}`;
  const readDead = async (name: string): Promise<DeadLetter[]> => {
    const raw = await store.getMeta(deadKey(name));
    if (raw === undefined) return [];
    try {
      const parsed = JSON.parse(raw) as unknown;
      if (Array.isArray(parsed)) return parsed as DeadLetter[];
    } catch (e) {
      throw new AuditError('store_failure', `the dead letters of sink '${name}' do not parse`, {
        cause: e,
      });
    }
    throw new AuditError('store_failure', `the dead letters of sink '${name}' are not a list`);
  };
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
    async cursors() {
      return (await store.listCursors(logId))
        .filter((c) => c.name.startsWith(CURSOR_PREFIX))
        .map((c) => ({ name: c.name.slice(CURSOR_PREFIX.length), seq: c.seq }));
    },
    deadLetters: readDead,
    async addDeadLetter(name, letter) {
      const list = await readDead(name);
      if (list.length >= MAX_DEAD_LETTERS)
        throw new AuditError(
          'conflict',
          `sink '${name}' has ${MAX_DEAD_LETTERS} dead letters: replay or inspect them before exporting more`,
        );
      list.push(letter);
      await store.setMeta(deadKey(name), JSON.stringify(list));
    },
    async removeDeadLetter(name, id) {
      const list = await readDead(name);
      await store.setMeta(deadKey(name), JSON.stringify(list.filter((l) => l.id !== id)));
    },
  };
}
