import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parsePolicy } from './bundle.js';
import { evaluate } from './evaluate.js';
import type { PolicyBundle, PolicyDecision, PolicyInput } from './types.js';

const EXAMPLE = readFileSync(new URL('./testdata/support-agent.yaml', import.meta.url), 'utf8');
const bundle = parsePolicy(EXAMPLE, 'support-agent.yaml');

// A fixed clock: decisions compare exactly.
const fixed = { now: (): number => 0 };
const run = (input: PolicyInput, b: PolicyBundle = bundle): PolicyDecision => evaluate(b, input, fixed);

/** A bundle of `rules` (YAML lines, each rule starting with `- `) with the given header. */
function policy(rules: string[], header: string[] = []): PolicyBundle {
  return parsePolicy(
    [
      'policy_id: test',
      'version: 1',
      ...header,
      rules.length === 0 ? 'rules: []' : 'rules:',
      ...rules.map((l) => `  ${l}`),
      '',
    ].join('\n'),
  );
}

/** Which rule decides `input` under a bundle made of `rules` plus a catch-all default. */
function decidingRule(rules: string[], input: PolicyInput, header: string[] = []): string | null {
  return run(input, policy(rules, header)).matched_rule;
}

describe('evaluate: the example bundle', () => {
  const refund = (amount: unknown, trust_tier?: string): PolicyInput => ({
    action: { type: 'write:refund', params: { amount } },
    actor: trust_tier === undefined ? { id: 'agent-7' } : { id: 'agent-7', trust_tier },
  });
  const condition = "params.amount > 500.0 || actor.trust_tier != 'trusted'";

  it('denies deletes in production', () => {
    assert.deepEqual(run({ action: { type: 'db.delete_row', target: 'prod/users/42' } }), {
      decision: 'deny',
      matched_rule: 'block-prod-deletes',
      policy_id: 'support-agent',
      policy_version: 3,
      policy_snapshot: bundle.snapshot,
      conditions_evaluated: [],
      reason: 'Deletes in production are never automatic',
      mode: 'enforce',
      evaluation_us: 0,
      risk: 'critical',
    });
  });

  it('deletes elsewhere, or without a target, fall to the default (deny)', () => {
    for (const action of [{ type: 'db.delete_row', target: 'staging/users/42' }, { type: 'db.delete_row' }]) {
      const d = run({ action });
      assert.equal(d.decision, 'deny');
      assert.equal(d.matched_rule, null);
      assert.equal(d.reason, 'no rule matched; default deny');
      assert.equal(d.risk, undefined);
    }
  });

  it('large refund by a trusted agent: condition true -> require_approval', () => {
    assert.deepEqual(run(refund(900, 'trusted')), {
      decision: 'require_approval',
      matched_rule: 'approve-large-refunds',
      policy_id: 'support-agent',
      policy_version: 3,
      policy_snapshot: bundle.snapshot,
      conditions_evaluated: [{ expression: condition, result: true }],
      reason: 'matched rule "approve-large-refunds"',
      mode: 'enforce',
      evaluation_us: 0,
      risk: 'high',
      approvers: ['oncall_sre', 'finance_lead'],
      approval_ttl_ms: 900_000,
    });
  });

  it('small refund by a trusted agent: condition false -> next rules -> default deny', () => {
    const d = run(refund(120, 'trusted'));
    assert.equal(d.decision, 'deny');
    assert.equal(d.matched_rule, null);
    assert.deepEqual(d.conditions_evaluated, [{ expression: condition, result: false }]);
  });

  it('any refund by a standard agent needs approval (second half of the condition)', () => {
    const d = run(refund(10, 'standard'));
    assert.equal(d.decision, 'require_approval');
    assert.deepEqual(d.conditions_evaluated, [{ expression: condition, result: true }]);
  });

  it('untrusted or unknown tiers never reach the condition', () => {
    for (const input of [refund(900, 'untrusted'), refund(900)]) {
      const d = run(input);
      assert.equal(d.decision, 'deny');
      assert.equal(d.matched_rule, null);
      assert.deepEqual(d.conditions_evaluated, []);
    }
  });

  it('allows reads', () => {
    const d = run({ action: { type: 'read:ticket', target: 'tickets/1' } });
    assert.equal(d.decision, 'allow');
    assert.equal(d.matched_rule, 'allow-reads');
    assert.equal(d.risk, 'low');
    assert.equal(d.approvers, undefined);
  });

  it('shadow mode decides the same and says so', () => {
    const shadow = parsePolicy(EXAMPLE.replace('mode: enforce', 'mode: shadow'));
    const input: PolicyInput = { action: { type: 'db.delete_row', target: 'prod/users/42' } };
    const d = run(input, shadow);
    assert.equal(d.mode, 'shadow');
    assert.equal(d.decision, 'deny');
    assert.equal(d.matched_rule, 'block-prod-deletes');
    assert.equal(d.policy_snapshot, shadow.snapshot);
    assert.notEqual(shadow.snapshot, bundle.snapshot);
  });
});

