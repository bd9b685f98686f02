/**
 * Loading a policy bundle: YAML text -> validated, compiled, frozen `PolicyBundle`.
 *
 * Validation walks the YAML syntax tree rather than the plain value so every problem carries the
 * line and column it sits at; it collects every problem before throwing. The bundle format is
 * specified in docs/policy.md.
 */
import { createHash } from 'node:crypto';
import { LineCounter, isAlias, isMap, isScalar, isSeq, parseDocument } from 'yaml';
import type { Node as YamlNode, Pair } from 'yaml';
import { canonicalBytes } from '../core/canonical-json.js';
import { AuditError } from '../errors.js';
import { MAX_CONDITION_LENGTH, compileCondition } from './condition.js';
import type { CompiledCondition } from './condition.js';
import { buildActionIndex, registerCompiled } from './compiled.js';
import type { CompiledRule } from './compiled.js';
import { compileGlobList, globError } from './glob.js';
import type { StringMatcher } from './glob.js';
import { RULE_KEYS } from './types.js';
import type { Decision, PolicyBundle, PolicyIssue, PolicyMode, PolicyRule, RiskLevel } from './types.js';

/**
 * A bundle that failed to load, with every problem found (not only the first), each located by
 * file, line and column where possible. The message lists them one per line, compiler-style:
 * `policy.yaml:7:13: rules[1].effect: must be one of allow, deny, require_approval (got "permit")`.
 *
 * @example
 * try {
 *   parsePolicy(text, 'policy.yaml');
 * } catch (e) {
 *   if (e instanceof PolicyError) for (const i of e.issues) console.error(formatIssue(i));
 * }
 */
export class PolicyError extends AuditError {
  override readonly name = 'PolicyError';
  declare readonly code: 'policy_invalid' | 'policy_unreadable';
  readonly issues: PolicyIssue[];

  constructor(
    issues: PolicyIssue[],
    options: { code?: 'policy_invalid' | 'policy_unreadable'; cause?: unknown } = {},
  ) {
    const head =
      issues.length === 1 ? 'invalid policy bundle' : `invalid policy bundle (${issues.length} problems)`;
    super(
      options.code ?? 'policy_invalid',
      `${head}:\n${issues.map((i) => `  ${formatIssue(i)}`).join('\n')}`,
      {
        cause: options.cause,
      },
    );
    this.issues = issues;
  }
}

/**
 * One issue as `file:line:col: path: message` (parts that are unknown are left out).
 *
 * @example
 * formatIssue({ file: 'p.yaml', line: 3, column: 1, path: 'version', message: 'required' });
 * // 'p.yaml:3:1: version: required'
 */
export function formatIssue(issue: PolicyIssue): string {
  let where = issue.file ?? '';
  if (issue.line !== undefined) {
    where += `${where === '' ? '' : ':'}${issue.line}`;
    if (issue.column !== undefined) where += `:${issue.column}`;
  }
  const path = issue.path === '' ? '' : `${issue.path}: `;
  return `${where === '' ? '' : `${where}: `}${path}${issue.message}`;
}

/** Largest bundle text accepted, in UTF-16 code units (≈ bytes for policy text). */
export const MAX_POLICY_TEXT = 1024 * 1024;
/** Most rules a bundle may hold. */
export const MAX_RULES = 10_000;

const EFFECTS: readonly Decision[] = ['allow', 'deny', 'require_approval'];
const MODES: readonly PolicyMode[] = ['enforce', 'shadow'];
const RISKS: readonly RiskLevel[] = ['low', 'medium', 'high', 'critical'];
const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$/;
const DURATION_PATTERN = /^([1-9][0-9]{0,5})(s|m|h|d)$/;
const DURATION_UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const MAX_TEXT_FIELD = 2048;

const TOP_KEYS = [
  'policy_id',
  'version',
  'description',
  'default',
  'mode',
  'risk_defaults',
  'default_approvers',
  'default_approval_ttl',
  'rules',
] as const;
const MATCH_KEYS = [
  'action',
  'target',
  'actor',
  'tenant',
  'environment',
  'risk_level',
  'delegation',
] as const;
const ACTOR_KEYS = ['id', 'type', 'trust_tier', 'tags'] as const;
const DELEGATION_KEYS = ['depth_min', 'depth_max', 'root_agent'] as const;

