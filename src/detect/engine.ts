/**
 * The detectors (docs/detection.md): one pass over the log's events in seq order, constant work
 * per event, all state per agent (and per run, for exfiltration) in plain fields so it can be
 * saved as a snapshot and restored after a restart. Time is the event's producer time (`time`,
 * else the log's `ts`), so a replayed log raises the anomalies it raised live.
 */
import type { AuditEvent, RiskLevel } from '../index.js';
import { compileGlob } from '../index.js';
import { CostMeter, runCondition } from '../policy/condition.js';
import type { DetectConfig } from './config.js';

/** What the engine reads of an event: the producer's fields plus the log's seq and ts. */
export type DetectInput = AuditEvent & { seq: number; ts: string };

/** One anomaly, as `anomaly.detected` carries it in `metadata.anomaly` (plus its risk level). */
export interface Anomaly {
  /** Stable dedupe key: detector, agent and the start of the window that triggered it. */
  id: string;
  detector: string;
  agent_id: string;
  score: number;
  threshold: number;
  /** The triggering events (at most {@link MAX_SEQS}, the latest). */
  seqs: number[];
  window: { from: string; to: string };
  /** One line for humans. */
  summary: string;
  run_id?: string;
  session_id?: string;
  risk_level: RiskLevel;
  /** Event time (epoch ms) of the event that raised it: detection delay = at − incident start. */
  at: number;
}

/** The detectors' names (custom rules are `custom:<name>`). */
export const DETECTORS = [
  'denial_spike',
  'unusual_access',
  'privilege_escalation',
  'delegation',
  'rate',
  'off_hours',
  'exfiltration',
] as const;
export type DetectorName = (typeof DETECTORS)[number];

/** The actor the anomaly events are recorded as; its own events are never looked at. */
export const DETECT_ACTOR = { type: 'system', id: 'auditrail-detect' } as const;

/** Triggering seqs kept per anomaly. */
export const MAX_SEQS = 20;
/** Action types and target patterns learned per agent (past it, nothing new is learned). */
const MAX_LEARNED = 1024;
/** Runs followed at once by the exfiltration detector (the oldest go first). */
const MAX_RUNS = 100_000;
/** Agents followed at once; past it the least recently seen is forgotten. */
const MAX_AGENTS = 100_000;
const MIN = 60_000;
const HOUR = 60 * MIN;

interface AgentState {
  id: string;
  first: number;
  actions: number;
  // denial spike: the current bucket and the EWMA of denials per active bucket
  dBucket: number;
  dActive: boolean;
  dCount: number;
  dSeqs: number[];
  dMean: number;
  dVar: number;
  dN: number;
  dQuiet: number;
  // rate: the current minute and the EWMA of actions per active minute
  rMinute: number;
  rCount: number;
  rSeqs: number[];
  rMean: number;
  rVar: number;
  rN: number;
  rQuiet: number;
  // unusual access
  types: Set<string>;
  patterns: Set<string>;
  aQuiet: number;
  // off-hours: actions per UTC hour of the day
  hours: number[];
  oHour: number;
  /** Actions of the current clock hour (added to `hours` when it ends) and of all hours before. */
  oPending: number;
  oTotal: number;
  oCount: number;
  oSeqs: number[];
  oQuiet: number;
  // privilege escalation: ring of the last K above-tier denials
  eTimes: number[];
  eSeqs: number[];
  eHead: number;
  eQuiet: number;
  // delegation: ring of the last F + 1 delegations
  gTimes: number[];
  gTargets: string[];
  gSeqs: number[];
  gHead: number;
  gQuiet: number;
  depthQuiet: number;
  // custom rules' cool-downs, by rule name
  cQuiet: Record<string, number>;
}

interface RunState {
  agent: string;
  t: number;
  seq: number;
  cls: string;
  alerted: boolean;
}

function newAgent(id: string, t: number): AgentState {
  return {
    id,
    first: t,
    actions: 0,
    dBucket: -1,
    dActive: false,
    dCount: 0,
    dSeqs: [],
    dMean: 0,
    dVar: 0,
    dN: 0,
    dQuiet: 0,
    rMinute: -1,
    rCount: 0,
    rSeqs: [],
    rMean: 0,
    rVar: 0,
    rN: 0,
    rQuiet: 0,
    types: new Set(),
    patterns: new Set(),
    aQuiet: 0,
    hours: new Array<number>(24).fill(0),
    oHour: -1,
    oPending: 0,
    oTotal: 0,
    oCount: 0,
    oSeqs: [],
    oQuiet: 0,
    eTimes: [],
    eSeqs: [],
    eHead: 0,
    eQuiet: 0,
    gTimes: [],
    gTargets: [],
    gSeqs: [],
    gHead: 0,
    gQuiet: 0,
    depthQuiet: 0,
    cQuiet: {},
  };
}

