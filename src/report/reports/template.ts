/**
 * Report templates (docs/reports.md "Templates"): a YAML file naming a title, default filters and
 * sections — counts and rates, groupings, tables of chosen fields, charts — each section saying
 * which control it serves and what evidence supports it. The shipped report types are templates
 * too (examples/reports/*.yaml, src/report/reports/builtin.ts).
 *
 * Templates are read strictly and in bounded time: at most {@link MAX_TEMPLATE_BYTES}, no
 * anchors, aliases or tags, duplicate keys refused with a Set per mapping (the YAML library's own
 * check is quadratic), every field checked with an error naming it.
 */
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument } from 'yaml';
import type { Node as YamlNode } from 'yaml';
import { AuditError } from '../../index.js';

/** Largest template accepted, in bytes. */
export const MAX_TEMPLATE_BYTES = 64 * 1024;
const MAX_SECTIONS = 64;
const MAX_TEXT = 2048;
const MAX_LIST = 64;
const MAX_PATH = 128;

/** What a section computes; see docs/reports.md for each. */
export const SECTION_KINDS = [
  'summary',
  'group',
  'table',
  'timeline',
  'approvals',
  'decisions',
  'policy_changes',
  'retention',
] as const;
export type SectionKind = (typeof SECTION_KINDS)[number];

/** A field condition: the value at the dotted path equals one of these (any element, for lists). */
export type Where = Record<string, (string | number | boolean)[]>;

export interface TemplateSection {
  title: string;
  kind: SectionKind;
  /** The control this section serves, e.g. `SOC 2 CC7.3`. */
  control?: string;
  /** What evidence supports the control, in words. */
  evidence?: string;
  where?: Where;
  /** `group`: the dotted paths whose values form a group (one or two). */
  group_by?: string[];
  /** `table`: the dotted paths shown as columns. */
  fields?: string[];
  /** `group`: add the first and last time of each group. */
  period?: boolean;
  /** `group`/`summary`: draw a bar chart. */
  chart?: boolean;
  /** `table`/`timeline`/`group`: at most this many rows (the rest are counted). */
  limit?: number;
  /** `retention`: the minimum retention the section checks against, in days. */
  minimum_days?: number;
}

/** The query flags a template may set by default (the command line overrides them). */
export const TEMPLATE_FILTERS = [
  'since',
  'until',
  'session',
  'actor',
  'type',
  'action',
  'target',
  'decision',
  'status',
  'risk',
] as const;

export interface ReportTemplate {
  title: string;
  /** The report type it implements, e.g. `soc2`; `custom` for a user's template. */
  type: string;
  description?: string;
  filters: Partial<Record<(typeof TEMPLATE_FILTERS)[number], string>>;
  /** The report concerns one data subject: `--subject` is required. */
  subject?: boolean;
  sections: TemplateSection[];
}

// Tags the core schema resolves by itself; any other (`!!binary`, `!custom`) is refused.
const CORE_TAGS = new Set(
  ['str', 'int', 'float', 'bool', 'null', 'map', 'seq'].map((t) => `tag:yaml.org,2002:${t}`),
);

const PATH = /^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*){0,7}$/;

class Reader {
  readonly lines = new LineCounter();
  constructor(readonly file: string) {}

  fail(node: YamlNode | null | undefined, field: string, message: string): never {
    const pos = node?.range ? this.lines.linePos(node.range[0]) : undefined;
    const where = pos && pos.line > 0 ? `${this.file}:${pos.line}:${pos.col}` : this.file;
    throw new AuditError('invalid_argument', `${where}: ${field}: ${message}`);
  }

