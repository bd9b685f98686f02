/**
 * What the adapter integration tests share: one policy (allow / deny / require approval), an
 * in-memory trail with a governor, and readers for what the trail recorded.
 */
import {
  Governor,
  openAuditTrail,
  parsePolicy,
  type Actor,
  type AuditTrail,
  type RecordedEvent,
} from '../../../src/index.js';
import { MemoryStore } from '../../../src/testing/index.js';

/**
 * The policy of the adapter tests, for tools named `<prefix><tool>` (`tool:` for the framework
 * adapters, `mcp:` for the MCP proxy); `shadow` records every decision without enforcing it.
 */
export function policyFor(prefix = 'tool:', mode: 'enforce' | 'shadow' = 'enforce'): string {
  return `
policy_id: adapter-tests
version: 1
default: deny
mode: ${mode}
rules:
  - id: allow-weather
    match: { action: "${prefix}get_weather" }
    effect: allow
    risk: low
  - id: allow-reports
    match: { action: "${prefix}export_report" }
    effect: allow
    risk: medium
  - id: block-deletes
    match: { action: "${prefix}delete_order" }
    effect: deny
    risk: critical
    reason: Deletes are never automatic
  - id: approve-refunds
    match: { action: "${prefix}refund" }
    effect: require_approval
    approvers: [finance_lead]
    approval_ttl: 5m
    risk: high
`;
}

export const POLICY = policyFor();

export const AGENT = { type: 'agent' as const, id: 'support-bot', trust_tier: 'standard' };

/** A sub-agent the main agent hands work to (the delegation case). */
export const HELPER: Actor = { type: 'agent', id: 'refund-helper', trust_tier: 'restricted' };

export interface Setup {
  trail: AuditTrail;
  /** Everything the trail stored lives here: tests scan it for secrets. */
  store: MemoryStore;
  governor: Governor;
  close(): Promise<void>;
}

export interface SetupOptions {
  wait?: boolean;
  /** Policy text (default {@link POLICY}). */
  policy?: string;
  /** Govern as a sub-agent the main agent delegated these permissions to. */
  delegate?: { actor: Actor; permissions: string[] };
}

export async function setup(options: SetupOptions = {}): Promise<Setup> {
  const store = new MemoryStore();
  const trail = await openAuditTrail({ tenant: 'acme', store, checkpointIntervalMs: 0 });
  const main = new Governor({
    trail,
    policy: parsePolicy(options.policy ?? POLICY),
    actor: AGENT,
    session_id: 'sess-1',
    approvals: { pollMs: 5, ...(options.wait !== undefined ? { wait: options.wait } : {}) },
  });
  const governor = options.delegate
    ? await main.delegate(options.delegate.actor, options.delegate.permissions)
    : main;
  return { trail, store, governor, close: () => trail.close() };
}

export async function events(trail: AuditTrail): Promise<RecordedEvent[]> {
  await trail.flush();
  return (await trail.query({ limit: 1000 })).events;
}

/** Event types for one action type, in log order (policy.updated and others left out). */
export async function lifecycle(trail: AuditTrail, actionType: string): Promise<string[]> {
  return (await events(trail)).filter((e) => e.action?.type === actionType).map((e) => e.type);
}

/**
 * Whether `text` occurs anywhere in what `root` holds: strings, buffers (as UTF-8), and the
 * values of objects, arrays, maps and sets, private fields included. Used on a store to prove a
 * secret was never stored in any form the store keeps (events, disclosures, approvals, meta).
 */
export function holds(root: unknown, text: string): boolean {
  const needle = Buffer.from(text, 'utf8');
  const seen = new Set<unknown>();
  const visit = (v: unknown): boolean => {
    if (typeof v === 'string') return v.includes(text);
    if (typeof v !== 'object' || v === null || seen.has(v)) return false;
    seen.add(v);
    if (ArrayBuffer.isView(v)) return Buffer.from(v.buffer, v.byteOffset, v.byteLength).includes(needle);
    if (v instanceof Map) return [...v.entries()].some(([k, x]) => visit(k) || visit(x));
    if (v instanceof Set) return [...v].some(visit);
    return Object.values(v).some(visit);
  };
  return visit(root);
}
