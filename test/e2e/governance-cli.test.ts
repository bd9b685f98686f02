// The governance commands of the CLI (policy check / policy test / approvals), run in process
// through main(argv, io) against a real SQLite file that a Governor wrote to.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { main, type Io } from '../../src/cli/main.js';
import { ApprovalRequiredError, Governor, openAuditTrail, parsePolicy } from '../../src/index.js';
import { tempDir } from '../integration/helpers.js';

const V1 = `policy_id: support-agent
version: 1
default: deny
rules:
  - id: approve-large-refunds
    match: { action: "write:refund" }
    when: "params.amount > 500.0"
    effect: require_approval
    approvers: [finance_lead]
    approval_ttl: 15m
  - id: allow-refunds
    match: { action: "write:refund" }
    effect: allow
  - id: allow-reads
    match: { action: "read:*" }
    effect: allow
`;
const V2 = V1.replace('version: 1', 'version: 2').replace(
  '  - id: allow-refunds\n    match: { action: "write:refund" }\n    effect: allow',
  '  - id: no-small-refunds\n    match: { action: "write:refund" }\n    effect: deny\n    reason: refunds go through billing now',
);

async function run(args: string[], db: string): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: Io = {
    stdout: { write: (s: string) => void (out += s) },
    stderr: { write: (s: string) => void (err += s) },
    isTTY: { stdout: false, stderr: false },
    env: { AUDITRAIL_DB: db, AUDITRAIL_TENANT: 'acme', NO_COLOR: '1' },
    cwd: process.cwd(),
  };
  const code = await main(args, io);
  return { code, out, err };
}

function setup() {
  const dir = tempDir('auditrail-gov-cli-');
  const db = join(dir, 'audit.db');
  writeFileSync(join(dir, 'v1.yaml'), V1);
  writeFileSync(join(dir, 'v2.yaml'), V2);
  writeFileSync(
    join(dir, 'bad.yaml'),
    V1.replace('effect: allow\n  - id: allow-reads', 'effect: permit\n  - id: allow-reads'),
  );
  return { dir, db };
}

describe('auditrail policy', () => {
  it('check validates a bundle and names file, line and column of a mistake', async () => {
    const { dir, db } = setup();
    const ok = await run(['policy', 'check', join(dir, 'v1.yaml')], db);
    assert.equal(ok.code, 0);
    assert.match(ok.out, /OK — policy support-agent version 1, 3 rules, default deny/);
    const bad = await run(['policy', 'check', join(dir, 'bad.yaml')], db);
    assert.equal(bad.code, 1);
    assert.match(bad.err, /bad\.yaml:\d+:\d+: rules\[1\]\.effect: .*allow, deny, require_approval/);
  });

  it('test replays recorded actions under a new bundle and counts what would change', async () => {
    const { dir, db } = setup();
    const trail = await openAuditTrail({ tenant: 'acme', db, checkpointIntervalMs: 0 });
    const gov = new Governor({
      trail,
      policy: parsePolicy(V1),
      actor: { type: 'agent', id: 'bot' },
      approvals: { wait: false },
    });
    for (const amount of [10, 20, 30])
      await gov.run({ type: 'write:refund', params: { amount } }, () => Promise.resolve());
    await gov.run({ type: 'read:order' }, () => Promise.resolve());
    await trail.close();
    const r = await run(['policy', 'test', '--policy', join(dir, 'v2.yaml'), '--since', '1h'], db);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /Replayed 4 decisions .* 3 would change, 1 unchanged/);
    assert.match(r.out, /allow -> deny\s+3/);
    const json = await run(['policy', 'test', '--policy', join(dir, 'v2.yaml'), '--json'], db);
    const report = JSON.parse(json.out) as {
      changes: { to_rule: string }[];
      transitions: Record<string, number>;
    };
    assert.deepEqual(report.transitions, { 'allow -> deny': 3 });
    assert.equal(report.changes[0]?.to_rule, 'no-small-refunds');
    assert.equal((await run(['policy', 'test'], db)).code, 2);
  });
});

describe('auditrail approvals', () => {
  it('lists a pending request and lets only a named approver grant it, once', async () => {
    const { db } = setup();
    const trail = await openAuditTrail({ tenant: 'acme', db, checkpointIntervalMs: 0 });
    const gov = new Governor({
      trail,
      policy: parsePolicy(V1),
      actor: { type: 'agent', id: 'bot' },
      approvals: { wait: false },
    });
    const err = await gov
      .run({ type: 'write:refund', params: { amount: 900 } }, () => Promise.resolve())
      .catch((e: unknown) => e);
    assert.ok(err instanceof ApprovalRequiredError);
    const id = err.approval.id;
    const list = await run(['approvals', 'list'], db);
    assert.equal(list.code, 0);
    // The whole id (what `approve ID` takes) and what exactly would be approved.
    assert.match(list.out, new RegExp(`^${id}\\s+pending\\s+write:refund\\s+finance_lead`, 'm'));
    assert.match(list.out, /params \{"amount":900\} · rule approve-large-refunds/);
    const wrong = await run(['approvals', 'approve', id, '--as', 'mallory'], db);
    assert.equal(wrong.code, 1);
    assert.match(wrong.err, /"mallory" may not decide .* finance_lead/);
    assert.equal((await run(['approvals', 'approve', id], db)).code, 2);
    const ok = await run(
      ['approvals', 'approve', id, '--as', 'finance_lead', '--reason', 'customer verified'],
      db,
    );
    assert.equal(ok.code, 0, ok.err);
    assert.equal((await run(['approvals', 'deny', id, '--as', 'finance_lead'], db)).code, 1);
    // The agent's re-attempt uses the grant made from the CLI (another connection), exactly once.
    assert.equal(
      await gov.run({ type: 'write:refund', params: { amount: 900 } }, () => Promise.resolve('paid')),
      'paid',
    );
    const granted = (await trail.query({ type: 'approval.granted' })).events[0]!;
    assert.equal(granted.approval?.approver, 'finance_lead');
    assert.equal(granted.approval?.reason, 'customer verified');
    await trail.close();
  });
});