/** EWMA (West 1979): mean and variance with weight `max(alpha, 1/n)`, so the first samples average plainly. */
function ewma(mean: number, variance: number, n: number, alpha: number, x: number): [number, number] {
  const a = Math.max(alpha, 1 / n);
  const d = x - mean;
  const m = mean + a * d;
  return [m, (1 - a) * (variance + a * d * d)];
}

/** Standard deviation for counts: never below the Poisson one (√mean), nor below 1. */
function countSd(mean: number, variance: number): number {
  return Math.sqrt(Math.max(variance, mean, 1));
}

function push(list: number[], seq: number): void {
  if (list.length >= MAX_SEQS) list.shift();
  list.push(seq);
}

/**
 * A target's pattern: `scheme://host` for a URL, else its first segment (up to `/`, `:` or `?`)
 * with digits as `#` and then `/*`: `order/1042` → `order/*`, `https://x.example/a` →
 * `https://x.example`. Linear in the first 256 characters.
 */
export function targetPattern(target: string): string {
  const t = target.length > 256 ? target.slice(0, 256) : target;
  const scheme = t.indexOf('://');
  if (scheme > 0 && scheme < 16) {
    let end = t.length;
    for (let i = scheme + 3; i < t.length; i++) {
      const c = t.charCodeAt(i);
      if (c === 47 || c === 63 || c === 35) {
        end = i;
        break;
      }
    }
    return t.slice(0, end).toLowerCase();
  }
  let out = '';
  let i = 0;
  for (; i < t.length; i++) {
    const c = t.charCodeAt(i);
    if (c === 47 || c === 58 || c === 63) break;
    out += c >= 48 && c <= 57 ? '#' : t[i];
  }
  return i < t.length ? `${out}/*` : out;
}

/** Epoch ms of an event: its producer time, else the log's. */
export function eventTime(e: { time?: string | undefined; ts: string }): number {
  if (e.time !== undefined) {
    const t = Date.parse(e.time);
    if (!Number.isNaN(t)) return t;
  }
  return Date.parse(e.ts);
}

const iso = (ms: number): string => new Date(ms).toISOString();

/**
 * Runs every enabled detector over events fed in seq order; {@link DetectEngine.take} returns the
 * anomalies raised since the last call. Deterministic: the same events give the same anomalies.
 *
 * @example
 * const engine = new DetectEngine(parseDetectConfig(yamlText));
 * for (const e of events) engine.observe(e);
 * const anomalies = engine.take();
 */
export class DetectEngine {
  private agents = new Map<string, AgentState>();
  private runs = new Map<string, RunState>();
  private out: Anomaly[] = [];
  private readonly tierRank: Map<string, number>;
  private readonly actionTiers: { match: (s: string) => boolean; rank: number }[];
  private readonly outbound: ((s: string) => boolean)[];
  private readonly ruleTypes: (((s: string) => boolean) | null)[];
  private readonly dAlpha: number;
  private readonly rAlpha: number;
  /** Events looked at (for throughput figures). */
  events = 0;

  constructor(readonly config: DetectConfig) {
    const pe = config.privilege_escalation;
    this.tierRank = new Map(pe.tiers.map((t, i) => [t, i]));
    this.actionTiers = pe.actions.map((a) => ({
      match: compileGlob(a.glob),
      rank: this.tierRank.get(a.tier) ?? 0,
    }));
    this.outbound = config.exfiltration.outbound.map((g) => compileGlob(g));
    this.ruleTypes = config.rules.map((r) => {
      if (r.types.length === 0) return null;
      const ms = r.types.map((g) => compileGlob(g));
      return (s: string) => ms.some((m) => m(s));
    });
    this.dAlpha = 2 / (config.denial_spike.baseline + 1);
    this.rAlpha = 2 / (config.rate.baseline + 1);
  }

  /** The anomalies raised since the last call, in the order raised. */
  take(): Anomaly[] {
    const out = this.out;
    this.out = [];
    return out;
  }

