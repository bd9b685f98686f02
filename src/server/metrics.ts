import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { AuditStore } from '../store/store.js';
import type { TenantTrails } from './tenants.js';

/** One SIEM sink as /metrics shows it (labelled by the sink's name in the config). */
export interface ExportSinkMetrics {
  name: string;
  lag: number;
  lag_seconds: number;
  dead_letters: readonly unknown[];
  delivered: number;
}

/** The server's Prometheus metrics, in a registry of its own (several servers may share a process). */
export class ServerMetrics {
  readonly registry = new Registry();
  readonly requests: Counter<'route' | 'method' | 'status'>;
  readonly ingested: Counter;
  readonly commitSeconds: Histogram;
  /** Where the SIEM sinks running in this server stand (set by `serve` when it runs any). */
  exports: (() => Promise<ExportSinkMetrics[]>) | null = null;
  /** What the NATS JetStream collector did (set by `serve --nats`). */
  nats: (() => { committed: number; duplicates: number; dead: number; retries: number }) | null = null;

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
    // No per-log label: the metrics of one server must not name every tenant to every admin key.
    new Gauge({
      name: 'auditrail_checkpoint_size',
      help: 'Tree size of the most recently signed checkpoint (over every open log)',
      registers,
      async collect() {
        const latest = await latestCheckpoints(trails);
        latest.sort((a, b) => b.created_at.localeCompare(a.created_at));
        if (latest[0]) this.set(latest[0].size);
      },
    });
    new Gauge({
      name: 'auditrail_checkpoint_age_seconds',
      help: "Age of the stalest log's latest checkpoint, in seconds (over every open log)",
      registers,
      async collect() {
        const latest = await latestCheckpoints(trails);
        const oldest = Math.min(...latest.map((c) => Date.parse(c.created_at)));
        if (latest.length > 0) this.set(Math.max(0, (Date.now() - oldest) / 1000));
      },
    });
    // The sinks are read once per scrape, however many gauges show them.
    let scrape: Promise<ExportSinkMetrics[]> | null = null;
    const sinks = (): Promise<ExportSinkMetrics[]> => {
      if (!this.exports) return Promise.resolve([]);
      scrape ??= this.exports().finally(() => setImmediate(() => (scrape = null)));
      return scrape;
    };
    const perSink = (name: string, help: string, value: (s: ExportSinkMetrics) => number): void => {
      new Gauge({
        name,
        help,
        labelNames: ['sink'],
        registers,
        async collect() {
          this.reset();
          for (const s of await sinks()) this.set({ sink: s.name }, value(s));
        },
      });
    };
    perSink(
      'auditrail_export_lag_events',
      'Events of the log not yet delivered, per SIEM sink',
      (s) => s.lag,
    );
    perSink(
      'auditrail_export_lag_seconds',
      'Age of the oldest event not yet delivered, per SIEM sink (0 when none)',
      (s) => s.lag_seconds,
    );
    perSink(
      'auditrail_export_dead_letters',
      'Batches the receiver refused for good, per SIEM sink (see `auditrail export status`)',
      (s) => s.dead_letters.length,
    );
    new Counter({
      name: 'auditrail_export_delivered_events_total',
      help: 'Events acknowledged by the receiver since the server started, per SIEM sink',
      labelNames: ['sink'],
      registers,
      async collect() {
        this.reset();
        for (const s of await sinks()) this.inc({ sink: s.name }, s.delivered);
      },
    });
    const nats = ():
      (() => { committed: number; duplicates: number; dead: number; retries: number }) | null => this.nats;
    new Counter({
      name: 'auditrail_nats_messages_total',
      help: 'NATS JetStream messages since the server started, by outcome (committed, duplicate, dead_letter, retry)',
      labelNames: ['outcome'],
      registers,
      collect() {
        this.reset();
        const status = nats();
        if (!status) return;
        const s = status();
        this.inc({ outcome: 'committed' }, s.committed);
        this.inc({ outcome: 'duplicate' }, s.duplicates);
        this.inc({ outcome: 'dead_letter' }, s.dead);
        this.inc({ outcome: 'retry' }, s.retries);
      },
    });
  }
}

async function latestCheckpoints(trails: TenantTrails): Promise<{ size: number; created_at: string }[]> {
  const out = [];
  for (const t of await trails.open()) {
    const cp = await t.latestCheckpointInfo();
    if (cp) out.push(cp);
  }
  return out;
}