describe('evaluate: fail-closed', () => {
  it('a condition that errors (missing field) denies, with the error as the reason', () => {
    const d = run({ action: { type: 'write:refund', params: {} }, actor: { trust_tier: 'trusted' } });
    assert.equal(d.decision, 'deny');
    assert.equal(d.matched_rule, 'approve-large-refunds');
    assert.equal(
      d.reason,
      'rule "approve-large-refunds": condition failed, denied (fail-closed): No such key: amount',
    );
    assert.deepEqual(d.conditions_evaluated, [
      {
        expression: "params.amount > 500.0 || actor.trust_tier != 'trusted'",
        result: 'No such key: amount',
      },
    ]);
    assert.equal(d.approvers, undefined);
  });

  it('a type error denies too, and no later rule gets a say', () => {
    const b = policy([
      '- id: check',
      '  match: { action: "pay" }',
      '  when: "params.amount > 5.0"',
      '  effect: allow',
      '- id: everything',
      '  effect: allow',
    ]);
    const d = run({ action: { type: 'pay', params: { amount: 'lots' } } }, b);
    assert.equal(d.decision, 'deny');
    assert.equal(d.matched_rule, 'check');
    assert.match(d.reason, /fail-closed.*no such overload/);
  });

  it('a non-boolean result denies', () => {
    const b = policy(['- id: flag', '  when: "params.flag"', '  effect: allow']);
    assert.equal(run({ action: { type: 'x', params: { flag: true } } }, b).decision, 'allow');
    const d = run({ action: { type: 'x', params: { flag: 'yes' } } }, b);
    assert.equal(d.decision, 'deny');
    assert.deepEqual(d.conditions_evaluated, [
      { expression: 'params.flag', result: 'condition returned a string, not a bool' },
    ]);
  });

  it('a condition error denies even under default allow', () => {
    const b = policy(['- id: r', '  when: "params.missing == 1.0"', '  effect: deny'], ['default: allow']);
    assert.equal(run({ action: { type: 'x' } }, b).decision, 'deny');
  });

  it('malformed input denies without matching any rule', () => {
    const b = policy(['- id: all', '  effect: allow'], ['default: allow']);
    const bad: [unknown, string][] = [
      [{}, 'action must be an object'],
      [{ action: { type: '' } }, 'action.type must be a non-empty string'],
      [{ action: { type: 42 } }, 'action.type must be a non-empty string'],
      [{ action: { type: 'x', target: 7 } }, 'action.target must be a string'],
      [{ action: { type: 'x' }, actor: 'bob' }, 'actor must be an object'],
      [{ action: { type: 'x' }, actor: { tags: 'admin' } }, 'actor.tags must be a list of strings'],
      [{ action: { type: 'x' }, actor: { trust_tier: 3 } }, 'actor.trust_tier must be a string'],
      [{ action: { type: 'x' }, tenant: ['a'] }, 'tenant must be a string'],
      [
        { action: { type: 'x' }, delegation: { depth: -1 } },
        'delegation.depth must be a non-negative integer',
      ],
      [
        { action: { type: 'x' }, delegation: { depth: '2' } },
        'delegation.depth must be a non-negative integer',
      ],
      [{ action: { type: 'x' }, delegation: { chain: 'a>b' } }, 'delegation.chain must be a list'],
      [null, 'input must be an object'],
    ];
    for (const [input, why] of bad) {
      const d = run(input as PolicyInput, b);
      assert.equal(d.decision, 'deny', why);
      assert.equal(d.matched_rule, null);
      assert.equal(d.reason, `invalid input (fail-closed): ${why}`);
    }
  });

  it('throws only for a bundle that parsePolicy did not make', () => {
    const forged = { ...bundle };
    assert.throws(() => evaluate(forged, { action: { type: 'read:x' } }), TypeError);
  });
});

