import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { AuditError } from '../errors.js';
import { copySqliteToPostgres, type CopyCounts } from '../store/copy-to-postgres.js';
import { isPostgresUrl } from '../store/open-store.js';
import { KeyRing } from './keys.js';
import { listLogs } from './list-logs.js';
import { defaultKeyDir, openAuditTrail, witnessScope } from './open.js';

export interface MigrateOptions {
  /** The SQLite file to copy (default `$AUDITRAIL_DB`, else `./.auditrail/audit.db`). */
  db: string;
  /** The PostgreSQL target, `postgres://…` (its `schema` parameter names the schema). */
  to: string;
  /** The key directory the target is opened with (default `./.auditrail/keys`). */
  keyDir?: string;
  onProgress?: (table: string, rows: number) => void;
}

export interface MigrateReport {
  counts: CopyCounts;
  /** Where the signing key and witness state are for the target. */
  keyDir: string;
  /** Each copied log, verified on the target. */
  logs: { tenant: string; log: string; size: number; ok: boolean; failures: number }[];
}

/**
 * Moves an SQLite audit database to PostgreSQL with its tree and signed checkpoints intact: the
 * rows are copied as they are (nothing recomputed, one transaction), the signing key and the
 * witness state (the latest checkpoint handed out, rollback detection) are copied into the key
 * directory the target is opened with, and every log is then verified on the target. Old proofs
 * and receipts stay valid: same origins, same leaves, same roots.
 *
 * @example
 * const r = await migrateToPostgres({ db: './.auditrail/audit.db', to: 'postgres://127.0.0.1/audit' });
 */
export async function migrateToPostgres(options: MigrateOptions): Promise<MigrateReport> {
  if (!isPostgresUrl(options.to))
    throw new AuditError('invalid_argument', 'the target must be a postgres:// URL');
  const db = resolve(options.db);
  const srcKeys = new KeyRing(defaultKeyDir(db), witnessScope(db), { readonly: true });
  const keyDir = options.keyDir ?? defaultKeyDir(options.to);
  const dstKeys = new KeyRing(keyDir, witnessScope(options.to));
  // The key first: a target key directory holding another key would make the copied
  // checkpoints unverifiable there, so nothing is copied at all.
  const sameDir = resolve(srcKeys.keyPath) === resolve(dstKeys.keyPath);
  if (!sameDir && srcKeys.hasKey() && dstKeys.hasKey()) {
    if (!readFileSync(srcKeys.keyPath).equals(readFileSync(dstKeys.keyPath)))
      throw new AuditError(
        'conflict',
        `${dstKeys.keyPath} holds another signing key than ${srcKeys.keyPath}; give an empty key directory`,
      );
  }
  const counts = await copySqliteToPostgres(db, options.to, options.onProgress);
  if (!sameDir && srcKeys.hasKey() && !existsSync(dstKeys.keyPath)) {
    mkdirSync(keyDir, { recursive: true, mode: 0o700 });
    copyFileSync(srcKeys.keyPath, dstKeys.keyPath);
    chmodSync(dstKeys.keyPath, 0o600);
  }
  const logs: MigrateReport['logs'] = [];
  for (const l of await listLogs({ db: options.to })) {
    const note = srcKeys.loadWitness(l.origin);
    if (note !== undefined && dstKeys.loadWitness(l.origin) === undefined)
      dstKeys.saveWitness(l.origin, note);
    const trail = await openAuditTrail({
      tenant: l.tenant,
      log: l.log,
      postgres: options.to,
      keyDir,
      readonly: true,
      checkpointIntervalMs: 0,
    });
    try {
      const r = await trail.verify();
      logs.push({ tenant: l.tenant, log: l.log, size: l.size, ok: r.ok, failures: r.failures.length });
    } finally {
      await trail.close();
    }
  }
  return { counts, keyDir, logs };
}
