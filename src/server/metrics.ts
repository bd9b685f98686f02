import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { AuditStore } from '../store/store.js';
import type { TenantTrails } from './tenants.js';

/** The server's Prometheus metrics, in a registry of its own (several servers may share a process). */
export class ServerMetrics {
  readonly registry = new Registry();
  readonly requests: Counter<'route' | 'method' | 'status'>;
  readonly ingested: Counter;
  readonly commitSeconds: Histogram;

  constructor(trails: TenantTrails, store: AuditStore) {
    const registers = [this.registry];
    this.requests = new Counter({
      name: 'auditrail_http_requests_total',
      help: 'HTTP requests by route, method and status',
      labelNames: ['route', 'method', 'status'],
      registers,
    });
    this.ingested = new Counter({
      name: 'auditrail_ingest_events_total',
      help: 'Events committed through POST /v1/events (duplicates not counted)',
      registers,
    });
    this.commitSeconds = new Histogram({
      name: 'auditrail_commit_duration_seconds',
      help: 'Time from a validated POST /v1/events batch to its durable commit',
      buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    new Gauge({
      name: 'auditrail_queue_depth',
      help: 'Events queued for commit, over every open tenant log',
      registers,
      async collect() {
        this.set((await trails.open()).reduce((n, t) => n + t.pending, 0));
      },
    });
    new Gauge({
      name: 'auditrail_pending_approvals',
      help: 'Approval requests waiting for a decision (all tenants)',
      registers,
      async collect() {
        this.set((await store.listApprovals('pending')).length);
      },
    });
    new Gauge({
      name: 'auditrail_checkpoint_size',
      help: 'Tree size of the latest signed checkpoint, per open log',
      labelNames: ['log'],
      registers,
      async collect() {
        for (const t of await trails.open()) {
          const cp = await t.latestCheckpointInfo();
          if (cp) this.set({ log: t.origin }, cp.size);
        }
      },
    });
    new Gauge({
      name: 'auditrail_checkpoint_age_seconds',
      help: 'Seconds since the latest checkpoint was signed, per open log',
      labelNames: ['log'],
      registers,
      async collect() {
        for (const t of await trails.open()) {
          const cp = await t.latestCheckpointInfo();
          if (cp) this.set({ log: t.origin }, Math.max(0, (Date.now() - Date.parse(cp.created_at)) / 1000));
        }
      },
    });
  }
}
