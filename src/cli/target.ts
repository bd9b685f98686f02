import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { DEFAULT_DB, openAuditTrail, originOf, type AuditTrail } from '../index.js';
import { CliError, str, type Values } from './args.js';
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
}

function isUrl(db: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(db);
}

/**
 * Resolves the target log. There is no "list logs" call in the SDK, so the log is named, not
 * discovered: tenant `$AUDITRAIL_TENANT` or `demo`, log `$AUDITRAIL_LOG` or `default`.
 */
export function resolveTarget(values: Values, io: Io): Target {
  const raw = str(values, 'db') ?? io.env['AUDITRAIL_DB'] ?? DEFAULT_DB;
  const db = isUrl(raw) ? raw : resolve(io.cwd, raw);
  const tenant = str(values, 'tenant') ?? io.env['AUDITRAIL_TENANT'] ?? DEFAULT_TENANT;
  const log = str(values, 'log') ?? io.env['AUDITRAIL_LOG'] ?? DEFAULT_LOG;
  return { db, tenant, log, origin: originOf(tenant, log) };
}

/** The database location as safe to print: a URL loses its credentials and query. */
export function displayDb(db: string, io: Io): string {
  if (isUrl(db)) {
    try {
      const u = new URL(db);
      return `${u.protocol}//${u.host}${u.pathname}`;
    } catch {
      return '(database URL)';
    }
  }
  const rel = db.startsWith(io.cwd + '/') ? db.slice(io.cwd.length + 1) : db;
  return rel;
}

/**
 * Opens the target's audit trail. Reading commands pass `mustExist` so that a mistyped `--db`
 * is reported instead of silently creating an empty database.
 */
export async function openTarget(
  target: Target,
  io: Io,
  options: { mustExist: boolean },
): Promise<AuditTrail> {
  if (options.mustExist && !isUrl(target.db) && !existsSync(target.db)) {
    throw new CliError(
      `no audit database at ${displayDb(target.db, io)} (create one with 'auditrail demo', or pass --db / set AUDITRAIL_DB)`,
    );
  }
  return openAuditTrail({
    tenant: target.tenant,
    log: target.log,
    db: target.db,
    // The CLI signs explicitly (demo, checkpoint, prove) and on close; no background timer.
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
  options: { mustExist: boolean },
  body: (trail: AuditTrail) => Promise<T>,
): Promise<T> {
  const trail = await openTarget(target, io, options);
  try {
    return await body(trail);
  } finally {
    await trail.close();
  }
}
