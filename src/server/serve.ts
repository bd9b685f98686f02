import type { FastifyInstance } from 'fastify';
import { SCOPES, type CreatedKey } from './api-keys.js';
import { buildServer, type ServerOptions } from './app.js';
import { ReportScheduler, type ReportSchedule } from '../report/schedule.js';
import { runAlertChannel, type AlertConfig } from '../detect/alerts/index.js';
import { runResponder, type ResponseRule } from '../detect/responses/index.js';

export interface ServeOptions extends ServerOptions {
  host?: string;
  port?: number;
  /** Tenant of the first admin key, made when the database holds no key (default `default`). */
  firstKeyTenant?: string;
  /** Scheduled reports (`schedules:` of the config, docs/reports.md), run until the server closes. */
  schedules?: readonly ReportSchedule[];
  /** Called for a failed scheduled run besides the error log (which `logger: false` silences). */
  onScheduleError?: (schedule: string, e: unknown) => void;
  /** Alert channels (`alerts:` of the config, docs/detection.md), followed until the server closes. */
  alerts?: readonly AlertConfig[];
  /** Response rules (`responses:` of the config), applied to new anomalies until the server closes. */
  responses?: readonly ResponseRule[];
  /** The tenant whose log alerts and responses follow (default: `firstKeyTenant`, else `default`). */
  detectTenant?: string;
  /** Called when an alert channel or the responder stops on an error (besides the error log). */
  onDetectError?: (what: string, e: unknown) => void;
}

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
      // The scheduler stops first: a run under way finishes and records itself before the logs close.
      closing = (scheduler ? scheduler.stop() : Promise.resolve()).then(stopWatchers).then(() => app.close());
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
