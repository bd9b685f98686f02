import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultDetectConfig, parseDetectConfig, type DetectConfig } from './config.js';
import { DetectEngine, DETECTORS, targetPattern, type Anomaly, type DetectInput } from './engine.js';
import { evaluate, scenario } from './scenario.js';

const T0 = Date.UTC(2026, 0, 5, 9);
const MIN = 60_000;

let seq = 0;
function ev(t: number, e: Omit<DetectInput, 'seq' | 'ts' | 'time'>): DetectInput {
  const time = new Date(t).toISOString();
  return { ...e, seq: seq++, ts: time, time };
}
const agent = (id = 'bot', trust_tier = 'standard'): DetectInput['actor'] => ({
  type: 'agent',
  id,
  trust_tier,
});
const intent = (t: number, type: string, target = 'order/1', extra: Partial<DetectInput> = {}): DetectInput =>
  ev(t, { type: 'action.intent', actor: agent(), action: { type, target }, ...extra });
const deny = (t: number, risk: DetectInput['risk_level'] = 'low', id = 'bot'): DetectInput =>
  ev(t, {
    type: 'policy.decision',
    actor: agent(id),
    risk_level: risk,
    action: { type: 'write:refund' },
    policy: { decision: 'deny' },
  });

function run(config: DetectConfig, events: DetectInput[]): Anomaly[] {
  const engine = new DetectEngine(config);
  for (const e of events) engine.observe(e);
  return engine.take();
}

describe('detectors on the labelled scenario', () => {
  it('every built-in detector reaches precision and recall of at least 0.9 on the defaults', () => {
    const s = scenario({ seed: 11, days: 10, agents: 10, incidents: 3 });
    const { scores, events } = evaluate(s, defaultDetectConfig());
    assert.ok(events > 50_000, `a real workload (${events} events)`);
    for (const score of scores) {
      assert.ok(score.incidents >= 2, `${score.detector}: incidents injected (${score.incidents})`);
      assert.ok(score.precision >= 0.9, `${score.detector}: precision ${score.precision}`);
      assert.ok(score.recall >= 0.9, `${score.detector}: recall ${score.recall}`);
    }
    assert.deepEqual(
      scores.map((x) => x.detector),
      [...DETECTORS],
    );
  });

  it('the same seed gives the same events and the same anomalies', () => {
    const a = evaluate(scenario({ seed: 5, days: 5, agents: 6, incidents: 1 }), defaultDetectConfig());
    const b = evaluate(scenario({ seed: 5, days: 5, agents: 6, incidents: 1 }), defaultDetectConfig());
    assert.equal(a.events, b.events);
    assert.deepEqual(
      a.anomalies.map((x) => x.id),
      b.anomalies.map((x) => x.id),
    );
  });
});

describe('denial spike', () => {
  const config = parseDetectConfig(
    'detect:\n  detectors:\n    denial_spike: { min_samples: 5, min_count: 5, threshold: 3, bucket: 10m }\n',
  );
  // Ten quiet buckets: one action and at most one denial each.
  const quiet = (): DetectInput[] => {
    const out: DetectInput[] = [];
    for (let b = 0; b < 10; b++) {
      out.push(intent(T0 + b * 10 * MIN, 'write:refund'));
      if (b % 2 === 0) out.push(deny(T0 + b * 10 * MIN + 1000));
    }
    return out;
  };

  it('alerts once when a bucket has far more denials than the baseline, then cools down', () => {
    const events = quiet();
    const t = T0 + 10 * 10 * MIN;
    for (let i = 0; i < 12; i++) events.push(deny(t + i * 10_000));
    const found = run(config, events);
    assert.equal(found.length, 1);
    const a = found[0]!;
    assert.equal(a.detector, 'denial_spike');
    assert.equal(a.agent_id, 'bot');
    assert.equal(a.id, `denial_spike:bot:${new Date(t).toISOString()}`);
    assert.ok(a.score >= 3, `score ${a.score}`);
    assert.equal(a.threshold, 3);
    assert.equal(a.seqs.length, 5, 'the denials of the bucket up to the alert');
    assert.equal(a.seqs.at(-1), events.at(-8)!.seq);
  });

  it('stays quiet below the minimum count or before the minimum sample', () => {
    const events = quiet();
    for (let i = 0; i < 4; i++) events.push(deny(T0 + 100 * MIN + i * 1000));
    assert.deepEqual(run(config, events), []);
    const young: DetectInput[] = [];
    for (let i = 0; i < 20; i++) young.push(deny(T0 + i * 1000));
    assert.deepEqual(run(config, young), [], 'no baseline yet: no alert');
  });
});