// Tags the core schema resolves by itself; any other (`!!binary`, `!custom`) is refused.
const CORE_TAGS = new Set(
  ['str', 'int', 'float', 'bool', 'null', 'map', 'seq'].map((t) => `tag:yaml.org,2002:${t}`),
);

type Entry = { readonly keyNode: YamlNode; readonly value: YamlNode | null };

/** Collects issues against one source text. */
class Checker {
  readonly issues: PolicyIssue[] = [];
  private readonly lines = new LineCounter();

  constructor(
    readonly text: string,
    readonly file: string | undefined,
  ) {}

  get lineCounter(): LineCounter {
    return this.lines;
  }

  issue(offset: number | undefined, path: string, message: string): void {
    const issue: PolicyIssue = { path, message };
    if (this.file !== undefined) issue.file = this.file;
    if (offset !== undefined) {
      const { line, col } = this.lines.linePos(offset);
      if (line > 0) {
        issue.line = line;
        issue.column = col;
      }
    }
    this.issues.push(issue);
  }

  /** All issues, in file order (issues without a position first). */
  error(): PolicyError {
    const key = (i: PolicyIssue): number => (i.line ?? 0) * 1e6 + (i.column ?? 0);
    return new PolicyError([...this.issues].sort((a, b) => key(a) - key(b)));
  }

  at(node: YamlNode | null | undefined, path: string, message: string): void {
    this.issue(node?.range?.[0], path, message);
  }

  /** Refuses YAML features a policy does not need and a reviewer could misread. */
  rejectExotic(node: unknown, path: string): void {
    if (isAlias(node)) {
      this.at(node, path, `YAML aliases (*${node.source}) are not supported in policy bundles`);
      return;
    }
    if (!isScalar(node) && !isMap(node) && !isSeq(node)) return;
    if (node.anchor !== undefined && node.anchor !== '') {
      // The node's range starts after its anchor; point at the `&name` itself.
      const start = node.range?.[0] ?? 0;
      const at = this.text.lastIndexOf(`&${node.anchor}`, start);
      this.issue(
        at >= 0 ? at : start,
        path,
        `YAML anchors (&${node.anchor}) are not supported in policy bundles`,
      );
    }
    if (node.tag !== undefined && !CORE_TAGS.has(node.tag)) {
      this.issue(
        this.tagStart(node.range?.[0] ?? 0),
        path,
        `YAML tag ${node.tag} is not supported in policy bundles`,
      );
    }
    if (isMap(node)) {
      const keys = new Set<string>();
      for (const pair of node.items) {
        // Keys as the YAML library compares them: scalar values, by type and value.
        const key = pair.key;
        if (isScalar(key)) {
          const id = `${typeof key.value}:${String(key.value)}`;
          if (keys.has(id)) this.issue(key.range?.[0] ?? 0, '', 'Map keys must be unique');
          keys.add(id);
        }
        const k = scalarKey(pair);
        const sub = k === null ? path : join(path, k);
        this.rejectExotic(pair.key, sub);
        this.rejectExotic(pair.value, sub);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => this.rejectExotic(item, `${path}[${i}]`));
    }
  }

  // A node's range starts after its tag: find the `!tag` token written before it.
  private tagStart(start: number): number {
    let i = start - 1;
    while (i >= 0 && /\s/.test(this.text[i] ?? '')) i--;
    let j = i;
    while (j > 0 && !/\s/.test(this.text[j - 1] ?? '')) j--;
    return this.text[j] === '!' ? j : start;
  }

