/**
 * What a report shows, computed from verified entries only (a pure function: the same source and
 * entries give the same model, byte for byte). `buildReport` computes it when the report is made
 * and `verifyReport` computes it again from the evidence embedded in the file; any difference
 * between the two is an edit.
 */
import { createHash } from 'node:crypto';
import type { EvidenceEntry } from '../../index.js';
import type { ReportTemplate, TemplateSection, Where } from './template.js';

/**
 * The format name a new report carries: v2 embeds its evidence as `auditrail-evidence/v2`
 * (docs/verification.md §11.5), v1 as `auditrail-evidence/v1`. Both are checked.
 */
export const REPORT_FORMAT = 'auditrail-report/v2';
/** Every report format this version reads. */
export const REPORT_FORMATS = ['auditrail-report/v1', REPORT_FORMAT] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

/** Everything a report is built from, embedded in it so that it can be checked again. */
export interface ReportSource {
  format: ReportFormat;
  id: string;
  generated_at: string;
  generator: string;
  /** The template text (YAML) and where it came from (`type:soc2` or the file name). */
  template: { name: string; text: string };
  /** The exact query the events were selected with (the filters of `auditrail log`). */
  query: Record<string, string>;
  /** The data subject of a subject report, else null. */
  subject: string | null;
  /**
   * The evidence package's files (`auditrail-evidence/v2` in a v2 report, v1 in a v1 report),
   * each gzip-compressed and base64-encoded.
   */
  evidence: Record<string, string>;
  /** Stored policy diffs by digest (`sha256:…`), each checked against its policy.updated event. */
  policy_diffs: Record<string, string>;
}

/** A chronological row: one event with its status badge and flags. */
export interface EventRow {
  seq: number;
  ts: string;
  type: string;
  actor: string;
  action: string;
  target: string;
  status: string;
  /** Badge colour class: ok, bad, deny, held, info. */
  tone: Tone;
  flags: string[];
  detail: string;
}

export type Tone = 'ok' | 'bad' | 'deny' | 'held' | 'info';

export interface Stat {
  label: string;
  value: string;
}

export interface Section {
  title: string;
  kind: string;
  control: string | null;
  evidence: string | null;
  stats: Stat[];
  columns: string[];
  rows: string[][];
  /** The seqs each row rests on (the first few), so a number can be traced to its events. */
  row_seqs: number[][];
  /** Rows left out by the section's limit. */
  more: number;
  chart: { label: string; value: number }[];
  note: string | null;
  /** `timeline` sections: the rows as events (the table is drawn from them). */
  events: EventRow[];
}

export interface Totals {
  events: number;
  actions: number;
  succeeded: number;
  failed: number;
  denied: number;
  held: number;
  approvals_granted: number;
  approvals_denied: number;
  approvals_expired: number;
}

export interface ReportModel {
  format: ReportFormat;
  id: string;
  type: string;
  title: string;
  description: string | null;
  generated_at: string;
  generator: string;
  log: string;
  tree_size: number;
  checkpoint: string;
  verifier_key: string;
  query: Record<string, string>;
  subject: string | null;
  period: { first_ts: string | null; last_ts: string | null };
  totals: Totals;
  rates: { success: number; failure: number; denied: number; held: number };
  sections: Section[];
}

/** An event as the model reads it: the verified body with the leaf's seq, ts, type and id. */
export type Ev = Record<string, unknown> & { seq: number; ts: string; type: string; event_id: string };

const MAX_CELL = 300;
/** A policy diff is shown in full up to this many characters. */
const MAX_DIFF = 8000;
const SEQS_PER_ROW = 20;

// The keys of each dotted path, split once: a report reads a few dozen paths per event. The paths
// are the model's own and those of the template (at most 64 KiB), so the map stays small.
const PATHS = new Map<string, readonly string[]>();

function keysOf(path: string): readonly string[] {
  let keys = PATHS.get(path);
  if (keys === undefined) {
    if (PATHS.size >= 4096) PATHS.clear();
    keys = path.split('.');
    PATHS.set(path, keys);
  }
  return keys;
}

