import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AuditEvent } from '../../src/event/types.js';

/** A fresh temporary directory for one test. */
export function tempDir(prefix = 'auditrail-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A varied, realistic event number `i` of a session. */
export function sampleEvent(i: number, session = 's-1'): AuditEvent {
  const kinds: AuditEvent[] = [
    {
      type: 'action.intent',
      actor: { type: 'agent', id: 'support-bot', trust_tier: 'standard' },
      action: { type: 'read:order', target: `order/${1000 + i}`, params: { order_id: 1000 + i } },
      context: { reasoning: 'customer asked about the delivery date' },
    },
    {
      type: 'policy.decision',
      actor: { type: 'system', id: 'policy-engine' },
      action: { type: 'read:order', target: `order/${1000 + i}` },
      policy: {
        decision: 'allow',
        matched_rule: 'allow-reads',
        policy_id: 'support',
        reason: 'reads are allowed',
      },
    },
    {
      type: 'action.succeeded',
      actor: { type: 'agent', id: 'support-bot' },
      action: { type: 'read:order', target: `order/${1000 + i}` },
      outcome: { status: 'success', result: { status: 'shipped' }, duration_ms: 12 },
    },
  ];
  return { ...kinds[i % kinds.length]!, session_id: session, run_id: `run-${Math.floor(i / 3)}` };
}
