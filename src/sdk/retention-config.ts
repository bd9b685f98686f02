/**
 * Retention and sampling policies (docs/privacy.md § Retention, § Presets, § Sampling): the
 * `retention:` and `sampling:` keys of the YAML config that also holds `schedules:` and `exports:`.
 * Parsed strictly: an unknown field, a bad duration or glob, a rule that keeps less than a preset
 * requires, or a sampling rule that could drop a decision is refused with an error naming the
 * line and the field.
 */
import { readFileSync } from 'node:fs';
import { Cron } from 'croner';
import { LineCounter, parseDocument, type Document } from 'yaml';
import { compileGlob, globError, type StringMatcher } from '../core/glob.js';
import { AuditError } from '../errors.js';
import { DATA_CLASSIFICATIONS, EVENT_TYPES, RISK_LEVELS } from '../event/schema.js';

export const PURGE_MODES = ['disclosures', 'all-but-leaf'] as const;
/**
 * What a purge removes. `disclosures`: every separately stored sensitive field (params, results,
 * reasoning, subject ids, a person's actor id); the body (type, actor kind, action type, decision,
 * status) stays readable. `all-but-leaf`: every disclosure, the body too, and the query index's
 * personal columns. The leaf, tiles and checkpoints always stay, so every proof keeps verifying.
 */
export type PurgeMode = (typeof PURGE_MODES)[number];

export const RETENTION_PRESETS = ['hipaa', 'soc2', 'gdpr', 'eu-ai-act'] as const;
export type RetentionPreset = (typeof RETENTION_PRESETS)[number];

/** A retention period: `6y`, `18m`, `180d`, `2w`; cut-offs are calendar-exact. */
export interface Duration {
  n: number;
  unit: 'd' | 'w' | 'm' | 'y';
  /** As written, e.g. `6y`. */
  text: string;
}

/** Average lengths, for comparing periods only (cut-offs use the calendar). */
const UNIT_DAYS: Record<Duration['unit'], number> = { d: 1, w: 7, m: 30.436875, y: 365.2425 };

/** Days in `d` (average months and years): for comparisons and the `retention_days` recorded. */
export function durationDays(d: Duration): number {
  return d.n * UNIT_DAYS[d.unit];
}

/** The instant `d` before `now` (calendar months and years, UTC). */
export function cutoffOf(d: Duration, now: number): number {
  const t = new Date(now);
  if (d.unit === 'd') t.setUTCDate(t.getUTCDate() - d.n);
  else if (d.unit === 'w') t.setUTCDate(t.getUTCDate() - 7 * d.n);
  else if (d.unit === 'm') t.setUTCMonth(t.getUTCMonth() - d.n);
  else t.setUTCFullYear(t.getUTCFullYear() - d.n);
  return t.getTime();
}

/** What each preset requires: a floor for every event, and the rule it adds when nothing else matches. */
export interface PresetSpec {
  /** The law or framework behind it (printed in errors and docs). */
  basis: string;
  /** No rule may keep any event less than this. */
  minimum: Duration | null;
  /** The rule applied to events no configured rule matches (null: they are kept). */
  fallback: { keep: Duration; purge: PurgeMode } | null;
  /** Events of these classifications must be covered by a rule with a finite period (GDPR Art. 5(1)(e)). */
  requiresPeriodFor: readonly string[];
}

const dur = (text: string): Duration => parseDuration(text)!;

export const PRESETS: Readonly<Record<RetentionPreset, PresetSpec>> = {
  hipaa: {
    basis: 'HIPAA 45 CFR 164.316(b)(2)(i): six years',
    minimum: dur('6y'),
    fallback: { keep: dur('6y'), purge: 'disclosures' },
    requiresPeriodFor: [],
  },
  soc2: {
    basis: 'SOC 2: one year of evidence for the audit period',
    minimum: dur('1y'),
    fallback: { keep: dur('1y'), purge: 'disclosures' },
    requiresPeriodFor: [],
  },
  'eu-ai-act': {
    basis: 'EU AI Act Art. 19(1) and Art. 26(6): at least six months',
    minimum: dur('6m'),
    fallback: { keep: dur('6m'), purge: 'disclosures' },
    requiresPeriodFor: [],
  },
  gdpr: {
    basis: 'GDPR Art. 5(1)(e) storage limitation: personal data has a retention period',
    minimum: null,
    fallback: null,
    requiresPeriodFor: ['pii', 'phi'],
  },
};