describe('evaluate: match keys', () => {
  it('first matching rule wins, in bundle order', () => {
    const rules = [
      '- id: first',
      '  match: { action: "a*" }',
      '  effect: deny',
      '- id: second',
      '  match: { action: "ab" }',
      '  effect: allow',
    ];
    assert.equal(decidingRule(rules, { action: { type: 'ab' } }), 'first');
    const reversed = [...rules.slice(3), ...rules.slice(0, 3)];
    assert.equal(decidingRule(reversed, { action: { type: 'ab' } }), 'second');
  });

  it('a rule without match or when matches everything', () => {
    assert.equal(decidingRule(['- id: all', '  effect: allow'], { action: { type: 'anything' } }), 'all');
  });

  it('action and target take a glob or a list of globs', () => {
    const rules = [
      '- id: r',
      '  match: { action: ["io.fs.*", "search:web"], target: ["/tmp/*", "/work/*"] }',
      '  effect: allow',
    ];
    assert.equal(decidingRule(rules, { action: { type: 'io.fs.write_file', target: '/tmp/x' } }), 'r');
    assert.equal(decidingRule(rules, { action: { type: 'search:web', target: '/work/a/b' } }), 'r');
    assert.equal(decidingRule(rules, { action: { type: 'io.fs.write_file', target: '/etc/passwd' } }), null);
    assert.equal(decidingRule(rules, { action: { type: 'io.net.get', target: '/tmp/x' } }), null);
    assert.equal(decidingRule(rules, { action: { type: 'io.fs.write_file' } }), null);
  });

  it('actor: id (glob), type and trust_tier (any of), tags (all of)', () => {
    const rules = [
      '- id: r',
      '  match: { actor: { id: "agent-*", type: [agent, service], trust_tier: trusted, tags: [finance, oncall] } }',
      '  effect: allow',
    ];
    const actor = { id: 'agent-1', type: 'agent', trust_tier: 'trusted', tags: ['oncall', 'finance', 'eu'] };
    const with_ = (a: object): PolicyInput => ({ action: { type: 'x' }, actor: { ...actor, ...a } });
    assert.equal(decidingRule(rules, with_({})), 'r');
    assert.equal(decidingRule(rules, with_({ type: 'service' })), 'r');
    assert.equal(decidingRule(rules, with_({ id: 'user-1' })), null);
    assert.equal(decidingRule(rules, with_({ type: 'user' })), null);
    assert.equal(decidingRule(rules, with_({ trust_tier: 'standard' })), null);
    assert.equal(decidingRule(rules, with_({ tags: ['finance'] })), null, 'all tags are required');
    assert.equal(decidingRule(rules, with_({ tags: [] })), null);
    assert.equal(decidingRule(rules, { action: { type: 'x' } }), null, 'no actor, no match');
    assert.equal(
      decidingRule(
        ['- id: t', '  match: { actor: { tags: pii } }', '  effect: deny'],
        with_({ tags: ['pii'] }),
      ),
      't',
    );
  });

  it('tenant, environment (explicit, else metadata.environment) and risk_level', () => {
    const rules = [
      '- id: r',
      '  match: { tenant: [acme, "globex-*"], environment: prod, risk_level: [high, critical] }',
      '  effect: require_approval',
      '  approvers: [a]',
    ];
    const base: PolicyInput = {
      action: { type: 'x' },
      tenant: 'acme',
      environment: 'prod',
      risk_level: 'high',
    };
    assert.equal(decidingRule(rules, base), 'r');
    assert.equal(decidingRule(rules, { ...base, tenant: 'globex-eu' }), 'r');
    assert.equal(decidingRule(rules, { ...base, tenant: 'initech' }), null);
    assert.equal(decidingRule(rules, { ...base, risk_level: 'low' }), null);
    const { environment: _, ...noEnv } = base;
    assert.equal(decidingRule(rules, noEnv), null);
    assert.equal(decidingRule(rules, { ...noEnv, metadata: { environment: 'prod' } }), 'r');
    assert.equal(
      decidingRule(rules, { ...base, environment: 'staging', metadata: { environment: 'prod' } }),
      null,
      'an explicit environment wins over metadata',
    );
  });

  it('delegation: depth_min, depth_max, root_agent; depth from depth, else chain length, else 0', () => {
    const rules = [
      '- id: too-deep',
      '  match: { delegation: { depth_min: 3 } }',
      '  effect: deny',
      '- id: planner-delegated',
      '  match: { delegation: { depth_min: 1, depth_max: 2, root_agent: "planner-*" } }',
      '  effect: allow',
      '- id: direct',
      '  match: { delegation: { depth_max: 0 } }',
      '  effect: allow',
    ];
    const at = (delegation: PolicyInput['delegation']): string | null =>
      decidingRule(
        rules,
        delegation === undefined ? { action: { type: 'x' } } : { action: { type: 'x' }, delegation },
      );
    assert.equal(at(undefined), 'direct');
    assert.equal(at({ depth: 0 }), 'direct');
    assert.equal(at({ depth: 1, root_agent: 'planner-main' }), 'planner-delegated');
    assert.equal(at({ depth: 2, root_agent: 'planner-main' }), 'planner-delegated');
    assert.equal(at({ depth: 2, root_agent: 'rogue' }), null);
    assert.equal(at({ depth: 2 }), null, 'root_agent required by the rule, absent in the input');
    assert.equal(at({ depth: 3, root_agent: 'planner-main' }), 'too-deep');
    assert.equal(at({ depth: 9 }), 'too-deep');
    assert.equal(at({ chain: [{}, {}, {}, {}] }), 'too-deep', 'chain length stands in for depth');
    assert.equal(at({ chain: [{}], root_agent: 'planner-x' }), 'planner-delegated');
    assert.equal(at({ chain: [] }), 'direct');
  });
});

