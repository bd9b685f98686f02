/**
 * Retention (docs/privacy.md § Retention): which stored plaintext a policy lets go, and purging
 * it. A purge erases disclosures (and, for `all-but-leaf`, the index's personal columns); the
 * leaf, tiles and checkpoints stay, so every proof made before still verifies, and each purge is
 * recorded first as a `retention.purged` event naming the rule and the range, never a value, whose
 * seq each erased disclosure then names (verify reports them as erased by it).
 */
import { parseDisclosureJson } from '../core/disclosure.js';
import { purgeDigest } from '../core/verify-log.js';
import { AuditError } from '../errors.js';
import type { AuditEvent, RecordedEvent } from '../event/types.js';
import type { AuditStore, ReclaimReport, ScanRow } from '../store/store.js';
import { PERSONAL_INDEX_COLUMNS } from '../store/store.js';
import type { AuditTrail } from './audit-trail.js';
import { holdCovers, type Hold } from './holds.js';
import { clockOf, storeOf, toRecordedEvent } from './internals.js';
import {
  cutoffOf,
  durationDays,
  matchesEvent,
  type PurgeMode,
  type RetentionPolicy,
  type RetentionRule,
} from './retention-config.js';

/** The event a purge records before it erases anything. */
export const RETENTION_PURGED = 'retention.purged';

/**
 * The log's own records: never purged. Holds are derived from their events, erasures and purges
 * name their seqs, sampling summaries stand for what was dropped, and every `key.*` event keeps
 * its disclosures because verify follows the chain of signing keys through their bodies.
 */
const NEVER_PURGED = new Set([
  'data.erased',
  'retention.purged',
  'hold.placed',
  'hold.released',
  'sampling.summary',
  'archive.created',
  'archive.restored',
]);

/** True for an event type retention never purges (see {@link NEVER_PURGED}; any `key.*`). */
export function neverPurged(type: string): boolean {
  return NEVER_PURGED.has(type) || type.startsWith('key.');
}

export interface RetentionOptions {
  /** The instant periods are counted back from (epoch ms; default the trail's clock). */
  now?: number;
  /** The legal holds to respect (default: the trail's active holds, `trail.holds.list()`). */
  holds?: readonly Hold[];
  /** Events per `retention.purged` record (default 50,000). */
  batch?: number;
}

export interface ApplyOptions extends RetentionOptions {
  /** Who applies it (recorded as the actor of each `retention.purged`). Default the system. */
  actor?: { type: 'user' | 'service' | 'system'; id: string };
  /** Why (recorded in `metadata.reason`). */
  reason?: string;
  /** Return freed pages to the file system afterwards (default true). */
  reclaim?: boolean;
}

/** What one rule would purge (or purged). */
export interface RetentionRuleResult {
  rule: string;
  purge: PurgeMode;
  keep: string;
  /** Entries older than this (log time) are due. */
  cutoff: string;
  events: number;
  /** Disclosures to erase. */
  disclosures: number;
  /** Plaintext bytes those disclosures hold. */
  bytes: number;
  oldest: string | null;
  newest: string | null;
  by_type: Record<string, number>;
}

export interface RetentionPlan {
  log: string;
  now: string;
  /** Entries read (up to the newest one any rule could reach). */
  scanned: number;
  rules: RetentionRuleResult[];
  /** Due entries kept because a legal hold covers them, by hold. */
  held: { events: number; by_hold: Record<string, number> };
  /**
   * Entries a rule matches and whose period is over, kept whole because they are the log's own
   * records (every `key.*` event: verify's chain of signing keys reads them; erasure, purge,
   * hold, sampling and archive records), by type.
   */
  never_purged: { events: number; by_type: Record<string, number> };
  total: { events: number; disclosures: number; bytes: number };
}

export interface RetentionApplyReport extends RetentionPlan {
  /** Seqs of the `retention.purged` events recorded, in order. */
  purge_events: number[];
  /** Disclosures actually erased (0 when the plan was empty: applying twice changes nothing). */
  erased: number;
  reclaimed: ReclaimReport | null;
}