  private agent(id: string, t: number): AgentState {
    let a = this.agents.get(id);
    if (a === undefined) {
      if (this.agents.size >= MAX_AGENTS) {
        const oldest = this.agents.keys().next().value;
        if (oldest !== undefined) this.agents.delete(oldest);
      }
      a = newAgent(id, t);
      this.agents.set(id, a);
    }
    return a;
  }

  private raise(
    a: AgentState,
    detector: string,
    e: DetectInput,
    t: number,
    from: number,
    score: number,
    threshold: number,
    seqs: number[],
    summary: string,
    risk: RiskLevel,
  ): void {
    const anomaly: Anomaly = {
      id: `${detector}:${a.id}:${iso(from)}`,
      detector,
      agent_id: a.id,
      score: Math.round(score * 1000) / 1000,
      threshold,
      seqs: seqs.slice(-MAX_SEQS),
      window: { from: iso(from), to: iso(t) },
      summary,
      risk_level: risk,
      at: t,
    };
    if (e.run_id !== undefined) anomaly.run_id = e.run_id;
    if (e.session_id !== undefined) anomaly.session_id = e.session_id;
    this.out.push(anomaly);
  }

  /** Looks at one event (in seq order). The detector's own events are skipped. */
  observe(e: DetectInput): void {
    if (e.actor.type === 'system' && e.actor.id === DETECT_ACTOR.id) return;
    if (e.type.startsWith('anomaly.')) return;
    this.events++;
    const t = eventTime(e);
    if (Number.isNaN(t)) return;
    const c = this.config;
    const isAgent = e.actor.type === 'agent';
    if (c.exfiltration.enabled) this.exfiltration(e, t);
    if (!isAgent) return;
    const a = this.agent(e.actor.id, t);
    if (e.type === 'action.intent') {
      a.actions++;
      if (c.denial_spike.enabled) this.rollDenials(a, t, true);
      if (c.rate.enabled) this.rate(a, e, t);
      if (c.unusual_access.enabled) this.access(a, e, t);
      if (c.off_hours.enabled) this.offHours(a, e, t);
    } else if (e.type === 'policy.decision' && e.policy?.decision === 'deny' && e.policy.mode !== 'shadow') {
      if (c.denial_spike.enabled) this.denial(a, e, t);
      if (c.privilege_escalation.enabled) this.escalation(a, e, t);
    } else if (e.type === 'delegation.started' && c.delegation.enabled) {
      this.delegation(a, e, t);
    }
    if (c.rules.length > 0) this.custom(a, e, t);
  }

  /** Moves the denial bucket to the one holding `t`, folding the closed one into the baseline. */
  private rollDenials(a: AgentState, t: number, active: boolean): void {
    const cfg = this.config.denial_spike;
    const b = Math.floor(t / cfg.bucket_ms);
    if (b > a.dBucket) {
      if (a.dActive) {
        // A bucket that was itself anomalous stays out of the baseline it is judged against.
        const anomalous =
          a.dN >= cfg.min_samples &&
          a.dCount >= cfg.min_count &&
          (a.dCount - a.dMean) / countSd(a.dMean, a.dVar) >= cfg.threshold;
        if (!anomalous) {
          a.dN++;
          [a.dMean, a.dVar] = ewma(a.dMean, a.dVar, a.dN, this.dAlpha, a.dCount);
        }
      }
      a.dBucket = b;
      a.dActive = false;
      a.dCount = 0;
      a.dSeqs.length = 0;
    }
    if (active) a.dActive = true;
  }

  private denial(a: AgentState, e: DetectInput, t: number): void {
    const cfg = this.config.denial_spike;
    this.rollDenials(a, t, true);
    a.dCount++;
    push(a.dSeqs, e.seq);
    if (a.dN < cfg.min_samples || a.dCount < cfg.min_count || t < a.dQuiet) return;
    const sd = countSd(a.dMean, a.dVar);
    const score = (a.dCount - a.dMean) / sd;
    if (score < cfg.threshold) return;
    a.dQuiet = t + cfg.cooldown_ms;
    const from = a.dBucket * cfg.bucket_ms;
    this.raise(
      a,
      'denial_spike',
      e,
      t,
      from,
      score,
      cfg.threshold,
      a.dSeqs,
      `${a.id}: ${a.dCount} denials in ${Math.round(cfg.bucket_ms / MIN)} min (baseline ${a.dMean.toFixed(1)} ± ${sd.toFixed(1)}, ${score.toFixed(1)} σ)`,
      cfg.risk,
    );
  }