  /** The entries of a mapping, reporting non-string and unknown keys. */
  fields(node: YamlNode | null, path: string, allowed: readonly string[]): Map<string, Entry> | null {
    if (!isMap(node)) {
      this.at(node, path, `must be a mapping (got ${describeNode(node)})`);
      return null;
    }
    const out = new Map<string, Entry>();
    for (const pair of node.items) {
      const key = scalarKey(pair);
      const keyNode = pair.key as YamlNode;
      if (key === null) {
        this.at(keyNode, path, 'keys must be plain strings');
        continue;
      }
      const sub = join(path, key);
      if (!allowed.includes(key)) {
        const near = closest(key, allowed);
        const hint = near === null ? '' : `; did you mean "${near}"?`;
        this.at(keyNode, sub, `unknown key "${key}"${hint} (allowed: ${allowed.join(', ')})`);
        continue;
      }
      out.set(key, { keyNode, value: (pair.value ?? null) as YamlNode | null });
    }
    return out;
  }

  required(fields: Map<string, Entry>, map: YamlNode | null, path: string, key: string): Entry | undefined {
    const e = fields.get(key);
    if (e === undefined) this.at(map, join(path, key), 'required');
    return e;
  }

  string(
    e: Entry,
    path: string,
    opts: { pattern?: RegExp; what?: string; max?: number } = {},
  ): string | null {
    const v = e.value;
    if (!isScalar(v) || typeof v.value !== 'string') {
      this.at(v ?? e.keyNode, path, `must be a string (got ${describeNode(v)})`);
      return null;
    }
    const s = v.value;
    if (s.length === 0) {
      this.at(v, path, 'must not be empty');
      return null;
    }
    const max = opts.max ?? MAX_TEXT_FIELD;
    if (s.length > max) {
      this.at(v, path, `longer than ${max} characters`);
      return null;
    }
    if (opts.pattern !== undefined && !opts.pattern.test(s)) {
      this.at(v, path, `${opts.what ?? 'invalid value'} (got ${JSON.stringify(s)})`);
      return null;
    }
    return s;
  }

  oneOf<T extends string>(e: Entry, path: string, values: readonly T[]): T | null {
    const v = e.value;
    if (isScalar(v) && typeof v.value === 'string' && (values as readonly string[]).includes(v.value)) {
      return v.value as T;
    }
    this.at(v ?? e.keyNode, path, `must be one of ${values.join(', ')} (got ${describeNode(v)})`);
    return null;
  }

  integer(e: Entry, path: string, min: number): number | null {
    const v = e.value;
    if (isScalar(v) && typeof v.value === 'number' && Number.isSafeInteger(v.value) && v.value >= min) {
      return v.value;
    }
    const what = min === 1 ? 'a positive integer' : `an integer >= ${min}`;
    this.at(v ?? e.keyNode, path, `must be ${what} (got ${describeNode(v)})`);
    return null;
  }

  /** A string or a non-empty list of strings, each checked by `check` (returns an error or null). */
  stringList(e: Entry, path: string, check: (s: string) => string | null): string[] | null {
    const v = e.value;
    const items: { node: YamlNode | null; path: string }[] = [];
    if (isSeq(v)) {
      if (v.items.length === 0) {
        this.at(v, path, 'must not be an empty list');
        return null;
      }
      v.items.forEach((item, i) => items.push({ node: item as YamlNode | null, path: `${path}[${i}]` }));
    } else {
      items.push({ node: v, path });
    }
    const out: string[] = [];
    let ok = true;
    for (const item of items) {
      const n = item.node;
      if (!isScalar(n) || typeof n.value !== 'string') {
        this.at(n ?? e.keyNode, item.path, `must be a string or a list of strings (got ${describeNode(n)})`);
        ok = false;
        continue;
      }
      const problem = n.value === '' ? 'must not be empty' : check(n.value);
      if (problem !== null) {
        this.at(n, item.path, problem);
        ok = false;
        continue;
      }
      out.push(n.value);
    }
    return ok ? out : null;
  }

  globs(e: Entry, path: string): string[] | null {
    return this.stringList(e, path, globError);
  }

  duration(e: Entry, path: string): number | null {
    const v = e.value;
    const m = isScalar(v) && typeof v.value === 'string' ? DURATION_PATTERN.exec(v.value) : null;
    if (m === null) {
      this.at(v ?? e.keyNode, path, `must be a duration like 30s, 15m, 2h or 1d (got ${describeNode(v)})`);
      return null;
    }
    return Number(m[1]) * DURATION_UNIT_MS[m[2] as keyof typeof DURATION_UNIT_MS];
  }