describe('evaluate: CEL variables', () => {
  const input: PolicyInput = {
    action: {
      type: 'write:refund',
      target: 'orders/7',
      params: { amount: 700, currency: 'EUR' },
      side_effects: ['payment'],
    },
    actor: { id: 'agent-7', type: 'agent', trust_tier: 'standard', tags: ['finance'], name: 'Refunder' },
    tenant: 'acme',
    delegation: { chain: [{ agent_id: 'planner' }], depth: 1, root_agent: 'planner' },
    context: { purpose: 'customer request', data_classification: 'pii' },
    risk_level: 'medium',
    metadata: { environment: 'prod', client_ip: '10.1.2.3' },
    session_id: 'sess-1',
    run_id: 'run-1',
  };
  const holds = (expression: string, i: PolicyInput = input): boolean | string => {
    const b = policy(['- id: r', `  when: ${JSON.stringify(expression)}`, '  effect: allow']);
    const d = run(i, b);
    return d.conditions_evaluated[0]?.result ?? 'not evaluated';
  };

  it('exposes every documented variable', () => {
    const expressions = [
      "action.type == 'write:refund'",
      "action.target == 'orders/7'",
      "action.params.currency == 'EUR'",
      "'payment' in action.side_effects",
      'params.amount == 700.0',
      'params.amount > 500',
      "actor.id == 'agent-7' && actor.name == 'Refunder'",
      "'finance' in actor.tags",
      "tenant == 'acme'",
      "environment == 'prod'",
      "delegation.depth == 1.0 && delegation.root_agent == 'planner'",
      "delegation.chain[0].agent_id == 'planner'",
      "context.purpose.startsWith('customer')",
      "risk_level == 'medium'",
      "metadata.client_ip.startsWith('10.')",
      "session_id == 'sess-1' && run_id == 'run-1'",
      'int(params.amount) + 1 == 701',
    ];
    for (const e of expressions) assert.equal(holds(e), true, e);
  });

  it('absent parts: objects are empty, strings are null, action is always complete', () => {
    const bare: PolicyInput = { action: { type: 'x' } };
    const expressions = [
      'tenant == null && environment == null && risk_level == null',
      'session_id == null && run_id == null',
      'action.target == null && size(action.side_effects) == 0 && size(action.params) == 0',
      '!has(actor.trust_tier) && !has(params.amount) && !has(metadata.x) && !has(context.x)',
      'delegation.depth == 0.0 && delegation.root_agent == null && size(delegation.chain) == 0',
    ];
    for (const e of expressions) assert.equal(holds(e, bare), true, e);
  });

  it('numbers from the event are doubles: int arithmetic needs int()', () => {
    assert.match(String(holds('params.amount + 1 == 701')), /no such overload/);
  });
});

