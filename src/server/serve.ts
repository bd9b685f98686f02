import { hostname } from 'node:os';
import type { FastifyInstance } from 'fastify';
import { SCOPES, type CreatedKey } from './api-keys.js';
import { buildServer, type ServerOptions } from './app.js';
import { ReportScheduler, type ReportSchedule } from '../report/schedule.js';
import { ExportRunner, type ExportConfig, type FormatContext } from '../export/index.js';
import { listLogs, type RetentionPolicy } from '../index.js';
import { RetentionScheduler } from './retention-schedule.js';
import { DetectRunner, type DetectConfig } from '../detect/index.js';
import { runAlertChannel, type AlertConfig } from '../detect/alerts/index.js';
import { runResponder, type ResponseRule } from '../detect/responses/index.js';
import { NatsCollector, type NatsCollectorOptions } from './nats-collector.js';

export interface ServeOptions extends ServerOptions {
  host?: string;
  port?: number;
  /** Tenant of the first admin key, made when the database holds no key (default `default`). */
  firstKeyTenant?: string;
  /** Scheduled reports (`schedules:` of the config, docs/reports.md), run until the server closes. */
  schedules?: readonly ReportSchedule[];
  /** Called for a failed scheduled run besides the error log (which `logger: false` silences). */
  onScheduleError?: (schedule: string, e: unknown) => void;
  /**
   * SIEM sinks (`exports:` of the config, docs/siem.md), each following its tenant's log (its
   * filter's tenant, else `firstKeyTenant`) until the server closes; lag and dead letters in /metrics.
   */
  exports?: readonly ExportConfig[];
  /** Host and version the export formats name. */
  exportContext?: FormatContext;
  /** Called when a sink's pipeline stops on an error (it starts again 5 s later), besides the error log. */
  onExportError?: (sink: string, e: unknown) => void;
  /** The retention policy (`retention:` of the config); applied at its `schedule` cron times. */
  retention?: RetentionPolicy | null;
  /** Called for a failed scheduled retention run besides the error log. */
  onRetentionError?: (tenant: string, e: unknown) => void;
  /** Detectors (`detect:` of the config, docs/detection.md), run over each tenant's log until the server closes. */
  detect?: DetectConfig | null;
  /** Alert channels (`alerts:` of the config, docs/detection.md), followed until the server closes. */
  alerts?: readonly AlertConfig[];
  /** Response rules (`responses:` of the config), applied to new anomalies until the server closes. */
  responses?: readonly ResponseRule[];
  /** The tenant whose log alerts and responses follow (default: `firstKeyTenant`, else `default`). */
  detectTenant?: string;
  /**
   * Called when a detector run (`detect <tenant>`, started again a few seconds later), an alert
   * channel or the responder stops on an error, besides the error log.
   */
  onDetectError?: (what: string, e: unknown) => void;
  /**
   * Also consume a NATS JetStream stream (docs/scale-out.md, "NATS JetStream ingestion"): its events
   * are committed to each tenant's log and acknowledged after the commit.
   */
  nats?: NatsCollectorOptions;
  /** Called for a refused (dead-lettered) NATS message or a failed commit, besides the error log. */
  onNatsLog?: (level: 'warn' | 'error', message: string) => void;
}

/** How long a failed detector waits before it starts again. */
const DETECT_RESTART_MS = 5_000;

export interface RunningServer {
  app: FastifyInstance;
  /** `http://host:port` as bound (the real port when 0 was asked). */
  url: string;
  /** The first admin key, when this start created it (shown once, never stored in clear). */
  firstKey: CreatedKey | null;
  /** The NATS JetStream collector, when `nats` was given. */
  nats: NatsCollector | null;
  /** Resolves after a graceful close (SIGTERM/SIGINT or {@link RunningServer.close}). */
  closed: Promise<void>;
  close(): Promise<void>;
}

