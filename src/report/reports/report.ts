/**
 * Compliance reports (`auditrail report`, docs/reports.md): a template applied to the events of a
 * query, with the evidence that proves them embedded, so that `verifyReport` can re-check a report
 * offline. The pipeline is one-way: an evidence package of the query (src/report/evidence.ts) →
 * its offline check (`verifyEvidenceFiles`) → the model (model.ts) computed from the entries the
 * check vouched for → a rendering (HTML, JSON, CSV, PDF). Checking a report runs the same steps
 * from the embedded source and compares.
 */
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { gunzipSync, gzip } from 'node:zlib';
import {
  AuditError,
  EVIDENCE_FORMAT_V2,
  verifyEvidenceFiles,
  type AuditTrail,
  type EvidenceLine,
  type EvidenceReport,
} from '../../index.js';
import { buildEvidence, lineJson, type EvidenceQuery } from '../evidence.js';
import { BUILTIN_TEMPLATES, REPORT_TYPES, type ReportType } from './builtin.js';
import {
  get,
  REPORT_FORMAT,
  REPORT_FORMATS,
  reportModel,
  type ReportModel,
  type ReportSource,
} from './model.js';
import { markEncoded, renderHtml, renderHtmlParts, SOURCE_ELEMENT_ID } from './render-html.js';
import { parseTemplate, type ReportTemplate } from './template.js';

export interface ReportOptions {
  /** A shipped type, or a template's text with its file name. */
  template: { type: ReportType } | { name: string; text: string };
  /** The filters of `auditrail log` (time window and index filters). */
  query?: EvidenceQuery;
  /** Only events concerning this data subject (`context.data_subject_ids`) and their actions. */
  subject?: string;
  now?: () => Date;
  generator?: string;
  /**
   * Encode the evidence into the source (default true). A PDF cannot be checked and leaves it
   * out, so building one skips the compression of every event's evidence.
   */
  embedEvidence?: boolean;
  createdBy?: string;
}

export interface BuiltReport {
  source: ReportSource;
  model: ReportModel;
}

/** The template of a source: a shipped type by name, or the embedded text. */
function templateOf(source: ReportSource): ReportTemplate {
  return parseTemplate(source.template.text, source.template.name);
}

function templateText(t: ReportOptions['template']): { name: string; text: string } {
  if ('type' in t) {
    if (!(REPORT_TYPES as readonly string[]).includes(t.type))
      throw new AuditError(
        'invalid_argument',
        `unknown report type '${String(t.type)}' (one of ${REPORT_TYPES.join(', ')})`,
      );
    return { name: `type:${t.type}`, text: BUILTIN_TEMPLATES[t.type] };
  }
  return t;
}

const gzipAsync = promisify(gzip);

/** A decompressed evidence file may be at most this large (a gzip bomb stops here). */
const MAX_EVIDENCE_FILE = 1024 * 1024 * 1024;

/**
 * The evidence files of a source: each value is the file's bytes gzip-compressed (RFC 1952) and
 * base64-encoded, which is a third of the size of the text and needs no escaping in HTML.
 * Undefined when a value does not decode.
 */
export function evidenceFiles(evidence: Record<string, string>): Map<string, Uint8Array> | undefined {
  const out = new Map<string, Uint8Array>();
  try {
    for (const [name, value] of Object.entries(evidence))
      out.set(name, gunzipSync(Buffer.from(value, 'base64'), { maxOutputLength: MAX_EVIDENCE_FILE }));
  } catch {
    return undefined;
  }
  return out;
}

/** Computes the model of a source from the check of its evidence; null when the check failed. */
function modelFrom(
  source: ReportSource,
  check: EvidenceReport,
  files: ReadonlyMap<string, Uint8Array>,
): ReportModel | null {
  if (!check.ok || !check.summary) return null;
  const size = check.summary.tree_size;
  const text = (name: string): string => Buffer.from(files.get(name) ?? []).toString('utf8');
  return reportModel({
    source,
    template: templateOf(source),
    entries: check.entries,
    log: check.summary.log,
    tree_size: size,
    checkpoint: text(`checkpoints/${size}.checkpoint`),
    verifier_key: text('keys/log.vkey').trim(),
  });
}

