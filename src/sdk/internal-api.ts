/**
 * What the CLI needs beyond the public API, and nothing more: the default database path, the
 * origin naming rule, which verify failures `rebuildIndex()` repairs, and the remote SDK's spool
 * (for `auditrail spool`). Not exported by the package; the CLI imports it, never `store/` or
 * other SDK internals (lint enforces it).
 */
export { DEFAULT_DB, originOf } from './open.js';
export { REBUILDABLE_KINDS } from './verify-derived.js';
export { verifyReportJson } from './verify.js';
export { DEFAULT_SPOOL, Spool } from './remote/spool.js';
export {
  readOnlySql,
  SQL_DEFAULT_MAX_ROWS,
  SQL_DEFAULT_TIMEOUT_MS,
  type SqlResult,
} from '../store/read-only-sql.js';
export { migrateToPostgres, type MigrateReport } from './migrate.js';
