import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BUDGET_EXCEEDED, compileCondition, CostMeter, runCondition } from './condition.js';
import type { CompiledCondition, ConditionVariables } from './condition.js';

/** A meter that counts the charges made after it ran out. */
class CountingMeter extends CostMeter {
  afterOverrun = 0;
  override charge(units: number): void {
    if (this.exhausted) this.afterOverrun++;
    super.charge(units);
  }
}

function compiled(expression: string): CompiledCondition {
  const c = compileCondition(expression);
  if (!('program' in c)) throw new Error(`does not compile: ${c.message}`);
  return c;
}

function variables(params: Record<string, unknown>): ConditionVariables {
  return {
    action: { type: 'x', target: null, params, side_effects: [] },
    params,
    actor: {},
    tenant: null,
    environment: null,
    delegation: { chain: [], depth: 0, root_agent: null },
    context: {},
    risk_level: null,
    metadata: {},
    session_id: null,
    run_id: null,
  };
}

const list = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

describe('runCondition: a spent budget ends the work', () => {
  // exists() and all() swallow a step's error and go on: without a stop, every remaining element
  // (400 x 400 of them here) would be charged, and throw, once more.
  const cases: [string, Record<string, unknown>][] = [
    ['params.l.exists(a, params.l.exists(b, params.l.exists(c, a + b + c < 0.0)))', { l: list(400) }],
    ['params.l.all(a, params.l.all(b, a + b >= 0))', { l: list(1000) }],
    [
      'params.m.exists(k, params.m.exists(j, params.m.exists(i, i == "z")))',
      { m: Object.fromEntries(list(400).map((i) => [`k${i}`, i])) },
    ],
    [
      'params.l.exists(x, params.s.contains(params.t + string(x)))',
      {
        l: list(1000),
        s: 'a'.repeat(120_000),
        t: 'b'.repeat(120_000),
      },
    ],
  ];
  for (const [expression, params] of cases) {
    it(expression, () => {
      const meter = new CountingMeter();
      assert.equal(runCondition(compiled(expression), variables(params), meter), BUDGET_EXCEEDED);
      assert.ok(meter.afterOverrun <= 3, `${meter.afterOverrun} charges after the overrun`);
    });
  }

  it('leaves results within the budget unchanged', () => {
    const c = compiled('params.l.exists(a, params.l.exists(b, a + b == 7))');
    assert.equal(runCondition(c, variables({ l: list(10) })), true);
    assert.equal(runCondition(compiled('params.l.all(a, a < 10)'), variables({ l: list(10) })), true);
    assert.equal(runCondition(compiled('params.l.all(a, a < 5)'), variables({ l: list(10) })), false);
    assert.equal(runCondition(compiled('params.l.exists(a, a > 50)'), variables({ l: list(10) })), false);
  });
});