  condition(e: Entry, path: string): CompiledCondition | null {
    const expression = this.string(e, path, { max: MAX_CONDITION_LENGTH });
    if (expression === null) return null;
    const compiled = compileCondition(expression);
    if ('program' in compiled) return compiled;
    const node = e.value as YamlNode;
    const offset = expressionOffset(this.text, node, expression, compiled.offset);
    this.issue(offset, path, `invalid CEL expression: ${compiled.message}`);
    return null;
  }
}

function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

function scalarKey(pair: Pair<unknown, unknown>): string | null {
  const k = pair.key;
  return isScalar(k) && typeof k.value === 'string' ? k.value : null;
}

function describeNode(node: unknown): string {
  if (node === null || node === undefined) return 'nothing';
  if (isMap(node)) return 'a mapping';
  if (isSeq(node)) return 'a list';
  if (isScalar(node)) {
    const v = node.value;
    if (v === null) return 'null';
    if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v);
    if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
    return `a ${typeof v}`;
  }
  return 'an unsupported YAML node';
}

// Where in the file a CEL error sits: exact when the scalar is written on one line without
// escapes (plain or quoted), otherwise the start of the value.
function expressionOffset(
  text: string,
  node: YamlNode,
  expression: string,
  offset: number | undefined,
): number {
  const start = node.range?.[0] ?? 0;
  if (offset === undefined || !isScalar(node)) return start;
  const raw = text.slice(start, node.range?.[1] ?? start);
  if (node.type === 'PLAIN' && raw === expression) return start + offset;
  if ((node.type === 'QUOTE_DOUBLE' || node.type === 'QUOTE_SINGLE') && raw.slice(1, -1) === expression) {
    return start + 1 + offset;
  }
  return start;
}

// Suggests a known key for a likely typo (edit distance <= 2).
function closest(key: string, allowed: readonly string[]): string | null {
  let best: string | null = null;
  let bestDistance = 3;
  for (const a of allowed) {
    const d = editDistance(key, a);
    if (d < bestDistance) {
      best = a;
      bestDistance = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2) return 3;
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      cur.push(Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost));
    }
    prev = cur;
  }
  return prev[b.length] ?? 0;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

const noCheck = (): null => null;

interface RuleDraft {
  rule: PolicyRule;
  matchers: Matchers;
  condition: CompiledCondition | null;
}

function checkRule(
  c: Checker,
  node: YamlNode | null,
  path: string,
  seen: Map<string, number>,
): RuleDraft | null {
  const f = c.fields(node, path, RULE_KEYS);
  if (f === null) return null;
  const before = c.issues.length;

  let id: string | null = null;
  const idEntry = c.required(f, node, path, 'id');
  if (idEntry !== undefined) {
    id = c.string(idEntry, join(path, 'id'), {
      pattern: ID_PATTERN,
      what: 'must be 1-128 characters of A-Z a-z 0-9 . _ : / - starting with a letter or digit',
    });
    if (id !== null) {
      const first = seen.get(id);
      if (first !== undefined) {
        c.at(idEntry.value, join(path, 'id'), `duplicate rule id "${id}" (first defined at line ${first})`);
      } else {
        const offset = idEntry.value?.range?.[0] ?? 0;
        seen.set(id, c.lineCounter.linePos(offset).line);
      }
    }
  }

  const effectEntry = c.required(f, node, path, 'effect');
  const effect = effectEntry === undefined ? null : c.oneOf(effectEntry, join(path, 'effect'), EFFECTS);

  const get = <T>(key: string, read: (e: Entry, p: string) => T | null): T | null => {
    const e = f.get(key);
    return e === undefined ? null : read(e, join(path, key));
  };
  const description = get('description', (e, p) => c.string(e, p));
  const reason = get('reason', (e, p) => c.string(e, p));
  const risk = get('risk', (e, p) => c.oneOf(e, p, RISKS));
  const condition = get('when', (e, p) => c.condition(e, p));
  const approvers = get('approvers', (e, p) => c.stringList(e, p, noCheck));
  const ttl = get('approval_ttl', (e, p) => c.duration(e, p));

  if (effect === 'require_approval') {
    if (!f.has('approvers')) {
      c.at(node, join(path, 'approvers'), 'required when effect is require_approval (a non-empty list)');
    }
  } else if (effect !== null) {
    for (const key of ['approvers', 'approval_ttl']) {
      const e = f.get(key);
      if (e !== undefined) c.at(e.keyNode, join(path, key), 'only allowed when effect is require_approval');
    }
  }

  const match = f.get('match');
  const matchers = match === undefined ? emptyMatch() : checkMatch(c, match.value, join(path, 'match'));

  if (c.issues.length !== before || id === null || effect === null || matchers === null) return null;

  const rule: PolicyRule = {
    id,
    effect,
    ...(risk !== null && { risk }),
    ...(reason !== null && { reason }),
    ...(description !== null && { description }),
    ...(condition !== null && { when: condition.expression }),
    ...(approvers !== null && { approvers: Object.freeze(approvers) }),
    ...(ttl !== null && { approvalTtlMs: ttl }),
  };
  Object.freeze(rule);
  return { rule, matchers, condition };
}

