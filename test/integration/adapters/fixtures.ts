/**
 * What the adapter integration tests share: one policy (allow / deny / require approval), an
 * in-memory trail with a governor, and readers for what the trail recorded.
 */
import {
  Governor,
  openAuditTrail,
  parsePolicy,
  type AuditTrail,
  type RecordedEvent,
} from '../../../src/index.js';
import { MemoryStore } from '../../../src/testing/index.js';

export const POLICY = `
policy_id: adapter-tests
version: 1
default: deny
rules:
  - id: allow-weather
    match: { action: "tool:get_weather" }
    effect: allow
    risk: low
  - id: block-deletes
    match: { action: "tool:delete_order" }
    effect: deny
    risk: critical
    reason: Deletes are never automatic
  - id: approve-refunds
    match: { action: "tool:refund" }
    effect: require_approval
    approvers: [finance_lead]
    approval_ttl: 5m
    risk: high
`;

export const AGENT = { type: 'agent' as const, id: 'support-bot', trust_tier: 'standard' };

export interface Setup {
  trail: AuditTrail;
  governor: Governor;
  close(): Promise<void>;
}

export async function setup(options: { wait?: boolean } = {}): Promise<Setup> {
  const trail = await openAuditTrail({ tenant: 'acme', store: new MemoryStore(), checkpointIntervalMs: 0 });
  const governor = new Governor({
    trail,
    policy: parsePolicy(POLICY),
    actor: AGENT,
    session_id: 'sess-1',
    approvals: { pollMs: 5, ...(options.wait !== undefined ? { wait: options.wait } : {}) },
  });
  return { trail, governor, close: () => trail.close() };
}

export async function events(trail: AuditTrail): Promise<RecordedEvent[]> {
  await trail.flush();
  return (await trail.query({ limit: 1000 })).events;
}

/** Event types for one action type, in log order (policy.updated and others left out). */
export async function lifecycle(trail: AuditTrail, actionType: string): Promise<string[]> {
  return (await events(trail)).filter((e) => e.action?.type === actionType).map((e) => e.type);
}
