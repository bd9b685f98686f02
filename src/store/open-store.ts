import { AuditError } from '../errors.js';
import { SqliteStore } from './sqlite/sqlite-store.js';
import type { AuditStore } from './store.js';

/**
 * Opens a store from a location: a file path (SQLite, the embedded default) or a
 * `postgres://` / `postgresql://` URL.
 *
 * @example
 * const store = await openStore('./.auditrail/audit.db');
 */
export async function openStore(location: string, options: { readonly?: boolean } = {}): Promise<AuditStore> {
  if (/^postgres(ql)?:\/\//.test(location)) {
    throw new AuditError('invalid_argument', 'the PostgreSQL store is not available in this build');
  }
  if (location.includes('://')) {
    throw new AuditError('invalid_argument', 'database must be a file path or a postgres:// URL');
  }
  return Promise.resolve(new SqliteStore(location, options));
}
