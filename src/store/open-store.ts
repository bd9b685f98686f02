import { AuditError } from '../errors.js';
import { PostgresStore } from './postgres/postgres-store.js';
import { SqliteStore } from './sqlite/sqlite-store.js';
import type { AuditStore } from './store.js';

/** True for a `postgres://` or `postgresql://` location. */
export function isPostgresUrl(location: string): boolean {
  return /^postgres(ql)?:\/\//i.test(location);
}

/**
 * Opens a store from a location: a file path (SQLite, the embedded default) or a
 * `postgres://` / `postgresql://` URL, whose `schema` query parameter names the schema holding
 * the tables (default `auditrail`; the `schema` option wins).
 *
 * @example
 * const store = await openStore('./.auditrail/audit.db');
 * const pg = await openStore('postgres://127.0.0.1:5432/audit?schema=acme');
 */
export async function openStore(
  location: string,
  options: { readonly?: boolean; schema?: string; mmap?: boolean } = {},
): Promise<AuditStore> {
  if (isPostgresUrl(location)) {
    let url: URL;
    try {
      url = new URL(location);
    } catch {
      throw new AuditError('invalid_argument', 'the PostgreSQL location is not a valid postgres:// URL');
    }
    const schema = options.schema ?? url.searchParams.get('schema') ?? undefined;
    url.searchParams.delete('schema');
    return PostgresStore.open(url.toString(), {
      ...(schema !== undefined ? { schema } : {}),
      ...(options.readonly !== undefined ? { readonly: options.readonly } : {}),
    });
  }
  if (location.includes('://')) {
    throw new AuditError('invalid_argument', 'database must be a file path or a postgres:// URL');
  }
  return Promise.resolve(new SqliteStore(location, options));
}
