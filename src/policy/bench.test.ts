import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { benchBundleYaml, benchInputs, benchPolicyEvaluation } from './bench.js';
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
