import type { SamplingPolicy } from '../index.js';
import { readFileSync } from 'node:fs';
import rateLimit from '@fastify/rate-limit';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { PolicyBundle } from '../policy/index.js';
import { createRedactor } from '../redact/index.js';
import { openStore } from '../store/open-store.js';
import type { AuditStore } from '../store/store.js';
import { ApiKeys } from './api-keys.js';
import { securityHeaders } from './security-headers.js';
import { dashboard } from './dashboard/plugin.js';
import type { ServerContext, ServerHandle } from './context.js';
import { parseStrictJson } from './json-body.js';
import { ServerMetrics } from './metrics.js';
import { openApiDocument, routeDoc, type RouteDoc } from './openapi.js';
import { fail, problem, problemOf } from './problem.js';
import { eventRoutes } from './routes/events.js';
import { governanceRoutes } from './routes/governance.js';
import { systemRoutes } from './routes/system.js';
import { transparencyRoutes } from './routes/transparency.js';
import { witnessRoutes } from './routes/witness.js';
import { Witness } from '../sdk/witness.js';
import { TenantTrails } from './tenants.js';

/** Largest request body: a batch of events (413 above it). */
export const BODY_LIMIT = 5 * 1024 * 1024;

export interface ServerOptions {
  /** SQLite file (default `$AUDITRAIL_DB` or `./.auditrail/audit.db`); ignored when `store` is given. */
  db?: string;
  /** A store instance (tests: the in-memory store); the server then closes nothing of it. */
  store?: AuditStore;
  /** Key directory of the logs' signing key (default beside the database; memory with `store`). */
  keyDir?: string | null;
  /** The policy `POST /v1/decide` evaluates; without one, decide answers 404. */
  policy?: PolicyBundle | null;
  /** Pino logger options, or false (default) for none; secrets never reach it (see docs/server.md). */
  logger?: boolean | Record<string, unknown>;
  /** Requests per key (or per address, before authentication) per window; default 6000 per minute. */
  rateLimit?: { max: number; timeWindowMs: number };
  /** Trust `X-Forwarded-*` from a TLS proxy in front (default false). */
  trustProxy?: boolean | string;
  /** Checkpoint interval of each tenant log (default 5000 ms). */
  checkpointIntervalMs?: number;
  /** Injected clock (epoch ms) for the logs and the keys. */
  now?: () => number;
  /** Sampling of routine low-risk events in every tenant log (`sampling:` of the config, docs/privacy.md). */
  sampling?: SamplingPolicy;
  /** A witness directory (`auditrail witness init`): serves C2SP `POST /add-checkpoint` (docs/keys.md). */
  witnessDir?: string;
}