  /** Refuses anchors, aliases, tags and duplicate keys anywhere in the tree. */
  plain(node: YamlNode | null | undefined, field: string): void {
    if (node === null || node === undefined) return;
    if (isAlias(node)) this.fail(node, field, 'YAML aliases are not supported in templates');
    if (node.anchor) this.fail(node, field, 'YAML anchors are not supported in templates');
    if (node.tag && !CORE_TAGS.has(node.tag))
      this.fail(node, field, `YAML tag ${node.tag} is not supported in templates`);
    if (isMap(node)) {
      const seen = new Set<string>();
      for (const pair of node.items) {
        const k = pair.key as YamlNode | null;
        if (!isScalar(k) || typeof k.value !== 'string') this.fail(k, field, 'keys must be plain strings');
        const name = k.value;
        const child = field === '' ? name : `${field}.${name}`;
        if (seen.has(name)) this.fail(k, child, 'duplicate key');
        seen.add(name);
        this.plain(pair.value as YamlNode | null, child);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => this.plain(item as YamlNode | null, `${field}[${i}]`));
    }
  }

  map(node: YamlNode | null | undefined, field: string, keys: readonly string[]): Map<string, YamlNode> {
    if (!isMap(node)) this.fail(node, field, 'must be a mapping');
    const out = new Map<string, YamlNode>();
    for (const pair of node.items) {
      const name = (pair.key as { value: string }).value;
      if (!keys.includes(name))
        this.fail(
          pair.key as YamlNode,
          field === '' ? name : `${field}.${name}`,
          `unknown field (expected one of ${keys.join(', ')})`,
        );
      out.set(name, pair.value as YamlNode);
    }
    return out;
  }

  text(node: YamlNode | undefined, field: string, max = MAX_TEXT): string {
    if (!isScalar(node) || typeof node.value !== 'string' || node.value.trim() === '')
      this.fail(node, field, 'must be a non-empty string');
    if (node.value.length > max) this.fail(node, field, `longer than ${max} characters`);
    return node.value;
  }

  bool(node: YamlNode | undefined, field: string): boolean {
    if (!isScalar(node) || typeof node.value !== 'boolean') this.fail(node, field, 'must be true or false');
    return node.value;
  }

  count(node: YamlNode | undefined, field: string, max: number): number {
    if (!isScalar(node) || !Number.isSafeInteger(node.value) || (node.value as number) < 1)
      this.fail(node, field, 'must be a positive integer');
    if ((node.value as number) > max) this.fail(node, field, `at most ${max}`);
    return node.value as number;
  }

  paths(node: YamlNode | undefined, field: string, max: number): string[] {
    const items = isSeq(node) ? (node.items as YamlNode[]) : [node];
    if (items.length === 0 || items.length > max) this.fail(node, field, `must list 1 to ${max} field paths`);
    return items.map((item, i) => {
      const f = isSeq(node) ? `${field}[${i}]` : field;
      const p = this.text(item, f, MAX_PATH);
      if (!PATH.test(p)) this.fail(item, f, `'${p}' is not a field path such as actor.id or context.purpose`);
      return p;
    });
  }

  where(node: YamlNode | undefined, field: string): Where {
    if (!isMap(node)) this.fail(node, field, 'must be a mapping of field path to value or list of values');
    const out: Where = {};
    for (const pair of node.items) {
      const key = (pair.key as { value: string }).value;
      const f = `${field}.${key}`;
      if (!PATH.test(key)) this.fail(pair.key as YamlNode, f, 'is not a field path such as actor.id');
      const v = pair.value as YamlNode | null;
      const items = isSeq(v) ? (v.items as YamlNode[]) : [v];
      if (items.length === 0 || items.length > MAX_LIST)
        this.fail(v, f, `must be a value or a list of 1 to ${MAX_LIST} values`);
      out[key] = items.map((item) => {
        if (!isScalar(item) || !['string', 'number', 'boolean'].includes(typeof item.value))
          this.fail(item, f, 'values must be strings, numbers or booleans');
        if (typeof item.value === 'string' && item.value.length > MAX_TEXT)
          this.fail(item, f, `longer than ${MAX_TEXT} characters`);
        return item.value as string | number | boolean;
      });
    }
    return out;
  }
}

const SECTION_KEYS = [
  'title',
  'kind',
  'control',
  'evidence',
  'where',
  'group_by',
  'fields',
  'period',
  'chart',
  'limit',
  'minimum_days',
] as const;

/**
 * Parses and checks a report template. Throws AuditError('invalid_argument') naming the file,
 * line, column and field of the first problem.
 *
 * @example
 * const t = parseTemplate(readFileSync('refunds.yaml', 'utf8'), 'refunds.yaml');
 * t.sections[0]?.kind; // 'summary'
 */