/** Event types a sampling rule may never drop: decisions, approvals, denials, failures and the log's own records. */
export const NEVER_SAMPLED: readonly string[] = EVENT_TYPES.filter(
  (t) =>
    t === 'action.intent' ||
    t.startsWith('policy.') ||
    t.startsWith('approval.') ||
    t === 'action.failed' ||
    t === 'action.timed_out' ||
    t === 'action.dead_lettered' ||
    t === 'action.cancelled' ||
    t === 'action.undone' ||
    t.startsWith('anomaly.') ||
    t.startsWith('response.') ||
    t.startsWith('data.') ||
    t.startsWith('retention.') ||
    t.startsWith('hold.') ||
    t.startsWith('sampling.') ||
    t.startsWith('archive.') ||
    t.startsWith('key.') ||
    t.startsWith('report.'),
);

/** Risk levels a sampling rule may name. */
export const SAMPLEABLE_RISKS = ['low', 'medium'] as const;

/** Which events a rule applies to; an absent field matches everything. */
export interface EventMatch {
  tenant?: StringMatcher;
  type?: StringMatcher;
  classification?: ReadonlySet<string>;
  risk?: ReadonlySet<string>;
}

export interface RetentionRule {
  /** The rule's name (default `rules[i]`; `preset:<name>` for a preset's fallback). */
  name: string;
  match: EventMatch;
  /** Whether the rule reads the event's classification or risk (its body must be parsed). */
  needsBody: boolean;
  keep: Duration;
  purge: PurgeMode;
}

export interface RetentionPolicy {
  presets: RetentionPreset[];
  /** Configured rules, then the presets' fallback; the first that matches an event decides. */
  rules: RetentionRule[];
  /** When `auditrail serve` applies it (absent: only `auditrail retention apply`). */
  schedule?: { cron: string; timezone: string };
  /** The longest minimum of the presets (null: none). */
  minimum: Duration | null;
}

export interface SamplingRule {
  name: string;
  match: EventMatch;
  /** Keep 1 in `every` matching events. */
  every: number;
}

export interface SamplingPolicy {
  rules: SamplingRule[];
  /** A `sampling.summary` is recorded at least this often while events are dropped (and on close). */
  flushMs: number;
}

export interface PrivacyConfig {
  retention: RetentionPolicy | null;
  sampling: SamplingPolicy | null;
}

const MAX_CONFIG_BYTES = 1_000_000;
const MAX_RULES = 1000;

/** `6y`, `18m`, `180d`, `2w` → a Duration; null when not one. */
export function parseDuration(text: string): Duration | null {
  const m = /^([1-9][0-9]{0,4})([dwmy])$/.exec(text);
  if (!m) return null;
  return { n: Number(m[1]), unit: m[2] as Duration['unit'], text };
}

type Path = (string | number)[];

class Reader {
  constructor(
    private readonly doc: Document,
    private readonly lines: LineCounter,
    private readonly source: string,
  ) {}

  /** An `invalid_argument` error naming the line of `path` and the field. */
  bad(path: Path, what: string): AuditError {
    const node = this.doc.getIn(path, true) as { range?: [number, number, number] } | undefined;
    let at = this.source;
    const offset = node?.range?.[0] ?? this.parentOffset(path);
    if (offset !== undefined) at += ` line ${this.lines.linePos(offset).line}`;
    return new AuditError('invalid_argument', `${at}: ${fieldName(path)} ${what}`);
  }

  private parentOffset(path: Path): number | undefined {
    for (let i = path.length - 1; i >= 0; i--) {
      const n = this.doc.getIn(path.slice(0, i), true) as { range?: [number, number, number] } | undefined;
      if (n?.range) return n.range[0];
    }
    return undefined;
  }
}

function fieldName(path: Path): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function known(r: Reader, o: Obj, at: Path, keys: readonly string[]): void {
  for (const k of Object.keys(o))
    if (!keys.includes(k))
      throw r.bad([...at, k], `is not a known field (expected one of ${keys.join(', ')})`);
}

