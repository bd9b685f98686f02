/**
 * The `detect:` section of the YAML config (docs/detection.md): which detectors run, their
 * thresholds, and custom CEL rules. Parsed strictly: an unknown key or a bad value is an
 * `invalid_argument` AuditError naming the field (`detect.detectors.rate.threshold: …`).
 */
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { AuditError, compileGlob, type RiskLevel } from '../index.js';
import { compileCondition, type CompiledCondition } from '../policy/condition.js';

const RISKS: readonly RiskLevel[] = ['low', 'medium', 'high', 'critical'];
const MAX_CONFIG_BYTES = 1 << 20;
/** The variables a custom rule reads. */
export const RULE_VARIABLES = ['event', 'stats'] as const;

export interface DenialSpikeConfig {
  enabled: boolean;
  /** Length of one counting bucket (ms). */
  bucket_ms: number;
  /** Standard deviations above the baseline mean. */
  threshold: number;
  /** Denials a bucket needs, whatever the baseline. */
  min_count: number;
  /** Baseline buckets needed before any alert. */
  min_samples: number;
  /** Effective memory of the rolling baseline, in active buckets (EWMA span). */
  baseline: number;
  cooldown_ms: number;
  risk: RiskLevel;
}
export interface UnusualAccessConfig {
  enabled: boolean;
  /** Time from an agent's first action during which it only learns. */
  learning_ms: number;
  /** Actions the agent must have taken before its baseline counts as learned. */
  min_samples: number;
  cooldown_ms: number;
  risk: RiskLevel;
}
export interface PrivilegeEscalationConfig {
  enabled: boolean;
  /** K: denials above the agent's tier within `window_ms` that alert. */
  min_denials: number;
  window_ms: number;
  cooldown_ms: number;
  /** Trust tiers, lowest first. An unknown or missing tier ranks lowest. */
  tiers: string[];
  /** The tier a risk level needs. */
  required: Partial<Record<RiskLevel, string>>;
  /** The tier an action type needs (glob → tier), checked before `required`. */
  actions: { glob: string; tier: string }[];
  risk: RiskLevel;
}
export interface DelegationConfig {
  enabled: boolean;
  /** Alert when a delegation's depth is above this. */
  max_depth: number;
  /** Alert when an agent delegates to more distinct sub-agents than this within one minute. */
  max_fanout: number;
  cooldown_ms: number;
  risk: RiskLevel;
}
export interface RateConfig {
  enabled: boolean;
  threshold: number;
  /** Actions in one minute needed, whatever the baseline. */
  min_count: number;
  min_samples: number;
  /** EWMA span in active minutes. */
  baseline: number;
  cooldown_ms: number;
  risk: RiskLevel;
}
export interface OffHoursConfig {
  enabled: boolean;
  learning_ms: number;
  /** An hour of the day (UTC) holding less than this share of the agent's actions is off-hours. */
  min_share: number;
  /** Off-hours actions within one clock hour that alert. */
  min_actions: number;
  /** Actions the agent must have taken before its hours count as learned. */
  min_samples: number;
  cooldown_ms: number;
  risk: RiskLevel;
}
export interface ExfiltrationConfig {
  enabled: boolean;
  classifications: string[];
  /** Action type globs that send data out. */
  outbound: string[];
  /** How long after the read an outbound action of the same run counts. */
  window_ms: number;
  risk: RiskLevel;
}
export interface CustomRuleConfig {
  name: string;
  when: string;
  condition: CompiledCondition;
  /** Event type globs the rule runs on (default: every event of an agent). */
  types: string[];
  cooldown_ms: number;
  risk: RiskLevel;
}

export interface DetectConfig {
  /** Cursor and state name (several configs can run side by side on one log). */
  name: string;
  /** Tenants whose logs `serve` watches (default: the server's first-key tenant). */
  tenants: string[];
  /** How often a following detector looks for new events. */
  poll_ms: number;
  denial_spike: DenialSpikeConfig;
  unusual_access: UnusualAccessConfig;
  privilege_escalation: PrivilegeEscalationConfig;
  delegation: DelegationConfig;
  rate: RateConfig;
  off_hours: OffHoursConfig;
  exfiltration: ExfiltrationConfig;
  rules: CustomRuleConfig[];
}

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

