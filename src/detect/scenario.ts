/**
 * A deterministic scenario for measuring the detectors (docs/detection.md § Evaluation): weeks of
 * normal multi-agent activity (support, integration, ops and orchestrator agents, each with its
 * own hours, rate, denial rate and capabilities) with labelled incidents of each kind injected
 * after the learning period. Same seed, same events, same labels.
 */
import type { RiskLevel } from '../index.js';
import type { DetectConfig } from './config.js';
import { DetectEngine, DETECTORS, type Anomaly, type DetectInput, type DetectorName } from './engine.js';

/** mulberry32: a small, fast, seeded PRNG (uniform in [0, 1)). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface ScenarioOptions {
  seed: number;
  days: number;
  agents: number;
  /** Incidents of each kind. */
  incidents: number;
  /** Scenario start (default Monday 2026-01-05T00:00Z). */
  start?: number;
}

/** One injected incident: what a detector should find. */
export interface Incident {
  kind: DetectorName;
  agent: string;
  /** Event time of its first and last event (epoch ms). */
  start: number;
  end: number;
}

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
/** Incidents start after this: the learning period plus a margin. */
const QUIET_START = 4 * DAY;

interface Capability {
  type: string;
  target: string;
  pii?: boolean;
}
type Role = 'support' | 'integration' | 'ops' | 'orchestrator';
const CAPABILITIES: Record<Role, Capability[][]> = {
  // Each inner list is one kind of run: a run draws its actions from one list only.
  support: [
    [
      { type: 'read:order', target: 'order/' },
      { type: 'read:customer', target: 'customer/', pii: true },
      { type: 'write:refund', target: 'order/' },
      { type: 'email.send', target: 'customer/' },
      { type: 'ticket.update', target: 'ticket/' },
    ],
  ],
  integration: [
    [
      { type: 'read:customer', target: 'customer/', pii: true },
      { type: 'read:order', target: 'order/' },
    ],
    [
      { type: 'net.http.post', target: 'https://partner.example/api/' },
      { type: 'sync:inventory', target: 'sku/' },
    ],
  ],
  ops: [
    [
      { type: 'read:metrics', target: 'service/' },
      { type: 'read:logs', target: 'service/' },
      { type: 'deploy:service', target: 'service/' },
    ],
  ],
  orchestrator: [
    [
      { type: 'plan:task', target: 'task/' },
      { type: 'read:order', target: 'order/' },
    ],
  ],
};
const NOVEL: Capability[] = [
  { type: 'read:payroll', target: 'payroll/' },
  { type: 'admin.users.list', target: 'admin/' },
  { type: 'io.fs.read_file', target: '/etc/' },
  { type: 'read:secrets', target: 'vault/' },
];

interface Agent {
  id: string;
  role: Role;
  tier: string;
  /** Active hours [from, to) UTC on weekdays, or null: always on. */
  hours: [number, number] | null;
  /** Mean actions per active minute. */
  rate: number;
  denial: number;
  run: number;
  runLeft: number;
  runKind: number;
}

function poisson(random: () => number, lambda: number): number {
  const l = Math.exp(-lambda);
  let k = 0;
  let p = random();
  while (p > l && k < 1000) {
    k++;
    p *= random();
  }
  return k;
}

function active(a: Agent, t: number): boolean {
  if (a.hours === null) return true;
  const day = Math.floor(t / DAY);
  const weekday = (day + 4) % 7; // 1970-01-01 was a Thursday: 0 = Sunday
  if (weekday === 0 || weekday === 6) return false;
  const h = Math.floor((t % DAY) / HOUR);
  return h >= a.hours[0] && h < a.hours[1];
}

/** A scenario: its labelled incidents and an iterator over its events in time (and seq) order. */
export interface Scenario {
  incidents: Incident[];
  agents: number;
  events(): Generator<DetectInput>;
}

/**
 * Builds a scenario. The events are generated minute by minute as they are read (memory stays
 * flat for any length); the incidents are planned up front.
 *
 * @example
 * const s = scenario({ seed: 7, days: 10, agents: 12, incidents: 4 });
 * for (const e of s.events()) engine.observe(e);
 */