/**
 * Starts `auditrail serve`: builds the server, creates the first admin key when the database has
 * none, listens, and on SIGTERM or SIGINT closes gracefully — stop accepting, end long-polls,
 * finish in-flight requests, flush, sign each log's final checkpoint.
 *
 * @example
 * const s = await serve({ db: './.auditrail/audit.db', port: 8700 });
 * console.log(s.url, s.firstKey?.key);
 */
export async function serve(options: ServeOptions = {}, signals = true): Promise<RunningServer> {
  // A bad NATS option is refused before the server listens.
  if (options.nats) NatsCollector.check(options.nats);
  const app = await buildServer(options);
  let firstKey: CreatedKey | null = null;
  try {
    if (await app.auditrail.hasNoKeys()) {
      firstKey = await app.auditrail.createKey({
        tenant: options.firstKeyTenant ?? 'default',
        name: 'admin',
        scopes: SCOPES,
        createdBy: 'auditrail-serve',
      });
    }
    await app.listen({ host: options.host ?? '127.0.0.1', port: options.port ?? 8700 });
  } catch (e) {
    await app.close();
    throw e;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : (options.port ?? 8700);
  const host = options.host ?? '127.0.0.1';
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  let nats: NatsCollector | null = null;
  if (options.nats) {
    try {
      nats = await NatsCollector.start(options.nats, {
        trail: (tenant) => app.auditrail.trail(tenant),
        log: (level, message) => {
          app.log[level]({ stream: options.nats!.stream }, message);
          options.onNatsLog?.(level, message);
        },
      });
    } catch (e) {
      await app.close();
      throw e;
    }
    const collector = nats;
    app.auditrail.metrics.nats = () => collector.stats;
  }
  const scheduler =
    options.schedules && options.schedules.length > 0
      ? new ReportScheduler({
          schedules: options.schedules,
          trail: (tenant) => app.auditrail.trail(tenant),
          ...(options.now ? { now: () => new Date(options.now!()) } : {}),
          onRun: (r) =>
            app.log.info({ schedule: r.schedule, report: r.report_id }, 'scheduled report written'),
          onError: (name, e) => {
            app.log.error({ err: e, schedule: name }, 'scheduled report failed');
            options.onScheduleError?.(name, e);
          },
        })
      : null;
  const policy = options.retention;
  const retention =
    policy?.schedule !== undefined
      ? new RetentionScheduler({
          policy: { ...policy, schedule: policy.schedule },
          tenants: async () => {
            const db = options.db ?? process.env['AUDITRAIL_DB'] ?? './.auditrail/audit.db';
            const logs = await listLogs(options.store ? { store: options.store } : { db });
            return [...new Set(logs.filter((l) => l.log === 'default').map((l) => l.tenant))];
          },
          trail: (tenant) => app.auditrail.trail(tenant),
          onRun: (tenant, r) =>
            app.log.info(
              { tenant, events: r.total.events, erased: r.erased, purge_events: r.purge_events },
              'retention applied',
            ),
          onError: (tenant, e) => {
            app.log.error({ err: e, tenant }, 'scheduled retention failed');
            options.onRetentionError?.(tenant, e);
          },
        })
      : null;
  try {
    await scheduler?.start();
    retention?.start();
  } catch (e) {
    await scheduler?.stop();
    await app.close();
    throw e;
  }
  const exporter =
    options.exports && options.exports.length > 0
      ? new ExportRunner({
          exports: options.exports,
          trail: (tenant) => app.auditrail.trail(tenant),
          defaultTenant: options.firstKeyTenant ?? 'default',
          context: options.exportContext ?? { hostname: hostname(), productVersion: 'unknown' },
          log: (sink, line) => app.log.warn({ sink }, line),
          onError: (sink, e) => {
            app.log.error({ err: e, sink }, 'export stopped; it starts again in 5 s');
            options.onExportError?.(sink, e);
          },
        })
      : null;
  if (exporter) {
    app.auditrail.metrics.exports = () => exporter.status();
    exporter.start();
  }
  // Detectors follow each tenant's log from their cursor; a failed run starts again after a pause.
  const detectStop = new AbortController();
  const detectConfig = options.detect;
  const detectors = (
    detectConfig
      ? detectConfig.tenants.length > 0
        ? detectConfig.tenants
        : [options.firstKeyTenant ?? 'default']
      : []
  ).map(async (tenant) => {
    const signal = detectStop.signal;
    while (!signal.aborted) {
      try {
        const trail = await app.auditrail.trail(tenant);
        await new DetectRunner(trail, detectConfig!, {
          log: (line) => app.log.info({ tenant }, line),
          onAnomaly: (a, seq) => app.log.warn({ tenant, seq, anomaly: a.id }, a.summary),
        }).run({ follow: true, signal });
      } catch (e) {
        if (signal.aborted) break;
        app.log.error({ err: e, tenant }, 'detectors failed; starting again');
        options.onDetectError?.(`detect ${tenant}`, e);
        await new Promise<void>((resolve) => {
          const t = setTimeout(done, DETECT_RESTART_MS);
          function done(): void {
            clearTimeout(t);
            resolve();
          }
          signal.addEventListener('abort', done, { once: true });
        });
      }
    }
  });
  // Alert channels and the responder follow the log until the server closes; each is on its own
  // cursor, so a slow receiver delays nothing else.
  const watch = new AbortController();
  const watchers: Promise<void>[] = [];
  const detectTenant = options.detectTenant ?? options.firstKeyTenant ?? 'default';
  const follow = (what: string, job: () => Promise<unknown>): void => {
    watchers.push(
      job().then(
        () => undefined,
        (e: unknown) => {
          app.log.error({ err: e, job: what }, 'alerting stopped');
          options.onDetectError?.(what, e);
        },
      ),
    );
  };
  if ((options.alerts?.length ?? 0) > 0 || (options.responses?.length ?? 0) > 0) {
    const trail = await app.auditrail.trail(detectTenant);
    for (const c of options.alerts ?? [])
      follow(`alert ${c.name}`, () =>
        runAlertChannel(trail, c, {
          follow: true,
          signal: watch.signal,
          log: (line) => app.log.warn({ channel: c.name }, line),
        }),
      );
    if ((options.responses?.length ?? 0) > 0)
      follow('responder', () =>
        runResponder(trail, options.responses!, {
          follow: true,
          signal: watch.signal,
          log: (line) => app.log.info(line),
        }),
      );
  }
  const stopWatchers = async (): Promise<void> => {
    watch.abort();
    await Promise.all(watchers);
  };
  let closing: Promise<void> | null = null;
  let started!: (p: Promise<void>) => void;
  const closed = new Promise<Promise<void>>((resolve) => (started = resolve))
    .then((p) => p)
    .finally(() => {
      if (onSignal) {
        process.removeListener('SIGTERM', onSignal);
        process.removeListener('SIGINT', onSignal);
      }
    });
  // app.close() resolves after every onClose hook ran (the logs' final checkpoints included).
  const close = (): Promise<void> => {
    if (closing === null) {
      // The schedulers, the sinks, the detectors and the alert watchers stop first: a run under way
      // finishes and records itself, a batch in flight is acknowledged (or not) with its cursor
      // saved, and a detectors' page under way is appended and its cursor moved, before the logs close.
      detectStop.abort();
      closing = Promise.all([
        nats?.stop(),
        scheduler?.stop(),
        retention?.stop(),
        exporter?.stop(),
        ...detectors,
        stopWatchers(),
      ]).then(() => app.close());
      started(closing);
    }
    return closing;
  };
  let onSignal: (() => void) | null = null;
  if (signals) {
    onSignal = () => void close().catch(() => undefined);
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  }
  return { app, url, firstKey, nats, closed, close };
}
