import type { SamplingPolicy } from '../sdk/retention-config.js';
import { AuditError } from '../errors.js';
import { openAuditTrail } from '../sdk/open.js';
import type { AuditTrail, AuditTrailOptions } from '../sdk/audit-trail.js';
import type { AuditStore } from '../store/store.js';

/** Where the tenants' logs live: a database path (one connection per tenant) or a shared store. */
export interface TenantTrailsOptions {
  db?: string;
  store?: AuditStore;
  keyDir?: string | null;
  checkpointIntervalMs?: number;
  now?: () => number;
  onError?: (e: unknown) => void;
  sampling?: SamplingPolicy;
}

/**
 * One open audit trail per tenant (each tenant's own log in the same database), opened on first
 * use and kept; `closeAll` flushes each and signs its final checkpoint.
 */
export class TenantTrails {
  private readonly trails = new Map<string, Promise<AuditTrail>>();
  private closing = false;

  constructor(private readonly options: TenantTrailsOptions) {}

  /** The trail of `tenant` (its `default` log), created when the tenant has none yet. */
  get(tenant: string): Promise<AuditTrail> {
    if (this.closing) return Promise.reject(new AuditError('closed', 'the server is shutting down'));
    let t = this.trails.get(tenant);
    if (t === undefined) {
      const o = this.options;
      const options: AuditTrailOptions = {
        tenant,
        ...(o.db !== undefined ? { db: o.db } : {}),
        ...(o.store !== undefined ? { store: o.store } : {}),
        ...(o.keyDir !== undefined ? { keyDir: o.keyDir } : {}),
        ...(o.checkpointIntervalMs !== undefined ? { checkpointIntervalMs: o.checkpointIntervalMs } : {}),
        ...(o.now !== undefined ? { now: o.now } : {}),
        ...(o.onError !== undefined ? { onError: o.onError } : {}),
        ...(o.sampling !== undefined ? { sampling: o.sampling } : {}),
      };
      t = openAuditTrail(options);
      this.trails.set(tenant, t);
      // A failed open is not cached: the next request tries again.
      t.catch(() => this.trails.delete(tenant));
    }
    return t;
  }

  /** The trails opened so far (for metrics and readiness). */
  async open(): Promise<AuditTrail[]> {
    const settled = await Promise.allSettled(this.trails.values());
    return settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  }

  /** Flushes and closes every trail (each signs a final checkpoint when its log grew). */
  async closeAll(): Promise<void> {
    this.closing = true;
    const trails = await this.open();
    this.trails.clear();
    const results = await Promise.allSettled(trails.map((t) => t.close()));
    for (const r of results) if (r.status === 'rejected') throw r.reason;
  }
}