function strings(r: Reader, v: unknown, at: Path): string[] {
  const list = Array.isArray(v) ? v : [v];
  if (list.length === 0 || list.length > 100)
    throw r.bad(at, 'must be a string or a list of 1 to 100 strings');
  return list.map((x, i) => {
    if (typeof x !== 'string' || x === '' || x.length > 256)
      throw r.bad(Array.isArray(v) ? [...at, i] : at, 'must be a non-empty string of at most 256 characters');
    return x;
  });
}

function globs(r: Reader, v: unknown, at: Path): { matcher: StringMatcher; patterns: string[] } {
  const patterns = strings(r, v, at);
  for (const p of patterns) {
    const problem = globError(p);
    if (problem !== null) throw r.bad(at, `has an invalid glob '${p}': ${problem}`);
  }
  const matchers = patterns.map((p) => compileGlob(p));
  return { matcher: (s) => matchers.some((m) => m(s)), patterns };
}

function enumSet(r: Reader, v: unknown, at: Path, allowed: readonly string[]): Set<string> {
  const list = strings(r, v, at);
  for (const x of list)
    if (!allowed.includes(x)) throw r.bad(at, `'${x}' is not one of ${allowed.join(', ')}`);
  return new Set(list);
}

function readMatch(
  r: Reader,
  o: Obj,
  at: Path,
  risks: readonly string[] = RISK_LEVELS,
): { match: EventMatch; types: string[] | null } {
  const match: EventMatch = {};
  let types: string[] | null = null;
  if (o['tenant'] !== undefined) match.tenant = globs(r, o['tenant'], [...at, 'tenant']).matcher;
  if (o['type'] !== undefined) {
    const g = globs(r, o['type'], [...at, 'type']);
    match.type = g.matcher;
    types = g.patterns;
  }
  if (o['classification'] !== undefined)
    match.classification = enumSet(r, o['classification'], [...at, 'classification'], DATA_CLASSIFICATIONS);
  if (o['risk'] !== undefined) match.risk = enumSet(r, o['risk'], [...at, 'risk'], risks);
  return { match, types };
}

/**
 * Parses the `retention:` and `sampling:` keys of a YAML config (absent keys: null). `source`
 * names the file in errors.
 *
 * @example
 * const { retention } = parsePrivacyConfig(`retention:
 *   presets: [hipaa]
 *   rules:
 *     - type: "context.*"
 *       classification: [public, internal]
 *       keep: 7y
 *       purge: disclosures`);
 */
export function parsePrivacyConfig(body: string, source = 'config'): PrivacyConfig {
  const lines = new LineCounter();
  const doc = parseDocument(body, { lineCounter: lines, prettyErrors: false });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const line = e.linePos?.[0]?.line ?? lines.linePos(e.pos[0]).line;
    throw new AuditError(
      'invalid_argument',
      `${source}${line !== undefined ? ` line ${line}` : ''}: not valid YAML: ${e.message.split('\n')[0]}`,
    );
  }
  const r = new Reader(doc, lines, source);
  let root: unknown;
  try {
    root = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    throw new AuditError('invalid_argument', `${source}: not valid YAML: ${(e as Error).message}`, {
      cause: e,
    });
  }
  if (root === null || root === undefined) return { retention: null, sampling: null };
  if (!isObj(root)) throw r.bad([], 'the config must be a mapping');
  return {
    retention: root['retention'] === undefined ? null : parseRetention(r, root['retention']),
    sampling: root['sampling'] === undefined ? null : parseSampling(r, root['sampling']),
  };
}

/**
 * Reads {@link parsePrivacyConfig} from a file (at most 1 MB).
 *
 * @example
 * const { retention, sampling } = loadPrivacyConfig('auditrail.yaml');
 */
export function loadPrivacyConfig(path: string): PrivacyConfig {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (e) {
    throw new AuditError('invalid_argument', `cannot read config ${path}: ${(e as Error).message}`, {
      cause: e,
    });
  }
  if (buf.length > MAX_CONFIG_BYTES)
    throw new AuditError('invalid_argument', `config ${path} is larger than ${MAX_CONFIG_BYTES} bytes`);
  return parsePrivacyConfig(buf.toString('utf8'), path);
}

