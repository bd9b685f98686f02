// The governance commands of the CLI (policy check / policy test / approvals), run in process
// through main(argv, io) against a real SQLite file that a Governor wrote to.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { DEMO_POLICY_FILE, DEMO_POLICY_YAML } from '../../src/cli/demo-session.js';
import {
  ApprovalRequiredError,
  Governor,
  loadPolicyFile,
  openAuditTrail,
  parsePolicy,
} from '../../src/index.js';
import { runCli, tempDir } from '../integration/helpers.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

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

async function run(
  args: string[],
  db: string,
  cwd: string = process.cwd(),
): Promise<{ code: number; out: string; err: string }> {
  const r = await runCli(args, { cwd, env: { AUDITRAIL_DB: db, AUDITRAIL_TENANT: 'acme', NO_COLOR: '1' } });
  return { code: r.code, out: r.stdout, err: r.stderr };
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

  it('reads a relative FILE from the working directory it was started in, and names it as typed', async () => {
    const { dir, db } = setup();
    const ok = await run(['policy', 'check', 'v1.yaml'], db, dir);
    assert.equal(ok.code, 0, ok.err);
    assert.match(ok.out, /^v1\.yaml: OK — policy support-agent version 1/);
    const bad = await run(['policy', 'check', 'bad.yaml'], db, dir);
    assert.match(bad.err, /^ {2}bad\.yaml:\d+:\d+: rules\[1\]\.effect/m);
    const replay = await run(['policy', 'test', 'v2.yaml'], db, dir);
    // The bundle was read (from dir): what stops the replay is the empty database, named as given.
    assert.match(replay.err, /^error: no audit database at audit\.db/, replay.err);
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
      (await gov.run({ type: 'write:refund', params: { amount: 900 } }, () => Promise.resolve('paid')))
        .result,
      'paid',
    );
    const granted = (await trail.query({ type: 'approval.granted' })).events[0]!;
    assert.equal(granted.approval?.approver, 'finance_lead');
    assert.equal(granted.approval?.reason, 'customer verified');
    await trail.close();
  });
});

describe('auditrail policy init', () => {
  const dir = mkdtempSync(join(tmpdir(), 'auditrail-policy-init-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('writes a commented starter that loads as a valid bundle, and keeps an existing file', async () => {
    const file = join(dir, 'policy.yaml');
    const db = join(dir, 'audit.db');
    const r = await run(['policy', 'init', file], db);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /auditrail policy check /);
    const text = readFileSync(file, 'utf8');
    assert.match(text, /^# /m, 'commented');
    const bundle = await loadPolicyFile(file);
    assert.equal(bundle.defaultEffect, 'deny');
    assert.ok(bundle.rules.some((rule) => rule.effect === 'require_approval'));
    assert.equal((await run(['policy', 'check', file], db)).code, 0);
    writeFileSync(file, 'mine');
    const again = await run(['policy', 'init', file], db);
    assert.equal(again.code, 1);
    assert.match(again.err, /exists.*--force/);
    assert.equal(readFileSync(file, 'utf8'), 'mine');
    assert.equal((await run(['policy', 'init', file, '--force'], db)).code, 0);
    assert.equal(readFileSync(file, 'utf8'), text);
  });
});

describe('auditrail demo under the shipped policy', () => {
  const dir = mkdtempSync(join(tmpdir(), 'auditrail-demo-policy-'));
  const db = join(dir, 'audit.db');
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('ships the policy the demo runs under', () => {
    assert.equal(readFileSync(DEMO_POLICY_FILE, 'utf8'), DEMO_POLICY_YAML);
  });

  it('policy test replays every demo decision under it, none skipped, none changed', async () => {
    assert.equal((await run(['demo'], db)).code, 0);
    const r = await run(['policy', 'test', DEMO_POLICY_FILE, '--json'], db);
    assert.equal(r.code, 0, r.err);
    const report = JSON.parse(r.out) as { total: number; skipped: number; unchanged: number };
    assert.ok(report.total >= 15, `replayed ${report.total}`);
    assert.equal(report.skipped, 0);
    assert.equal(report.unchanged, report.total);
    const text = await run(['policy', 'test', DEMO_POLICY_FILE], db);
    assert.match(text.out, new RegExp(`^Replayed ${report.total} decisions .*: 0 would change`));
    assert.doesNotMatch(text.out, /skipped/);
  });

  it('links the held refund: decision, grant and outcome name the approval; verify passes', async () => {
    const trail = await openAuditTrail({ tenant: 'acme', db, checkpointIntervalMs: 0 });
    try {
      const events = (await trail.query({ limit: 1000 })).events;
      const held = events.filter((e) => e.policy?.decision === 'require_approval');
      assert.equal(held.length, 1);
      const id = held[0]!.approval?.request_id;
      assert.match(id ?? '', /^apr_/);
      const granted = events.find((e) => e.type === 'approval.granted');
      assert.equal(granted?.approval?.request_id, id);
      assert.equal(granted?.approval?.approver, 'maria.chen');
      const outcome = events.find((e) => e.type === 'action.succeeded' && e.approval?.request_id === id);
      assert.ok(outcome && granted && outcome.seq > granted.seq);
      assert.equal(outcome.parent_event_id, held[0]!.parent_event_id);
      assert.equal((await trail.verify()).ok, true);
    } finally {
      await trail.close();
    }
  });
});

describe('an approval given from another process', () => {
  const dir = mkdtempSync(join(tmpdir(), 'auditrail-approve-proc-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('is in the log before the waiting agent runs: the outcome follows the grant, verify passes', async () => {
    const db = join(dir, 'audit.db');
    const trail = await openAuditTrail({ tenant: 'acme', db, checkpointIntervalMs: 0 });
    try {
      let approver: Promise<number | null> | undefined;
      const gov = new Governor({
        trail,
        policy: parsePolicy(V1),
        actor: { type: 'agent', id: 'bot' },
        // Poll as fast as possible: a grant the row shows before the log holds it would run here.
        approvals: {
          pollMs: 1,
          onRequest: (req) => {
            approver = new Promise((resolve) => {
              const child = spawn(
                process.execPath,
                ['--import', 'tsx', MAIN, 'approvals', 'approve', req.id, '--as', 'finance_lead'],
                { env: { ...process.env, AUDITRAIL_DB: db, AUDITRAIL_TENANT: 'acme' }, stdio: 'ignore' },
              );
              child.on('exit', (code) => resolve(code));
            });
          },
        },
      });
      const run = await gov.run({ type: 'write:refund', params: { amount: 900 } }, () =>
        Promise.resolve('paid'),
      );
      assert.equal(await approver, 0);
      const granted = (await trail.query({ type: 'approval.granted' })).events[0];
      const outcome = await trail.get(run.outcome_event_id);
      assert.ok(granted && outcome && granted.seq < outcome.seq);
      assert.equal(outcome.approval?.request_id, granted.approval?.request_id);
      assert.equal((await trail.verify()).ok, true);
    } finally {
      await trail.close();
    }
  });
});