type Matchers = Omit<CompiledRule, 'rule' | 'condition' | 'order'>;

// One object literal, every field in one order: all rules share one hidden class, so the match
// loop in evaluate() stays monomorphic (a spread gave each rule its own).
function compiledRule(
  rule: PolicyRule,
  order: number,
  m: Matchers,
  condition: CompiledCondition | null,
): CompiledRule {
  return {
    rule,
    order,
    actionGlobs: m.actionGlobs,
    action: m.action,
    target: m.target,
    actorId: m.actorId,
    actorType: m.actorType,
    trustTier: m.trustTier,
    actorTags: m.actorTags,
    tenant: m.tenant,
    environment: m.environment,
    riskLevel: m.riskLevel,
    depthMin: m.depthMin,
    depthMax: m.depthMax,
    rootAgent: m.rootAgent,
    condition,
  };
}

function emptyMatch(): Matchers {
  return {
    actionGlobs: null,
    action: null,
    target: null,
    actorId: null,
    actorType: null,
    trustTier: null,
    actorTags: null,
    tenant: null,
    environment: null,
    riskLevel: null,
    depthMin: null,
    depthMax: null,
    rootAgent: null,
  };
}

function checkMatch(c: Checker, node: YamlNode | null, path: string): Matchers | null {
  const f = c.fields(node, path, MATCH_KEYS);
  if (f === null) return null;
  const before = c.issues.length;
  const m: { -readonly [K in keyof Matchers]: Matchers[K] } = emptyMatch();
  const globsOf = (entries: Map<string, Entry>, key: string, base: string): string[] | null => {
    const e = entries.get(key);
    return e === undefined ? null : c.globs(e, join(base, key));
  };
  const matcher = (globs: readonly string[] | null): StringMatcher | null =>
    globs === null ? null : compileGlobList(globs);

  m.actionGlobs = globsOf(f, 'action', path);
  m.action = matcher(m.actionGlobs);
  m.target = matcher(globsOf(f, 'target', path));
  m.tenant = matcher(globsOf(f, 'tenant', path));
  m.environment = matcher(globsOf(f, 'environment', path));
  m.riskLevel = matcher(globsOf(f, 'risk_level', path));

  const actor = f.get('actor');
  if (actor !== undefined) {
    const ap = join(path, 'actor');
    const a = c.fields(actor.value, ap, ACTOR_KEYS);
    if (a !== null) {
      m.actorId = matcher(globsOf(a, 'id', ap));
      m.actorType = matcher(globsOf(a, 'type', ap));
      m.trustTier = matcher(globsOf(a, 'trust_tier', ap));
      const tags = a.get('tags');
      if (tags !== undefined) m.actorTags = c.stringList(tags, join(ap, 'tags'), noCheck);
    }
  }

  const delegation = f.get('delegation');
  if (delegation !== undefined) {
    const dp = join(path, 'delegation');
    const d = c.fields(delegation.value, dp, DELEGATION_KEYS);
    if (d !== null) {
      const min = d.get('depth_min');
      const max = d.get('depth_max');
      m.depthMin = min === undefined ? null : c.integer(min, join(dp, 'depth_min'), 0);
      m.depthMax = max === undefined ? null : c.integer(max, join(dp, 'depth_max'), 0);
      if (m.depthMin !== null && m.depthMax !== null && m.depthMin > m.depthMax) {
        c.at(max?.value, join(dp, 'depth_max'), `must be >= depth_min (${m.depthMin})`);
      }
      m.rootAgent = matcher(globsOf(d, 'root_agent', dp));
    }
  }
  return c.issues.length === before ? m : null;
}