interface Due {
  seq: number;
  type: string;
  units: { seq: number; unit: number; pointer: string }[];
}

interface Pending {
  rule: RetentionRule;
  due: Due[];
}

const SCAN_CHUNK = 4096;
/** Disclosures erased (or index rows cleared) per store transaction. */
const WRITE_CHUNK = 4096;

function emptyResult(rule: RetentionRule, now: number): RetentionRuleResult {
  return {
    rule: rule.name,
    purge: rule.purge,
    keep: rule.keep.text,
    cutoff: new Date(cutoffOf(rule.keep, now)).toISOString(),
    events: 0,
    disclosures: 0,
    bytes: 0,
    oldest: null,
    newest: null,
    by_type: {},
  };
}

/** The body's classification and risk (null: erased or unreadable, so rules reading them do not match). */
function facts(row: ScanRow): { classification?: string; risk?: string } {
  const body = row.disclosures.find((d) => d.pointer === '');
  if (!body || body.disclosure === null) return {};
  try {
    const text = typeof body.disclosure === 'string' ? body.disclosure : body.disclosure.toString('utf8');
    const parsed = parseDisclosureJson(text);
    const v = Array.isArray(parsed) ? (parsed[2] as Record<string, unknown> | undefined) : undefined;
    const ctx = v?.['context'] as Record<string, unknown> | undefined;
    const policy = v?.['policy'] as Record<string, unknown> | undefined;
    const c = ctx?.['data_classification'];
    const r = v?.['risk_level'] ?? policy?.['risk'];
    return {
      ...(typeof c === 'string' ? { classification: c } : {}),
      ...(typeof r === 'string' ? { risk: r } : {}),
    };
  } catch {
    return {};
  }
}

function recorded(row: ScanRow, origin: string): RecordedEvent {
  const leaf = typeof row.entry.leaf === 'string' ? Buffer.from(row.entry.leaf) : row.entry.leaf;
  return toRecordedEvent(
    {
      entry: { ...row.entry, leaf },
      disclosures: row.disclosures.map((d) => ({ ...d, erasedBySeq: d.erasedBySeq ?? null })),
    },
    origin,
  );
}

/**
 * Walks the log oldest first and hands each due entry to `onDue` (with its rule); stops at the
 * first entry younger than every rule's cut-off (log time never decreases along seq).
 */
async function walk(
  trail: AuditTrail,
  store: AuditStore,
  policy: RetentionPolicy,
  now: number,
  holds: readonly Hold[],
  plan: RetentionPlan,
  onDue: (rule: RetentionRule, due: Due) => Promise<void>,
): Promise<void> {
  const head = await store.getLog(trail.origin);
  if (!head) throw new AuditError('not_found', `log ${trail.origin} does not exist`);
  // Compared as text with the log's `ts`, which has microseconds: `…00.000000Z`.
  const cutoffs = new Map(
    policy.rules.map((r) => [r, new Date(cutoffOf(r.keep, now)).toISOString().replace(/Z$/, '000Z')]),
  );
  const latest = [...cutoffs.values()].reduce((a, b) => (a > b ? a : b), '');
  const results = new Map(plan.rules.map((r) => [r.rule, r]));
  for await (const chunk of store.scan(head.logId, 0, head.size, SCAN_CHUNK)) {
    for (const row of chunk) {
      const { seq, ts, type } = row.entry;
      if (ts >= latest) return;
      plan.scanned++;
      let f: { classification?: string; risk?: string } | undefined;
      const rule = policy.rules.find((r) => {
        if (r.needsBody) f ??= facts(row);
        return matchesEvent(r.match, { tenant: trail.tenant, type, ...(r.needsBody ? f : {}) });
      });
      if (rule === undefined || ts >= cutoffs.get(rule)!) continue;
      if (neverPurged(type)) {
        plan.never_purged.events++;
        plan.never_purged.by_type[type] = (plan.never_purged.by_type[type] ?? 0) + 1;
        continue;
      }
      const units = row.disclosures.filter(
        (d) => d.disclosure !== null && (rule.purge === 'all-but-leaf' || d.pointer !== ''),
      );
      if (units.length === 0) continue;
      if (holds.length > 0) {
        const e = recorded(row, trail.origin);
        const fields = {
          ts,
          session_id: e.session_id,
          actor: e.actor,
          data_subject_ids: e.context?.data_subject_ids,
        };
        const hold = holds.find((h) => holdCovers(h, fields));
        if (hold !== undefined) {
          const name = hold.id;
          plan.held.events++;
          plan.held.by_hold[name] = (plan.held.by_hold[name] ?? 0) + 1;
          continue;
        }
      }
      const r = results.get(rule.name)!;
      r.events++;
      r.disclosures += units.length;
      let bytes = 0;
      for (const u of units)
        bytes += typeof u.disclosure === 'string' ? Buffer.byteLength(u.disclosure) : u.disclosure!.length;
      r.bytes += bytes;
      r.oldest ??= ts;
      r.newest = ts;
      r.by_type[type] = (r.by_type[type] ?? 0) + 1;
      await onDue(rule, {
        seq,
        type,
        units: units.map((u) => ({ seq, unit: u.unit, pointer: u.pointer })),
      });
    }
  }
}

