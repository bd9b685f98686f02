/**
 * Policy evaluation benchmark: a realistic 200-rule bundle (literal and wildcard action globs,
 * targets, actor / tenant / environment / delegation matches, CEL conditions) evaluated over a
 * varied set of inputs. Called by the benchmark runner; reproduce with
 * `node --import tsx -e "import('./src/policy/bench.ts').then(m => console.log(m.benchPolicyEvaluation()))"`.
 */
import { parsePolicy } from './bundle.js';
import { evaluate } from './evaluate.js';
import type { Decision, PolicyBundle, PolicyInput } from './types.js';

const SERVICES = 20;
const TIERS = ['untrusted', 'standard', 'trusted'] as const;

/**
 * The benchmark bundle's YAML: 200 rules, ten per service, plus the common cases of docs/policy.md.
 *
 * @example
 * parsePolicy(benchBundleYaml()).rules.length; // 200
 */
export function benchBundleYaml(): string {
  const rules: string[] = [];
  const add = (lines: string[]): void => {
    rules.push(`  - ${lines[0]}`, ...lines.slice(1).map((l) => `    ${l}`));
  };
  add(['id: deny-critical-risk', 'match: { risk_level: critical }', 'effect: deny', 'risk: critical']);
  add(['id: limit-delegation', 'match: { delegation: { depth_min: 4 } }', 'effect: deny', 'risk: high']);
  for (let s = 0; s < SERVICES - 1; s++) {
    const svc = `svc${s}`;
    add([
      `id: ${svc}-block-prod-deletes`,
      `match: { action: "${svc}.db.delete*", target: "prod/*" }`,
      'effect: deny',
      'risk: critical',
    ]);
    add([
      `id: ${svc}-approve-large-refunds`,
      `match: { action: "${svc}.write:refund", actor: { trust_tier: [standard, trusted] } }`,
      `when: "params.amount > ${(s + 1) * 100}.0 || actor.trust_tier != 'trusted'"`,
      'effect: require_approval',
      'approvers: [oncall_sre, finance_lead]',
      'approval_ttl: 15m',
      'risk: high',
    ]);
    add([
      `id: ${svc}-untrusted-writes`,
      `match: { action: "${svc}.write:*", actor: { trust_tier: untrusted } }`,
      'effect: deny',
    ]);
    add([
      `id: ${svc}-tenant-export`,
      `match: { action: "${svc}.export*", tenant: [acme, globex], environment: prod }`,
      `when: "size(action.side_effects) == 0 && !('pii' in actor.tags)"`,
      'effect: allow',
    ]);
    add([
      `id: ${svc}-admin-tools`,
      `match: { action: "${svc}.*.admin.?", actor: { tags: [admin, oncall] } }`,
      'effect: require_approval',
      'approvers: [security]',
    ]);
    add([
      `id: ${svc}-delegated-writes`,
      `match: { action: "${svc}.write:*", delegation: { depth_min: 2, root_agent: "planner-*" } }`,
      'effect: require_approval',
      'approvers: [oncall_sre]',
    ]);
    add([
      `id: ${svc}-staging-anything`,
      `match: { action: "${svc}.*", environment: [staging, dev], actor: { type: agent } }`,
      'effect: allow',
      'risk: low',
    ]);
    add([
      `id: ${svc}-send-mail`,
      `match: { action: "${svc}.send:email", target: "*@example.com" }`,
      `when: "params.recipients.size() <= 10"`,
      'effect: allow',
    ]);
    add([
      `id: ${svc}-reads`,
      `match: { action: ["${svc}.read:*", "${svc}.list:*"] }`,
      'effect: allow',
      'risk: low',
    ]);
    add([
      `id: ${svc}-writes-business-hours`,
      `match: { action: "${svc}.write:*", actor: { id: "agent-*" } }`,
      `when: "has(context.purpose) && context.purpose != ''"`,
      'effect: allow',
      'risk: medium',
    ]);
  }
  add(['id: tool-web-search', 'match: { action: ["search:web", "search:docs"] }', 'effect: allow']);
  add([
    'id: tool-code-exec',
    'match: { action: "exec:*" }',
    `when: "environment != 'prod'"`,
    'effect: allow',
  ]);
  add(['id: anything-prod-critical', 'match: { action: "*", target: "prod/secrets/*" }', 'effect: deny']);
  add([
    'id: big-payments',
    'match: { action: "*pay*" }',
    'when: "params.amount >= 10000.0"',
    'effect: require_approval',
    'approvers: [cfo]',
  ]);
  add(['id: mcp-tools', 'match: { action: "mcp.*", actor: { type: [agent, service] } }', 'effect: allow']);
  add([
    'id: user-actions',
    'match: { actor: { type: user } }',
    `when: "has(metadata.client_ip) && metadata.client_ip.startsWith('10.')"`,
    'effect: allow',
  ]);
  add([
    'id: fs-write',
    'match: { action: "io.fs.write_file", target: ["/tmp/*", "/work/*"] }',
    'effect: allow',
  ]);
  add(['id: fs-read', 'match: { action: "io.fs.read_file" }', 'effect: allow', 'risk: low']);
  return ['policy_id: bench', 'version: 1', 'default: deny', 'rules:', ...rules, ''].join('\n');
}