export function parseTemplate(text: string, file = 'template'): ReportTemplate {
  if (Buffer.byteLength(text, 'utf8') > MAX_TEMPLATE_BYTES)
    throw new AuditError('invalid_argument', `${file}: larger than ${MAX_TEMPLATE_BYTES} bytes`);
  const r: Reader = new Reader(file);
  const doc = parseDocument(text, {
    lineCounter: r.lines,
    schema: 'core',
    merge: false,
    uniqueKeys: false,
    prettyErrors: false,
  });
  const err = doc.errors[0];
  if (err) {
    const pos = r.lines.linePos(err.pos[0]);
    throw new AuditError(
      'invalid_argument',
      `${file}:${pos.line}:${pos.col}: not valid YAML: ${err.message.split('\n')[0]}`,
    );
  }
  const root = doc.contents as YamlNode | null;
  r.plain(root, '');
  const top = r.map(root, '', ['title', 'type', 'description', 'filters', 'subject', 'sections']);
  const title = r.text(top.get('title'), 'title', 200);
  const typeNode = top.get('type');
  const type = typeNode === undefined ? 'custom' : r.text(typeNode, 'type', 64);
  if (!/^[a-z0-9][a-z0-9-]*$/.test(type)) r.fail(typeNode, 'type', 'must be lowercase letters, digits and -');
  const template: ReportTemplate = { title, type, filters: {}, sections: [] };
  if (top.has('description')) template.description = r.text(top.get('description'), 'description');
  if (top.has('subject')) template.subject = r.bool(top.get('subject'), 'subject');
  if (top.has('filters')) {
    const f = r.map(top.get('filters'), 'filters', TEMPLATE_FILTERS);
    for (const [k, v] of f)
      template.filters[k as (typeof TEMPLATE_FILTERS)[number]] = r.text(v, `filters.${k}`, 200);
  }
  const sections = top.get('sections');
  if (!isSeq(sections) || sections.items.length === 0)
    r.fail(sections, 'sections', 'must list at least one section');
  if (sections.items.length > MAX_SECTIONS) r.fail(sections, 'sections', `at most ${MAX_SECTIONS} sections`);
  sections.items.forEach((node, i) => {
    const at = `sections[${i}]`;
    const m = r.map(node as YamlNode, at, SECTION_KEYS);
    const kindNode = m.get('kind');
    const kind = r.text(kindNode, `${at}.kind`, 32);
    if (!(SECTION_KINDS as readonly string[]).includes(kind))
      r.fail(kindNode, `${at}.kind`, `must be one of ${SECTION_KINDS.join(', ')} (got '${kind}')`);
    const s: TemplateSection = {
      title: r.text(m.get('title'), `${at}.title`, 200),
      kind: kind as SectionKind,
    };
    if (m.has('control')) s.control = r.text(m.get('control'), `${at}.control`, 200);
    if (m.has('evidence')) s.evidence = r.text(m.get('evidence'), `${at}.evidence`);
    if (m.has('where')) s.where = r.where(m.get('where'), `${at}.where`);
    if (m.has('group_by')) s.group_by = r.paths(m.get('group_by'), `${at}.group_by`, 2);
    if (m.has('fields')) s.fields = r.paths(m.get('fields'), `${at}.fields`, 16);
    if (m.has('period')) s.period = r.bool(m.get('period'), `${at}.period`);
    if (m.has('chart')) s.chart = r.bool(m.get('chart'), `${at}.chart`);
    if (m.has('limit')) s.limit = r.count(m.get('limit'), `${at}.limit`, 1_000_000);
    if (m.has('minimum_days')) s.minimum_days = r.count(m.get('minimum_days'), `${at}.minimum_days`, 36_500);
    if (kind === 'group' && !s.group_by)
      r.fail(node as YamlNode, `${at}.group_by`, 'a group section needs group_by');
    if (kind === 'table' && !s.fields)
      r.fail(node as YamlNode, `${at}.fields`, 'a table section needs fields');
    template.sections.push(s);
  });
  return template;
}