/**
 * Checks the embedded evidence and computes the model. Throws AuditError('invalid_argument') when
 * the evidence does not decode; a package that decodes but does not verify is returned as the
 * check's failures with a null model.
 */
export function modelOf(
  source: ReportSource,
  options: { trustedKey?: string } = {},
): { check: EvidenceReport; model: ReportModel | null } {
  const files = evidenceFiles(source.evidence);
  if (!files) throw new AuditError('invalid_argument', 'the embedded evidence is not gzip and base64');
  const check = verifyEvidenceFiles(files, options);
  return { check, model: modelFrom(source, check, files) };
}

/**
 * Keeps the payload of the events concerning `subject` (and of the events of their actions) and
 * turns every other selected line into a leaf-only `withheld` line: a subject report discloses
 * nobody else's data, and still proves every entry of its window. Returns the lines as narrowed.
 */
function narrowToSubject(
  files: Map<string, Buffer>,
  lines: readonly EvidenceLine[],
  subject: string,
): EvidenceLine[] {
  const check = verifyEvidenceFiles(files, { lines });
  const keep = new Set<number>();
  const ids = new Set<string>();
  for (const x of check.entries) {
    if (x.role !== 'event' || x.event === null) continue;
    const subjects = get(x.event, 'context.data_subject_ids');
    const parent = get(x.event, 'parent_event_id');
    if (
      (Array.isArray(subjects) && subjects.includes(subject)) ||
      (typeof parent === 'string' && ids.has(parent))
    ) {
      keep.add(x.seq);
      ids.add(x.event_id);
    }
  }
  // Policies in force stay readable: their lines become `reference` lines, as the package builder does.
  const policies = JSON.parse(files.get('policies.json')!.toString('utf8')) as { seq: number }[];
  const inForce = new Set(policies.map((p) => p.seq));
  const out = lines.map((l): EvidenceLine => {
    if (l.role !== 'event' || keep.has(l.seq)) return l;
    if (inForce.has(l.seq)) return { ...l, role: 'reference' };
    return { ...l, role: 'withheld', disclosures: [], erased: [] };
  });
  files.set('events.jsonl', Buffer.from(out.map((l) => `${lineJson(l, EVIDENCE_FORMAT_V2)}\n`).join('')));
  const manifest = JSON.parse(files.get('manifest.json')!.toString('utf8')) as {
    files: Record<string, string>;
  };
  manifest.files['events.jsonl'] = createHash('sha256').update(files.get('events.jsonl')!).digest('hex');
  files.set('manifest.json', Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`));
  return out;
}

/** The evidence of a new report: frozen, and known to the page renderer as base64 it made. */
function encoded(files: [string, string][]): Record<string, string> {
  const evidence = Object.freeze(Object.fromEntries(files));
  markEncoded(evidence);
  return evidence;
}

/**
 * Builds a report over the events of a query. Proves against the latest signed checkpoint (the
 * trail is only read when it is read-only). Throws AuditError('invalid_argument') for a bad
 * template or a subject report without a subject, and AuditError('not_found') for a log with no
 * signed checkpoint.
 *
 * @example
 * const { model, source } = await buildReport(trail, { template: { type: 'soc2' }, query: { since } });
 * writeFileSync('q4.html', renderHtml(model, source));
 */
export async function buildReport(trail: AuditTrail, options: ReportOptions): Promise<BuiltReport> {
  const template = templateText(options.template);
  const parsed = parseTemplate(template.text, template.name);
  if (parsed.subject && options.subject === undefined)
    throw new AuditError(
      'invalid_argument',
      `the ${parsed.type} report concerns one data subject: pass --subject ID`,
    );
  const query = options.query ?? {};
  const now = (options.now?.() ?? new Date()).toISOString();
  const generator = options.generator ?? 'auditrail';
  const built = await buildEvidence(trail, {
    query,
    now: () => new Date(now),
    generator,
    keepLines: true,
    format: EVIDENCE_FORMAT_V2,
    ...(options.createdBy !== undefined ? { createdBy: options.createdBy } : {}),
  });
  let lines = built.lines!;
  if (options.subject !== undefined) lines = narrowToSubject(built.files, lines, options.subject);
  // Compressed on the thread pool while this thread checks the lines and computes the model.
  const compressed: Promise<[string, string][]> =
    options.embedEvidence === false
      ? Promise.resolve([])
      : Promise.all(
          [...built.files]
            .sort(([a], [b]) => (a < b ? -1 : 1))
            .map(async ([name, bytes]): Promise<[string, string]> => [
              name,
              // Large output chunks: fewer pieces to concatenate at the end.
              (
                await gzipAsync(bytes, { level: 1, chunkSize: bytes.length > 1 << 20 ? 1 << 22 : 1 << 14 })
              ).toString('base64'),
            ]),
        );
  // Awaited below; should a later step throw first, its failure is the one reported.
  compressed.catch(() => undefined);
  // The package was just built from the store's bytes: its lines are checked as built (the same
  // checks as verify-evidence), not encoded to JSON and parsed back.
  const check = verifyEvidenceFiles(built.files, { lines });
  // The stored diff of each policy change shown (CC8.1), checked against its event's digest.
  const diffs: Record<string, string> = {};
  for (const x of check.entries) {
    const digest = x.type === 'policy.updated' ? get(x.event, 'action.params.diff_digest') : undefined;
    if (typeof digest !== 'string') continue;
    const payload = await trail.policyDiff(digest);
    if (payload !== undefined) diffs[digest] = payload;
  }
  const source: ReportSource = {
    format: REPORT_FORMAT,
    id: '',
    generated_at: now,
    generator,
    template,
    query: Object.fromEntries(
      Object.entries(query)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => [k, String(v)]),
    ),
    subject: options.subject ?? null,
    evidence: encoded(await compressed),
    policy_diffs: diffs,
  };
  // The id covers everything the report is computed from: the manifest holds the SHA-256 of every
  // evidence file, so hashing it stands for hashing the files.
  const { evidence: _files, ...rest } = source;
  source.id = `rpt-${createHash('sha256')
    .update(JSON.stringify({ ...rest, manifest: built.files.get('manifest.json')?.toString('utf8') ?? '' }))
    .digest('hex')
    .slice(0, 16)}`;
  const model = modelFrom(source, check, built.files);
  if (!model) {
    const f = check.failures[0];
    throw new AuditError(
      'proof_invalid',
      `the log's evidence does not verify: ${f ? `${f.kind}: ${f.message}` : 'no summary'}`,
    );
  }
  return { source, model };
}