function newPlan(trail: AuditTrail, policy: RetentionPolicy, now: number): RetentionPlan {
  return {
    log: trail.origin,
    now: new Date(now).toISOString(),
    scanned: 0,
    rules: policy.rules.map((r) => emptyResult(r, now)),
    held: { events: 0, by_hold: {} },
    never_purged: { events: 0, by_type: {} },
    total: { events: 0, disclosures: 0, bytes: 0 },
  };
}

function totals(plan: RetentionPlan): void {
  for (const r of plan.rules) {
    plan.total.events += r.events;
    plan.total.disclosures += r.disclosures;
    plan.total.bytes += r.bytes;
  }
}

/**
 * What applying `policy` now would purge: per rule, the entries (by type, oldest and newest),
 * their disclosures and plaintext bytes; and what legal holds keep. Reads only.
 *
 * @example
 * const plan = await planRetention(trail, loadPrivacyConfig('auditrail.yaml').retention!);
 * for (const r of plan.rules) console.log(r.rule, r.events, r.bytes);
 */
export async function planRetention(
  trail: AuditTrail,
  policy: RetentionPolicy,
  options: RetentionOptions = {},
): Promise<RetentionPlan> {
  const now = options.now ?? clockOf(trail)();
  const plan = newPlan(trail, policy, now);
  await trail.flush();
  const holds = options.holds ?? (await trail.holds.list());
  await walk(trail, storeOf(trail), policy, now, holds, plan, () => Promise.resolve());
  totals(plan);
  return plan;
}

/**
 * Purges what {@link planRetention} lists: for each batch of due entries of one rule, records a
 * `retention.purged` event (rule, period, seq range, counts by type; never a value), then erases
 * the disclosures naming that event's seq, and for `all-but-leaf` clears the index's personal
 * columns. Entries under a legal hold are skipped. Applying twice purges nothing the second time.
 *
 * @example
 * const report = await applyRetention(trail, policy, { actor: { type: 'user', id: 'dpo@example.com' } });
 * console.log(report.erased, report.purge_events);
 */
