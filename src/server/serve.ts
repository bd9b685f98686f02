import type { FastifyInstance } from 'fastify';
import { SCOPES, type CreatedKey } from './api-keys.js';
import { buildServer, type ServerOptions } from './app.js';
import { ReportScheduler, type ReportSchedule } from '../report/schedule.js';
import { DetectRunner, type DetectConfig } from '../detect/index.js';

export interface ServeOptions extends ServerOptions {
  host?: string;
  port?: number;
  /** Tenant of the first admin key, made when the database holds no key (default `default`). */
  firstKeyTenant?: string;
  /** Scheduled reports (`schedules:` of the config, docs/reports.md), run until the server closes. */
  schedules?: readonly ReportSchedule[];
  /** Called for a failed scheduled run besides the error log (which `logger: false` silences). */
  onScheduleError?: (schedule: string, e: unknown) => void;
  /** Detectors (`detect:` of the config, docs/detection.md), run over each tenant's log until the server closes. */
  detect?: DetectConfig | null;
  /** Called when a detector run fails (it is started again a few seconds later). */
  onDetectError?: (tenant: string, e: unknown) => void;
}

/** How long a failed detector waits before it starts again. */
const DETECT_RESTART_MS = 5_000;

export interface RunningServer {
  app: FastifyInstance;
  /** `http://host:port` as bound (the real port when 0 was asked). */
  url: string;
  /** The first admin key, when this start created it (shown once, never stored in clear). */
  firstKey: CreatedKey | null;
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
  try {
    await scheduler?.start();
  } catch (e) {
    await scheduler?.stop();
    await app.close();
    throw e;
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
        options.onDetectError?.(tenant, e);
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
      // The scheduler stops first: a run under way finishes and records itself before the logs close.
      // The detectors stop first too: a page under way is appended and its cursor moved.
      detectStop.abort();
      closing = Promise.all([scheduler ? scheduler.stop() : Promise.resolve(), ...detectors]).then(() =>
        app.close(),
      );
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
  return { app, url, firstKey, closed, close };
}