/**
 * A varied, deterministic set of inputs: exact and wildcard action hits, CEL both ways, defaults,
 * and one condition error.
 */
export function benchInputs(count = 512): PolicyInput[] {
  const inputs: PolicyInput[] = [];
  for (let i = 0; i < count; i++) {
    // Vary every dimension independently of the input's shape (i % 12).
    const round = Math.floor(i / 12);
    const svc = `svc${round % SERVICES}`;
    const tier = TIERS[round % TIERS.length] as string;
    const actor = {
      id: `agent-${round % 37}`,
      type: round % 7 === 0 ? 'user' : 'agent',
      trust_tier: tier,
      tags: ['ops'],
    };
    const shape = i % 12;
    let input: PolicyInput;
    if (shape === 0) input = { action: { type: `${svc}.read:ticket`, target: `tickets/${i}` }, actor };
    else if (shape === 1) {
      input = { action: { type: `${svc}.write:refund`, params: { amount: (round * 370) % 2000 } }, actor };
    } else if (shape === 2)
      input = { action: { type: `${svc}.db.delete_row`, target: `prod/users/${i}` }, actor };
    else if (shape === 3) {
      input = {
        action: { type: `${svc}.export_csv`, side_effects: [] },
        actor,
        tenant: round % 2 === 0 ? 'acme' : 'initech',
        environment: 'prod',
      };
    } else if (shape === 4) {
      input = {
        action: { type: `${svc}.write:note` },
        actor,
        delegation: { depth: round % 5, root_agent: 'planner-main' },
        context: { purpose: 'customer follow-up' },
      };
    } else if (shape === 5) {
      input = {
        action: {
          type: `${svc}.send:email`,
          target: round % 3 === 0 ? 'eve@evil.test' : 'bob@example.com',
          params: { recipients: ['a', 'b'] },
        },
        actor,
      };
    } else if (shape === 6) input = { action: { type: 'search:web', params: { q: 'x' } }, actor };
    else if (shape === 7) {
      input = { action: { type: 'payments.pay_invoice', params: { amount: round * 1000 } }, actor };
    } else if (shape === 8) input = { action: { type: `mcp.github.create_issue` }, actor };
    else if (shape === 9) {
      input = {
        action: { type: 'io.fs.write_file', target: round % 2 === 0 ? `/tmp/out${i}` : '/etc/passwd' },
        actor,
      };
    } else if (shape === 10) {
      const client_ip = round % 4 === 0 ? '192.168.0.1' : '10.0.0.1';
      input = { action: { type: `unknown.tool${i}` }, actor, metadata: { client_ip, environment: 'dev' } };
    } else input = { action: { type: `${svc}.ops.admin.x` }, actor: { ...actor, tags: ['admin', 'oncall'] } };
    // One input in `count` makes a condition fail at run time (fail-closed deny): rare, as in
    // production, where it means a malformed event or a policy bug.
    if (i === count - 1) {
      input = {
        action: { type: `${svc}.write:refund`, params: {} },
        actor: { ...actor, trust_tier: 'trusted' },
      };
    }
    inputs.push(input);
  }
  return inputs;
}

function percentile(sorted: Float64Array, p: number): number {
  const i = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, i)] ?? 0;
}

