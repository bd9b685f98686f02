import type { FastifyReply, FastifyRequest } from 'fastify';
import type { PolicyBundle } from '../policy/index.js';
import type { AuditTrail } from '../sdk/audit-trail.js';
import type { AuditStore } from '../store/store.js';
import type { ApiKeys, CreatedKey, KeyInfo, Principal, Scope } from './api-keys.js';
import type { ServerMetrics } from './metrics.js';
import { fail } from './problem.js';
import type { TenantTrails } from './tenants.js';

/** What a built server offers besides its routes: key management on its own logs. */
export interface ServerHandle {
  /** Creates an API key (recorded as `key.created` in the tenant's log); the secret is in `key`. */
  createKey(spec: {
    tenant: string;
    name: string;
    scopes: readonly Scope[];
    createdBy?: string;
  }): Promise<CreatedKey>;
  /** Revokes a key at once (recorded as `key.revoked`). */
  revokeKey(id: string, by?: string): Promise<KeyInfo>;
  listKeys(tenant?: string): Promise<KeyInfo[]>;
  /** True when the database holds no API key yet (a new server prints its first admin key). */
  hasNoKeys(): Promise<boolean>;
  /** The open log of a tenant (scheduled reports read it and record their runs in it). */
  trail(tenant: string): Promise<AuditTrail>;
  /** The server's /metrics (serve adds its SIEM sinks to them). */
  metrics: ServerMetrics;
}

declare module 'fastify' {
  interface FastifyInstance {
    auditrail: ServerHandle;
  }
  interface FastifyRequest {
    /** The authenticated key, on routes that need one. */
    principal: Principal | null;
  }
  interface FastifySchema {
    /** OpenAPI documentation of the route (src/server/openapi.ts). */
    summary?: string;
    description?: string;
    tags?: string[];
    /** The documented body, when the validated one is looser (e.g. the full event schema). */
    'x-openapi-body'?: unknown;
    /** Documented responses: status → description and a JSON schema or a content type. */
    'x-responses'?: Record<string, { description: string; schema?: unknown; content?: string }>;
  }
  interface FastifyContextConfig {
    /** The route needs a key holding one of these scopes; absent: a public route. */
    scopes?: readonly Scope[];
  }
}

/** What every route works with. */
export interface ServerContext {
  trails: TenantTrails;
  keys: ApiKeys;
  store: AuditStore;
  policy: PolicyBundle | null;
  metrics: ServerMetrics;
  /** Aborted when the server starts closing: long-polls answer at once. */
  closing: AbortSignal;
}

/** The principal of an authenticated route (the auth hook ran before the handler). */
export function principalOf(req: FastifyRequest): Principal {
  if (!req.principal) fail('unauthorized', 'an API key is required');
  return req.principal;
}

/** Sends a JSON body with the problem+json content type when it is a problem. */
export function sendJson(reply: FastifyReply, status: number, body: unknown): FastifyReply {
  return reply.code(status).type('application/json; charset=utf-8').send(body);
}
