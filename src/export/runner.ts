import type { AuditTrail } from '../index.js';
import type { ExportConfig } from './config.js';
import type { FormatContext } from './format.js';
import { exportStatus, openPipeline, type SinkStatus } from './index.js';

export interface ExportRunnerOptions {
  exports: readonly ExportConfig[];
  /** The log a sink reads: its filter's tenant, else `defaultTenant`. */
  trail: (tenant: string) => Promise<AuditTrail>;
  defaultTenant?: string;
  context: FormatContext;
  /** Progress lines (a retry, a dead letter); never holds a secret. */
  log?: (sink: string, line: string) => void;
  /** A pipeline stopped on an error (its cursor kept); it starts again after `restartMs`. */
  onError?: (sink: string, e: unknown) => void;
  restartMs?: number;
}

/** One sink's state inside a running server, for /metrics. */
export interface RunningSinkStatus extends SinkStatus {
  tenant: string;
  /** Events delivered since the server started. */
  delivered: number;
}

/**
 * Runs every sink of a config as a following pipeline (`export --sink NAME --follow`) inside a
 * long-lived process such as `auditrail serve`: each reads its tenant's log from its own cursor,
 * so a slow or dead receiver holds back only its own sink. A pipeline that stops on an error
 * (another exporter moved its cursor, too many dead letters) is said and started again later;
 * nothing is skipped.
 *
 * @example
 * const runner = new ExportRunner({ exports, trail: (t) => app.auditrail.trail(t), context });
 * runner.start(); … await runner.stop();
 */
export class ExportRunner {
  private readonly stop$ = new AbortController();
  private readonly running: Promise<void>[] = [];
  private readonly delivered = new Map<string, number>();

  constructor(private readonly options: ExportRunnerOptions) {}

  private tenantOf(c: ExportConfig): string {
    return c.filter.tenant ?? this.options.defaultTenant ?? 'default';
  }

  start(): void {
    for (const c of this.options.exports) this.running.push(this.loop(c));
  }

  private async loop(config: ExportConfig): Promise<void> {
    const signal = this.stop$.signal;
    const restartMs = this.options.restartMs ?? 5000;
    while (!signal.aborted) {
      let close: (() => Promise<void>) | null = null;
      try {
        const trail = await this.options.trail(this.tenantOf(config));
        const { pipeline, sink } = openPipeline(trail, config, {
          context: this.options.context,
          log: (line) => this.options.log?.(config.name, line),
          onDelivered: (n) => this.delivered.set(config.name, (this.delivered.get(config.name) ?? 0) + n),
        });
        close = () => sink.close();
        await pipeline.run({ follow: true, signal });
      } catch (e) {
        this.options.onError?.(config.name, e);
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, restartMs);
          signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
        });
      } finally {
        await close?.().catch(() => undefined);
      }
    }
  }

  /** Each sink's cursor, lag and dead letters, read from its log's store. */
  async status(): Promise<RunningSinkStatus[]> {
    const out: RunningSinkStatus[] = [];
    const byTenant = new Map<string, ExportConfig[]>();
    for (const c of this.options.exports) {
      const t = this.tenantOf(c);
      byTenant.set(t, [...(byTenant.get(t) ?? []), c]);
    }
    for (const [tenant, configs] of byTenant) {
      const trail = await this.options.trail(tenant);
      const names = new Set(configs.map((c) => c.name));
      for (const s of await exportStatus(trail, configs))
        if (names.has(s.name)) out.push({ ...s, tenant, delivered: this.delivered.get(s.name) ?? 0 });
    }
    return out;
  }

  /** Stops every pipeline; a batch in flight finishes first (or times out), cursors stay. */
  async stop(): Promise<void> {
    this.stop$.abort();
    await Promise.all(this.running);
  }
}