  private rate(a: AgentState, e: DetectInput, t: number): void {
    const cfg = this.config.rate;
    const m = Math.floor(t / MIN);
    if (m > a.rMinute) {
      if (a.rCount > 0) {
        const anomalous =
          a.rN >= cfg.min_samples &&
          a.rCount >= cfg.min_count &&
          (a.rCount - a.rMean) / countSd(a.rMean, a.rVar) >= cfg.threshold;
        if (!anomalous) {
          a.rN++;
          [a.rMean, a.rVar] = ewma(a.rMean, a.rVar, a.rN, this.rAlpha, a.rCount);
        }
      }
      a.rMinute = m;
      a.rCount = 0;
      a.rSeqs.length = 0;
    }
    a.rCount++;
    push(a.rSeqs, e.seq);
    if (a.rN < cfg.min_samples || a.rCount < cfg.min_count || t < a.rQuiet) return;
    const sd = countSd(a.rMean, a.rVar);
    const score = (a.rCount - a.rMean) / sd;
    if (score < cfg.threshold) return;
    a.rQuiet = t + cfg.cooldown_ms;
    this.raise(
      a,
      'rate',
      e,
      t,
      m * MIN,
      score,
      cfg.threshold,
      a.rSeqs,
      `${a.id}: ${a.rCount} actions in one minute (baseline ${a.rMean.toFixed(1)} ± ${sd.toFixed(1)}, ${score.toFixed(1)} σ)`,
      cfg.risk,
    );
  }

  private access(a: AgentState, e: DetectInput, t: number): void {
    const cfg = this.config.unusual_access;
    const type = e.action?.type;
    if (type === undefined) return;
    const target = e.action?.target;
    const pattern = target !== undefined && target !== '' ? targetPattern(target) : undefined;
    const learning = t < a.first + cfg.learning_ms || a.actions <= cfg.min_samples;
    const newType = !a.types.has(type);
    const newPattern = pattern !== undefined && !a.patterns.has(pattern);
    if (newType && a.types.size < MAX_LEARNED) a.types.add(type);
    if (newPattern && a.patterns.size < MAX_LEARNED) a.patterns.add(pattern);
    if (learning || (!newType && !newPattern) || t < a.aQuiet) return;
    a.aQuiet = t + cfg.cooldown_ms;
    const what = [
      ...(newType ? [`action type '${type}'`] : []),
      ...(newPattern ? [`target '${pattern}'`] : []),
    ].join(' and ');
    this.raise(
      a,
      'unusual_access',
      e,
      t,
      Math.floor(t / HOUR) * HOUR,
      (newType ? 1 : 0) + (newPattern ? 1 : 0),
      1,
      [e.seq],
      `${a.id}: ${what} never seen in its baseline (${a.types.size} types, ${a.patterns.size} targets learned)`,
      cfg.risk,
    );
  }

  private offHours(a: AgentState, e: DetectInput, t: number): void {
    const cfg = this.config.off_hours;
    const hourIndex = Math.floor(t / HOUR);
    const h = ((hourIndex % 24) + 24) % 24;
    // The actions of the current clock hour join the histogram when it ends: an hour is judged
    // against the agent's past, not against the burst under way.
    if (hourIndex !== a.oHour) {
      if (a.oHour >= 0) {
        const prev = a.oHour % 24;
        a.hours[prev] = (a.hours[prev] as number) + a.oPending;
        a.oTotal += a.oPending;
      }
      a.oHour = hourIndex;
      a.oPending = 0;
      a.oCount = 0;
      a.oSeqs.length = 0;
    }
    a.oPending++;
    const learned = t >= a.first + cfg.learning_ms && a.oTotal >= cfg.min_samples;
    const share = a.oTotal > 0 ? (a.hours[h] as number) / a.oTotal : 0;
    if (!learned || share >= cfg.min_share) return;
    a.oCount++;
    push(a.oSeqs, e.seq);
    if (a.oCount < cfg.min_actions || t < a.oQuiet) return;
    a.oQuiet = t + cfg.cooldown_ms;
    this.raise(
      a,
      'off_hours',
      e,
      t,
      hourIndex * HOUR,
      a.oCount,
      cfg.min_actions,
      a.oSeqs,
      `${a.id}: ${a.oCount} actions at ${String(h).padStart(2, '0')}:00 UTC, an hour holding ${(share * 100).toFixed(2)}% of its activity`,
      cfg.risk,
    );
  }

