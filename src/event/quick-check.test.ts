import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ValidationError } from '../errors.js';
import { compileQuickCheck } from './quick-check.js';
import { EVENT_TYPES } from './schema.js';
import { quickCheckEvent, validateEventFully } from './validate.js';

/** An event with every field of the schema filled in with a valid value. */
function fullEvent(): Record<string, unknown> {
  return {
    schema_version: 1,
    event_id: '019a7c0e-5b1d-7000-8c3e-2f4a1b9d0e7f',
    type: 'action.intent',
    level: 'agent',
    time: '2026-03-01T10:00:00.123Z',
    tenant: 'acme',
    session_id: 'sess-1',
    run_id: 'run-1',
    trace_id: '0123456789abcdef0123456789abcdef',
    span_id: '0123456789abcdef',
    parent_event_id: 'evt-0',
    actor: {
      type: 'user',
      id: 'alice@example.com',
      name: 'Alice',
      trust_tier: 'high',
      tags: ['ops', 'eu'],
      on_behalf_of: 'bob',
      auth_method: 'sso',
    },
    delegation: {
      chain: [{ agent_id: 'planner', delegated_at: '2026-03-01T09:59:00Z', permissions_granted: ['read'] }],
      depth: 1,
      root_agent: 'planner',
    },
    action: {
      type: 'write:refund',
      target: 'order/1042',
      params: { amount: 120, items: [{ sku: 'a', qty: 2 }], note: 'ünïcödé 😀', flag: true, none: null },
      side_effects: ['payment'],
    },
    risk_level: 'high',
    policy: {
      decision: 'require_approval',
      matched_rule: null,
      policy_id: 'refunds',
      policy_version: 3,
      policy_snapshot: 'sha256:abc',
      conditions_evaluated: [{ expression: 'params.amount > 100', result: true }],
      conditions_omitted: { count: 2, digest: 'abc' },
      reason: 'large refund',
      mode: 'enforce',
      evaluation_us: 12.5,
      risk: 'high',
      approvers: ['lead'],
    },
    approval: {
      required: true,
      request_id: 'req-1',
      request_digest: 'sha256:def',
      approver: 'lead@example.com',
      approvers: ['lead'],
      decision: 'granted',
      decided_at: '2026-03-01T10:01:00Z',
      reason: 'ok',
      expires_at: '2026-03-01T11:00:00+01:00',
    },
    dispatch: { topic: 'refunds', job_id: 'job-1', status: 'queued', attempt: 1, max_attempts: 3 },
    outcome: { status: 'success', result: { id: 'rf_1', ok: true }, error_message: '', duration_ms: 41 },
    undo: { of_event_id: 'evt-0', reason: 'mistake' },
    context: {
      reasoning: 'customer asked',
      user_message: 'please refund',
      conversation_id: 'conv-1',
      data_accessed: ['orders/1042'],
      data_classification: 'pii',
      data_subject_ids: ['cust-7'],
      purpose: 'support',
    },
    model: { provider: 'acme', name: 'm-1', input_tokens: 10, output_tokens: 0 },
    metadata: { client_ip: '10.0.0.1', nested: { list: [1, 'two', { three: 3 }] } },
    redacted: ['/action/params/password'],
  };
}

function fullyValid(e: unknown): boolean {
  try {
    validateEventFully(e);
    return true;
  } catch (err) {
    assert.ok(err instanceof ValidationError, String(err));
    return false;
  }
}

/** Deterministic xorshift, so a failure names a reproducible case. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

class Custom {
  readonly note = 'x';
}

// Values near every bound and of every kind the schema tells apart (fresh objects each time).
const replacements = (): unknown[] => [
  '',
  'x',
  'a b',
  'a'.repeat(64),
  'a'.repeat(65),
  'a'.repeat(128),
  'a'.repeat(129),
  'a'.repeat(256),
  'a'.repeat(257),
  '😀'.repeat(64),
  '😀'.repeat(65),
  '😀'.repeat(128),
  '😀'.repeat(129),
  '\uD800',
  'ok\uDC00',
  'ok😀',
  '__proto__',
  'action.intent',
  'x.custom_step',
  'x.Bad',
  'agent',
  'user',
  'allow',
  'success',
  'low',
  'granted',
  'enforce',
  'pii',
  '2026-03-01T10:00:00Z',
  '2026-02-30T10:00:00Z',
  'yesterday',
  '0123456789abcdef0123456789abcdef',
  '0123456789abcdef',
  0,
  -1,
  1,
  1.5,
  33,
  1001,
  -0,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  true,
  false,
  null,
  undefined,
  {},
  [],
  ['a'],
  [1],
  Array.from({ length: 65 }, () => 'a'),
  { type: 'agent', id: 'bot' },
  { status: 'success' },
  { decision: 'allow' },
  { agent_id: 'a' },
  { a: '\uD800' },
  { ['k\uDC00']: 1 },
  JSON.parse('{"__proto__":{"polluted":1}}') as unknown,
  new Custom(),
  new Date(0),
  Object.create(null) as unknown,
  () => 1,
  Symbol('s'),
  10n,
];

/** Every [parent, key] of a value's objects and arrays. */
function slots(value: unknown, out: [Record<string, unknown> | unknown[], string | number][] = []) {
  if (Array.isArray(value)) {
    value.forEach((v, i) => {
      out.push([value, i]);
      slots(v, out);
    });
  } else if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value)) {
      out.push([value as Record<string, unknown>, k]);
      slots(v, out);
    }
  }
  return out;
}