function version(): string {
  try {
    const url = new URL('../../package.json', import.meta.url);
    return (JSON.parse(readFileSync(url, 'utf8')) as { version?: string }).version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/** Pino serializers that log no header, and URLs and messages only through the redactor. */
function loggerOptions(logger: ServerOptions['logger']): NonNullable<FastifyServerOptions['logger']> {
  if (logger === undefined || logger === false) return false;
  const redact = createRedactor();
  const clean = (text: string): string => redact(text).value;
  return {
    level: 'info',
    ...(logger === true ? {} : logger),
    redact: { paths: ['req.headers.authorization', 'req.headers.cookie'], censor: '[REDACTED]' },
    serializers: {
      req: (r: { method: string; url: string; id: string }) => ({
        id: r.id,
        method: r.method,
        url: clean(r.url),
      }),
      res: (r: { statusCode: number }) => ({ statusCode: r.statusCode }),
      // No stack: a stack can quote values (an SQL statement, a parameter).
      err: (e: { name: string; code?: unknown; message: string }) => ({
        type: e.name,
        code: typeof e.code === 'string' ? e.code : '',
        message: clean(e.message),
        stack: '',
      }),
    },
  };
}

/**
 * The HTTP API of auditrail (docs/server.md), ready for `listen()` or, in tests, `inject()`.
 * Closing the instance stops accepting, ends long-polls, finishes in-flight requests, then
 * flushes every tenant log and signs its final checkpoint.
 *
 * @example
 * const app = await buildServer({ db: './.auditrail/audit.db', policy });
 * await app.listen({ host: '127.0.0.1', port: 8700 });
 */
export async function buildServer(options: ServerOptions = {}): Promise<FastifyInstance> {
  // Opened first: a witness directory that is not one fails before anything else is opened.
  const witness =
    options.witnessDir !== undefined
      ? Witness.open(options.witnessDir, options.now ? { now: options.now } : {})
      : null;
  const db = options.store
    ? undefined
    : (options.db ?? process.env['AUDITRAIL_DB'] ?? './.auditrail/audit.db');
  // The server's own connection (keys, approvals, readiness); each tenant log opens its own.
  // Point lookups after the tenants' commits: not memory-mapped (see SqliteStoreOptions.mmap).
  const store = options.store ?? (await openStore(db!, { mmap: false }));
  const ownsStore = options.store === undefined;
  const closing = new AbortController();
  const logger = loggerOptions(options.logger);
  const app = Fastify({
    logger,
    bodyLimit: BODY_LIMIT,
    routerOptions: { maxParamLength: 300 },
    trustProxy: options.trustProxy ?? false,
    return503OnClosing: true,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: false } },
  });
  let trails: TenantTrails;
  try {
    trails = new TenantTrails({
      ...(db !== undefined ? { db } : {}),
      ...(options.store ? { store: options.store } : {}),
      ...(options.keyDir !== undefined ? { keyDir: options.keyDir } : {}),
      ...(options.checkpointIntervalMs !== undefined
        ? { checkpointIntervalMs: options.checkpointIntervalMs }
        : {}),
      ...(options.now ? { now: options.now } : {}),
      ...(options.sampling ? { sampling: options.sampling } : {}),
      onError: (e) => app.log.error({ err: e }, 'background write or checkpoint failed'),
    });
  } catch (e) {
    if (ownsStore) await store.close();
    throw e;
  }
  const ctx: ServerContext = {
    trails,
    keys: new ApiKeys(store, options.now),
    store,
    policy: options.policy ?? null,
    metrics: new ServerMetrics(trails, store),
    closing: closing.signal,
  };

  app.decorateRequest('principal', null);
  const handle: ServerHandle = {
    createKey: async (spec) => ctx.keys.create(spec, await trails.get(spec.tenant)),
    revokeKey: (id, by) => ctx.keys.revoke(id, (t) => trails.get(t), by),
    listKeys: (tenant) => ctx.keys.list(tenant),
    hasNoKeys: () => ctx.keys.none(),
    trail: (tenant) => trails.get(tenant),
    metrics: ctx.metrics,
  };
  app.decorate('auditrail', handle);

  // JSON only, parsed strictly (UTF-8, no duplicate members, bounded depth); anything else is 415.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    'application/json',
    { parseAs: 'buffer', bodyLimit: BODY_LIMIT },
    (_req, body, done) => {
      try {
        done(null, parseStrictJson(body as Buffer));
      } catch (e) {
        done(e as Error, undefined);
      }
    },
  );

  app.setErrorHandler((error, req, reply) => {
    const p = problemOf(error);
    if (p.status >= 500) req.log.error({ err: error }, 'request failed');
    if (p.status === 401) void reply.header('www-authenticate', 'Bearer realm="auditrail"');
    return reply.code(p.status).type('application/problem+json').send(p);
  });
  app.setNotFoundHandler((req, reply) =>
    reply
      .code(404)
      .type('application/problem+json')
      .send(problem('route_not_found', `no route ${req.method} ${req.url.split('?')[0]!.slice(0, 200)}`)),
  );

  const routes: RouteDoc[] = [];
  app.addHook('onRoute', (r) => {
    routes.push(...routeDoc(r));
  });

  // Helmet's default headers on every answer, worked out once (a route may override one).
  const security = securityHeaders();
  app.addHook('onRequest', (_req, reply, done) => {
    const raw = reply.raw;
    for (const [name, value] of security.set) raw.setHeader(name, value);
    for (const name of security.removed) raw.removeHeader(name);
    done();
  });

  // Authentication first (before the body is read): Bearer key → principal, then the route's scopes.
  app.addHook('onRequest', async (req) => {
    const scopes = req.routeOptions.config.scopes;
    if (scopes === undefined) return;
    const header = req.headers.authorization;
    const m = typeof header === 'string' ? /^Bearer ([\x21-\x7e]{1,200})$/.exec(header) : null;
    if (!m) fail('unauthorized', 'send an API key: Authorization: Bearer <key>');
    const principal = await ctx.keys.authenticate(m[1]!);
    if (!principal) fail('unauthorized', 'the API key is unknown or revoked');
    if (!scopes.some((s) => principal.scopes.includes(s))) {
      fail('forbidden', `this key lacks the scope ${scopes.join(' or ')}`);
    }
    req.principal = principal;
  });

  const limit = options.rateLimit ?? { max: 6000, timeWindowMs: 60_000 };
  await app.register(rateLimit, {
    global: true,
    hook: 'preHandler',
    max: limit.max,
    timeWindow: limit.timeWindowMs,
    keyGenerator: (req) => req.principal?.keyId ?? req.ip,
    errorResponseBuilder: (_req, c) => ({
      ...problem('rate_limited', `rate limit of ${c.max} requests per ${c.after} reached; retry later`),
      statusCode: 429,
    }),
  });

  app.addHook('onResponse', async (req, reply) => {
    ctx.metrics.requests.inc({
      route: req.routeOptions.url ?? 'unmatched',
      method: req.method,
      status: String(reply.statusCode),
    });
  });

  app.addHook('preClose', (done) => {
    closing.abort();
    done();
  });
  app.addHook('onClose', async () => {
    try {
      await trails.closeAll();
    } finally {
      if (ownsStore) await store.close();
    }
  });

  let openapi: Record<string, unknown> | null = null;
  eventRoutes(app, ctx);
  governanceRoutes(app, ctx);
  transparencyRoutes(app, ctx);
  systemRoutes(app, ctx, {
    db,
    openapi: () => (openapi ??= openApiDocument(routes, version())),
  });
  if (witness) await witnessRoutes(app, witness);
  await app.register(dashboard, {
    ctx,
    open: options.dashboardOpen ?? null,
    ...(options.now ? { now: options.now } : {}),
  });
  return app;
}