  private requiredRank(e: DetectInput): number {
    const type = e.action?.type;
    if (type !== undefined) for (const x of this.actionTiers) if (x.match(type)) return x.rank;
    const risk = e.risk_level ?? e.policy?.risk;
    const tier = risk !== undefined ? this.config.privilege_escalation.required[risk] : undefined;
    return tier !== undefined ? (this.tierRank.get(tier) ?? -1) : -1;
  }

  private escalation(a: AgentState, e: DetectInput, t: number): void {
    const cfg = this.config.privilege_escalation;
    const needed = this.requiredRank(e);
    const tier = e.actor.trust_tier;
    const rank = tier !== undefined ? (this.tierRank.get(tier) ?? -1) : -1;
    if (needed < 0 || rank >= needed) return;
    const k = cfg.min_denials;
    if (a.eTimes.length > k) [a.eTimes, a.eSeqs, a.eHead] = [[], [], 0];
    a.eTimes[a.eHead] = t;
    a.eSeqs[a.eHead] = e.seq;
    a.eHead = (a.eHead + 1) % k;
    if (a.eTimes.length < k || t < a.eQuiet) return;
    const oldest = a.eTimes[a.eHead] as number;
    if (t - oldest > cfg.window_ms) return;
    a.eQuiet = t + cfg.cooldown_ms;
    const seqs = [...a.eSeqs.slice(a.eHead), ...a.eSeqs.slice(0, a.eHead)];
    this.raise(
      a,
      'privilege_escalation',
      e,
      t,
      oldest,
      k,
      k,
      seqs,
      `${a.id} (tier ${tier ?? 'none'}): ${k} denied actions above its tier within ${Math.round((t - oldest) / MIN)} min`,
      cfg.risk,
    );
  }

  private delegation(a: AgentState, e: DetectInput, t: number): void {
    const cfg = this.config.delegation;
    const depth = e.delegation?.depth ?? e.delegation?.chain?.length ?? 0;
    if (depth > cfg.max_depth && t >= a.depthQuiet) {
      a.depthQuiet = t + cfg.cooldown_ms;
      this.raise(
        a,
        'delegation',
        e,
        t,
        t,
        depth,
        cfg.max_depth,
        [e.seq],
        `${a.id}: delegation at depth ${depth} (limit ${cfg.max_depth}) under ${e.delegation?.root_agent ?? a.id}`,
        cfg.risk,
      );
    }
    const target = e.action?.target ?? e.delegation?.chain?.at(-1)?.agent_id;
    if (target === undefined) return;
    const size = cfg.max_fanout + 1;
    if (a.gTimes.length > size) [a.gTimes, a.gTargets, a.gSeqs, a.gHead] = [[], [], [], 0];
    a.gTimes[a.gHead] = t;
    a.gTargets[a.gHead] = target;
    a.gSeqs[a.gHead] = e.seq;
    a.gHead = (a.gHead + 1) % size;
    if (a.gTimes.length < size || t < a.gQuiet) return;
    const oldest = a.gTimes[a.gHead] as number;
    if (t - oldest > MIN) return;
    // Only the last F + 1 delegations are kept: F + 1 distinct sub-agents within a minute alert.
    if (new Set(a.gTargets).size < size) return;
    a.gQuiet = t + cfg.cooldown_ms;
    this.raise(
      a,
      'delegation',
      e,
      t,
      oldest,
      size,
      cfg.max_fanout,
      [...a.gSeqs.slice(a.gHead), ...a.gSeqs.slice(0, a.gHead)],
      `${a.id}: delegated to ${size} sub-agents within ${Math.max(1, Math.round((t - oldest) / 1000))} s (limit ${cfg.max_fanout} per minute)`,
      cfg.risk,
    );
  }

