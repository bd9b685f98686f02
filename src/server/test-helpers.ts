import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { parsePolicy } from '../policy/index.js';
import { MemoryStore } from '../store/memory/memory-store.js';
import { buildServer, type ServerOptions } from './app.js';

/** A policy with one rule per effect, for route tests. */
export const TEST_POLICY = parsePolicy(`
policy_id: server-test
version: 1
default: deny
rules:
  - id: allow-reads
    match: { action: 'read:*' }
    effect: allow
    reason: reads are fine
  - id: refunds-need-finance
    match: { action: 'write:refund' }
    effect: require_approval
    approvers: [finance-lead]
    reason: refunds need a finance approver
`);

export interface TestServer {
  app: FastifyInstance;
  store: MemoryStore;
  /** Keys by name: `a` (tenant acme, all scopes), `b` (tenant globex, all scopes), and more. */
  keys: Record<string, string>;
  call(key: string | null, options: InjectOptions): Promise<LightMyRequestResponse>;
}

/** A server on an in-memory store with keys for two tenants. */
export async function testServer(options: ServerOptions = {}): Promise<TestServer> {
  const store = new MemoryStore();
  const app = await buildServer({
    store,
    keyDir: null,
    policy: TEST_POLICY,
    checkpointIntervalMs: 0,
    ...options,
  });
  const all = ['ingest', 'read', 'decide', 'approve', 'admin'] as const;
  const keys: Record<string, string> = {
    a: (await app.auditrail.createKey({ tenant: 'acme', name: 'acme-bot', scopes: all })).key,
    b: (await app.auditrail.createKey({ tenant: 'globex', name: 'globex-bot', scopes: all })).key,
    finance: (
      await app.auditrail.createKey({ tenant: 'acme', name: 'finance-lead', scopes: ['approve', 'read'] })
    ).key,
    readonly: (await app.auditrail.createKey({ tenant: 'acme', name: 'auditor', scopes: ['read'] })).key,
  };
  return {
    app,
    store,
    keys,
    call: (key, o) =>
      app.inject({
        ...o,
        headers: { ...(o.headers ?? {}), ...(key !== null ? { authorization: `Bearer ${key}` } : {}) },
      }),
  };
}

/** A loopback Host header: what open mode (`serve --open`) serves the dashboard to. */
export const LOOPBACK = { host: '127.0.0.1:8700' };

/**
 * A server in open mode (no sign-in; local user `local-user` of tenant acme) on `store`, for
 * dashboard page tests: request pages with {@link LOOPBACK} as headers.
 */
export function openModeServer(store: MemoryStore = new MemoryStore()): Promise<FastifyInstance> {
  return buildServer({
    store,
    keyDir: null,
    policy: TEST_POLICY,
    checkpointIntervalMs: 0,
    dashboardOpen: { tenant: 'acme', name: 'local-user' },
  });
}

export const agent = { type: 'agent' as const, id: 'support-bot' };

/** A valid event of tenant-free content. */
export function sampleEvent(i: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    type: 'action.intent',
    actor: agent,
    run_id: 'run-1',
    action: { type: 'read:order', target: `order/${i}` },
    ...extra,
  };
}
