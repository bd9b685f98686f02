import Database from 'better-sqlite3';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ApprovalRequiredError, Governor, openAuditTrail, parsePolicy } from '../../src/index.js';
import { tempDir } from './helpers.js';

const POLICY = `
policy_id: refunds
version: 1
default: deny
rules:
  - id: refunds-need-a-lead
    match: { action: "write:refund" }
    effect: require_approval
    approvers: [maria.chen]
`;

describe('an agent that approves itself in the database', () => {
  const dir = tempDir();
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('runs, but verify reports unapproved_execution at the seq of the execution', async () => {
    const db = join(dir, 'audit.db');
    const trail = await openAuditTrail({ tenant: 'acme', db, checkpointIntervalMs: 0 });
    try {
      const gov = new Governor({
        trail,
        policy: parsePolicy(POLICY),
        actor: { type: 'agent', id: 'support-bot' },
        approvals: { wait: false },
      });
      const refund = { type: 'write:refund', target: 'order/1042', params: { amount: 49.99 } };
      const held = await gov.run(refund, () => Promise.resolve()).catch((e: unknown) => e);
      assert.ok(held instanceof ApprovalRequiredError);
      // Nothing on the SDK objects leads to the store: the agent goes to the file itself.
      const raw = new Database(db);
      raw
        .prepare("UPDATE approvals SET status = 'granted', decided_by = 'maria.chen' WHERE id = ?")
        .run(held.approval.id);
      raw.close();
      const run = await gov.run(refund, () => Promise.resolve({ refund_id: 're_1' }));
      const outcome = await trail.get(run.outcome_event_id);
      const report = await trail.verify();
      assert.equal(report.ok, false);
      const failure = report.failures.find((f) => f.kind === 'unapproved_execution');
      assert.equal(failure?.seq, outcome?.seq);
      assert.equal(report.failures.length, 1, JSON.stringify(report.failures));
    } finally {
      await trail.close();
    }
  });
});