export type ReportFailureKind = 'unreadable' | 'not_a_report' | 'evidence' | 'row_edited' | 'content_edited';

export interface ReportFailure {
  kind: ReportFailureKind;
  /** The event concerned, when one is. */
  seq: number | null;
  message: string;
}

export interface ReportCheck {
  ok: boolean;
  failures: ReportFailure[];
  model: ReportModel | null;
}

const ROW = /<tr data-seq="(\d+)">[\s\S]*?<\/tr>/g;

/** Whether `text` is the pieces one after the other, compared in place (no joined copy). */
function sameText(pieces: readonly string[], text: string): boolean {
  let at = 0;
  for (const p of pieces) {
    if (!text.startsWith(p, at)) return false;
    at += p.length;
  }
  return at === text.length;
}

function rowsBySeq(page: string): Map<number, string> {
  const out = new Map<number, string>();
  for (const m of page.matchAll(ROW)) out.set(Number(m[1]), m[0]);
  return out;
}

function sourceFromHtml(text: string): unknown {
  const open = `<script type="application/json" id="${SOURCE_ELEMENT_ID}">`;
  const i = text.lastIndexOf(open);
  const j = i < 0 ? -1 : text.indexOf('</script>', i);
  if (i < 0 || j < 0) return undefined;
  return JSON.parse(text.slice(i + open.length, j));
}

function isSource(v: unknown): v is ReportSource {
  const s = v as Partial<ReportSource> | null;
  return (
    typeof s === 'object' &&
    s !== null &&
    (REPORT_FORMATS as readonly unknown[]).includes(s.format) &&
    typeof s.id === 'string' &&
    typeof s.generated_at === 'string' &&
    typeof s.generator === 'string' &&
    typeof s.template?.name === 'string' &&
    typeof s.template.text === 'string' &&
    typeof s.query === 'object' &&
    s.query !== null &&
    (s.subject === null || typeof s.subject === 'string') &&
    typeof s.evidence === 'object' &&
    s.evidence !== null &&
    Object.values(s.evidence).every((x) => typeof x === 'string') &&
    typeof s.policy_diffs === 'object' &&
    s.policy_diffs !== null &&
    Object.values(s.policy_diffs).every((x) => typeof x === 'string')
  );
}