/** The defaults (docs/detection.md explains each). */
export function defaultDetectConfig(): DetectConfig {
  return {
    name: 'default',
    tenants: [],
    poll_ms: 1000,
    denial_spike: {
      enabled: true,
      bucket_ms: 10 * MIN,
      threshold: 4,
      min_count: 10,
      min_samples: 30,
      baseline: 500,
      cooldown_ms: HOUR,
      risk: 'high',
    },
    unusual_access: { enabled: true, learning_ms: 3 * DAY, min_samples: 50, cooldown_ms: HOUR, risk: 'high' },
    privilege_escalation: {
      enabled: true,
      min_denials: 5,
      window_ms: HOUR,
      cooldown_ms: HOUR,
      tiers: ['untrusted', 'standard', 'trusted', 'admin'],
      required: { high: 'trusted', critical: 'admin' },
      actions: [],
      risk: 'critical',
    },
    delegation: { enabled: true, max_depth: 4, max_fanout: 8, cooldown_ms: 10 * MIN, risk: 'high' },
    rate: {
      enabled: true,
      threshold: 5,
      min_count: 30,
      min_samples: 100,
      baseline: 1000,
      cooldown_ms: 30 * MIN,
      risk: 'medium',
    },
    off_hours: {
      enabled: true,
      learning_ms: 3 * DAY,
      min_share: 0.002,
      min_actions: 3,
      min_samples: 200,
      cooldown_ms: 6 * HOUR,
      risk: 'medium',
    },
    exfiltration: {
      enabled: true,
      classifications: ['pii', 'phi'],
      outbound: ['net.*', 'http.*', 'upload:*', '*.upload', 'export:*', '*.export', 'email.send_external'],
      window_ms: HOUR,
      risk: 'critical',
    },
    rules: [],
  };
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const bad = (at: string, what: string): AuditError => new AuditError('invalid_argument', `${at}: ${what}`);

function known(o: Obj, at: string, keys: readonly string[]): void {
  for (const k of Object.keys(o)) {
    if (!keys.includes(k)) throw bad(`${at}.${k}`, `is not a known field (known: ${keys.join(', ')})`);
  }
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: MIN, h: HOUR, d: DAY, w: 7 * DAY };

/**
 * A duration: `500ms`, `30s`, `10m`, `1h`, `3d`, `2w`, or a number of milliseconds.
 *
 * @example
 * parseDuration('10m', 'bucket'); // 600000
 */
export function parseDuration(v: unknown, at: string): number {
  if (typeof v === 'number' && Number.isInteger(v) && v > 0 && v <= 365 * DAY) return v;
  if (typeof v === 'string') {
    const m = /^(\d{1,6})(ms|s|m|h|d|w)$/.exec(v);
    if (m) {
      const ms = Number(m[1]) * (UNITS[m[2] as string] as number);
      if (ms > 0 && ms <= 365 * DAY) return ms;
    }
  }
  throw bad(at, `must be a duration such as 30s, 10m, 1h or 3d (at most 365d), not ${JSON.stringify(v)}`);
}

function num(v: unknown, at: string, min: number, max: number, integer = false): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max || (integer && !Number.isInteger(v)))
    throw bad(
      at,
      `must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}, not ${JSON.stringify(v)}`,
    );
  return v;
}

function risk(v: unknown, at: string): RiskLevel {
  if (typeof v === 'string' && (RISKS as readonly string[]).includes(v)) return v as RiskLevel;
  throw bad(at, `must be one of ${RISKS.join(', ')}, not ${JSON.stringify(v)}`);
}

function strList(v: unknown, at: string, max = 64): string[] {
  if (!Array.isArray(v) || v.length > max) throw bad(at, `must be a list of at most ${max} strings`);
  return v.map((x, i) => {
    if (typeof x !== 'string' || x === '' || x.length > 256)
      throw bad(`${at}[${i}]`, 'must be a non-empty string');
    return x;
  });
}

function glob(v: string, at: string): string {
  try {
    compileGlob(v);
  } catch (e) {
    throw bad(at, `is not a valid glob: ${(e as Error).message}`);
  }
  return v;
}

function bool(v: unknown, at: string): boolean {
  if (typeof v !== 'boolean') throw bad(at, 'must be true or false');
  return v;
}

/** Applies the fields of `raw` that `fields` knows to `target`, each through its parser. */
function apply<T extends object>(
  target: T,
  raw: unknown,
  at: string,
  fields: Record<string, (v: unknown, at: string) => Partial<T>>,
): void {
  if (raw === undefined || raw === null) return;
  if (!isObj(raw)) throw bad(at, 'must be a mapping');
  known(raw, at, Object.keys(fields));
  for (const [k, v] of Object.entries(raw))
    Object.assign(target, (fields[k] as (v: unknown, at: string) => Partial<T>)(v, `${at}.${k}`));
}