export function scenario(options: ScenarioOptions): Scenario {
  const start = options.start ?? Date.UTC(2026, 0, 5);
  const random = seededRandom(options.seed);
  const roles: Role[] = [
    'support',
    'integration',
    'ops',
    'support',
    'orchestrator',
    'support',
    'integration',
  ];
  const agents: Agent[] = [];
  for (let i = 0; i < options.agents; i++) {
    const role = roles[i % roles.length] as Role;
    agents.push({
      id: `${role}-${i}`,
      role,
      tier: role === 'ops' ? 'trusted' : 'standard',
      hours: role === 'ops' || role === 'integration' ? null : [7 + (i % 3), 17 + (i % 3)],
      rate: 0.3 + random() * 1.5,
      denial: 0.01 + random() * 0.07,
      run: 0,
      runLeft: 0,
      runKind: 0,
    });
  }
  const end = start + options.days * DAY;
  const incidents: Incident[] = [];
  const planned = new Map<number, DetectInput[]>();
  let serial = 0;
  const add = (t: number, e: Omit<DetectInput, 'seq' | 'ts' | 'time'>): void => {
    const m = Math.floor(t / MIN);
    let list = planned.get(m);
    if (list === undefined) planned.set(m, (list = []));
    const time = new Date(t).toISOString();
    list.push({ ...e, seq: 0, ts: time, time });
  };
  const busy = new Map<string, number[]>();
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;
  // A time for an incident of `agent`: in its active hours (or its off-hours), far from its others.
  const when = (a: Agent, offHours: boolean): number | null => {
    for (let tries = 0; tries < 200; tries++) {
      const t = start + QUIET_START + Math.floor(random() * (end - start - QUIET_START - 2 * HOUR));
      const aligned = Math.floor(t / MIN) * MIN;
      if (
        offHours
          ? a.hours === null || active(a, aligned) || active(a, aligned + HOUR)
          : !active(a, aligned) || !active(a, aligned + HOUR)
      )
        continue;
      if (offHours) {
        const h = Math.floor((aligned % DAY) / HOUR);
        const day = Math.floor(aligned / DAY);
        const weekday = (day + 4) % 7;
        if (weekday === 0 || weekday === 6 || h < 1 || h > 4) continue;
      }
      if ((busy.get(a.id) ?? []).some((x) => Math.abs(x - aligned) < 12 * HOUR)) continue;
      busy.set(a.id, [...(busy.get(a.id) ?? []), aligned]);
      return aligned;
    }
    return null;
  };
  const actor = (a: Agent): DetectInput['actor'] => ({ type: 'agent', id: a.id, trust_tier: a.tier });
  const action = (
    a: Agent,
    t: number,
    cap: Capability,
    run: string,
    decision: 'allow' | 'deny',
    risk: RiskLevel = 'low',
  ): void => {
    add(t, {
      type: 'action.intent',
      actor: actor(a),
      run_id: run,
      risk_level: risk,
      action: { type: cap.type, target: cap.target + String(Math.floor(random() * 5000)) },
      ...(cap.pii ? { context: { data_classification: 'pii' as const } } : {}),
    });
    add(t + 5, {
      type: 'policy.decision',
      actor: actor(a),
      run_id: run,
      risk_level: risk,
      action: { type: cap.type },
      policy: { decision },
    });
  };
  const eligible: Record<DetectorName, (a: Agent) => boolean> = {
    denial_spike: () => true,
    unusual_access: () => true,
    privilege_escalation: (a) => a.tier === 'standard',
    delegation: (a) => a.role === 'orchestrator',
    rate: () => true,
    off_hours: (a) => a.hours !== null,
    exfiltration: (a) => a.role === 'integration',
  };
  for (const [k, kind] of DETECTORS.entries()) {
    const pool = agents.filter(eligible[kind]);
    if (pool.length === 0) continue;
    for (let n = 0; n < options.incidents; n++) {
      // Each kind starts at another agent, so incidents spread over the agents.
      const a = pool[(n + k * options.incidents) % pool.length] as Agent;
      const t0 = when(a, kind === 'off_hours');
      if (t0 === null) continue;
      const run = `${a.id}-x${serial++}`;
      const caps = (CAPABILITIES[a.role][0] ?? []).filter((c) => !c.pii);
      let t = t0;
      if (kind === 'denial_spike') {
        const count = 25 + Math.floor(random() * 16);
        for (let i = 0; i < count; i++, t += 6_000 + Math.floor(random() * 6_000))
          action(a, t, pick(caps), run, 'deny');
      } else if (kind === 'unusual_access') {
        const cap = pick(NOVEL);
        const count = 1 + Math.floor(random() * 3);
        for (let i = 0; i < count; i++, t += 20_000) action(a, t, cap, run, 'allow');
      } else if (kind === 'privilege_escalation') {
        const count = 6 + Math.floor(random() * 3);
        for (let i = 0; i < count; i++, t += 3 * MIN + Math.floor(random() * 2 * MIN))
          action(a, t, pick(caps), run, 'deny', 'critical');
      } else if (kind === 'delegation') {
        const deep = n % 2 === 0;
        const count = deep ? 1 : 12 + Math.floor(random() * 8);
        for (let i = 0; i < count; i++, t += 2_000) {
          const depth = deep ? 5 + Math.floor(random() * 3) : 1;
          add(t, {
            type: 'delegation.started',
            actor: actor(a),
            run_id: run,
            action: { type: 'agent.delegate', target: `${a.id}-w${100 + i}` },
            delegation: { depth, root_agent: a.id },
          });
        }
      } else if (kind === 'rate') {
        const minutes = 5 + Math.floor(random() * 6);
        const perMinute = 60 + Math.floor(random() * 60);
        for (let i = 0; i < minutes * perMinute; i++, t += Math.floor(MIN / perMinute))
          action(a, t, pick(caps), run, 'allow');
      } else if (kind === 'off_hours') {
        const count = 4 + Math.floor(random() * 7);
        for (let i = 0; i < count; i++, t += 2 * MIN) action(a, t, pick(caps), run, 'allow');
      } else {
        const reads = 1 + Math.floor(random() * 3);
        for (let i = 0; i < reads; i++, t += 10_000)
          action(a, t, { type: 'read:customer', target: 'customer/', pii: true }, run, 'allow');
        action(a, t, { type: 'net.http.post', target: 'https://partner.example/api/' }, run, 'allow');
      }
      incidents.push({ kind, agent: a.id, start: t0, end: Math.max(t0, t) });
    }
  }
  function* events(): Generator<DetectInput> {
    const gen = seededRandom(options.seed ^ 0x5eed);
    let seq = 0;
    const minute: DetectInput[] = [];
    const normal = (
      a: Agent,
      t: number,
      cap: Capability,
      run: string,
      decision: 'allow' | 'deny',
      risk: RiskLevel,
    ): void => {
      const time = new Date(t).toISOString();
      const base = {
        actor: { type: 'agent' as const, id: a.id, trust_tier: a.tier },
        run_id: run,
        risk_level: risk,
      };
      minute.push({
        ...base,
        seq: 0,
        ts: time,
        time,
        type: 'action.intent',
        action: { type: cap.type, target: cap.target + String(Math.floor(gen() * 5000)) },
        ...(cap.pii ? { context: { data_classification: 'pii' as const } } : {}),
      });
      const later = new Date(t + 5).toISOString();
      minute.push({
        ...base,
        seq: 0,
        ts: later,
        time: later,
        type: 'policy.decision',
        action: { type: cap.type },
        policy: { decision },
      });
      if (decision === 'allow') {
        const done = new Date(t + 40).toISOString();
        minute.push({
          ...base,
          seq: 0,
          ts: done,
          time: done,
          type: 'action.succeeded',
          action: { type: cap.type },
          outcome: { status: 'success' },
        });
      }
    };
    for (let m = Math.floor(start / MIN); m < Math.floor(end / MIN); m++) {
      const t0 = m * MIN;
      for (const a of agents) {
        if (!active(a, t0)) continue;
        const n = poisson(gen, a.rate);
        for (let i = 0; i < n; i++) {
          if (a.runLeft <= 0) {
            a.run++;
            a.runLeft = 1 + Math.floor(gen() * 6);
            a.runKind = Math.floor(gen() * CAPABILITIES[a.role].length);
          }
          a.runLeft--;
          const caps = CAPABILITIES[a.role][a.runKind] as Capability[];
          const cap = caps[Math.floor(gen() * caps.length)] as Capability;
          // A standard agent sometimes tries a high-risk refund, and is refused.
          const high = cap.type === 'write:refund' && gen() < 0.01;
          const deny = high ? a.tier !== 'trusted' : gen() < a.denial;
          normal(
            a,
            t0 + Math.floor(gen() * 59_000),
            cap,
            `${a.id}-r${a.run}`,
            deny ? 'deny' : 'allow',
            high ? 'high' : 'low',
          );
        }
        // An orchestrator hands work to one or two workers now and then.
        if (a.role === 'orchestrator' && gen() < 0.05) {
          const time = new Date(t0 + 30_000).toISOString();
          minute.push({
            seq: 0,
            ts: time,
            time,
            type: 'delegation.started',
            actor: { type: 'agent', id: a.id, trust_tier: a.tier },
            run_id: `${a.id}-r${a.run}`,
            action: { type: 'agent.delegate', target: `${a.id}-w${Math.floor(gen() * 6)}` },
            delegation: { depth: 1 + Math.floor(gen() * 2), root_agent: a.id },
          });
        }
      }
      const extra = planned.get(m);
      if (extra) minute.push(...extra);
      minute.sort((x, y) => (x.time! < y.time! ? -1 : x.time! > y.time! ? 1 : 0));
      for (const e of minute) {
        e.seq = seq++;
        yield e;
      }
      minute.length = 0;
    }
  }
  return { incidents, agents: agents.length, events };
}

