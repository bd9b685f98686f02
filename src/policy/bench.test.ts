import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  adversarialCases,
  benchBundleYaml,
  benchInputs,
  benchPolicyAdversarial,
  benchPolicyEvaluation,
} from './bench.js';
import { parsePolicy } from './bundle.js';
import { evaluate } from './evaluate.js';

describe('benchPolicyEvaluation', () => {
  it('runs over a 200-rule bundle and reports percentiles', () => {
    const r = benchPolicyEvaluation(2_000);
    assert.equal(r.rules, 200);
    assert.ok(r.p50_us > 0 && r.p50_us <= r.p99_us, JSON.stringify(r));
  });

  it('its inputs reach every effect, conditions both ways, errors and the default', () => {
    const bundle = parsePolicy(benchBundleYaml());
    const seen = new Set<string>();
    for (const input of benchInputs()) {
      const d = evaluate(bundle, input);
      seen.add(d.decision);
      if (d.matched_rule === null) seen.add('default');
      for (const c of d.conditions_evaluated)
        seen.add(`condition:${typeof c.result === 'string' ? 'error' : String(c.result)}`);
    }
    for (const k of [
      'allow',
      'deny',
      'require_approval',
      'default',
      'condition:true',
      'condition:false',
      'condition:error',
    ]) {
      assert.ok(seen.has(k), k);
    }
  });
});

describe('adversarial decisions', () => {
  for (const c of adversarialCases()) {
    it(`${c.name}: ${c.decision}, in bounded time`, () => {
      let d = evaluate(c.bundle, c.input); // warm-up
      // The best of three: load on a shared machine adds spikes, a regression adds seconds.
      let ms = Infinity;
      for (let i = 0; i < 3; i++) {
        const t0 = performance.now();
        d = evaluate(c.bundle, c.input);
        ms = Math.min(ms, performance.now() - t0);
      }
      assert.equal(d.decision, c.decision);
      assert.ok(d.reason.includes(c.reason), d.reason);
      // Generous (the target is 10 ms, on a quiet machine): fails on any return of backtracking
      // or unbounded loops, which take seconds.
      assert.ok(ms < 100, `${ms.toFixed(1)} ms`);
    });
  }

  it('benchPolicyAdversarial reports the worst case', () => {
    const r = benchPolicyAdversarial(1);
    assert.equal(r.cases, adversarialCases().length);
    assert.ok(r.p100_ms > 0 && r.worst !== '', JSON.stringify(r));
  });
});