  private exfiltration(e: DetectInput, t: number): void {
    const cfg = this.config.exfiltration;
    const run = e.run_id;
    if (run === undefined) return;
    const type = e.action?.type;
    if (e.type === 'action.intent' && type !== undefined && this.outbound.some((m) => m(type))) {
      const r = this.runs.get(run);
      if (r === undefined || r.alerted || t - r.t > cfg.window_ms) return;
      r.alerted = true;
      const a = this.agent(e.actor.id, t);
      this.raise(
        a,
        'exfiltration',
        e,
        t,
        r.t,
        1,
        1,
        [r.seq, e.seq],
        `${e.actor.id}: ${type} to '${e.action?.target ?? '?'}' after reading ${r.cls} data in run ${run}`,
        cfg.risk,
      );
      return;
    }
    const cls = e.context?.data_classification;
    if (cls === undefined || !cfg.classifications.includes(cls) || this.runs.has(run)) return;
    this.runs.set(run, { agent: e.actor.id, t, seq: e.seq, cls, alerted: false });
    // Runs are kept in the order their first read was seen: drop those past the window.
    for (const [key, r] of this.runs) {
      if (this.runs.size <= MAX_RUNS && t - r.t <= 2 * cfg.window_ms) break;
      this.runs.delete(key);
    }
  }

  /** The window statistics a custom rule reads as `stats` (docs/detection.md). */
  private stats(a: AgentState, e: DetectInput, t: number): Record<string, unknown> {
    const pe = this.config.privilege_escalation;
    let escalations = 0;
    for (const x of a.eTimes) if (t - x <= pe.window_ms) escalations++;
    const type = e.action?.type;
    const target = e.action?.target;
    return {
      actions_total: a.actions,
      actions_this_minute: a.rMinute === Math.floor(t / MIN) ? a.rCount : 0,
      actions_per_minute_mean: a.rMean,
      actions_per_minute_sd: countSd(a.rMean, a.rVar),
      denials_this_bucket: a.dBucket === Math.floor(t / this.config.denial_spike.bucket_ms) ? a.dCount : 0,
      denials_mean: a.dMean,
      denials_sd: countSd(a.dMean, a.dVar),
      escalation_denials: escalations,
      known_action_types: a.types.size,
      known_targets: a.patterns.size,
      hour_share: a.oTotal > 0 ? (a.hours[Math.floor(t / HOUR) % 24] as number) / a.oTotal : 0,
      run_read_classified: e.run_id !== undefined && this.runs.has(e.run_id),
      learning: t < a.first + this.config.unusual_access.learning_ms,
      new_action_type: type !== undefined && !a.types.has(type),
      new_target: target !== undefined && !a.patterns.has(targetPattern(target)),
    };
  }

  private custom(a: AgentState, e: DetectInput, t: number): void {
    const rules = this.config.rules;
    let stats: Record<string, unknown> | undefined;
    for (let i = 0; i < rules.length; i++) {
      const rule = rules[i]!;
      const types = this.ruleTypes[i];
      if ((types && !types(e.type)) || t < (a.cQuiet[rule.name] ?? 0)) continue;
      stats ??= this.stats(a, e, t);
      // A rule that fails at run time (a missing field, over budget) does not match.
      if (runCondition(rule.condition, { event: e, stats }, new CostMeter()) !== true) continue;
      a.cQuiet[rule.name] = t + rule.cooldown_ms;
      this.raise(
        a,
        `custom:${rule.name}`,
        e,
        t,
        t,
        1,
        1,
        [e.seq],
        `${a.id}: rule ${rule.name} matched ${e.type}${e.action ? ` ${e.action.type}` : ''}`,
        rule.risk,
      );
    }
  }

  /** The learned state, as JSON text (what {@link DetectEngine.restore} reads back). */
  snapshot(): string {
    const agents = [...this.agents.values()].map((a) => ({
      ...a,
      types: [...a.types],
      patterns: [...a.patterns],
    }));
    return JSON.stringify({ v: 1, agents, runs: [...this.runs] });
  }

  /** Restores a {@link DetectEngine.snapshot}; false (and a fresh state) when it does not fit. */
  restore(json: string): boolean {
    try {
      const s = JSON.parse(json) as {
        v?: unknown;
        agents?: (Omit<AgentState, 'types' | 'patterns'> & { types: string[]; patterns: string[] })[];
        runs?: [string, RunState][];
      };
      if (s.v !== 1 || !Array.isArray(s.agents) || !Array.isArray(s.runs)) return false;
      this.agents = new Map(
        s.agents.map((a) => [a.id, { ...a, types: new Set(a.types), patterns: new Set(a.patterns) }]),
      );
      this.runs = new Map(s.runs);
      return true;
    } catch {
      this.agents = new Map();
      this.runs = new Map();
      return false;
    }
  }
}