/**
 * Measures `evaluate()` per call (wall clock around each call, default clock inside it).
 *
 * @example
 * const r = benchPolicyEvaluation(50_000);
 * console.log(`p50 ${r.p50_us} µs, p99 ${r.p99_us} µs over ${r.rules} rules`);
 */
export function benchPolicyEvaluation(iterations = 100_000): {
  p50_us: number;
  p99_us: number;
  rules: number;
} {
  const bundle: PolicyBundle = parsePolicy(benchBundleYaml(), 'bench.yaml');
  const inputs = benchInputs();
  // Warm up the JIT before measuring.
  const warmup = Math.max(5_000, Math.floor(iterations / 5));
  let sink = 0;
  for (let i = 0; i < warmup; i++) {
    sink += evaluate(bundle, inputs[i % inputs.length] as PolicyInput).conditions_evaluated.length;
  }
  const samples = new Float64Array(iterations);
  for (let i = 0; i < iterations; i++) {
    const input = inputs[i % inputs.length] as PolicyInput;
    const t0 = performance.now();
    const d = evaluate(bundle, input);
    samples[i] = (performance.now() - t0) * 1000;
    sink += d.conditions_evaluated.length;
  }
  if (sink < 0) throw new Error('unreachable');
  samples.sort();
  const round = (v: number): number => Math.round(v * 100) / 100;
  return {
    p50_us: round(percentile(samples, 50)),
    p99_us: round(percentile(samples, 99)),
    rules: bundle.rules.length,
  };
}

/** One adversarial decision: a bundle, an input built to stall a naive engine, what it decides. */
export interface AdversarialCase {
  readonly name: string;
  readonly bundle: PolicyBundle;
  readonly input: PolicyInput;
  readonly decision: Decision;
  /** A fragment the decision's reason contains. */
  readonly reason: string;
}

const ruleYaml = (rules: string[]): string =>
  ['policy_id: adversarial', 'version: 1', 'default: deny', 'rules:', ...rules.map((r) => `  ${r}`), ''].join(
    '\n',
  );

/**
 * Globs, regular expressions, comprehensions and inputs that took seconds to minutes before
 * evaluation was bounded (the measurements), and a few more of the same families.
 *
 * @example
 * for (const c of adversarialCases()) evaluate(c.bundle, c.input).decision === c.decision; // true
 */