/**
 * Parses, validates and compiles a bundle. Throws `PolicyError` listing every problem.
 *
 * The snapshot is `'sha256:' + hex(SHA-256(JCS(source)))`, where `source` is the YAML read as
 * plain JSON values: it ignores key order, comments, quoting and layout, and changes with any
 * change of content.
 *
 * @example
 * const bundle = parsePolicy(
 *   ['policy_id: support-agent', 'version: 1', 'rules:', '  - id: allow-reads',
 *    '    match: { action: "read:*" }', '    effect: allow'].join('\n'),
 *   'policy.yaml',
 * );
 * bundle.rules[0]?.id; // 'allow-reads'
 */
/** More lines starting in column 0 than any bundle needs: a key flood, refused before parsing. */
const MAX_TOP_LEVEL_LINES = 256;

/** Offset of the first line past {@link MAX_TOP_LEVEL_LINES} that starts a top-level key, if any. */
function topLevelFlood(text: string): number | undefined {
  let count = 0;
  for (let i = 0; i < text.length; i = text.indexOf('\n', i) + 1 || text.length) {
    const ch = text.charCodeAt(i);
    // Skip indented lines, comments, blank lines and document markers; count everything else.
    if (ch === 0x20 || ch === 0x09 || ch === 0x23 || ch === 0x0a || ch === 0x0d || ch === 0x2d || ch === 0x2e)
      continue;
    if (++count > MAX_TOP_LEVEL_LINES) return i;
  }
  return undefined;
}