const common = {
  enabled: (v: unknown, at: string) => ({ enabled: bool(v, at) }),
  cooldown: (v: unknown, at: string) => ({ cooldown_ms: parseDuration(v, at) }),
  risk: (v: unknown, at: string) => ({ risk: risk(v, at) }),
};

/**
 * Parses the `detect:` section of a YAML config (absent: the defaults, every detector on).
 *
 * @example
 * const config = parseDetectConfig('detect:\n  detectors:\n    rate: { min_count: 60 }\n');
 */
export function parseDetectConfig(text: string): DetectConfig {
  let doc: unknown;
  try {
    doc = parseYaml(text, { maxAliasCount: 100 });
  } catch (e) {
    if (e instanceof AuditError) throw e;
    throw new AuditError(
      'invalid_argument',
      `config: not valid YAML: ${(e as Error).message.split('\n')[0]}`,
      {
        cause: e,
      },
    );
  }
  const c = defaultDetectConfig();
  if (!isObj(doc) || doc['detect'] === undefined || doc['detect'] === null) return c;
  const d = doc['detect'];
  if (!isObj(d)) throw bad('detect', 'must be a mapping');
  known(d, 'detect', ['name', 'tenants', 'poll', 'detectors', 'rules']);
  if (d['name'] !== undefined) {
    if (typeof d['name'] !== 'string' || !/^[a-z0-9][a-z0-9_-]{0,62}$/.test(d['name']))
      throw bad('detect.name', 'must be lower-case letters, digits, - and _ (at most 63)');
    c.name = d['name'];
  }
  if (d['tenants'] !== undefined) c.tenants = strList(d['tenants'], 'detect.tenants');
  if (d['poll'] !== undefined) c.poll_ms = parseDuration(d['poll'], 'detect.poll');
  const ds = d['detectors'];
  if (ds !== undefined && ds !== null) {
    if (!isObj(ds)) throw bad('detect.detectors', 'must be a mapping');
    const at = 'detect.detectors';
    known(ds, at, [
      'denial_spike',
      'unusual_access',
      'privilege_escalation',
      'delegation',
      'rate',
      'off_hours',
      'exfiltration',
    ]);
    apply(c.denial_spike, ds['denial_spike'], `${at}.denial_spike`, {
      ...common,
      bucket: (v, a) => ({ bucket_ms: parseDuration(v, a) }),
      threshold: (v, a) => ({ threshold: num(v, a, 0.5, 100) }),
      min_count: (v, a) => ({ min_count: num(v, a, 1, 1e6, true) }),
      min_samples: (v, a) => ({ min_samples: num(v, a, 1, 1e6, true) }),
      baseline: (v, a) => ({ baseline: num(v, a, 2, 1e6, true) }),
    });
    apply(c.unusual_access, ds['unusual_access'], `${at}.unusual_access`, {
      ...common,
      learning: (v, a) => ({ learning_ms: parseDuration(v, a) }),
      min_samples: (v, a) => ({ min_samples: num(v, a, 1, 1e6, true) }),
    });
    const pe = c.privilege_escalation;
    apply(pe, ds['privilege_escalation'], `${at}.privilege_escalation`, {
      ...common,
      min_denials: (v, a) => ({ min_denials: num(v, a, 1, 1000, true) }),
      window: (v, a) => ({ window_ms: parseDuration(v, a) }),
      tiers: (v, a) => ({ tiers: strList(v, a, 32) }),
      required: (v, a) => {
        if (!isObj(v)) throw bad(a, 'must map risk levels to tiers');
        const out: Partial<Record<RiskLevel, string>> = {};
        for (const [k, t] of Object.entries(v)) {
          const r = risk(k, `${a}.${k}`);
          if (typeof t !== 'string') throw bad(`${a}.${k}`, 'must be a tier name');
          out[r] = t;
        }
        return { required: out };
      },
      actions: (v, a) => {
        if (!isObj(v)) throw bad(a, 'must map action type globs to tiers');
        return {
          actions: Object.entries(v).map(([g, t]) => {
            if (typeof t !== 'string') throw bad(`${a}.${g}`, 'must be a tier name');
            return { glob: glob(g, `${a}.${g}`), tier: t };
          }),
        };
      },
    });
    for (const t of [...Object.values(pe.required), ...pe.actions.map((x) => x.tier)]) {
      if (!pe.tiers.includes(t))
        throw bad(`${at}.privilege_escalation`, `tier '${t}' is not one of tiers (${pe.tiers.join(', ')})`);
    }
    apply(c.delegation, ds['delegation'], `${at}.delegation`, {
      ...common,
      max_depth: (v, a) => ({ max_depth: num(v, a, 1, 32, true) }),
      max_fanout: (v, a) => ({ max_fanout: num(v, a, 1, 10_000, true) }),
    });
    apply(c.rate, ds['rate'], `${at}.rate`, {
      ...common,
      threshold: (v, a) => ({ threshold: num(v, a, 0.5, 100) }),
      min_count: (v, a) => ({ min_count: num(v, a, 1, 1e7, true) }),
      min_samples: (v, a) => ({ min_samples: num(v, a, 1, 1e6, true) }),
      baseline: (v, a) => ({ baseline: num(v, a, 2, 1e6, true) }),
    });
    apply(c.off_hours, ds['off_hours'], `${at}.off_hours`, {
      ...common,
      learning: (v, a) => ({ learning_ms: parseDuration(v, a) }),
      min_share: (v, a) => ({ min_share: num(v, a, 0, 1) }),
      min_actions: (v, a) => ({ min_actions: num(v, a, 1, 1e6, true) }),
      min_samples: (v, a) => ({ min_samples: num(v, a, 1, 1e7, true) }),
    });
    apply(c.exfiltration, ds['exfiltration'], `${at}.exfiltration`, {
      enabled: common.enabled,
      risk: common.risk,
      classifications: (v, a) => ({ classifications: strList(v, a, 8) }),
      outbound: (v, a) => ({ outbound: strList(v, a).map((g, i) => glob(g, `${a}[${i}]`)) }),
      window: (v, a) => ({ window_ms: parseDuration(v, a) }),
    });
  }
  const rules = d['rules'];
  if (rules !== undefined && rules !== null) {
    if (!Array.isArray(rules) || rules.length > 100)
      throw bad('detect.rules', 'must be a list of at most 100 rules');
    const names = new Set<string>();
    rules.forEach((r: unknown, i) => {
      const at = `detect.rules[${i}]`;
      if (!isObj(r)) throw bad(at, 'must be a mapping');
      known(r, at, ['name', 'when', 'types', 'cooldown', 'risk']);
      const name = r['name'];
      if (typeof name !== 'string' || !/^[a-z0-9][a-z0-9_-]{0,62}$/.test(name))
        throw bad(`${at}.name`, 'must be lower-case letters, digits, - and _ (at most 63)');
      if (names.has(name)) throw bad(`${at}.name`, `'${name}' is used twice`);
      names.add(name);
      const when = r['when'];
      if (typeof when !== 'string') throw bad(`${at}.when`, 'must be a CEL expression over event and stats');
      const condition = compileCondition(when, RULE_VARIABLES);
      if (!('program' in condition))
        throw bad(
          `${at}.when`,
          `${condition.message}${condition.offset !== undefined ? ` (at character ${condition.offset})` : ''}`,
        );
      const types =
        r['types'] === undefined
          ? []
          : strList(r['types'], `${at}.types`).map((g, j) => glob(g, `${at}.types[${j}]`));
      c.rules.push({
        name,
        when,
        condition,
        types,
        cooldown_ms: r['cooldown'] === undefined ? 10 * MIN : parseDuration(r['cooldown'], `${at}.cooldown`),
        risk: r['risk'] === undefined ? 'high' : risk(r['risk'], `${at}.risk`),
      });
    });
  }
  return c;
}

/**
 * The `detect:` section of the YAML file at `path`, or null when the file has none (`serve`
 * runs the detectors only when its config asks for them).
 */
export async function loadDetectSection(path: string): Promise<DetectConfig | null> {
  const text = await readConfig(path);
  const doc: unknown = (() => {
    try {
      return parseYaml(text, { maxAliasCount: 100 }) as unknown;
    } catch {
      return null;
    }
  })();
  if (!isObj(doc) || doc['detect'] === undefined) return null;
  return parseDetectConfig(text);
}

/** Reads the `detect:` section of the YAML file at `path` (the defaults when it has none). */
export async function loadDetectConfig(path: string): Promise<DetectConfig> {
  return parseDetectConfig(await readConfig(path));
}

async function readConfig(path: string): Promise<string> {
  let buf: Buffer;
  try {
    buf = await readFile(path);
  } catch (e) {
    throw new AuditError('invalid_argument', `cannot read config ${path}: ${(e as Error).message}`, {
      cause: e,
    });
  }
  if (buf.length > MAX_CONFIG_BYTES)
    throw new AuditError('invalid_argument', `config ${path} is larger than ${MAX_CONFIG_BYTES} bytes`);
  return buf.toString('utf8');
}