/** The JSON form of a report: the model, its event rows, and the source it was computed from. */
export function reportJson(model: ReportModel, source: ReportSource): string {
  return `${JSON.stringify({ ...model, source }, null, 2)}\n`;
}

/**
 * Checks a report (its HTML or JSON text) offline: the embedded evidence verifies (with
 * `trustedKey`, the log's key as the auditor knows it), and the report shows exactly what that
 * evidence computes to. An edited event row fails naming its seq.
 *
 * @example
 * const r = verifyReport(readFileSync('q4.html', 'utf8'), { trustedKey });
 * for (const f of r.failures) console.error(f.kind, f.seq ?? '', f.message);
 */
export function verifyReport(text: string, options: { trustedKey?: string } = {}): ReportCheck {
  const failures: ReportFailure[] = [];
  const isJson = text.trimStart().startsWith('{');
  let raw: unknown;
  try {
    raw = isJson ? (JSON.parse(text) as { source?: unknown }).source : sourceFromHtml(text);
  } catch (e) {
    return {
      ok: false,
      failures: [
        {
          kind: 'unreadable',
          seq: null,
          message: `the embedded source is not JSON: ${(e as Error).message}`,
        },
      ],
      model: null,
    };
  }
  if (!isSource(raw))
    return {
      ok: false,
      failures: [
        {
          kind: 'not_a_report',
          seq: null,
          message: `no ${REPORT_FORMATS.join(' or ')} source is embedded (HTML or JSON reports only)`,
        },
      ],
      model: null,
    };
  let computed: ReturnType<typeof modelOf>;
  try {
    computed = modelOf(raw, options);
  } catch (e) {
    return {
      ok: false,
      failures: [{ kind: 'not_a_report', seq: null, message: (e as Error).message }],
      model: null,
    };
  }
  const { check, model } = computed;
  for (const f of check.failures)
    failures.push({ kind: 'evidence', seq: f.seq, message: `${f.kind}: ${f.message}` });
  if (!model) return { ok: false, failures, model: null };
  if (isJson) {
    const shown = JSON.parse(text) as Record<string, unknown>;
    const expected = JSON.parse(reportJson(model, raw)) as Record<string, unknown>;
    const sections = (v: unknown): { events?: { seq: number }[] }[] =>
      Array.isArray(v) ? (v as never[]) : [];
    const shownSections = sections(shown.sections);
    sections(expected.sections).forEach((s, i) => {
      const mine = shownSections[i];
      const shownRows = new Map((mine?.events ?? []).map((r) => [r.seq, JSON.stringify(r)]));
      for (const r of s.events ?? [])
        if (shownRows.get(r.seq) !== JSON.stringify(r))
          failures.push({
            kind: 'row_edited',
            seq: r.seq,
            message: `the row of seq ${r.seq} differs from the verified event`,
          });
    });
    for (const key of new Set([...Object.keys(expected), ...Object.keys(shown)])) {
      if (key === 'source') continue;
      if (key === 'sections' && failures.length > 0) continue;
      if (JSON.stringify(shown[key]) !== JSON.stringify(expected[key]))
        failures.push({
          kind: 'content_edited',
          seq: null,
          message: `"${key}" differs from what the verified events compute to`,
        });
    }
  } else if (!sameText(renderHtmlParts(model, raw), text)) {
    const expected = renderHtml(model, raw);
    const mine = rowsBySeq(text);
    const theirs = rowsBySeq(expected);
    for (const [seq, r] of theirs)
      if (mine.get(seq) !== r)
        failures.push({
          kind: 'row_edited',
          seq,
          message: `the row of seq ${seq} differs from the verified event`,
        });
    for (const seq of mine.keys())
      if (!theirs.has(seq))
        failures.push({
          kind: 'row_edited',
          seq,
          message: `a row of seq ${seq} is shown that the evidence does not hold`,
        });
    if (failures.length === 0)
      failures.push({
        kind: 'content_edited',
        seq: null,
        message: 'the page differs from what the verified events compute to (outside the event rows)',
      });
  }
  return { ok: failures.length === 0, failures, model };
}
