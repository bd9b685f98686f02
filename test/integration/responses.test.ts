/**
 * Automated responses on a real SQLite file: an anomaly recorded in the log, the responder
 * applying the rules of a `responses:` config, the Governor honouring each response on the
 * agent's next action (reason naming the response), a revert allowing it again, and a response
 * applied by another process honoured by this one's Governor.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  ActionDeniedError,
  ApprovalRequiredError,
  AuditError,
  Governor,
  openAuditTrail,
  parsePolicy,
  responseBook,
  revertResponse,
  responseAppliedEvent,
  FULL_READ_MS,
  type AuditTrail,
} from '../../src/index.js';
import { parseResponseConfig, runResponder } from '../../src/detect/responses/index.js';
import { tempDir } from './helpers.js';

const CHILD = fileURLToPath(new URL('./responses-child.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

const POLICY = parsePolicy(`
policy_id: support
version: 1
default: deny
rules:
  - id: untrusted-writes
    match: { action: "write:*", actor: { trust_tier: untrusted } }
    effect: deny
    reason: untrusted agents do not write
  - id: allow-writes
    match: { action: "write:*" }
    effect: allow
  - id: allow-reads
    match: { action: "read:*" }
    effect: allow
`);

const AGENT = { type: 'agent' as const, id: 'support-bot', trust_tier: 'standard' };

async function open(dir: string): Promise<AuditTrail> {
  return openAuditTrail({ tenant: 'acme', db: join(dir, 'audit.db'), checkpointIntervalMs: 0 });
}

async function anomaly(trail: AuditTrail, id: string, detector: string, score: number, agent = AGENT.id) {
  return trail.record({
    type: 'anomaly.detected',
    actor: { type: 'system', id: 'auditrail-detect' },
    risk_level: 'high',
    run_id: 'run-7',
    metadata: {
      anomaly: {
        id,
        detector,
        agent_id: agent,
        score,
        threshold: 3,
        seqs: [1, 2],
        window: { from: '2026-12-05T10:00:00Z', to: '2026-12-05T10:05:00Z' },
        summary: `${detector} for ${agent}`,
      },
    },
  });
}

const run = (gov: Governor, type = 'write:note') =>
  gov.run({ type, target: 'ticket/1' }, () => Promise.resolve('done'));

describe('automated responses', { timeout: 120_000 }, () => {
  it('quarantine denies the next action naming the response; a revert allows it again', async () => {
    const trail = await open(tempDir());
    const gov = new Governor({ trail, policy: POLICY, actor: AGENT });
    assert.equal((await run(gov)).result, 'done');
    await anomaly(trail, 'an-q1', 'privilege_escalation', 9);
    const rules = parseResponseConfig(`responses:
  - when: { detector: privilege_*, score_at_least: 5 }
    do: quarantine
  - when: { detector: denial_spike }
    do: rate_limit
    params: { per_minute: 1 }
`);
    const r = await runResponder(trail, rules);
    assert.deepEqual([r.anomalies, r.applied], [1, 1]);
    // A second run (a restart) applies nothing again.
    assert.equal((await runResponder(trail, rules)).applied, 0);
    const [applied] = (await trail.query({ type: 'response.applied' })).events;
    const id = (applied!.metadata!['response'] as { id: string }).id;
    assert.match(id, /^rsp_[0-9a-f]{24}$/);
    await assert.rejects(run(gov), (e: unknown) => {
      assert.ok(e instanceof ActionDeniedError);
      assert.equal(e.decision.matched_rule, `response:${id}`);
      assert.match(
        e.decision.reason,
        new RegExp(`quarantined by response ${id} \\(anomaly an-q1, privilege_escalation\\)`),
      );
      return true;
    });
    const denied = (await trail.query({ type: 'policy.decision', order: 'desc', limit: 1 })).events[0]!;
    assert.equal(denied.policy?.decision, 'deny');
    assert.match(denied.policy?.reason ?? '', new RegExp(id));
    // Another agent is not affected.
    const other = new Governor({ trail, policy: POLICY, actor: { ...AGENT, id: 'billing-bot' } });
    assert.equal((await run(other)).result, 'done');

    await assert.rejects(revertResponse(trail, id, { by: 'alice', reason: ' ' }), /needs a reason/);
    const reverted = await revertResponse(trail, id, { by: 'alice', reason: 'false positive' });
    assert.equal(reverted.reverted?.by, 'alice');
    await assert.rejects(revertResponse(trail, id, { by: 'alice', reason: 'again' }), (e: unknown) => {
      assert.ok(e instanceof AuditError);
      assert.equal(e.code, 'conflict');
      return true;
    });
    await assert.rejects(
      revertResponse(trail, 'rsp_nope', { by: 'alice', reason: 'x' }),
      /no response rsp_nope/,
    );
    assert.equal((await run(gov)).result, 'done');
    const ev = (await trail.query({ type: 'response.reverted' })).events[0]!;
    assert.equal(ev.metadata?.['response_id'], id);
    assert.equal(ev.actor.id, 'alice');
    await trail.close();
  });

  it('require_approval holds every action, demote lowers the tier, rate_limit denies past N per minute', async () => {
    const trail = await open(tempDir());
    const gov = new Governor({ trail, policy: POLICY, actor: AGENT, approvals: { wait: false } });
    await anomaly(trail, 'an-a1', 'unusual_resource', 4);
    await runResponder(
      trail,
      parseResponseConfig(`responses:
  - when: { detector: unusual_resource }
    do: require_approval
    params: { approvers: [security_lead] }
`),
    );
    const approvalId = responseBook(trail);
    await approvalId.refresh();
    const [resp] = approvalId.active(AGENT.id);
    await assert.rejects(run(gov, 'read:ticket'), (e: unknown) => {
      assert.ok(e instanceof ApprovalRequiredError);
      assert.deepEqual(e.approval.approvers, ['security_lead']);
      return true;
    });
    const held = (await trail.query({ type: 'policy.decision', order: 'desc', limit: 1 })).events[0]!;
    assert.equal(held.policy?.decision, 'require_approval');
    assert.equal(held.policy?.matched_rule, `response:${resp!.id}`);
    await revertResponse(trail, resp!.id, { by: 'bob', reason: 'reviewed' });
    assert.equal((await run(gov, 'read:ticket')).result, 'done');

    // demote: standard -> untrusted, and the policy denies untrusted writes.
    await anomaly(trail, 'an-d1', 'denial_spike', 6);
    await runResponder(
      trail,
      parseResponseConfig(`responses:
  - when: { detector: denial_spike }
    do: demote
`),
    );
    await assert.rejects(run(gov), (e: unknown) => {
      assert.ok(e instanceof ActionDeniedError);
      assert.equal(e.decision.matched_rule, 'untrusted-writes');
      assert.match(e.decision.reason, /trust tier standard -> untrusted by response rsp_/);
      return true;
    });
    assert.equal((await run(gov, 'read:ticket')).result, 'done');
    const book = responseBook(trail);
    await book.refresh();
    for (const r of book.active(AGENT.id)) await revertResponse(trail, r.id, { by: 'bob', reason: 'ok' });

    // rate_limit: 3 actions in the minute, then deny.
    await anomaly(trail, 'an-r1', 'rate_anomaly', 8, 'burst-bot');
    await runResponder(
      trail,
      parseResponseConfig(`responses:
  - when: { detector: rate_anomaly }
    do: rate_limit
    params: { per_minute: 3 }
`),
    );
    const burst = new Governor({ trail, policy: POLICY, actor: { ...AGENT, id: 'burst-bot' } });
    for (let i = 0; i < 3; i++) assert.equal((await run(burst, 'read:ticket')).result, 'done');
    await assert.rejects(
      run(burst, 'read:ticket'),
      /rate limit of 3 actions per minute reached \(3 in the last minute\) by response rsp_/,
    );
    await trail.close();
  });

  it('a response applied by another process is honoured by this Governor at its next decision', async () => {
    const dir = tempDir();
    const trail = await open(dir);
    const gov = new Governor({ trail, policy: POLICY, actor: AGENT });
    assert.equal((await run(gov)).result, 'done');
    await anomaly(trail, 'an-x1', 'privilege_escalation', 9);
    await trail.flush();
    const out = await new Promise<string>((resolve) => {
      const child = spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          CHILD,
          join(dir, 'audit.db'),
          'responses:\n  - when: { detector: "*" }\n    do: quarantine\n',
        ],
        { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let s = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (s += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (s += d));
      child.on('close', () => resolve(s.trim()));
    });
    assert.equal(out, 'applied 1');
    await assert.rejects(run(gov), /quarantined by response rsp_/);
    await trail.close();
  });

  it('a response event recorded some other way is honoured within the periodic read (1 s)', async () => {
    const trail = await open(tempDir());
    const gov = new Governor({ trail, policy: POLICY, actor: AGENT });
    assert.equal((await run(gov)).result, 'done');
    // Recorded as a raw event (as ingestion from elsewhere would): no version change.
    await trail.record(
      responseAppliedEvent({
        id: 'rsp_raw',
        kind: 'quarantine',
        agent_id: AGENT.id,
        anomaly_id: 'an-raw',
        detector: 'manual',
        rule: 'manual',
        params: {},
      }),
    );
    await new Promise((r) => setTimeout(r, FULL_READ_MS + 100));
    await assert.rejects(run(gov), /quarantined by response rsp_raw/);
    await trail.close();
  });

  it('refuses a bad responses config naming the field', () => {
    assert.throws(
      () => parseResponseConfig('responses:\n  - when: { detector: x }\n    do: explode\n'),
      /responses\[0\]\.do must be one of/,
    );
    assert.throws(
      () => parseResponseConfig('responses:\n  - when: { detector: x }\n    do: require_approval\n'),
      /responses\[0\]\.params\.approvers must list/,
    );
    assert.throws(
      () =>
        parseResponseConfig(
          'responses:\n  - when: { detector: x }\n    do: rate_limit\n    params: { per_minute: 0 }\n',
        ),
      /per_minute must be an integer/,
    );
  });
});
