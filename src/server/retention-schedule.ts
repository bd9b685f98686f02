/**
 * Retention on a schedule (`retention.schedule` of the server's config, docs/privacy.md §
 * Retention): at each cron time the policy is applied to every tenant log of the database, with
 * the legal holds of each log respected. Applying is idempotent, so a run missed while the server
 * was down is simply done by the next one.
 */
import { Cron } from 'croner';
import {
  applyRetention,
  type AuditTrail,
  type RetentionApplyReport,
  type RetentionPolicy,
} from '../index.js';

export interface RetentionSchedulerOptions {
  policy: RetentionPolicy & { schedule: { cron: string; timezone: string } };
  /** The tenants whose logs the policy applies to (those in the database at run time). */
  tenants: () => Promise<string[]>;
  trail: (tenant: string) => Promise<AuditTrail>;
  onRun?: (tenant: string, report: RetentionApplyReport) => void;
  onError?: (tenant: string, e: unknown) => void;
  /** Default: the system clock. */
  now?: () => Date;
}

/** setTimeout's longest delay; a later run re-arms on waking. */
const MAX_DELAY = 2_147_483_647;

/**
 * Applies a retention policy at its cron times until {@link RetentionScheduler.stop}.
 *
 * @example
 * const s = new RetentionScheduler({ policy, tenants: async () => ['acme'], trail: (t) => trails.get(t) });
 * s.start();
 * await s.stop();
 */
export class RetentionScheduler {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;
  private readonly now: () => Date;

  constructor(private readonly options: RetentionSchedulerOptions) {
    this.now = options.now ?? (() => new Date());
  }

  start(): void {
    this.arm();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }

  private arm(): void {
    if (this.stopped) return;
    const { cron, timezone } = this.options.policy.schedule;
    const next = new Cron(cron, { paused: true, timezone }).nextRun(this.now());
    if (next === null) return;
    const delay = Math.min(MAX_DELAY, Math.max(0, next.getTime() - this.now().getTime()));
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.now().getTime() < next.getTime()) return this.arm();
      this.running = this.runOnce().finally(() => {
        this.running = null;
        this.arm();
      });
    }, delay);
  }

  /** Applies the policy to each tenant's log once, one after another. */
  async runOnce(): Promise<void> {
    for (const tenant of await this.options.tenants()) {
      if (this.stopped) return;
      try {
        const trail = await this.options.trail(tenant);
        const report = await applyRetention(trail, this.options.policy, {
          actor: { type: 'system', id: 'auditrail-serve' },
          reason: `retention schedule ${this.options.policy.schedule.cron}`,
        });
        this.options.onRun?.(tenant, report);
      } catch (e) {
        this.options.onError?.(tenant, e);
      }
    }
  }
}