describe('unusual access', () => {
  const config = parseDetectConfig(
    'detect:\n  detectors:\n    unusual_access: { learning: 1h, min_samples: 5 }\n',
  );
  it('learns action types and target patterns, then alerts on a new one', () => {
    const events: DetectInput[] = [];
    for (let i = 0; i < 10; i++) events.push(intent(T0 + i * MIN, 'read:order', `order/${i}`));
    events.push(intent(T0 + 2 * 60 * MIN, 'read:order', 'order/99'));
    events.push(intent(T0 + 2 * 60 * MIN + 1000, 'read:payroll', 'payroll/7'));
    events.push(intent(T0 + 2 * 60 * MIN + 2000, 'read:payroll', 'payroll/8'));
    const found = run(config, events);
    assert.equal(found.length, 1, 'one alert, then the cool-down');
    assert.match(found[0]!.summary, /action type 'read:payroll' and target 'payroll\/\*'/);
    assert.deepEqual(found[0]!.seqs, [events.at(-2)!.seq]);
  });

  it('raises nothing during the learning period', () => {
    const events = [intent(T0, 'read:order'), intent(T0 + 1000, 'read:secrets', 'vault/1')];
    assert.deepEqual(run(config, events), []);
  });

  it('reduces targets to patterns', () => {
    assert.equal(targetPattern('order/1042'), 'order/*');
    assert.equal(targetPattern('https://Paste.example/x/y?q=1'), 'https://paste.example');
    assert.equal(targetPattern('v2:item'), 'v#/*');
    assert.equal(targetPattern('plain'), 'plain');
  });
});

describe('privilege escalation', () => {
  const config = parseDetectConfig(
    'detect:\n  detectors:\n    denial_spike: { enabled: false }\n    privilege_escalation: { min_denials: 3, window: 30m }\n',
  );
  it('alerts on K denials above the tier within the window, not on denials at or below it', () => {
    const below = [deny(T0, 'low'), deny(T0 + MIN, 'medium'), deny(T0 + 2 * MIN, 'low'), deny(T0 + 3 * MIN)];
    assert.deepEqual(run(config, below), []);
    const spread = [deny(T0, 'critical'), deny(T0 + 20 * MIN, 'critical'), deny(T0 + 40 * MIN, 'critical')];
    assert.deepEqual(run(config, spread), [], 'three, but not within 30 minutes');
    const burst = [deny(T0, 'critical'), deny(T0 + MIN, 'high'), deny(T0 + 2 * MIN, 'critical')];
    const found = run(config, burst);
    assert.equal(found.length, 1);
    assert.equal(found[0]!.detector, 'privilege_escalation');
    assert.deepEqual(
      found[0]!.seqs,
      burst.map((e) => e.seq),
    );
    assert.equal(found[0]!.risk_level, 'critical');
  });

  it('a trusted agent denied a high-risk action is not escalating', () => {
    const trusted = [0, 1, 2].map((i) => ({ ...deny(T0 + i * MIN, 'high'), actor: agent('ops', 'trusted') }));
    assert.deepEqual(run(config, trusted), []);
  });
});

describe('delegation', () => {
  const config = defaultDetectConfig();
  const delegate = (t: number, target: string, depth: number): DetectInput =>
    ev(t, {
      type: 'delegation.started',
      actor: agent('boss'),
      action: { type: 'agent.delegate', target },
      delegation: { depth, root_agent: 'boss' },
    });
  it('alerts on depth above the limit', () => {
    const found = run(config, [delegate(T0, 'w1', 4), delegate(T0 + 1000, 'w2', 5)]);
    assert.equal(found.length, 1);
    assert.equal(found[0]!.score, 5);
    assert.equal(found[0]!.threshold, 4);
  });
  it('alerts on more distinct sub-agents within a minute than the fan-out limit', () => {
    const nine = Array.from({ length: 9 }, (_, i) => delegate(T0 + i * 5000, `w${i}`, 1));
    const found = run(config, nine);
    assert.equal(found.length, 1);
    assert.equal(found[0]!.seqs.length, 9);
    const slow = Array.from({ length: 9 }, (_, i) => delegate(T0 + i * 10_000, `w${i}`, 1));
    assert.deepEqual(run(config, slow), [], 'nine over 80 s is within the limit');
    const same = Array.from({ length: 20 }, (_, i) => delegate(T0 + i * 1000, 'w1', 1));
    assert.deepEqual(run(config, same), [], 'the same sub-agent again and again');
  });
});

