import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { openAuditTrail } from '../../src/index.js';
import { MAX_POLICY_TEXT, MAX_RULES, parsePolicy, verifyDiffPayload } from '../../src/policy/index.js';
import { storeOf } from '../../src/sdk/internals.js';
import { Governor } from '../../src/sdk/governance/governor.js';
import { tempDir } from './helpers.js';

// The documented limits (docs/policy.md): a bundle at the maximum must run end to end in the
// Governor, with a real SQLite log, whatever it records.
function bundle(
  version: number,
  rules: number,
  when: (i: number) => string,
  action = (i: number): string => `svc${i % 50}.op*`,
): string {
  const lines = [`policy_id: big`, `version: ${version}`, 'default: deny', 'rules:'];
  for (let i = 0; i < rules; i++) {
    lines.push(`  - { id: r${i}, match: { action: "${action(i)}" }, when: "${when(i)}", effect: allow }`);
  }
  return `${lines.join('\n')}\n`;
}

describe('policy limits, end to end', () => {
  const dir = tempDir('auditrail-policy-limits-');
  after(() => rmSync(dir, { recursive: true, force: true }));
  const agent = { type: 'agent' as const, id: 'bot' };

  it(`a ${MAX_RULES}-rule bundle loads, records its policy.updated and decides`, async () => {
    const v1 = bundle(1, MAX_RULES, (i) => `params.n == ${i}.5`);
    assert.ok(v1.length <= MAX_POLICY_TEXT, `${v1.length} characters`);
    const trail = await openAuditTrail({
      tenant: 't',
      db: join(dir, 'max', 'audit.db'),
      checkpointIntervalMs: 0,
    });
    try {
      const gov = new Governor({ trail, policy: parsePolicy(v1), actor: agent });
      // 200 rules match `svc7.op*`, every condition false: the default decides.
      const d = await gov.decide({ type: 'svc7.op_read', params: { n: 1 } });
      assert.equal(d.decision, 'deny');
      const hit = await gov.decide({ type: 'svc7.op_read', params: { n: 9957.5 } });
      assert.equal(hit.decision, 'allow');
      assert.equal(hit.matched_rule, 'r9957');

      // A changed bundle of the same size: its diff is stored apart and checked by its digest.
      const v2 = bundle(2, MAX_RULES, (i) => (i % 2 === 0 ? `params.n == ${i}.25` : `params.n == ${i}.5`));
      const gov2 = new Governor({ trail, policy: parsePolicy(v2), actor: agent });
      await gov2.decide({ type: 'svc1.op', params: { n: 0 } });
      await trail.flush();
      const updates = (await trail.query({ type: 'policy.updated' })).events;
      assert.equal(updates.length, 2);
      for (const [u, added, changed] of [
        [updates[0], MAX_RULES, 0],
        [updates[1], 0, MAX_RULES / 2],
      ] as const) {
        const p = u?.action?.params as {
          diff_digest: string;
          added: number;
          changed: number;
          evidence: string;
        };
        assert.equal(p.added, added);
        assert.equal(p.changed, changed);
        assert.equal(p.evidence, `meta:policy-diff:${p.diff_digest}`);
        const diff = verifyDiffPayload(
          p.diff_digest,
          await storeOf(trail).getMeta(`policy-diff:${p.diff_digest}`),
        );
        assert.ok(diff !== null, 'the stored diff matches the digest the event holds');
        assert.equal(diff.added.length, added);
        // Any edit of the stored payload is detected.
        const stored = (await storeOf(trail).getMeta(`policy-diff:${p.diff_digest}`)) as string;
        assert.equal(verifyDiffPayload(p.diff_digest, `${stored} `), null);
      }
      const report = await trail.verify();
      assert.equal(report.ok, true);
    } finally {
      await trail.close();
    }
  });

  it('300 rules whose conditions are all false: the action is decided and recorded', async () => {
    const text = bundle(
      1,
      300,
      (i) => `params.n == ${i}.5`,
      () => 'svc*',
    );
    const policy = parsePolicy(`${text}  - { id: fallback, match: { action: "svc*" }, effect: allow }\n`);
    const trail = await openAuditTrail({
      tenant: 't',
      db: join(dir, 'false', 'audit.db'),
      checkpointIntervalMs: 0,
    });
    try {
      const gov = new Governor({ trail, policy, actor: agent });
      // Every rule matches by glob and runs its condition: 300 results, more than an event holds.
      const { result } = await gov.run({ type: 'svc3.op', params: { n: 1 } }, () => Promise.resolve('ran'));
      assert.equal(result, 'ran');
      await trail.flush();
      const d = (await trail.query({ type: 'policy.decision' })).events[0];
      assert.equal(d?.policy?.matched_rule, 'fallback');
      assert.deepEqual(d?.policy?.conditions_evaluated, []);
      assert.equal(d?.policy?.conditions_omitted?.count, 300);
    } finally {
      await trail.close();
    }
  });
});