describe('evaluate: defaults, risk and approvals', () => {
  it('default allow and default require_approval (with its approvers)', () => {
    assert.equal(run({ action: { type: 'x' } }, policy([], ['default: allow'])).decision, 'allow');
    const d = run(
      { action: { type: 'x' } },
      policy([], ['default: require_approval', 'default_approvers: [security]', 'default_approval_ttl: 30s']),
    );
    assert.equal(d.decision, 'require_approval');
    assert.deepEqual(d.approvers, ['security']);
    assert.equal(d.approval_ttl_ms, 30_000);
    assert.equal(d.reason, 'no rule matched; default require_approval');
  });

  it('risk_defaults fill in for rules (and the default) that name no risk', () => {
    const b = policy(
      [
        '- id: a',
        '  match: { action: "a" }',
        '  effect: allow',
        '- id: b',
        '  match: { action: "b" }',
        '  effect: allow',
        '  risk: high',
      ],
      ['risk_defaults: { allow: low, deny: medium }'],
    );
    assert.equal(run({ action: { type: 'a' } }, b).risk, 'low');
    assert.equal(run({ action: { type: 'b' } }, b).risk, 'high');
    assert.equal(run({ action: { type: 'c' } }, b).risk, 'medium');
  });

  it('a decision owns its arrays', () => {
    const d = run({
      action: { type: 'write:refund', params: { amount: 900 } },
      actor: { trust_tier: 'trusted' },
    });
    d.approvers?.push('mallory');
    assert.deepEqual(bundle.rules[1]?.approvers, ['oncall_sre', 'finance_lead']);
  });

  it('measures evaluation time with the injected clock (µs)', () => {
    const ticks = [1000, 1042.5];
    const d = evaluate(bundle, { action: { type: 'read:x' } }, { now: () => ticks.shift() ?? 0 });
    assert.equal(d.evaluation_us, 42.5);
    const real = evaluate(bundle, { action: { type: 'read:x' } });
    assert.ok(real.evaluation_us >= 0 && real.evaluation_us < 1e6);
  });
});

