import { accessSync, constants } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { verifyReportJson } from '../../sdk/internal-api.js';
import { principalOf, type ServerContext } from '../context.js';
import { fail } from '../problem.js';

export function systemRoutes(
  app: FastifyInstance,
  ctx: ServerContext,
  options: { db: string | undefined; openapi: () => Record<string, unknown> },
): void {
  app.post(
    '/v1/verify',
    {
      config: { scopes: ['admin'] },
      schema: {
        summary: 'Verify the whole tenant log; the report of `auditrail verify --json`',
        tags: ['admin'],
        'x-responses': {
          200: { description: 'The report (ok false lists every failure)', schema: { type: 'object' } },
        },
      },
    },
    async (req) => {
      const trail = await ctx.trails.get(principalOf(req).tenant);
      return verifyReportJson(await trail.verify());
    },
  );

  app.get('/healthz', { schema: { summary: 'The process answers', tags: ['system'] } }, () => ({
    status: 'ok',
  }));

  app.get(
    '/readyz',
    { schema: { summary: 'The database is writable and the keys readable', tags: ['system'] } },
    async (_req, reply) => {
      if (ctx.closing.aborted) fail('closed', 'the server is shutting down');
      try {
        await ctx.store.getMeta('schema_version');
        if (options.db !== undefined) accessSync(options.db, constants.R_OK | constants.W_OK);
        for (const t of await ctx.trails.open()) if (t.hasSigningKey()) t.verifierKey();
      } catch {
        return reply.code(503).type('application/problem+json').send({
          type: 'https://auditrail.dev/problems/store_failure',
          title: 'Not ready',
          status: 503,
          detail: 'the database or the signing key is not usable',
          code: 'store_failure',
        });
      }
      return { status: 'ready' };
    },
  );

  app.get(
    '/metrics',
    {
      config: { scopes: ['admin'] },
      schema: { summary: 'Prometheus metrics (text format)', tags: ['system'] },
    },
    async (_req, reply) => {
      const text = await ctx.metrics.registry.metrics();
      return reply.type(ctx.metrics.registry.contentType).send(text);
    },
  );

  app.get('/openapi.json', { schema: { summary: 'This API, as OpenAPI 3.1', tags: ['system'] } }, () =>
    options.openapi(),
  );
}