/** The value at a dotted path of an event (own members of plain objects only), else undefined. */
export function get(e: unknown, path: string): unknown {
  let v: unknown = e;
  for (const k of keysOf(path)) {
    if (typeof v !== 'object' || v === null || Array.isArray(v) || !Object.hasOwn(v, k)) return undefined;
    v = (v as Record<string, unknown>)[k];
  }
  return v;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** A value as one table cell: text as is, anything else as compact JSON, cut at 300 characters. */
export function cell(v: unknown): string {
  if (v === undefined || v === null) return '';
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return s.length > MAX_CELL ? `${s.slice(0, MAX_CELL - 1)}…` : s;
}

/**
 * A section's `where` as a test of one event: every path's value (or one item of an array value)
 * is among the values listed (SameValueZero, as `includes`). Built once per section, since it
 * runs on every event.
 */
function matcher(where: Where): (e: Ev) => boolean {
  const tests = Object.entries(where).map(([path, wanted]) => ({ path, wanted: new Set<unknown>(wanted) }));
  return (e) => {
    for (const { path, wanted } of tests) {
      const v = get(e, path);
      if (Array.isArray(v) ? !v.some((x) => wanted.has(x)) : !wanted.has(v)) return false;
    }
    return true;
  };
}

const ms = (ts: string): number => Date.parse(ts);
const pct = (n: number, of: number): number => (of === 0 ? 0 : Math.round((n / of) * 10_000) / 100);

/** Wait time as people read it: 850 ms, 42 s, 3 min 5 s, 2 h 10 min. */
export function duration(msTotal: number): string {
  if (!Number.isFinite(msTotal) || msTotal < 0) return '';
  if (msTotal < 1000) return `${Math.round(msTotal)} ms`;
  const s = Math.round(msTotal / 1000);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86_400)} d ${Math.floor((s % 86_400) / 3600)} h`;
}

const OUTCOME_TONE: Record<string, Tone> = {
  success: 'ok',
  failure: 'bad',
  timeout: 'bad',
  denied: 'deny',
  blocked: 'deny',
  cancelled: 'info',
};

function statusOf(e: Ev): { status: string; tone: Tone } {
  const decision = str(get(e, 'policy.decision'));
  if (e.type === 'policy.decision' && decision) {
    const tone: Tone = decision === 'allow' ? 'ok' : decision === 'deny' ? 'deny' : 'held';
    return {
      status: decision === 'require_approval' ? 'held' : decision === 'deny' ? 'denied' : 'allowed',
      tone,
    };
  }
  if (e.type === 'approval.requested') return { status: 'held', tone: 'held' };
  if (e.type === 'approval.granted') return { status: 'granted', tone: 'ok' };
  if (e.type === 'approval.denied') return { status: 'denied', tone: 'deny' };
  if (e.type === 'approval.expired') return { status: 'expired', tone: 'deny' };
  if (e.type === 'action.retried') return { status: 'retried', tone: 'held' };
  if (e.type === 'action.dispatched') return { status: 'running', tone: 'info' };
  const outcome = str(get(e, 'outcome.status'));
  if (outcome) return { status: outcome, tone: OUTCOME_TONE[outcome] ?? 'info' };
  return { status: '', tone: 'info' };
}

function detailOf(e: Ev): string {
  const parts: string[] = [];
  const rule = str(get(e, 'policy.matched_rule'));
  if (rule && e.type !== 'policy.updated') parts.push(`rule ${rule}`);
  const approver = str(get(e, 'approval.approver'));
  if (approver) parts.push(`by ${approver}`);
  const error = str(get(e, 'outcome.error_message'));
  if (error) parts.push(error);
  const undo = str(get(e, 'undo.of_event_id'));
  if (undo) parts.push(`undoes ${undo}`);
  if (e.type === 'policy.updated') {
    const v = get(e, 'policy.policy_version');
    parts.push(`${cell(get(e, 'policy.policy_id'))} v${cell(v)}`);
  }
  return cell(parts.join(' · '));
}

/** Facts about the whole selection that rows and sections need. */
interface Context {
  events: Ev[];
  byId: Map<string, Ev>;
  undone: Set<string>;
}

function flagsOf(e: Ev, ctx: Context): string[] {
  const flags: string[] = [];
  if (get(e, 'approval.required') === true || get(e, 'policy.decision') === 'require_approval')
    flags.push('approval required');
  if (ctx.undone.has(e.event_id)) flags.push('undone');
  else if (
    e.type === 'action.succeeded' &&
    (get(e, 'metadata.undo_available') === true ||
      (Array.isArray(get(e, 'action.side_effects')) &&
        (get(e, 'action.side_effects') as unknown[]).length > 0))
  )
    flags.push('undo available');
  const attempt = get(e, 'dispatch.attempt');
  if (e.type === 'action.retried' || (typeof attempt === 'number' && attempt > 1)) flags.push('retried');
  const cls = get(e, 'context.data_classification');
  const subjects = get(e, 'context.data_subject_ids');
  if (cls === 'phi') flags.push('PHI');
  else if (cls === 'pii' || (Array.isArray(subjects) && subjects.length > 0)) flags.push('PII');
  return flags;
}

function row(e: Ev, ctx: Context): EventRow {
  const { status, tone } = statusOf(e);
  const actor =
    get(e, 'actor.type') === 'user' ? `user:${cell(get(e, 'actor.id'))}` : cell(get(e, 'actor.id'));
  return {
    seq: e.seq,
    ts: e.ts,
    type: e.type,
    actor,
    action: cell(get(e, 'action.type')),
    target: cell(get(e, 'action.target')),
    status,
    tone,
    flags: flagsOf(e, ctx),
    detail: detailOf(e),
  };
}

const FAILED = new Set(['action.failed', 'action.timed_out', 'action.dead_lettered']);
const DECIDED = new Set(['approval.granted', 'approval.denied', 'approval.expired']);

function totals(events: Ev[]): { totals: Totals; rates: ReportModel['rates'] } {
  // One action = one intent; its final state is read from the events naming it as parent.
  const intents = new Map<string, { state: string; held: boolean }>();
  const t: Totals = {
    events: events.length,
    actions: 0,
    succeeded: 0,
    failed: 0,
    denied: 0,
    held: 0,
    approvals_granted: 0,
    approvals_denied: 0,
    approvals_expired: 0,
  };
  for (const e of events) {
    if (e.type === 'action.intent') intents.set(e.event_id, { state: 'pending', held: false });
    else if (e.type === 'approval.granted') t.approvals_granted++;
    else if (e.type === 'approval.denied') t.approvals_denied++;
    else if (e.type === 'approval.expired') t.approvals_expired++;
    const parent = str(e.parent_event_id);
    const a = parent === undefined ? undefined : intents.get(parent);
    if (!a) continue;
    if (e.type === 'policy.decision') {
      const d = get(e, 'policy.decision');
      if (d === 'deny' && get(e, 'policy.mode') !== 'shadow') a.state = 'denied';
      if (d === 'require_approval') a.held = true;
    } else if (e.type === 'action.succeeded') a.state = 'success';
    else if (FAILED.has(e.type)) a.state = 'failure';
    else if (e.type === 'approval.denied' || e.type === 'approval.expired') a.state = 'denied';
  }
  for (const a of intents.values()) {
    t.actions++;
    if (a.state === 'success') t.succeeded++;
    else if (a.state === 'failure') t.failed++;
    else if (a.state === 'denied') t.denied++;
    if (a.held) t.held++;
  }
  return {
    totals: t,
    rates: {
      success: pct(t.succeeded, t.actions),
      failure: pct(t.failed, t.actions),
      denied: pct(t.denied, t.actions),
      held: pct(t.held, t.actions),
    },
  };
}

function emptySection(s: TemplateSection): Section {
  return {
    title: s.title,
    kind: s.kind,
    control: s.control ?? null,
    evidence: s.evidence ?? null,
    stats: [],
    columns: [],
    rows: [],
    row_seqs: [],
    more: 0,
    chart: [],
    note: null,
    events: [],
  };
}

function limitRows(out: Section, rows: string[][], seqs: number[][], limit: number): void {
  out.rows = rows.slice(0, limit);
  out.row_seqs = seqs.slice(0, limit).map((s) => s.slice(0, SEQS_PER_ROW));
  out.more = Math.max(0, rows.length - limit);
}

function groupSection(s: TemplateSection, events: Ev[], out: Section): void {
  const by = s.group_by ?? [];
  const groups = new Map<string, { key: string[]; seqs: number[]; first: string; last: string }>();
  for (const e of events) {
    const key = by.map((p) => {
      const v = get(e, p);
      return Array.isArray(v) ? v.map((x) => cell(x)).join(', ') : cell(v) || '—';
    });
    const k = JSON.stringify(key);
    const g = groups.get(k);
    if (g) {
      g.seqs.push(e.seq);
      g.last = e.ts;
    } else groups.set(k, { key, seqs: [e.seq], first: e.ts, last: e.ts });
  }
  const sorted = [...groups.values()].sort(
    (a, b) => b.seqs.length - a.seqs.length || (a.key.join('\u0000') < b.key.join('\u0000') ? -1 : 1),
  );
  out.columns = [...by, 'events', 'share', ...(s.period ? ['first', 'last'] : [])];
  const rows = sorted.map((g) => [
    ...g.key,
    String(g.seqs.length),
    `${pct(g.seqs.length, events.length)}%`,
    ...(s.period ? [g.first, g.last] : []),
  ]);
  limitRows(
    out,
    rows,
    sorted.map((g) => g.seqs),
    s.limit ?? 100,
  );
  if (s.chart)
    out.chart = sorted.slice(0, 12).map((g) => ({ label: g.key.join(' · '), value: g.seqs.length }));
  out.stats = [
    { label: 'events', value: String(events.length) },
    { label: 'groups', value: String(groups.size) },
  ];
}

function approvalsSection(s: TemplateSection, events: Ev[], out: Section): void {
  const requests = new Map<string, { e: Ev; decided?: Ev }>();
  for (const e of events) {
    const rid = str(get(e, 'approval.request_id'));
    if (!rid) continue;
    if (e.type === 'approval.requested' || (e.type === 'policy.decision' && !requests.has(rid)))
      requests.set(rid, { e });
    else if (DECIDED.has(e.type)) {
      const r = requests.get(rid) ?? { e };
      r.decided = e;
      requests.set(rid, r);
    }
  }
  out.columns = [
    'request',
    'requested',
    'actor',
    'action',
    'target',
    'decision',
    'approver',
    'decided',
    'wait',
    'reason',
  ];
  const rows: string[][] = [];
  const seqs: number[][] = [];
  const waits: number[] = [];
  for (const [rid, r] of requests) {
    const d = r.decided;
    const wait = d ? ms(d.ts) - ms(r.e.ts) : NaN;
    if (d && Number.isFinite(wait)) waits.push(wait);
    rows.push([
      rid,
      r.e.ts,
      cell(get(r.e, 'actor.id')),
      cell(get(r.e, 'action.type')),
      cell(get(r.e, 'action.target')),
      d ? d.type.slice('approval.'.length) : 'pending',
      cell(get(d, 'approval.approver')),
      d ? d.ts : '',
      d ? duration(wait) : '',
      cell(get(d, 'approval.reason')),
    ]);
    seqs.push(d ? [r.e.seq, d.seq] : [r.e.seq]);
  }
  limitRows(out, rows, seqs, s.limit ?? 1000);
  waits.sort((a, b) => a - b);
  const decided = rows.filter((r) => r[5] !== 'pending').length;
  out.stats = [
    { label: 'requests', value: String(rows.length) },
    { label: 'decided', value: String(decided) },
    { label: 'granted', value: String(rows.filter((r) => r[5] === 'granted').length) },
    { label: 'median wait', value: waits.length ? duration(waits[Math.floor(waits.length / 2)]!) : '—' },
    { label: 'longest wait', value: waits.length ? duration(waits[waits.length - 1]!) : '—' },
  ];
}

/** The values a decision's conditions saw: the action's parameters and the context stated with it. */
function valuesOf(intent: Ev | undefined): Record<string, unknown> | undefined {
  if (!intent) return undefined;
  const out: Record<string, unknown> = {};
  for (const path of ['action.params', 'context.purpose', 'context.data_classification', 'risk_level']) {
    const v = get(intent, path);
    if (v !== undefined) out[path] = v;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

function decisionsSection(s: TemplateSection, events: Ev[], ctx: Context, out: Section): void {
  out.columns = [
    'seq',
    'time',
    'actor',
    'action',
    'target',
    'decision',
    'rule',
    'conditions',
    'values',
    'reason',
  ];
  const rows: string[][] = [];
  const seqs: number[][] = [];
  for (const e of events) {
    if (e.type !== 'policy.decision') continue;
    const conditions = get(e, 'policy.conditions_evaluated');
    const conds = Array.isArray(conditions)
      ? conditions.map((c) => `${cell(get(c, 'expression'))} → ${cell(get(c, 'result'))}`).join('; ')
      : '';
    const parent = str(e.parent_event_id);
    const intent = parent === undefined ? undefined : ctx.byId.get(parent);
    rows.push([
      String(e.seq),
      e.ts,
      cell(get(e, 'actor.id')),
      cell(get(e, 'action.type')),
      cell(get(e, 'action.target')),
      cell(get(e, 'policy.decision')),
      cell(get(e, 'policy.matched_rule')) || '(default)',
      cell(conds),
      cell(valuesOf(intent)),
      cell(get(e, 'policy.reason')),
    ]);
    seqs.push(intent ? [intent.seq, e.seq] : [e.seq]);
  }
  limitRows(out, rows, seqs, s.limit ?? 5000);
  out.stats = [{ label: 'decisions', value: String(rows.length) }];
}

function tableSection(s: TemplateSection, events: Ev[], out: Section): void {
  const fields = s.fields ?? [];
  out.columns = fields;
  const rows = events.map((e) => fields.map((f) => (f === 'seq' ? String(e.seq) : cell(get(e, f)))));
  limitRows(
    out,
    rows,
    events.map((e) => [e.seq]),
    s.limit ?? 1000,
  );
  out.stats = [{ label: 'events', value: String(events.length) }];
}

function policySection(
  s: TemplateSection,
  events: Ev[],
  refs: Ev[],
  diffs: Record<string, string>,
  out: Section,
): void {
  out.columns = [
    'seq',
    'time',
    'policy',
    'version',
    'snapshot',
    'added',
    'removed',
    'changed',
    'reason',
    'diff',
  ];
  const all = [
    ...refs.map((e) => ({ e, inForce: true })),
    ...events.map((e) => ({ e, inForce: false })),
  ].filter((x) => x.e.type === 'policy.updated');
  const rows: string[][] = [];
  const seqs: number[][] = [];
  let unchecked = 0;
  for (const { e, inForce } of all) {
    const digest = str(get(e, 'action.params.diff_digest'));
    let diff = '';
    if (digest) {
      const payload = diffs[digest];
      const ok =
        payload !== undefined &&
        `sha256:${createHash('sha256').update(payload, 'utf8').digest('hex')}` === digest;
      if (ok) {
        try {
          const text = (JSON.parse(payload) as { text?: unknown }).text;
          diff =
            typeof text === 'string'
              ? text.length > MAX_DIFF
                ? `${text.slice(0, MAX_DIFF - 1)}…`
                : text
              : '';
        } catch {
          diff = '';
        }
      } else unchecked++;
    }
    rows.push([
      String(e.seq),
      e.ts,
      cell(get(e, 'policy.policy_id')),
      cell(get(e, 'policy.policy_version')),
      cell(get(e, 'policy.policy_snapshot')),
      cell(get(e, 'action.params.added')),
      cell(get(e, 'action.params.removed')),
      cell(get(e, 'action.params.changed')),
      `${inForce ? '(in force when the period began) ' : ''}${cell(get(e, 'policy.reason'))}`,
      diff,
    ]);
    seqs.push([e.seq]);
  }
  limitRows(out, rows, seqs, s.limit ?? 1000);
  out.stats = [{ label: 'policy versions', value: String(rows.length) }];
  if (unchecked > 0)
    out.note = `${unchecked} diff(s) not shown: the stored payload is missing or does not match the digest its event holds`;
}

function retentionSection(s: TemplateSection, events: Ev[], generatedAt: string, out: Section): void {
  const minimum = s.minimum_days ?? 183;
  const first = events[0];
  const purges = events.filter((e) => e.type === 'retention.purged');
  const days = first ? Math.floor((ms(generatedAt) - ms(first.ts)) / 86_400_000) : 0;
  const retained = purges
    .map((e) => get(e, 'metadata.retention_days'))
    .filter((d): d is number => typeof d === 'number');
  const inForce = retained.length > 0 ? Math.min(...retained) : null;
  out.stats = [
    { label: 'oldest event in the report', value: first ? first.ts : '—' },
    { label: 'age of the oldest event', value: `${days} days` },
    { label: 'minimum retention', value: `${minimum} days` },
    {
      label: 'retention in force',
      value: inForce === null ? 'no purge recorded: everything kept since the log began' : `${inForce} days`,
    },
    {
      label: 'meets the minimum',
      value: inForce === null || inForce >= minimum ? 'yes' : `no: purges keep ${inForce} days`,
    },
  ];
  out.columns = ['seq', 'time', 'actor', 'retention days', 'reason'];
  const rows = purges.map((e) => [
    String(e.seq),
    e.ts,
    cell(get(e, 'actor.id')),
    cell(get(e, 'metadata.retention_days')),
    cell(get(e, 'policy.reason') ?? get(e, 'metadata.reason')),
  ]);
  limitRows(
    out,
    rows,
    purges.map((e) => [e.seq]),
    s.limit ?? 1000,
  );
}

/**
 * A log sampled at record time (docs/privacy.md § Sampling) holds 1 in N of some routine events:
 * the summary says so, with each rule's dropped count from its `sampling.summary` events.
 */
function sampledNote(events: readonly Ev[], out: Section): void {
  const byRule = new Map<string, { every: unknown; dropped: number; from: string; until: string }>();
  for (const e of events) {
    if (e.type !== 'sampling.summary') continue;
    const rule = str(get(e, 'metadata.sampling.rule')) ?? '?';
    const dropped = get(e, 'metadata.sampling.dropped');
    const r = byRule.get(rule) ?? {
      every: get(e, 'metadata.sampling.every'),
      dropped: 0,
      from: '',
      until: '',
    };
    r.dropped += typeof dropped === 'number' ? dropped : 0;
    const from = str(get(e, 'metadata.sampling.from')) ?? '';
    const until = str(get(e, 'metadata.sampling.until')) ?? '';
    if (r.from === '' || (from !== '' && from < r.from)) r.from = from;
    if (until > r.until) r.until = until;
    byRule.set(rule, r);
  }
  if (byRule.size === 0) return;
  let total = 0;
  for (const r of byRule.values()) total += r.dropped;
  out.stats.push({ label: 'dropped by sampling', value: String(total) });
  out.note = `This log is sampled: ${[...byRule]
    .map(
      ([rule, r]) =>
        `rule ${rule} kept 1 in ${String(r.every)} and dropped ${r.dropped} event(s) from ${r.from} to ${r.until}`,
    )
    .join('; ')}. Each run of dropped events is counted, with a digest, in a sampling.summary event.`;
}

/** The events of an evidence check, in seq order, as the model reads them. */
export function eventsOf(entries: readonly EvidenceEntry[], role: 'event' | 'reference'): Ev[] {
  const out: Ev[] = [];
  for (const x of entries) {
    if (x.role !== role || x.event === null) continue;
    out.push({ ...x.event, seq: x.seq, ts: x.ts, type: x.type, event_id: x.event_id });
  }
  return out;
}

export interface ModelInput {
  source: ReportSource;
  template: ReportTemplate;
  entries: readonly EvidenceEntry[];
  log: string;
  tree_size: number;
  checkpoint: string;
  verifier_key: string;
}

/**
 * Computes a report's model from a template and the entries an evidence check vouched for.
 *
 * @example
 * const model = reportModel({ source, template, entries: check.entries, log, tree_size, checkpoint, verifier_key });
 */
export function reportModel(input: ModelInput): ReportModel {
  const { source, template } = input;
  const events = eventsOf(input.entries, 'event');
  const refs = eventsOf(input.entries, 'reference');
  const byId = new Map<string, Ev>();
  const undone = new Set<string>();
  for (const e of events) {
    byId.set(e.event_id, e);
    const of = str(get(e, 'undo.of_event_id'));
    if (e.type === 'action.undone' && of) undone.add(of);
  }
  const ctx: Context = { events, byId, undone };
  const { totals: t, rates } = totals(events);
  const sections = template.sections.map((s) => {
    const out = emptySection(s);
    const selected = s.where ? events.filter(matcher(s.where)) : events;
    switch (s.kind) {
      case 'summary':
        out.stats = [
          { label: 'events', value: String(t.events) },
          { label: 'actions', value: String(t.actions) },
          { label: 'succeeded', value: `${t.succeeded} (${rates.success}%)` },
          { label: 'failed', value: `${t.failed} (${rates.failure}%)` },
          { label: 'denied', value: `${t.denied} (${rates.denied}%)` },
          { label: 'held for approval', value: `${t.held} (${rates.held}%)` },
          { label: 'approvals granted', value: String(t.approvals_granted) },
          { label: 'approvals denied or expired', value: String(t.approvals_denied + t.approvals_expired) },
        ];
        sampledNote(events, out);
        if (s.chart)
          out.chart = [
            { label: 'succeeded', value: t.succeeded },
            { label: 'failed', value: t.failed },
            { label: 'denied', value: t.denied },
            { label: 'held', value: t.held },
          ];
        break;
      case 'group':
        groupSection(s, selected, out);
        break;
      case 'table':
        tableSection(s, selected, out);
        break;
      case 'approvals':
        approvalsSection(s, selected, out);
        break;
      case 'decisions':
        decisionsSection(s, selected, ctx, out);
        break;
      case 'policy_changes':
        policySection(s, selected, refs, source.policy_diffs, out);
        break;
      case 'retention':
        retentionSection(s, selected, source.generated_at, out);
        break;
      case 'timeline': {
        const limit = s.limit ?? Number.POSITIVE_INFINITY;
        out.events = selected.slice(0, limit).map((e) => row(e, ctx));
        out.more = Math.max(0, selected.length - out.events.length);
        out.columns = ['seq', 'time', 'type', 'actor', 'action', 'target', 'status', 'flags', 'detail'];
        out.stats = [{ label: 'events', value: String(selected.length) }];
        break;
      }
    }
    return out;
  });
  return {
    format: source.format,
    id: source.id,
    type: template.type,
    title: template.title,
    description: template.description ?? null,
    generated_at: source.generated_at,
    generator: source.generator,
    log: input.log,
    tree_size: input.tree_size,
    checkpoint: input.checkpoint,
    verifier_key: input.verifier_key,
    query: source.query,
    subject: source.subject,
    period: { first_ts: events[0]?.ts ?? null, last_ts: events[events.length - 1]?.ts ?? null },
    totals: t,
    rates,
    sections,
  };
}