export async function applyRetention(
  trail: AuditTrail,
  policy: RetentionPolicy,
  options: ApplyOptions = {},
): Promise<RetentionApplyReport> {
  if (trail.readonly) throw new AuditError('read_only', 'cannot purge: the audit trail is open read-only');
  const now = options.now ?? clockOf(trail)();
  const store = storeOf(trail);
  const head = await store.getLog(trail.origin);
  if (!head) throw new AuditError('not_found', `log ${trail.origin} does not exist`);
  const batch = options.batch ?? 50_000;
  const plan = newPlan(trail, policy, now);
  const report: RetentionApplyReport = { ...plan, purge_events: [], erased: 0, reclaimed: null };
  const pending = new Map<string, Pending>();

  const purge = async (p: Pending): Promise<void> => {
    if (p.due.length === 0) return;
    const byType: Record<string, number> = {};
    const from = p.due[0]!.seq;
    const to = p.due[p.due.length - 1]!.seq;
    const units = p.due.flatMap((d) => d.units);
    for (const d of p.due) byType[d.type] = (byType[d.type] ?? 0) + 1;
    const days = Math.floor(durationDays(p.rule.keep));
    const event: AuditEvent = {
      type: RETENTION_PURGED,
      actor: options.actor ?? { type: 'system', id: 'auditrail-retention' },
      action: {
        type: 'retention.purge',
        target: `retention:${p.rule.name}`,
        params: {
          rule: p.rule.name,
          purge: p.rule.purge,
          keep: p.rule.keep.text,
          cutoff: new Date(cutoffOf(p.rule.keep, now)).toISOString(),
          from_seq: from,
          to_seq: to,
          events: p.due.length,
          disclosures: units.length,
          by_type: byType,
          ...(p.rule.purge === 'all-but-leaf' ? { index_columns_cleared: [...PERSONAL_INDEX_COLUMNS] } : {}),
        },
      },
      metadata: {
        // What verify holds the erasures marked with this event's seq to (docs/verification.md).
        purged: { from_seq: from, to_seq: to, disclosures: units.length, sha256: purgeDigest(units) },
        retention_days: days,
        presets: policy.presets,
        ...(options.reason !== undefined ? { reason: options.reason } : {}),
      },
    };
    // Recorded (durably) before anything is erased: an erased disclosure always names a stored event.
    const receipt = await trail.record(event);
    report.purge_events.push(receipt.seq);
    // Short transactions: appends (the server's write thread) wait for each at most a moment.
    const at = new Date(now).toISOString();
    for (let i = 0; i < units.length; i += WRITE_CHUNK)
      report.erased += await store.eraseDisclosures(
        head.logId,
        units.slice(i, i + WRITE_CHUNK),
        receipt.seq,
        at,
      );
    if (p.rule.purge === 'all-but-leaf') {
      const seqs = p.due.map((d) => d.seq);
      for (let i = 0; i < seqs.length; i += WRITE_CHUNK)
        await store.clearIndexColumns(head.logId, seqs.slice(i, i + WRITE_CHUNK), PERSONAL_INDEX_COLUMNS);
    }
    p.due = [];
  };

  await trail.flush();
  const holds = options.holds ?? (await trail.holds.list());
  await walk(trail, store, policy, now, holds, report, async (rule, due) => {
    let p = pending.get(rule.name);
    if (!p) pending.set(rule.name, (p = { rule, due: [] }));
    p.due.push(due);
    if (p.due.length >= batch) await purge(p);
  });
  for (const p of pending.values()) await purge(p);
  totals(report);
  if (report.erased > 0 && options.reclaim !== false && store.reclaimSpace)
    report.reclaimed = await store.reclaimSpace();
  return report;
}

/**
 * Returns the pages purges freed to the file system. With `compact`, first rewrites the database
 * once (SQLite `VACUUM`, needing free disk about its size) and switches it to incremental vacuum,
 * for a database created before auditrail set that up. Null for a store without a file.
 *
 * @example
 * const r = await reclaimSpace(trail, { compact: true });
 * console.log(r?.fileBytesBefore, r?.fileBytesAfter);
 */
export async function reclaimSpace(
  trail: AuditTrail,
  options: { compact?: boolean } = {},
): Promise<ReclaimReport | null> {
  if (trail.readonly)
    throw new AuditError('read_only', 'cannot reclaim space: the audit trail is open read-only');
  const store = storeOf(trail);
  await trail.flush();
  return store.reclaimSpace ? store.reclaimSpace(options) : null;
}