export function adversarialCases(): AdversarialCase[] {
  const list = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
  const cases: AdversarialCase[] = [];
  const add = (
    name: string,
    rules: string[],
    input: PolicyInput,
    decision: Decision,
    reason: string,
  ): void => {
    cases.push({ name, bundle: parsePolicy(ruleYaml(rules)), input, decision, reason });
  };
  add(
    'glob a*a*a*a*a*a*b, 1,024-character type',
    ['- id: r', '  match: { action: "a*a*a*a*a*a*b" }', '  effect: allow'],
    { action: { type: 'a'.repeat(1024) } },
    'deny',
    'no rule matched',
  );
  add(
    'glob *a*a*a*a*a*a*a*a*a*a*a*a*b on actor id, 100,000 characters',
    ['- id: r', '  match: { actor: { id: "*a*a*a*a*a*a*a*a*a*a*a*a*b" } }', '  effect: allow'],
    { action: { type: 'x' }, actor: { id: 'a'.repeat(100_000) } },
    'deny',
    'no rule matched',
  );
  add(
    'glob s3://*/*/*/*.key, 1,005-character target',
    ['- id: r', '  match: { target: "s3:*/*/*/*.key" }', '  effect: allow'],
    { action: { type: 'x', target: 's3:' + 'x/'.repeat(500) } },
    'deny',
    'no rule matched',
  );
  add(
    "CEL matches '^([a-zA-Z0-9_.-]+)*@corp[.]com$', 40-character parameter",
    ['- id: r', '  when: "params.email.matches(\'^([a-zA-Z0-9_.-]+)*@corp[.]com$\')"', '  effect: allow'],
    { action: { type: 'x', params: { email: 'a'.repeat(40) + '!' } } },
    'deny',
    'no rule matched',
  );
  add(
    'CEL matches, nested quantifiers, 10,000-character parameter',
    ['- id: r', "  when: \"params.s.matches('^(a+)+$') || params.s.matches('(x+x+)+y')\"", '  effect: allow'],
    { action: { type: 'x', params: { s: 'a'.repeat(10_000) + '!' } } },
    'deny',
    'no rule matched',
  );
  add(
    'CEL matches, pattern from the input with huge counted repetition',
    ['- id: r', '  when: "\'abc\'.matches(params.p)"', '  effect: allow'],
    { action: { type: 'x', params: { p: '[a-z]{1000}'.repeat(10) } } },
    'deny',
    'too large',
  );
  add(
    'CEL triple-nested exists() over 400 elements',
    [
      '- id: r',
      '  when: "params.l.exists(a, params.l.exists(b, params.l.exists(c, a + b + c < 0.0)))"',
      '  effect: allow',
    ],
    { action: { type: 'x', params: { l: list(400) } } },
    'deny',
    'condition exceeded its budget',
  );
  add(
    'CEL nested map() over 1,000 elements',
    ['- id: r', '  when: "params.l.map(x, params.l.map(y, x * y)).size() > 0"', '  effect: allow'],
    { action: { type: 'x', params: { l: list(1000) } } },
    'deny',
    'condition exceeded its budget',
  );
  add(
    'CEL triple-nested exists() over a 400-key map',
    [
      '- id: r',
      '  when: "params.m.exists(k, params.m.exists(j, params.m.exists(i, i == \'z\')))"',
      '  effect: allow',
    ],
    { action: { type: 'x', params: { m: Object.fromEntries(list(400).map((i) => [`k${i}`, i])) } } },
    'deny',
    'condition exceeded its budget',
  );
  add(
    'CEL string operations on 256 KiB of text in a loop',
    ['- id: r', '  when: "params.l.exists(x, params.s.contains(params.t + string(x)))"', '  effect: allow'],
    { action: { type: 'x', params: { l: list(1000), s: 'a'.repeat(120_000), t: 'b'.repeat(120_000) } } },
    'deny',
    'condition exceeded its budget',
  );
  const many = list(2000).map(
    (i) => `- { id: r${i}, match: { action: "x*" }, when: "params.l.exists(v, v == ${i}.5)", effect: allow }`,
  );
  add(
    '2,000 rules whose conditions scan a 1,000-element list',
    many,
    { action: { type: 'xy', params: { l: list(1000) } } },
    'deny',
    'condition exceeded its budget',
  );
  let deep: unknown = 'leaf';
  for (let i = 0; i < 10_000; i++) deep = { d: deep };
  add(
    'params nested 10,000 levels deep',
    ['- id: r', '  when: "has(params.d)"', '  effect: allow'],
    { action: { type: 'x', params: deep } },
    'deny',
    'nested deeper',
  );
  add(
    'params with 1,000,000 elements',
    ['- id: r', '  when: "size(params.l) > 0"', '  effect: allow'],
    { action: { type: 'x', params: { l: new Array<number>(1_000_000).fill(1) } } },
    'deny',
    'more than',
  );
  add(
    'params with 1 MiB of text',
    ['- id: r', '  when: "params.s.contains(\'x\')"', '  effect: allow'],
    { action: { type: 'x', params: { s: 'y'.repeat(1024 * 1024) } } },
    'deny',
    'characters of text',
  );
  return cases;
}

/**
 * The worst decision time over {@link adversarialCases}, each decided `rounds` times after a
 * warm-up: the `policy.adversarial_p100` figure (target < 10 ms).
 *
 * @example
 * const r = benchPolicyAdversarial();
 * console.log(`${r.p100_ms} ms (${r.worst})`);
 */
export function benchPolicyAdversarial(rounds = 5): { p100_ms: number; worst: string; cases: number } {
  const cases = adversarialCases();
  for (const c of cases) evaluate(c.bundle, c.input);
  let p100 = 0;
  let worst = '';
  for (let r = 0; r < rounds; r++) {
    for (const c of cases) {
      const t0 = performance.now();
      evaluate(c.bundle, c.input);
      const ms = performance.now() - t0;
      if (ms > p100) {
        p100 = ms;
        worst = c.name;
      }
    }
  }
  return { p100_ms: Math.round(p100 * 1000) / 1000, worst, cases: cases.length };
}
