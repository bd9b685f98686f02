import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parsePolicy } from './bundle.js';
import { diffPolicies } from './diff.js';

const EXAMPLE = readFileSync(new URL('./testdata/support-agent.yaml', import.meta.url), 'utf8');
const v3 = parsePolicy(EXAMPLE);

const V4 = `policy_id: support-agent
version: 4
default: allow
mode: shadow
rules:
  - id: approve-large-refunds
    match: { action: "write:refund", actor: { trust_tier: [standard, trusted] } }
    when: "params.amount > 250.0 || actor.trust_tier != 'trusted'"
    effect: require_approval
    approvers: [oncall_sre, finance_lead]
    approval_ttl: 15m
    risk: high
  - id: block-prod-deletes
    match: { action: "db.delete*", target: "prod/*" }
    effect: deny
    risk: critical
    reason: Deletes in production are never automatic
  - id: limit-delegation
    match: { delegation: { depth_min: 3 } }
    effect: deny
`;
const v4 = parsePolicy(V4);

describe('diffPolicies', () => {
  it('first load: every rule is added', () => {
    const d = diffPolicies(null, v3);
    assert.equal(d.policy_id, 'support-agent');
    assert.equal(d.from_version, null);
    assert.equal(d.from_snapshot, null);
    assert.equal(d.to_version, 3);
    assert.equal(d.to_snapshot, v3.snapshot);
    assert.deepEqual(d.added, ['block-prod-deletes', 'approve-large-refunds', 'allow-reads']);
    assert.deepEqual(d.removed, []);
    assert.deepEqual(d.changed, []);
    assert.equal(d.default_changed, undefined);
    assert.equal(
      d.text,
      [
        `policy support-agent: (none) -> v3 (${v3.snapshot.slice(0, 19)})`,
        '  default: deny, mode: enforce',
        '+ rule block-prod-deletes (deny)',
        '+ rule approve-large-refunds (require_approval)',
        '+ rule allow-reads (allow)',
      ].join('\n'),
    );
  });

  it('added, removed, changed (fields and position), default and mode', () => {
    const d = diffPolicies(v3, v4);
    assert.equal(d.from_version, 3);
    assert.equal(d.to_version, 4);
    assert.equal(d.from_snapshot, v3.snapshot);
    assert.equal(d.to_snapshot, v4.snapshot);
    assert.deepEqual(d.added, ['limit-delegation']);
    assert.deepEqual(d.removed, ['allow-reads']);
    // The two kept rules swapped places: the one that moved ahead is reported, with its edits.
    assert.deepEqual(d.changed, [{ id: 'approve-large-refunds', fields: ['when', 'position'] }]);
    assert.deepEqual(d.default_changed, { from: 'deny', to: 'allow' });
    assert.deepEqual(d.mode_changed, { from: 'enforce', to: 'shadow' });
    assert.equal(d.settings_changed, undefined);
    assert.equal(
      d.text,
      [
        `policy support-agent: v3 (${v3.snapshot.slice(0, 19)}) -> v4 (${v4.snapshot.slice(0, 19)})`,
        '~ default: deny -> allow',
        '~ mode: enforce -> shadow',
        '+ rule limit-delegation (deny)',
        '- rule allow-reads (allow)',
        '~ rule approve-large-refunds: when, position',
        `    - when: "params.amount > 500.0 || actor.trust_tier != 'trusted'"`,
        `    + when: "params.amount > 250.0 || actor.trust_tier != 'trusted'"`,
        '    moved: rule 2 -> rule 1',
      ].join('\n'),
    );
  });

  it('reports every changed field, including fields added or dropped', () => {
    const edited = EXAMPLE.replace('    risk: critical\n', '')
      .replace('never automatic', 'never automatic, ask the DBA')
      .replace("target: 'prod/*'", 'target: ["prod/*", "dr/*"]')
      .replace('approvers: [oncall_sre, finance_lead]', 'approvers: [oncall_sre]')
      .replace('approval_ttl: 15m', 'approval_ttl: 1h')
      .replace('effect: allow', 'effect: require_approval\n    approvers: [x]');
    const d = diffPolicies(v3, parsePolicy(edited));
    assert.deepEqual(d.changed, [
      { id: 'block-prod-deletes', fields: ['match', 'risk', 'reason'] },
      { id: 'approve-large-refunds', fields: ['approvers', 'approval_ttl'] },
      { id: 'allow-reads', fields: ['effect', 'approvers'] },
    ]);
    assert.match(d.text, /^ {4}- risk: "critical"$/m);
    assert.match(d.text, /^ {4}\+ approvers: \["x"\]$/m);
    assert.match(d.text, /^ {4}\+ match: \{"action":"db\.delete\*","target":\["prod\/\*","dr\/\*"\]\}$/m);
  });

  it('settings: risk defaults, default approvers, description', () => {
    const next = parsePolicy(
      EXAMPLE.replace('version: 3', 'version: 4\ndescription: Support agent\nrisk_defaults: { deny: high }'),
    );
    const d = diffPolicies(v3, next);
    assert.deepEqual(d.settings_changed, ['description', 'risk_defaults']);
    assert.match(d.text, /^~ risk_defaults: \(absent\) -> \{"deny":"high"\}$/m);
  });

  it('reformatting changes nothing; a version bump alone is said so', () => {
    const same = diffPolicies(v3, parsePolicy(EXAMPLE.replace(/ +#.*$/gm, '')));
    assert.deepEqual([same.added, same.removed, same.changed], [[], [], []]);
    assert.match(same.text, /\(no change\)$/);
    const bumped = diffPolicies(v3, parsePolicy(EXAMPLE.replace('version: 3', 'version: 4')));
    assert.deepEqual([bumped.added, bumped.removed, bumped.changed], [[], [], []]);
    assert.match(bumped.text, /v3 .* -> v4 .*\n {2}\(no rule or setting changed\)$/);
  });

  it('a rule moved past others is the one reported as moved', () => {
    const rules = (ids: string[]): string =>
      [
        'policy_id: p',
        'version: 1',
        'rules:',
        ...ids.flatMap((id) => [`  - id: ${id}`, '    effect: allow']),
      ].join('\n');
    const d = diffPolicies(
      parsePolicy(rules(['a', 'b', 'c', 'd'])),
      parsePolicy(rules(['b', 'c', 'd', 'a'])),
    );
    assert.deepEqual(d.changed, [{ id: 'a', fields: ['position'] }]);
  });
});