/** Precision, recall and detection delay of one detector on a scenario. */
export interface DetectorScore {
  detector: DetectorName;
  incidents: number;
  detected: number;
  alerts: number;
  true_alerts: number;
  precision: number;
  recall: number;
  /** Median and worst time from an incident's first event to its first alert (ms). */
  delay_p50_ms: number;
  delay_max_ms: number;
}

/** How long after an incident's last event an alert still counts as finding it. */
const MATCH_SLACK = HOUR;

/**
 * Runs the detectors of `config` over a scenario and scores each: an alert is true when an
 * incident of its kind on the same agent is under way (from its start to an hour past its end).
 *
 * @example
 * const { scores } = evaluate(scenario({ seed: 1, days: 10, agents: 12, incidents: 4 }), config);
 */
export function evaluate(
  s: Scenario,
  config: DetectConfig,
): { scores: DetectorScore[]; anomalies: Anomaly[]; events: number; cpu_ms: number } {
  const engine = new DetectEngine(config);
  const anomalies: Anomaly[] = [];
  let events = 0;
  let cpu = 0;
  // Events are generated in chunks and only the detectors' work on each chunk is timed.
  const chunk: DetectInput[] = [];
  const run = (): void => {
    const before = process.cpuUsage();
    for (const e of chunk) engine.observe(e);
    const used = process.cpuUsage(before);
    cpu += used.user + used.system;
    events += chunk.length;
    chunk.length = 0;
    anomalies.push(...engine.take());
  };
  for (const e of s.events()) if (chunk.push(e) >= 16_384) run();
  run();
  const scores = DETECTORS.map((detector): DetectorScore => {
    const mine = anomalies.filter((a) => a.detector === detector);
    const incidents = s.incidents.filter((i) => i.kind === detector);
    const matches = (a: Anomaly, i: Incident): boolean =>
      i.agent === a.agent_id && a.at >= i.start && a.at <= i.end + MATCH_SLACK;
    const trueAlerts = mine.filter((a) => incidents.some((i) => matches(a, i))).length;
    const delays: number[] = [];
    for (const i of incidents) {
      const first = mine.find((a) => matches(a, i));
      if (first) delays.push(first.at - i.start);
    }
    delays.sort((x, y) => x - y);
    return {
      detector,
      incidents: incidents.length,
      detected: delays.length,
      alerts: mine.length,
      true_alerts: trueAlerts,
      precision: mine.length === 0 ? (incidents.length === 0 ? 1 : 0) : trueAlerts / mine.length,
      recall: incidents.length === 0 ? 1 : delays.length / incidents.length,
      delay_p50_ms: delays.length > 0 ? (delays[Math.floor((delays.length - 1) / 2)] as number) : 0,
      delay_max_ms: delays.length > 0 ? (delays[delays.length - 1] as number) : 0,
    };
  });
  return { scores, anomalies, events, cpu_ms: cpu / 1000 };
}