function parseRetention(r: Reader, raw: unknown): RetentionPolicy {
  const at: Path = ['retention'];
  if (!isObj(raw)) throw r.bad(at, 'must be a mapping with presets and/or rules');
  known(r, raw, at, ['preset', 'presets', 'rules', 'schedule']);
  if (raw['preset'] !== undefined && raw['presets'] !== undefined)
    throw r.bad([...at, 'presets'], 'and preset are both given: use one');
  const presetKey = raw['preset'] !== undefined ? 'preset' : 'presets';
  const presets =
    raw[presetKey] === undefined
      ? []
      : ([...enumSet(r, raw[presetKey], [...at, presetKey], RETENTION_PRESETS)] as RetentionPreset[]);
  const specs = presets.map((p) => ({ name: p, ...PRESETS[p] }));
  let minimum: { d: Duration; preset: string; basis: string } | null = null;
  for (const s of specs)
    if (s.minimum && (minimum === null || durationDays(s.minimum) > durationDays(minimum.d)))
      minimum = { d: s.minimum, preset: s.name, basis: s.basis };

  const rules: RetentionRule[] = [];
  const rawRules = raw['rules'] ?? [];
  if (!Array.isArray(rawRules)) throw r.bad([...at, 'rules'], 'must be a list');
  if (rawRules.length > MAX_RULES) throw r.bad([...at, 'rules'], `has more than ${MAX_RULES} rules`);
  if (rawRules.length === 0 && presets.length === 0)
    throw r.bad(at, 'needs presets or rules (e.g. presets: [soc2])');
  const names = new Set<string>();
  for (const [i, x] of rawRules.entries()) {
    const p: Path = [...at, 'rules', i];
    if (!isObj(x)) throw r.bad(p, 'must be a mapping with keep and purge');
    known(r, x, p, ['name', 'tenant', 'type', 'classification', 'risk', 'keep', 'purge']);
    const name = x['name'] === undefined ? `rules[${i}]` : strings(r, x['name'], [...p, 'name'])[0]!;
    if (names.has(name)) throw r.bad([...p, 'name'], `'${name}' is used twice`);
    names.add(name);
    const keep = typeof x['keep'] === 'string' ? parseDuration(x['keep']) : null;
    if (keep === null) throw r.bad([...p, 'keep'], 'must be a period like 6y, 18m, 180d or 2w');
    const purge = x['purge'];
    if (typeof purge !== 'string' || !(PURGE_MODES as readonly string[]).includes(purge))
      throw r.bad([...p, 'purge'], `must be one of ${PURGE_MODES.join(', ')}`);
    const { match } = readMatch(r, x, p);
    if (minimum !== null && durationDays(keep) < durationDays(minimum.d))
      throw r.bad(
        [...p, 'keep'],
        `is ${keep.text}, less than the ${minimum.d.text} preset ${minimum.preset} requires (${minimum.basis})`,
      );
    rules.push({
      name,
      match,
      needsBody: match.classification !== undefined || match.risk !== undefined,
      keep,
      purge: purge as PurgeMode,
    });
  }
  // The fallback of the presets: the longest period among them (hipaa's 6y outlasts soc2's 1y).
  let fallback: { name: string; keep: Duration; purge: PurgeMode } | null = null;
  for (const s of specs)
    if (s.fallback && (fallback === null || durationDays(s.fallback.keep) > durationDays(fallback.keep)))
      fallback = { name: `preset:${s.name}`, ...s.fallback };
  if (fallback) rules.push({ ...fallback, match: {}, needsBody: false });
  // GDPR: personal data is not kept forever: some rule must end every pii/phi event.
  for (const s of specs)
    for (const c of s.requiresPeriodFor) {
      const covered = rules.some(
        (x) =>
          x.match.type === undefined &&
          x.match.tenant === undefined &&
          x.match.risk === undefined &&
          (x.match.classification === undefined || x.match.classification.has(c)),
      );
      if (!covered)
        throw r.bad(
          [...at, 'rules'],
          `must give ${c} events a period for preset ${s.name} (${s.basis}): add a rule with classification: [${c}] and no other condition`,
        );
    }
  const policy: RetentionPolicy = { presets, rules, minimum: minimum?.d ?? null };
  if (raw['schedule'] !== undefined) policy.schedule = parseSchedule(r, raw['schedule'], [...at, 'schedule']);
  return policy;
}