function mutate(random: () => number): unknown {
  const e = structuredClone(fullEvent());
  const steps = 1 + Math.floor(random() * 3);
  for (let s = 0; s < steps; s++) {
    const all = slots(e);
    const [parent, key] = all[Math.floor(random() * all.length)]!;
    const fresh = replacements();
    const pick = fresh[Math.floor(random() * fresh.length)];
    const r = random();
    if (r < 0.1 && !Array.isArray(parent)) delete parent[key as string];
    else if (r < 0.2 && !Array.isArray(parent)) parent['surprise'] = pick;
    else (parent as Record<string | number, unknown>)[key] = pick;
  }
  return e;
}

describe('quick check of events', () => {
  it('says yes at once to valid events of every kind (the common case)', () => {
    assert.equal(quickCheckEvent(fullEvent()), true);
    for (const type of [...EVENT_TYPES, 'x.acme.custom_step'])
      assert.equal(quickCheckEvent({ type, actor: { type: 'agent', id: 'bot' } }), true, type);
    assert.equal(quickCheckEvent(JSON.parse(JSON.stringify(fullEvent()))), true);
    assert.equal(quickCheckEvent({ ...fullEvent(), session_id: undefined }), true);
  });

  it('never says yes to an event the full checks refuse (5,000 mutated events)', () => {
    const random = rng(11);
    let yes = 0;
    let refused = 0;
    for (let i = 0; i < 5000; i++) {
      const e = mutate(random);
      const full = fullyValid(e);
      if (!full) refused++;
      if (quickCheckEvent(e)) {
        yes++;
        assert.ok(full, `quick check accepted ${String(JSON.stringify(e))}`);
      }
    }
    // Both answers occur, so the comparison above means something.
    assert.ok(yes > 500, `quick yes ${yes}`);
    assert.ok(refused > 1000, `refused ${refused}`);
  });

  it('leaves to the full checks: lone surrogates, __proto__ members, exotic objects, strings near a bound', () => {
    const base = { type: 'action.intent', actor: { type: 'agent', id: 'bot' } };
    const unsure = [
      { ...base, metadata: { note: 'a\uD800' } },
      { ...base, action: { type: 'w', params: ['ok', { ['k\uDBFF']: 1 }] } },
      { ...base, metadata: JSON.parse('{"__proto__":{"x":1}}') as unknown },
      { ...base, metadata: { when: new Date(0) } },
      { ...base, metadata: { c: new Custom() } },
      { ...base, actor: { type: 'agent', id: 'bot', name: '😀'.repeat(200) } },
      Object.assign(Object.create({ inherited: 1 }) as object, base),
    ];
    for (const e of unsure) assert.equal(quickCheckEvent(e), false, JSON.stringify(e));
    // Within the bound in code points (ajv's count) but not in UTF-16 units: valid, decided in full.
    assert.ok(fullyValid(unsure[5]));
  });

  it('steps aside while Object.prototype has an enumerable member (ajv would see it)', () => {
    const e = fullEvent();
    const proto = Object.prototype as Record<string, unknown>;
    proto['polluted'] = 1;
    try {
      assert.equal(quickCheckEvent(e), false);
      assert.equal(fullyValid(e), false);
    } finally {
      delete proto['polluted'];
    }
    assert.equal(quickCheckEvent(e), true);
  });

  it('refuses to compile a keyword it does not know (every event then takes the full checks)', () => {
    assert.throws(
      () => compileQuickCheck({ type: 'object', patternProperties: {} }, {}),
      /patternProperties/,
    );
    assert.throws(() => compileQuickCheck({ type: 'string', format: 'email' }, {}), /format email/);
    assert.throws(() => compileQuickCheck({ type: 'string', minLength: 3 }, {}), /length/);
  });
});
