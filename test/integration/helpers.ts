import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AuditEvent } from '../../src/event/types.js';

const made: string[] = [];
// Each test file runs in its own process: its directories go when it exits after passing, and
// stay for a look after a failure (scripts/run-tests.mjs says where).
process.on('exit', (code) => {
  if (code !== 0) return;
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

/** A fresh temporary directory for one test, removed when the test process exits cleanly. */
export function tempDir(prefix = 'auditrail-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  made.push(d);
  return d;
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