function parseSchedule(r: Reader, raw: unknown, at: Path): { cron: string; timezone: string } {
  const o: Obj = typeof raw === 'string' ? { cron: raw } : isObj(raw) ? raw : {};
  if (!isObj(raw) && typeof raw !== 'string') throw r.bad(at, 'must be a cron string or { cron, timezone }');
  if (isObj(raw)) known(r, raw, at, ['cron', 'timezone']);
  const cronAt = isObj(raw) ? [...at, 'cron'] : at;
  const cron = o['cron'];
  if (typeof cron !== 'string' || cron === '' || cron.length > 128)
    throw r.bad(cronAt, 'must be a cron expression');
  const timezone = o['timezone'] ?? 'UTC';
  if (typeof timezone !== 'string') throw r.bad([...at, 'timezone'], 'must be an IANA time zone');
  try {
    new Intl.DateTimeFormat('en', { timeZone: timezone });
  } catch {
    throw r.bad([...at, 'timezone'], `is not an IANA time zone: '${timezone}'`);
  }
  try {
    new Cron(cron, { paused: true, timezone });
  } catch (e) {
    throw r.bad(cronAt, `is not a cron expression: ${(e as Error).message}`);
  }
  return { cron, timezone };
}

function parseSampling(r: Reader, raw: unknown): SamplingPolicy {
  const at: Path = ['sampling'];
  if (!isObj(raw)) throw r.bad(at, 'must be a mapping with rules');
  known(r, raw, at, ['rules', 'flush_seconds']);
  let flushMs = 60_000;
  if (raw['flush_seconds'] !== undefined) {
    const s = raw['flush_seconds'];
    if (!Number.isInteger(s) || (s as number) < 1 || (s as number) > 86_400)
      throw r.bad([...at, 'flush_seconds'], 'must be an integer from 1 to 86400');
    flushMs = (s as number) * 1000;
  }
  const list = raw['rules'];
  if (!Array.isArray(list) || list.length === 0 || list.length > MAX_RULES)
    throw r.bad([...at, 'rules'], `must be a list of 1 to ${MAX_RULES} rules`);
  const rules: SamplingRule[] = [];
  for (const [i, x] of list.entries()) {
    const p: Path = [...at, 'rules', i];
    if (!isObj(x)) throw r.bad(p, 'must be a mapping with type, risk and keep');
    known(r, x, p, ['name', 'tenant', 'type', 'classification', 'risk', 'keep']);
    if (x['type'] === undefined) throw r.bad(p, 'needs type: the routine event types it samples');
    if (x['risk'] === undefined)
      throw r.bad(p, `needs risk: sampling applies to ${SAMPLEABLE_RISKS.join(' or ')} risk events only`);
    const { match, types } = readMatch(r, x, p, SAMPLEABLE_RISKS);
    for (const t of NEVER_SAMPLED)
      if (match.type?.(t))
        throw r.bad(
          [...p, 'type'],
          `'${(types ?? []).join(', ')}' matches ${t}: decisions, approvals, denials, failures and the log's own records are never sampled`,
        );
    const keep = x['keep'];
    const m = typeof keep === 'string' ? /^1\s*(?:\/|in)\s*([1-9][0-9]{0,6})$/.exec(keep.trim()) : null;
    const every = m ? Number(m[1]) : NaN;
    if (!(every >= 2)) throw r.bad([...p, 'keep'], "must be '1/N' (keep one in N, N from 2 to 9999999)");
    const name = x['name'] === undefined ? `rules[${i}]` : strings(r, x['name'], [...p, 'name'])[0]!;
    rules.push({ name, match, every });
  }
  return { rules, flushMs };
}

/** Whether `m` matches an event of `tenant`, `type`, and (when read) `classification` and `risk`. */
export function matchesEvent(
  m: EventMatch,
  e: { tenant: string; type: string; classification?: string | undefined; risk?: string | undefined },
): boolean {
  if (m.tenant && !m.tenant(e.tenant)) return false;
  if (m.type && !m.type(e.type)) return false;
  if (m.classification && (e.classification === undefined || !m.classification.has(e.classification)))
    return false;
  if (m.risk && (e.risk === undefined || !m.risk.has(e.risk))) return false;
  return true;
}