describe('evaluate: the action index agrees with a linear scan', () => {
  // An independent oracle: globs to RegExp by hand, rules tried one by one.
  const toRegExp = (glob: string): RegExp =>
    new RegExp(
      `^${[...glob].map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c === '.' ? '\\.' : c)).join('')}$`,
      'su',
    );
  const globArb = fc
    .array(fc.constantFrom('a', 'b', '.', '*', '?'), { minLength: 1, maxLength: 4 })
    .map((cs) => cs.join(''))
    .filter((g) => !g.includes('**'));
  const ruleArb = fc.option(fc.array(globArb, { minLength: 1, maxLength: 3 }), { nil: null });
  const typeArb = fc
    .array(fc.constantFrom('a', 'b', '.'), { minLength: 1, maxLength: 6 })
    .map((cs) => cs.join(''));

  it('for random bundles and action types', () => {
    fc.assert(
      fc.property(
        fc.array(ruleArb, { maxLength: 12 }),
        fc.array(typeArb, { minLength: 1, maxLength: 8 }),
        (rules, types) => {
          const b = policy(
            rules.flatMap((globs, i) => [
              `- id: r${i}`,
              ...(globs === null ? [] : [`  match: { action: ${JSON.stringify(globs)} }`]),
              '  effect: allow',
            ]),
          );
          for (const type of types) {
            const expected = rules.findIndex(
              (globs) => globs === null || globs.some((g) => toRegExp(g).test(type)),
            );
            const got = run({ action: { type } }, b).matched_rule;
            assert.equal(got, expected === -1 ? null : `r${expected}`, `type ${type}`);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('evaluate: path targets are matched in canonical form', () => {
  const files = policy([
    '- id: allow-tmp',
    "  match: { action: 'read_text_file', target: '/tmp/allowed/*' }",
    '  effect: allow',
    '- id: target-condition',
    "  match: { action: 'read_cel' }",
    '  when: "action.target.startsWith(\'/tmp/allowed/\')"',
    '  effect: allow',
  ]);
  const read = (target: string, type = 'read_text_file'): PolicyDecision =>
    run({ action: { type, target } }, files);

  it('allows a path inside the allowed directory, however it is written', () => {
    for (const t of [
      '/tmp/allowed/x.txt',
      '/tmp/allowed//x.txt',
      '/tmp/allowed/./x.txt',
      '/tmp/allowed/a/../x',
    ]) {
      assert.equal(read(t).decision, 'allow', t);
    }
  });

  it('does not let classic traversal forms out of it', () => {
    const escapes: [string, RegExp][] = [
      ['/tmp/allowed/../outside/secret.txt', /no rule matched/],
      ['/tmp/allowed/%2e%2e/outside/secret.txt', /no rule matched/],
      ['/tmp/allowed/%2E%2E/outside', /no rule matched/],
      ['/tmp/allowed/..%2foutside/secret.txt', /no rule matched/],
      ['/tmp/allowed/..%2Foutside', /no rule matched/],
      ['/tmp/allowed/%252e%252e/outside', /encoded twice/],
      ['/tmp/allowed/..\\outside', /backslash/],
      ['/tmp/allowed/x%00.txt', /NUL/],
      ['/tmp/allowed/../../../../etc/passwd', /escapes above its root/],
    ];
    for (const [t, reason] of escapes) {
      const d = read(t);
      assert.equal(d.decision, 'deny', t);
      assert.match(d.reason, reason, t);
    }
  });

  it('conditions see the canonical target too', () => {
    assert.equal(read('/tmp/allowed/x', 'read_cel').decision, 'allow');
    assert.equal(read('/tmp/allowed/../x', 'read_cel').decision, 'deny');
  });

  it('leaves flat targets as they are', () => {
    const b = policy(["- { id: r, match: { target: 'prod/*' }, effect: allow }"]);
    assert.equal(run({ action: { type: 'x', target: 'prod/db/users' } }, b).decision, 'allow');
  });
});

describe('evaluate: bounded cost', () => {
  it('a condition over its budget denies with "condition exceeded its budget"', () => {
    const b = policy([
      '- id: scan',
      '  when: "params.l.exists(a, params.l.exists(b, a + b < 0.0))"',
      '  effect: allow',
    ]);
    const l = Array.from({ length: 300 }, (_, i) => i);
    const d = run({ action: { type: 'x', params: { l } } }, b);
    assert.equal(d.decision, 'deny');
    assert.equal(d.matched_rule, 'scan');
    assert.match(d.reason, /condition exceeded its budget/);
    assert.deepEqual(d.conditions_evaluated, [
      {
        expression: 'params.l.exists(a, params.l.exists(b, a + b < 0.0))',
        result: 'condition exceeded its budget',
      },
    ]);
    // A small list is well within it, and a larger budget admits the large one.
    assert.equal(run({ action: { type: 'x', params: { l: [1, 2, 3] } } }, b).decision, 'deny');
    assert.match(run({ action: { type: 'x', params: { l: [1, 2, 3] } } }, b).reason, /no rule matched/);
    assert.match(
      evaluate(b, { action: { type: 'x', params: { l } } }, { costBudget: 1e6 }).reason,
      /no rule/,
    );
  });

  it('the budget is per decision: the same input always decides the same', () => {
    const rules = Array.from(
      { length: 50 },
      (_, i) => `- { id: r${i}, when: "params.l.exists(v, v == ${i}.5)", effect: allow }`,
    );
    const b = policy(rules);
    const input = { action: { type: 'x', params: { l: Array.from({ length: 1000 }, (_, i) => i) } } };
    const first = run(input, b);
    assert.match(first.reason, /condition exceeded its budget/);
    for (let i = 0; i < 5; i++) assert.deepEqual(run(input, b), first);
  });

  it('matches() uses RE2: linear time, RE2 syntax', () => {
    const b = policy([
      '- { id: corp, when: "params.email.matches(\'^([a-zA-Z0-9_.-]+)*@corp[.]com$\')", effect: allow }',
    ]);
    assert.equal(run({ action: { type: 'x', params: { email: 'bob@corp.com' } } }, b).decision, 'allow');
    const t0 = performance.now();
    assert.equal(
      run({ action: { type: 'x', params: { email: 'a'.repeat(5000) + '!' } } }, b).decision,
      'deny',
    );
    assert.ok(performance.now() - t0 < 500);
    // A lookahead is JavaScript syntax, not RE2: an error, so a deny.
    const look = policy(['- { id: r, when: "params.s.matches(params.p)", effect: allow }']);
    const d = run({ action: { type: 'x', params: { s: 'ab', p: 'a(?=b)' } } }, look);
    assert.equal(d.decision, 'deny');
    assert.match(d.reason, /Invalid regular expression/);
  });

  it('refuses oversized inputs before any rule runs', () => {
    const b = policy(['- { id: r, effect: allow }']);
    let deep: unknown = 1;
    for (let i = 0; i < 40; i++) deep = [deep];
    const cases: [unknown, RegExp][] = [
      [{ s: 'x'.repeat(300 * 1024) }, /characters of text/],
      [{ l: new Array<number>(20_000).fill(0) }, /more than 10000 values/],
      [deep, /nested deeper than 32/],
    ];
    for (const [params, reason] of cases) {
      const d = run({ action: { type: 'x', params } }, b);
      assert.equal(d.decision, 'deny');
      assert.match(d.reason, /^invalid input \(fail-closed\): /);
      assert.match(d.reason, reason);
    }
    const cyclic: Record<string, unknown> = {};
    cyclic['self'] = cyclic;
    assert.equal(run({ action: { type: 'x', params: cyclic } }, b).decision, 'deny');
    assert.equal(run({ action: { type: 'x', params: { s: 'x'.repeat(1000) } } }, b).decision, 'allow');
  });
});
