import type { RouteOptions } from 'fastify';
import { PROBLEM_REF, componentSchemas } from './schemas.js';

/** A route as registered, for the OpenAPI document. */
export interface RouteDoc {
  method: string;
  url: string;
  schema: Record<string, unknown>;
  scopes: readonly string[] | undefined;
}

/** Collects routes as they are registered (Fastify `onRoute`). */
export function routeDoc(r: RouteOptions): RouteDoc[] {
  const methods = Array.isArray(r.method) ? r.method : [r.method];
  if ((r.schema as { hide?: boolean } | undefined)?.hide === true) return [];
  return methods
    .filter((m) => m !== 'HEAD')
    .map((method) => ({
      method: method.toLowerCase(),
      url: r.url,
      schema: (r.schema ?? {}) as Record<string, unknown>,
      scopes: (r.config as { scopes?: readonly string[] } | undefined)?.scopes,
    }));
}

function paramsOf(schema: unknown, where: 'path' | 'query'): unknown[] {
  const s = schema as { properties?: Record<string, unknown>; required?: string[] } | undefined;
  return Object.entries(s?.properties ?? {}).map(([name, p]) => ({
    name,
    in: where,
    required: where === 'path' || (s?.required ?? []).includes(name),
    schema: p,
  }));
}

/**
 * The OpenAPI 3.1 document of the server, built from the route schemas: request bodies and
 * parameters are the schemas Fastify validates with; the event is the event model's JSON Schema.
 * Extension keys of a route schema: `x-openapi-body` (the documented body, when the validated one
 * is looser) and `x-responses` (status → description, schema or content type).
 */
export function openApiDocument(routes: RouteDoc[], version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    if (r.url === '/tile/*') {
      for (const [path, params] of [
        ['/tile/{L}/{N}', ['L', 'N']],
        ['/tile/entries/{N}', ['N']],
      ] as const) {
        (paths[path] ??= {})[r.method] = operation(r, params);
      }
      continue;
    }
    const path = r.url.replace(/:([A-Za-z_]+)/g, '{$1}');
    (paths[path] ??= {})[r.method] = operation(r, []);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'auditrail HTTP API',
      version,
      description:
        'Ingestion, queries, proofs, decisions and approvals of auditrail (docs/server.md). Errors are ' +
        'RFC 9457 problem details whose `type` is `https://auditrail.dev/problems/<code>`.',
    },
    servers: [{ url: '/' }],
    security: [{ bearer: [] }],
    paths,
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'an auditrail API key' } },
      schemas: componentSchemas(),
    },
  };
}

function operation(r: RouteDoc, tilePathParams: readonly string[]): Record<string, unknown> {
  const s = r.schema;
  const parameters = [
    ...(tilePathParams.length > 0
      ? tilePathParams.map((name) => ({ name, in: 'path', required: true, schema: { type: 'string' } }))
      : paramsOf(s['params'], 'path')),
    ...paramsOf(s['querystring'], 'query'),
  ];
  const responses: Record<string, unknown> = {};
  const declared = (s['x-responses'] ?? {}) as Record<
    string,
    { description: string; schema?: unknown; content?: string }
  >;
  for (const [status, d] of Object.entries(declared)) {
    responses[status] = {
      description: d.description,
      ...(d.schema !== undefined
        ? { content: { 'application/json': { schema: d.schema } } }
        : d.content !== undefined
          ? { content: { [d.content]: { schema: { type: 'string' } } } }
          : {}),
    };
  }
  if (Object.keys(responses).length === 0) responses['200'] = { description: 'OK' };
  responses['default'] = {
    description: 'A problem (RFC 9457)',
    content: { 'application/problem+json': { schema: PROBLEM_REF } },
  };
  const body = s['x-openapi-body'] ?? s['body'];
  return {
    ...(typeof s['summary'] === 'string' ? { summary: s['summary'] } : {}),
    ...(typeof s['description'] === 'string' ? { description: s['description'] } : {}),
    ...(Array.isArray(s['tags']) ? { tags: s['tags'] } : {}),
    operationId: `${r.method}${r.url.replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ? c.toUpperCase() : ''))}`,
    ...(r.scopes ? { 'x-scopes': r.scopes } : { security: [] }),
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(body !== undefined
      ? { requestBody: { required: true, content: { 'application/json': { schema: body } } } }
      : {}),
    responses,
  };
}
