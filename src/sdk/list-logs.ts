import { AuditError } from '../errors.js';
import { openStore } from '../store/open-store.js';
import type { AuditStore } from '../store/store.js';
import { ORIGIN_HOST, resolveDb } from './open.js';

/** One log of a database, as `auditrail logs` shows it. */
export interface LogSummary {
  /** `auditrail.local/t/<tenant>/<log>`. */
  origin: string;
  tenant: string;
  /** The log's name within its tenant. */
  log: string;
  /** Entries committed. */
  size: number;
  /** The newest signed checkpoint, or null before the first one. */
  last_checkpoint: { size: number; created_at: string } | null;
  /** Approval requests still pending and not yet expired. */
  pending_approvals: number;
}

/** `<host>/t/<tenant>/<log>` split into tenant and log (null for a foreign origin). */
function parts(origin: string): { tenant: string; log: string } | null {
  const m = /^([^/]+)\/t\/([^/]+)\/([^/]+)$/.exec(origin);
  return m && m[1] === ORIGIN_HOST ? { tenant: m[2]!, log: m[3]! } : null;
}

/**
 * Lists every log in a database, with its size, newest checkpoint and pending approvals. The
 * database is opened read-only and must exist; nothing is created or written.
 *
 * @example
 * for (const l of await listLogs({ db: './.auditrail/audit.db' }))
 *   console.log(l.tenant, l.log, l.size, l.pending_approvals);
 */
export async function listLogs(options: { db?: string; store?: AuditStore } = {}): Promise<LogSummary[]> {
  const store = options.store ?? (await openStore(resolveDb(options.db), { readonly: true }));
  try {
    const now = new Date().toISOString();
    const pending = new Map<string, number>();
    for (const a of await store.listApprovals('pending')) {
      if (a.expiresAt > now) pending.set(a.logOrigin, (pending.get(a.logOrigin) ?? 0) + 1);
    }
    const out: LogSummary[] = [];
    for (const head of await store.listLogs()) {
      const cp = await store.latestCheckpoint(head.logId);
      const p = parts(head.origin);
      out.push({
        origin: head.origin,
        tenant: p?.tenant ?? head.tenant,
        log: p?.log ?? head.origin,
        size: head.size,
        last_checkpoint: cp ? { size: cp.size, created_at: cp.createdAt } : null,
        pending_approvals: pending.get(head.origin) ?? 0,
      });
    }
    return out;
  } catch (e) {
    if (e instanceof AuditError) throw e;
    throw new AuditError('store_failure', `cannot list the logs: ${(e as Error).message}`, { cause: e });
  } finally {
    if (options.store === undefined) await store.close();
  }
}