describe('rate and off-hours', () => {
  it('alerts when actions per minute leave the baseline', () => {
    const config = parseDetectConfig(
      'detect:\n  detectors:\n    rate: { min_samples: 20, min_count: 20 }\n    unusual_access: { enabled: false }\n    off_hours: { enabled: false }\n',
    );
    const events: DetectInput[] = [];
    for (let m = 0; m < 30; m++)
      for (let i = 0; i < 2; i++) events.push(intent(T0 + m * MIN + i * 1000, 'read:order'));
    for (let i = 0; i < 40; i++) events.push(intent(T0 + 40 * MIN + i * 1000, 'read:order'));
    const found = run(config, events);
    assert.equal(found.length, 1);
    assert.equal(found[0]!.detector, 'rate');
    assert.match(found[0]!.summary, /20 actions in one minute/);
  });

  it('alerts on actions in an hour the agent never works', () => {
    const config = parseDetectConfig(
      'detect:\n  detectors:\n    off_hours: { learning: 1d, min_samples: 50, min_actions: 3 }\n    unusual_access: { enabled: false }\n    rate: { enabled: false }\n',
    );
    const events: DetectInput[] = [];
    for (let d = 0; d < 3; d++)
      for (let i = 0; i < 40; i++) events.push(intent(T0 + d * 86_400_000 + i * 5 * MIN, 'read:order'));
    const night = Date.UTC(2026, 0, 8, 3);
    for (let i = 0; i < 3; i++) events.push(intent(night + i * MIN, 'read:order'));
    const found = run(config, events);
    assert.equal(found.length, 1);
    assert.equal(found[0]!.detector, 'off_hours');
    assert.match(found[0]!.summary, /03:00 UTC/);
  });
});

describe('exfiltration', () => {
  it('alerts on an outbound action after a PII read in the same run, not in another run', () => {
    const config = defaultDetectConfig();
    const read = intent(T0, 'read:customer', 'customer/1', {
      run_id: 'r1',
      context: { data_classification: 'pii' },
    });
    const otherRun = intent(T0 + 1000, 'net.http.post', 'https://x.example/a', { run_id: 'r2' });
    const post = intent(T0 + 2000, 'net.http.post', 'https://x.example/a', { run_id: 'r1' });
    const again = intent(T0 + 3000, 'net.http.post', 'https://x.example/b', { run_id: 'r1' });
    const found = run(config, [read, otherRun, post, again]).filter((a) => a.detector === 'exfiltration');
    assert.equal(found.length, 1);
    assert.deepEqual(found[0]!.seqs, [read.seq, post.seq]);
    assert.equal(found[0]!.run_id, 'r1');
  });
});

describe('custom rules', () => {
  it('run CEL over the event and the agent window statistics', () => {
    const config = parseDetectConfig(
      [
        'detect:',
        '  rules:',
        '    - name: refund-burst',
        '      when: "event.action.type == \'write:refund\' && stats.actions_this_minute >= 3.0"',
        '      types: [action.intent]',
        '      risk: critical',
      ].join('\n'),
    );
    const events = [0, 1, 2, 3].map((i) => intent(T0 + i * 1000, 'write:refund'));
    const found = run(config, events).filter((a) => a.detector === 'custom:refund-burst');
    assert.equal(found.length, 1, 'once, then the cool-down');
    assert.deepEqual(found[0]!.seqs, [events[2]!.seq]);
    assert.equal(found[0]!.risk_level, 'critical');
  });

  it('a rule that fails at run time does not match', () => {
    const config = parseDetectConfig(
      'detect:\n  rules:\n    - name: r\n      when: "event.params.amount > 1.0"\n',
    );
    assert.deepEqual(run(config, [intent(T0, 'x')]), []);
  });
});

describe('state snapshots', () => {
  it('a restored engine raises exactly what one that never stopped raises', () => {
    const s = scenario({ seed: 3, days: 6, agents: 6, incidents: 2 });
    const all = [...s.events()];
    const whole = run(defaultDetectConfig(), all);
    const first = new DetectEngine(defaultDetectConfig());
    const half = Math.floor(all.length * 0.6);
    for (const e of all.slice(0, half)) first.observe(e);
    const before = first.take();
    const second = new DetectEngine(defaultDetectConfig());
    assert.equal(second.restore(first.snapshot()), true);
    for (const e of all.slice(half)) second.observe(e);
    assert.deepEqual(
      [...before, ...second.take()].map((a) => a.id),
      whole.map((a) => a.id),
    );
    assert.ok(whole.length >= 5, `anomalies raised (${whole.length})`);
  });

  it('refuses a snapshot it cannot read', () => {
    const engine = new DetectEngine(defaultDetectConfig());
    assert.equal(engine.restore('{"v":2}'), false);
    assert.equal(engine.restore('not json'), false);
  });
});