export function parsePolicy(yamlText: string, file?: string): PolicyBundle {
  const c = new Checker(yamlText, file);
  if (yamlText.length > MAX_POLICY_TEXT) {
    c.issue(undefined, '', `bundle larger than ${MAX_POLICY_TEXT} characters`);
    throw c.error();
  }
  // The YAML library parses 1 MiB in about a second; a bundle's root has a handful of keys, so
  // one linear pass refuses a flood of top-level keys (the shape of a key-flood bundle) first.
  const flood = topLevelFlood(yamlText);
  if (flood !== undefined) {
    const line = yamlText.slice(0, flood).split('\n').length;
    c.issue(
      undefined,
      '',
      `line ${line}: more than ${MAX_TOP_LEVEL_LINES} top-level keys (a bundle has ${TOP_KEYS.length} at most)`,
    );
    throw c.error();
  }
  const doc = parseDocument(yamlText, {
    lineCounter: c.lineCounter,
    schema: 'core',
    merge: false,
    // The library's duplicate-key check compares every key with every other (quadratic: 89 s
    // for 90,000 keys); rejectExotic() checks with a Set per mapping instead.
    uniqueKeys: false,
    prettyErrors: false,
    strict: true,
  });
  for (const e of [...doc.errors, ...doc.warnings]) c.issue(e.pos[0], '', e.message);
  if (c.issues.length > 0) throw c.error();

  const root = doc.contents as YamlNode | null;
  c.rejectExotic(root, '');
  if (c.issues.length > 0) throw c.error();
  if (root === null) {
    c.issue(0, '', 'bundle is empty');
    throw c.error();
  }

  const f = c.fields(root, '', TOP_KEYS);
  if (f === null) throw c.error();

  const idEntry = c.required(f, root, '', 'policy_id');
  const policyId =
    idEntry === undefined
      ? null
      : c.string(idEntry, 'policy_id', {
          pattern: ID_PATTERN,
          what: 'must be 1-128 characters of A-Z a-z 0-9 . _ : / - starting with a letter or digit',
        });
  const versionEntry = c.required(f, root, '', 'version');
  const version = versionEntry === undefined ? null : c.integer(versionEntry, 'version', 1);
  const defaultEntry = f.get('default');
  const defaultEffect: Decision | null =
    defaultEntry === undefined ? 'deny' : c.oneOf(defaultEntry, 'default', EFFECTS);
  const modeEntry = f.get('mode');
  const mode: PolicyMode | null = modeEntry === undefined ? 'enforce' : c.oneOf(modeEntry, 'mode', MODES);
  const descriptionEntry = f.get('description');
  const description = descriptionEntry === undefined ? null : c.string(descriptionEntry, 'description');

  const riskDefaults: Partial<Record<Decision, RiskLevel>> = {};
  const riskEntry = f.get('risk_defaults');
  if (riskEntry !== undefined) {
    const r = c.fields(riskEntry.value, 'risk_defaults', EFFECTS);
    for (const [effect, e] of r ?? []) {
      const level = c.oneOf(e, join('risk_defaults', effect), RISKS);
      if (level !== null) riskDefaults[effect as Decision] = level;
    }
  }

  const approversEntry = f.get('default_approvers');
  const defaultApprovers =
    approversEntry === undefined ? null : c.stringList(approversEntry, 'default_approvers', noCheck);
  const ttlEntry = f.get('default_approval_ttl');
  const defaultTtl = ttlEntry === undefined ? null : c.duration(ttlEntry, 'default_approval_ttl');
  if (defaultEffect === 'require_approval' && approversEntry === undefined) {
    c.at(defaultEntry?.value, 'default_approvers', 'required when default is require_approval');
  } else if (defaultEffect !== null && defaultEffect !== 'require_approval') {
    for (const e of [approversEntry, ttlEntry]) {
      if (e !== undefined) {
        const key = e === approversEntry ? 'default_approvers' : 'default_approval_ttl';
        c.at(e.keyNode, key, 'only allowed when default is require_approval');
      }
    }
  }

  const drafts: RuleDraft[] = [];
  const rulesEntry = c.required(f, root, '', 'rules');
  if (rulesEntry !== undefined) {
    const list = rulesEntry.value;
    if (!isSeq(list)) {
      c.at(list ?? rulesEntry.keyNode, 'rules', `must be a list (got ${describeNode(list)})`);
    } else if (list.items.length > MAX_RULES) {
      c.at(list, 'rules', `more than ${MAX_RULES} rules`);
    } else {
      const seen = new Map<string, number>();
      list.items.forEach((item, i) => {
        const d = checkRule(c, item as YamlNode | null, `rules[${i}]`, seen);
        if (d !== null) drafts.push(d);
      });
    }
  }

  if (
    c.issues.length > 0 ||
    policyId === null ||
    version === null ||
    defaultEffect === null ||
    mode === null
  ) {
    throw c.error();
  }

  const source = deepFreeze(doc.toJS({ maxAliasCount: 0 }) as unknown);
  const snapshot = `sha256:${createHash('sha256').update(canonicalBytes(source)).digest('hex')}`;
  const rules = Object.freeze(drafts.map((d) => d.rule));
  const bundle: PolicyBundle = Object.freeze({
    policyId,
    version,
    defaultEffect,
    mode,
    ...(description !== null && { description }),
    riskDefaults: Object.freeze(riskDefaults),
    ...(defaultApprovers !== null && { defaultApprovers: Object.freeze(defaultApprovers) }),
    ...(defaultTtl !== null && { defaultApprovalTtlMs: defaultTtl }),
    rules,
    snapshot,
    source,
  });
  const compiledRules = drafts.map((d, order) => compiledRule(d.rule, order, d.matchers, d.condition));
  registerCompiled(bundle, { rules: compiledRules, index: buildActionIndex(compiledRules) });
  return bundle;
}
