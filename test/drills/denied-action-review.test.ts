// Drill 1 of seed 001, "Denied action review: explain why a high-risk action was blocked". The
// auditor lists every denial, reads the rule and reason that decided it and checks them against
// the published policy, confirms that no denied action ran anyway, and takes away an evidence
// package of the decisions (their bodies only) that verifies offline.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, it } from 'node:test';
import { DEMO_SECRETS } from '../../src/cli/demo-session.js';
import { cli, field, logJson, openTrail, policyRules, recordDrillLog } from './drill.js';

describe('drill: denied-action review', () => {
  it('every denial names its rule and reason, none ran, and the evidence of them verifies', async () => {
    const log = await recordDrillLog(2);
    const rules = await policyRules();

    // 1. Every denial in the log, with the rule that decided it.
    const denials = await logJson(log, ['--type', 'policy.decision', '--decision', 'deny']);
    const seen = denials.map((d) => [d.actor.id, d.action?.type, field(d, 'policy.matched_rule')]);
    const expected = [
      ['acme-support', 'delete:card', 'no-agent-payment-method-deletes'],
      ['kb-researcher', 'http:get', 'egress-allowlist'],
      ['acme-support', 'write:password', 'identity-verification-required'],
    ];
    assert.deepEqual(seen, [...expected, ...expected]);
    for (const d of denials) {
      // 2. The rationale: the published rule's reason, under a named policy version and snapshot.
      const rule = rules.get(String(field(d, 'policy.matched_rule')));
      assert.ok(rule, `rule ${String(field(d, 'policy.matched_rule'))} is in the published policy`);
      assert.equal(field(d, 'policy.reason'), rule.reason);
      assert.equal(field(d, 'policy.policy_id'), 'acme-support');
      assert.equal(field(d, 'policy.policy_version'), 7);
      assert.match(String(field(d, 'policy.policy_snapshot')), /^sha256:[0-9a-f]{64}$/);
      assert.equal(field(d, 'policy.mode'), 'enforce');
      assert.equal(field(d, 'outcome.status'), 'denied');
      // The intent it answers is in the log: who asked, for what, and why.
      const intent = (await logJson(log, ['--session', d.session_id!, '--type', 'action.intent'])).find(
        (i) => i.event_id === d.parent_event_id,
      );
      assert.ok(intent, `the intent of denial seq ${d.seq} is in the log`);
      assert.equal(intent.action?.type, d.action?.type);
      assert.equal(intent.actor.id, d.actor.id);
    }
    // The snapshot named by the denials is the one recorded when the policy was loaded.
    const loads = await logJson(log, ['--type', 'policy.updated']);
    assert.equal(loads.length, 1);
    assert.equal(field(loads[0], 'policy.policy_snapshot'), field(denials[0], 'policy.policy_snapshot'));

    // 3. Nothing denied ran: no execution of a denied intent, and the whole log checks clean.
    const denied = new Set(denials.map((d) => d.parent_event_id));
    const executions = await logJson(log, ['--type', 'action.*']);
    assert.deepEqual(
      executions.filter((e) => e.type !== 'action.intent' && denied.has(e.parent_event_id)),
      [],
    );
    const check = await cli(log, ['check', '--json']);
    assert.equal(check.code, 0, check.out);
    assert.deepEqual(JSON.parse(check.out), { ok: true, findings: [], sampled: [] });

    // 4. Evidence of the denials, bodies only (no parameters, no reasoning), verified offline.
    const pkg = await cli(log, [
      'evidence',
      '--type',
      'policy.decision',
      '--decision',
      'deny',
      '--fields',
      'body',
      '-o',
      'denials.evidence.tar.gz',
    ]);
    assert.equal(pkg.code, 0, pkg.err);
    const v = await cli(log, ['verify-evidence', 'denials.evidence.tar.gz', '--key', log.vkey, '--json']);
    assert.equal(v.code, 0, v.out);
    const report = JSON.parse(v.out) as { ok: boolean; summary: { events: number; fields: string[] } };
    assert.equal(report.summary.events, 6);
    assert.deepEqual(report.summary.fields, ['']);
    const text = await cli(log, ['verify-evidence', 'denials.evidence.tar.gz', '--key', log.vkey]);
    assert.match(text.out, /fields +only body disclosed/);
    // The denied password change's parameters are not in the package at all.
    const tar = gunzipSync(readFileSync(join(log.dir, 'denials.evidence.tar.gz')));
    assert.equal(tar.indexOf('new_password'), -1);
    assert.equal(tar.indexOf(DEMO_SECRETS.password), -1);

    // 5. The control: a denied action run anyway (recorded behind the Governor's back) is found.
    const trail = await openTrail(log.db);
    const d = denials[0]!;
    const rogue = await trail.record({
      type: 'action.succeeded',
      actor: d.actor,
      session_id: d.session_id!,
      parent_event_id: d.parent_event_id!,
      action: { type: d.action!.type, ...(d.action?.target ? { target: d.action.target } : {}) },
      outcome: { status: 'success' },
    });
    await trail.close();
    const after = await cli(log, ['check', '--json']);
    assert.equal(after.code, 1);
    const findings = (JSON.parse(after.out) as { findings: { rule: string; seq: number }[] }).findings;
    assert.deepEqual(
      findings.map((f) => [f.rule, f.seq]),
      [['denied_execution', rogue.seq]],
    );
  });
});
