import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parsePolicy } from './bundle.js';
import { diffPolicies } from './diff.js';
import { evaluate } from './evaluate.js';
import { diffRecord, jcsDigest, recordedConditions, verifyDiffPayload } from './record.js';

const bundle = parsePolicy(
  [
    'policy_id: p',
    'version: 1',
    'rules:',
    '  - { id: big, when: "params.n > 100.0", effect: require_approval, approvers: [a] }',
    '  - { id: odd, when: "params.n == 3.0", effect: deny }',
    '  - { id: typed, when: "params.s > 1.0", effect: allow }',
    '  - { id: plain, match: { action: "read" }, effect: allow }',
  ].join('\n'),
);
const decide = (params: unknown, type = 'write') => evaluate(bundle, { action: { type, params } });

describe('recordedConditions', () => {
  it("keeps the deciding rule's condition and digests the others", () => {
    const d = decide({ n: 3 });
    assert.equal(d.matched_rule, 'odd');
    assert.deepEqual(recordedConditions(bundle, d), {
      conditions_evaluated: [{ expression: 'params.n == 3.0', result: true }],
      conditions_omitted: {
        count: 1,
        digest: jcsDigest([{ expression: 'params.n > 100.0', result: false }]),
      },
    });
  });

  it('keeps a fail-closed error as the deciding condition', () => {
    const r = recordedConditions(bundle, decide({ n: 1, s: 'x' }));
    assert.equal(r.conditions_evaluated.length, 1);
    assert.equal(r.conditions_evaluated[0]?.expression, 'params.s > 1.0');
    assert.equal(typeof r.conditions_evaluated[0]?.result, 'string');
    assert.equal(r.conditions_omitted?.count, 2);
  });

  it('records only a count and digest when a rule without condition or the default decides', () => {
    const r = recordedConditions(bundle, decide({ n: 1, s: 0 }, 'read'));
    assert.deepEqual(r.conditions_evaluated, []);
    assert.equal(r.conditions_omitted?.count, 3);
    assert.deepEqual(recordedConditions(bundle, decide({ n: 101 })), {
      conditions_evaluated: [{ expression: 'params.n > 100.0', result: true }],
    });
  });
});

describe('diffRecord', () => {
  it('holds the digest and counts; the payload verifies against the digest', () => {
    const next = parsePolicy('policy_id: p\nversion: 2\nrules:\n  - { id: only, effect: allow }\n');
    const diff = diffPolicies(bundle, next);
    const r = diffRecord(diff);
    assert.equal(r.key, `policy-diff:${r.params.diff_digest}`);
    assert.deepEqual(
      { added: r.params.added, removed: r.params.removed, changed: r.params.changed },
      { added: 1, removed: 4, changed: 0 },
    );
    assert.equal(r.params.diff_bytes, Buffer.byteLength(r.payload));
    assert.deepEqual(verifyDiffPayload(r.params.diff_digest, r.payload), diff);
    assert.equal(verifyDiffPayload(r.params.diff_digest, r.payload.replace('only', 'onlx')), null);
    assert.equal(verifyDiffPayload(r.params.diff_digest, undefined), null);
  });
});
