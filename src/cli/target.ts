import { accessSync, constants, existsSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';
import { listLogs, openAuditTrail, type AuditTrail, type LogSummary } from '../index.js';
import { DEFAULT_DB, originOf } from '../sdk/internal-api.js';
import { CliError, str, UsageError, type Values } from './args.js';
import type { Io } from './io.js';

export const DEFAULT_TENANT = 'demo';
export const DEFAULT_LOG = 'default';

/** The log a command works on, from `--db`, `--tenant`, `--log` and their environment variables. */
export interface Target {
  /** A file path (absolute) or a database URL. */
  db: string;
  tenant: string;
  log: string;
  origin: string;
  /** True when `--db` or `$AUDITRAIL_DB` named the database (hints then repeat it). */
  dbNamed?: boolean;
  /** The tenant given by `--tenant` or `$AUDITRAIL_TENANT`, if any. */
  tenantNamed?: string | undefined;
  /** The log given by `--log` or `$AUDITRAIL_LOG`, if any. */
  logNamed?: string | undefined;
}

function isUrl(db: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(db);
}

/**
 * Resolves the target log: tenant `--tenant`, `$AUDITRAIL_TENANT` or `demo`, log `--log`,
 * `$AUDITRAIL_LOG` or `default`. When neither is named, {@link openTarget} picks the only log of
 * the database, or lists them and asks.
 */
export function resolveTarget(values: Values, io: Io): Target {
  const file = str(values, 'db');
  const pg = str(values, 'postgres');
  if (file !== undefined && pg !== undefined)
    throw new UsageError('give either --db or --postgres, not both');
  if (pg !== undefined && !/^postgres(ql)?:\/\//.test(pg))
    throw new UsageError('--postgres needs a postgres:// URL (e.g. postgres://127.0.0.1:5432/audit)');
  const envPg = io.env['AUDITRAIL_POSTGRES'];
  const envDb = io.env['AUDITRAIL_DB'];
  if (file === undefined && pg === undefined && envPg !== undefined && envDb !== undefined)
    throw new CliError(
      'both AUDITRAIL_DB and AUDITRAIL_POSTGRES are set; unset one, or pass --db or --postgres',
    );
  const given = file ?? pg ?? envPg ?? envDb;
  const raw = given ?? DEFAULT_DB;
  const db = isUrl(raw) ? raw : resolve(io.cwd, raw);
  const tenantNamed = str(values, 'tenant') ?? io.env['AUDITRAIL_TENANT'];
  const logNamed = str(values, 'log') ?? io.env['AUDITRAIL_LOG'];
  const tenant = tenantNamed ?? DEFAULT_TENANT;
  const log = logNamed ?? DEFAULT_LOG;
  return {
    db,
    tenant,
    log,
    origin: originOf(tenant, log),
    dbNamed: given !== undefined,
    tenantNamed,
    logNamed,
  };
}

/** The database location as safe to print: a URL loses its credentials and query. */
export function displayDb(db: string, io: Io): string {
  if (isUrl(db)) {
    try {
      // The user and the schema stay (the hint must work when pasted); a password never shows
      // (PostgreSQL clients take it from PGPASSWORD or ~/.pgpass).
      const u = new URL(db);
      const schema = u.searchParams.get('schema');
      const user = u.username !== '' ? `${u.username}@` : '';
      return `${u.protocol}//${user}${u.host}${u.pathname}${schema !== null ? `?schema=${encodeURIComponent(schema)}` : ''}`;
    } catch {
      return '(database URL)';
    }
  }
  const rel = db.startsWith(io.cwd + '/') ? db.slice(io.cwd.length + 1) : db;
  return rel;
}

/** POSIX shell quoting, only where needed, so a printed command pastes as is. */
export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** `auditrail` when that command is on PATH, else `npx auditrail` (e.g. a local install). */
export function cliName(io: Io): string {
  if (io.env['npm_command'] === 'exec') return 'npx auditrail';
  for (const dir of (io.env['PATH'] ?? '').split(delimiter)) {
    if (dir === '') continue;
    try {
      accessSync(join(dir, 'auditrail'), constants.X_OK);
      return 'auditrail';
    } catch {
      // Not in this directory.
    }
  }
  return 'npx auditrail';
}

/**
 * A command line that works when pasted: `<cli> <command> [--db ..] [--tenant ..] [--log ..] ...`,
 * with the target flags a default would not reproduce. The database path is printed as the user
 * sees it (relative to the cwd when inside it).
 */
export function commandLine(io: Io, target: Target, command: string, ...rest: string[]): string {
  const flags: string[] = [];
  const defaultDb = resolve(io.cwd, DEFAULT_DB);
  // Repeat --db whenever it is not the default: $AUDITRAIL_DB may not be set where this is pasted.
  if (target.db !== defaultDb)
    flags.push(isUrl(target.db) ? '--postgres' : '--db', shellQuote(displayDb(target.db, io)));
  // `logs` takes no tenant or log: it lists them all.
  if (command !== 'logs' && (target.tenant !== DEFAULT_TENANT || target.tenantNamed !== undefined))
    flags.push('--tenant', shellQuote(target.tenant));
  if (command !== 'logs' && (target.log !== DEFAULT_LOG || target.logNamed !== undefined))
    flags.push('--log', shellQuote(target.log));
  return [cliName(io), command, ...rest, ...flags].join(' ');
}

function withOrigin(target: Target, tenant: string, log: string): Target {
  return { ...target, tenant, log, origin: originOf(tenant, log) };
}

function describeLogs(logs: LogSummary[]): string {
  return logs
    .map(
      (l) => `  --tenant ${l.tenant}${l.log === DEFAULT_LOG ? '' : ` --log ${l.log}`}  (${l.size} entries)`,
    )
    .join('\n');
}

/**
 * Completes a target whose tenant and log were not both named: a database holding exactly one
 * matching log uses it; several are listed and the user is asked to choose. The database is
 * only read (it must exist; nothing is created).
 */
export async function pickLog(target: Target, io: Io): Promise<Target> {
  if (!isUrl(target.db) && !existsSync(target.db)) return target;
  if (target.tenantNamed !== undefined && target.logNamed !== undefined) return target;
  const logs = (await listLogs({ db: target.db })).filter(
    (l) =>
      (target.tenantNamed === undefined || l.tenant === target.tenantNamed) &&
      (target.logNamed === undefined || l.log === target.logNamed),
  );
  if (logs.length === 1) return withOrigin(target, logs[0]!.tenant, logs[0]!.log);
  // `--tenant T` alone means T's log `default` when it has one (docs/cli.md: --log defaults to it).
  if (target.tenantNamed !== undefined && logs.some((l) => l.log === target.log)) return target;
  if (logs.length > 1) {
    throw new CliError(
      `${displayDb(target.db, io)} holds ${logs.length} logs${target.tenantNamed !== undefined ? ` of tenant ${target.tenantNamed}` : ''}; choose one with --tenant (and --log):\n${describeLogs(logs)}\n` +
        `(see ${commandLine(io, target, 'logs')})`,
    );
  }
  return target;
}

/**
 * Opens the target's audit trail. Reading commands pass `mustExist` so that a mistyped `--db`
 * is reported instead of silently creating an empty database; they are then opened read-only
 * (nothing created, chmodded or signed) unless `readonly: false` says the command writes.
 */
export async function openTarget(
  target: Target,
  io: Io,
  options: { mustExist: boolean; readonly?: boolean },
): Promise<AuditTrail> {
  if (options.mustExist && !isUrl(target.db) && !existsSync(target.db)) {
    throw new CliError(
      `no audit database at ${displayDb(target.db, io)} (create one with '${cliName(io)} demo', or pass --db / set AUDITRAIL_DB)`,
    );
  }
  // Commands on an existing log may find it; one that creates (demo, mcp-proxy) writes where told.
  if (options.mustExist) Object.assign(target, await pickLog(target, io));
  const readonly = options.readonly ?? options.mustExist;
  return openAuditTrail({
    tenant: target.tenant,
    log: target.log,
    db: target.db,
    // A database URL has no directory to keep keys beside: ./.auditrail/keys of the command's cwd.
    ...(isUrl(target.db) ? { keyDir: resolve(io.cwd, '.auditrail', 'keys') } : {}),
    readonly,
    // The CLI signs explicitly (demo, checkpoint --sign) and on close; no background timer.
    checkpointIntervalMs: 0,
    // Commands write a few events, or one at a time (mcp-proxy): starting a write thread costs more than it saves.
    writeThread: false,
    onError: (e) => void io.stderr.write(`error: ${e instanceof Error ? e.message : String(e)}\n`),
  });
}

/** Opens the target, runs `body`, and always closes the trail. */
export async function withTrail<T>(
  target: Target,
  io: Io,
  options: { mustExist: boolean; readonly?: boolean },
  body: (trail: AuditTrail) => Promise<T>,
): Promise<T> {
  const trail = await openTarget(target, io, options);
  try {
    return await body(trail);
  } finally {
    await trail.close();
  }
}
