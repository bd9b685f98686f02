/**
 * The HTTP server of auditrail (`auditrail serve`, docs/server.md).
 *
 * @example
 * import { serve } from './server/index.js';
 * const s = await serve({ db: './.auditrail/audit.db', port: 8700 });
 */
export { buildServer, BODY_LIMIT, type ServerOptions } from './app.js';
export { serve, type ServeOptions, type RunningServer } from './serve.js';
export {
  SCOPES,
  parseScopes,
  type Scope,
  type Principal,
  type CreatedKey,
  type KeyInfo,
} from './api-keys.js';
export { PROBLEM_BASE, PROBLEM_CODES, problemType, type Problem, type ProblemCode } from './problem.js';
export type { ServerHandle } from './context.js';
