/**
 * Scheduled reports (`schedules:` in the server's config, docs/reports.md § Scheduled reports):
 * at each cron time a report of the period since the previous run is built with the report
 * builder, written to a folder (temp file + rename) or POSTed to a webhook (HMAC-signed like the
 * webhook sink), and recorded in the tenant's log as `report.generated`. The log is the schedule's
 * memory: the last `report.generated` of a schedule gives the end of its previous period, so a
 * run missed while the server was down runs once on start, and nothing else is stored.
 */
import { createHash, createHmac } from 'node:crypto';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { Cron } from 'croner';
import { parse as parseYaml } from 'yaml';
import { AuditError, type AuditTrail } from '../index.js';
import { BUILTIN_TEMPLATES, REPORT_TYPES, type ReportType } from './reports/builtin.js';
import { renderCsv } from './reports/render-csv.js';
import { renderHtml } from './reports/render-html.js';
import { renderPdf } from './reports/render-pdf.js';
import { buildReport, reportJson } from './reports/report.js';
import { MAX_TEMPLATE_BYTES, parseTemplate, TEMPLATE_FILTERS } from './reports/template.js';
import { expandEnv } from '../internal/env.js';

export const SCHEDULE_FORMATS = ['html', 'json', 'csv', 'pdf'] as const;
export type ScheduleFormat = (typeof SCHEDULE_FORMATS)[number];
/** The event type each run records. */
export const REPORT_GENERATED = 'report.generated';
/** Headers of a POSTed report: the same scheme as the webhook sink (docs/siem.md). */
export const SIGNATURE_HEADER = 'x-auditrail-signature';
export const TIMESTAMP_HEADER = 'x-auditrail-timestamp';

/** The filters a schedule may set (the time window is the schedule's period). */
const FILTERS = TEMPLATE_FILTERS.filter((f) => f !== 'since' && f !== 'until');
type Filter = (typeof FILTERS)[number];
const FILTER_FIELDS: Record<Filter, string> = {
  session: 'session_id',
  actor: 'actor_id',
  type: 'type',
  action: 'action_type',
  target: 'target',
  decision: 'decision',
  status: 'status',
  risk: 'risk',
};

export interface ReportSchedule {
  name: string;
  cron: string;
  /** IANA time zone the cron fields are read in (default UTC). */
  timezone: string;
  /** The tenant whose log is reported on and records each run (default `default`). */
  tenant: string;
  report: {
    template: { type: ReportType } | { name: string; text: string };
    format: ScheduleFormat;
    /** Filters of `auditrail log` by their query field (`actor_id`, `type`, …). */
    filters: Record<string, string>;
    /** The template's own `since`, used for the first run only. */
    since?: string;
    subject?: string;
  };
  to: { dir: string } | { webhook: { url: string; secret?: string; timeout_ms: number } };
  /** Values taken from the environment (`${NAME}`) or marked secret: never printed. */
  secrets: string[];
}

const MAX_CONFIG_BYTES = 1_000_000;
type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function bad(field: string, what: string): AuditError {
  return new AuditError('invalid_argument', `schedule config: ${field} ${what}`);
}

function known(o: Obj, at: string, keys: readonly string[]): void {
  for (const k of Object.keys(o)) if (!keys.includes(k)) throw bad(`${at}.${k}`, 'is not a known field');
}

function text(v: unknown, field: string, max = 256): string {
  if (typeof v !== 'string' || v === '' || v.length > max)
    throw bad(field, `must be a non-empty string of at most ${max} characters`);
  return v;
}

/** Replaces `${NAME}` by the environment's value; the value is noted as a secret. */
function expand(v: string, field: string, env: NodeJS.ProcessEnv, secrets: string[]): string {
  return expandEnv(v, env, secrets, (name) =>
    bad(field, `names environment variable ${name}, which is not set`),
  );
}

/**
 * Reads `schedules:` from the YAML config file that also holds `exports:` (absent: none). A
 * relative `to.dir` or `report.template` is taken from the file's directory.
 */
export async function loadSchedules(
  path: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<ReportSchedule[]> {
  let body: string;
  try {
    const buf = await readFile(path);
    if (buf.length > MAX_CONFIG_BYTES) {
      throw new AuditError('invalid_argument', `config ${path} is larger than ${MAX_CONFIG_BYTES} bytes`);
    }
    body = buf.toString('utf8');
  } catch (e) {
    if (e instanceof AuditError) throw e;
    throw new AuditError('invalid_argument', `cannot read config ${path}: ${(e as Error).message}`, {
      cause: e,
    });
  }
  const base = dirname(resolve(path));
  return parseSchedules(body, {
    env,
    baseDir: base,
    readTemplate: async (file) => {
      const buf = await readFile(resolve(base, file)).catch((e: unknown) => {
        throw new AuditError('invalid_argument', `cannot read template ${file}: ${(e as Error).message}`, {
          cause: e,
        });
      });
      if (buf.length > MAX_TEMPLATE_BYTES) {
        throw new AuditError(
          'invalid_argument',
          `template ${file} is larger than ${MAX_TEMPLATE_BYTES} bytes`,
        );
      }
      return buf.toString('utf8');
    },
  });
}

/**
 * Parses and checks the `schedules:` list of a YAML config; throws an `invalid_argument`
 * AuditError naming the field at fault (`schedules[0].cron: …`).
 *
 * @example
 * const [daily] = await parseSchedules(`schedules:
 *   - name: daily-soc2
 *     cron: "0 6 * * *"
 *     timezone: Europe/Berlin
 *     report: { type: soc2, format: html }
 *     to: { dir: ./reports }`, { baseDir: '/etc/auditrail' });
 */
export async function parseSchedules(
  body: string,
  options: {
    baseDir: string;
    env?: NodeJS.ProcessEnv;
    readTemplate?: (file: string) => Promise<string>;
  },
): Promise<ReportSchedule[]> {
  const env = options.env ?? process.env;
  let doc: unknown;
  try {
    doc = parseYaml(body, { maxAliasCount: 100 });
  } catch (e) {
    throw new AuditError('invalid_argument', `config is not valid YAML: ${(e as Error).message}`, {
      cause: e,
    });
  }
  if (!isObj(doc) || doc['schedules'] === undefined) return [];
  const list = doc['schedules'];
  if (!Array.isArray(list)) throw bad('schedules', 'must be a list');
  const names = new Set<string>();
  const out: ReportSchedule[] = [];
  for (const [i, raw] of list.entries()) {
    const at = `schedules[${i}]`;
    if (!isObj(raw)) throw bad(at, 'must be a mapping');
    known(raw, at, ['name', 'cron', 'timezone', 'tenant', 'report', 'to']);
    const secrets: string[] = [];
    const name = raw['name'];
    if (typeof name !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name))
      throw bad(`${at}.name`, 'must be 1-64 letters, digits, dot, dash or underscore');
    if (names.has(name)) throw bad(`${at}.name`, `'${name}' is used twice`);
    names.add(name);
    const cron = text(raw['cron'], `${at}.cron`, 128);
    const timezone = raw['timezone'] === undefined ? 'UTC' : text(raw['timezone'], `${at}.timezone`, 64);
    try {
      new Intl.DateTimeFormat('en', { timeZone: timezone });
    } catch {
      throw bad(`${at}.timezone`, `is not an IANA time zone: '${timezone}'`);
    }
    try {
      new Cron(cron, { paused: true, timezone });
    } catch (e) {
      throw bad(`${at}.cron`, `is not a cron expression: ${(e as Error).message}`);
    }
    const tenant = raw['tenant'] === undefined ? 'default' : text(raw['tenant'], `${at}.tenant`, 128);
    out.push({
      name,
      cron,
      timezone,
      tenant,
      report: await parseReport(raw['report'], `${at}.report`, options.readTemplate),
      to: parseTo(raw['to'], `${at}.to`, options.baseDir, env, secrets),
      secrets,
    });
  }
  return out;
}

async function parseReport(
  raw: unknown,
  at: string,
  readTemplate: ((file: string) => Promise<string>) | undefined,
): Promise<ReportSchedule['report']> {
  if (!isObj(raw)) throw bad(at, 'must be a mapping with a type or a template');
  known(raw, at, ['type', 'template', 'format', 'filters', 'subject']);
  let template: ReportSchedule['report']['template'];
  if ((raw['type'] === undefined) === (raw['template'] === undefined))
    throw bad(at, 'needs one of type or template');
  if (raw['type'] !== undefined) {
    const type = raw['type'];
    if (typeof type !== 'string' || !(REPORT_TYPES as readonly string[]).includes(type))
      throw bad(`${at}.type`, `must be one of ${REPORT_TYPES.join(', ')}`);
    template = { type: type as ReportType };
  } else {
    const file = text(raw['template'], `${at}.template`, 1024);
    if (!readTemplate) throw bad(`${at}.template`, 'cannot be read here');
    template = { name: file, text: await readTemplate(file) };
  }
  let parsed;
  try {
    parsed = parseTemplate(
      'type' in template ? BUILTIN_TEMPLATES[template.type] : template.text,
      'type' in template ? `type:${template.type}` : template.name,
    );
  } catch (e) {
    throw bad(`${at}.template`, `is not a valid template: ${(e as Error).message}`);
  }
  const format = raw['format'] ?? 'html';
  if (typeof format !== 'string' || !(SCHEDULE_FORMATS as readonly string[]).includes(format))
    throw bad(`${at}.format`, `must be one of ${SCHEDULE_FORMATS.join(', ')}`);
  // The template's filters are defaults; the schedule's own win.
  const given: Record<string, string> = {};
  for (const [k, v] of Object.entries(parsed.filters)) if (v !== undefined) given[k] = v;
  const f = raw['filters'];
  if (f !== undefined) {
    if (!isObj(f)) throw bad(`${at}.filters`, 'must be a mapping');
    known(f, `${at}.filters`, FILTERS);
    for (const [k, v] of Object.entries(f)) given[k] = text(v, `${at}.filters.${k}`);
  }
  const filters: Record<string, string> = {};
  for (const k of FILTERS) if (given[k] !== undefined) filters[FILTER_FIELDS[k]] = given[k];
  const subject = raw['subject'] === undefined ? undefined : text(raw['subject'], `${at}.subject`, 128);
  if (parsed.subject && subject === undefined)
    throw bad(`${at}.subject`, `is required: the ${parsed.type} report concerns one data subject`);
  const since = given['since'];
  if (since !== undefined && Number.isNaN(Date.parse(since)))
    throw bad(`${at}.template`, `has a since that is not a date: '${since}'`);
  return {
    template,
    format: format as ScheduleFormat,
    filters,
    ...(since !== undefined ? { since: new Date(since).toISOString() } : {}),
    ...(subject !== undefined ? { subject } : {}),
  };
}

function parseTo(
  raw: unknown,
  at: string,
  baseDir: string,
  env: NodeJS.ProcessEnv,
  secrets: string[],
): ReportSchedule['to'] {
  if (!isObj(raw)) throw bad(at, 'must be a mapping with dir or webhook');
  known(raw, at, ['dir', 'webhook']);
  if ((raw['dir'] === undefined) === (raw['webhook'] === undefined))
    throw bad(at, 'needs one of dir or webhook');
  if (raw['dir'] !== undefined) return { dir: resolve(baseDir, text(raw['dir'], `${at}.dir`, 4096)) };
  const w = raw['webhook'];
  if (!isObj(w)) throw bad(`${at}.webhook`, 'must be a mapping with a url');
  known(w, `${at}.webhook`, ['url', 'secret', 'timeout_ms']);
  const url = expand(text(w['url'], `${at}.webhook.url`, 4096), `${at}.webhook.url`, env, secrets);
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw bad(`${at}.webhook.url`, 'is not a valid URL');
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:')
    throw bad(`${at}.webhook.url`, 'must be an http(s) URL');
  if (u.username !== '' || u.password !== '')
    throw bad(`${at}.webhook.url`, 'must not carry credentials (use the secret field)');
  const timeout = w['timeout_ms'] ?? 30_000;
  if (typeof timeout !== 'number' || !Number.isSafeInteger(timeout) || timeout < 1)
    throw bad(`${at}.webhook.timeout_ms`, 'must be a positive integer');
  const out: { url: string; secret?: string; timeout_ms: number } = { url, timeout_ms: timeout };
  if (w['secret'] !== undefined) {
    out.secret = expand(
      text(w['secret'], `${at}.webhook.secret`, 4096),
      `${at}.webhook.secret`,
      env,
      secrets,
    );
    secrets.push(out.secret);
  }
  return { webhook: out };
}

/** What one run produced (also the params of its `report.generated` event). */
export interface ScheduleRun {
  schedule: string;
  period: { since: string | null; until: string };
  format: ScheduleFormat;
  /** The file written, or the URL POSTed to. */
  file?: string;
  url?: string;
  report_id: string;
  sha256: string;
  events: number;
}

export interface SchedulerOptions {
  schedules: readonly ReportSchedule[];
  /** The log of a tenant (the server's open trails). */
  trail: (tenant: string) => Promise<AuditTrail>;
  /** Default: the system clock. Timers still run in real time. */
  now?: () => Date;
  /** A failed run (nothing is recorded for it; the next run covers its period). */
  onError?: (schedule: string, e: unknown) => void;
  onRun?: (run: ScheduleRun) => void;
}

const CONTENT_TYPES: Record<ScheduleFormat, string> = {
  html: 'text/html; charset=utf-8',
  json: 'application/json',
  csv: 'text/csv; charset=utf-8',
  pdf: 'application/pdf',
};
/** setTimeout's longest delay; a later run re-arms on waking. */
const MAX_DELAY = 2_147_483_647;

/** `2026-12-05T06:00:00.000Z` → `20261205T060000Z` (a file-name-safe period end). */
function stamp(iso: string): string {
  return iso.replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

/**
 * Runs the report schedules of a server until {@link ReportScheduler.stop}. On start, a schedule
 * whose next time after its last recorded run has passed runs once at once (not once per missed
 * slot); then each runs at its cron times, one run at a time.
 *
 * @example
 * const s = new ReportScheduler({ schedules, trail: (t) => trails.get(t) });
 * await s.start();
 * // …
 * await s.stop();
 */
export class ReportScheduler {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly running = new Set<Promise<void>>();
  private readonly last = new Map<string, string | null>();
  private stopped = false;
  private readonly now: () => Date;

  constructor(private readonly options: SchedulerOptions) {
    this.now = options.now ?? (() => new Date());
  }

  /** Reads each schedule's last run from its log, runs missed ones once, and arms the timers. */
  async start(): Promise<void> {
    for (const s of this.options.schedules) {
      const last = await this.lastRun(s);
      this.last.set(s.name, last);
      const cron = new Cron(s.cron, { paused: true, timezone: s.timezone });
      const due = last === null ? null : cron.nextRun(new Date(last));
      if (due !== null && due.getTime() <= this.now().getTime()) this.track(this.runAndArm(s, this.now()));
      else this.arm(s);
    }
  }

  /** Clears the timers and waits for runs under way. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }

  /** The end of the period of the schedule's last recorded run, from its log. */
  private async lastRun(s: ReportSchedule): Promise<string | null> {
    const trail = await this.options.trail(s.tenant);
    const page = await trail.query({
      type: REPORT_GENERATED,
      target: `schedule:${s.name}`,
      order: 'desc',
      limit: 1,
    });
    const params = page.events[0]?.action?.params as { period?: { until?: unknown } } | undefined;
    const until = params?.period?.until;
    return typeof until === 'string' && !Number.isNaN(Date.parse(until)) ? until : null;
  }

  private track(p: Promise<void>): void {
    this.running.add(p);
    void p.finally(() => this.running.delete(p));
  }

  private arm(s: ReportSchedule): void {
    if (this.stopped) return;
    const cron = new Cron(s.cron, { paused: true, timezone: s.timezone });
    const next = cron.nextRun(this.now());
    if (next === null) return;
    const delay = Math.min(MAX_DELAY, Math.max(0, next.getTime() - this.now().getTime()));
    const t = setTimeout(() => {
      this.timers.delete(s.name);
      if (this.now().getTime() < next.getTime()) this.arm(s);
      else this.track(this.runAndArm(s, next));
    }, delay);
    this.timers.set(s.name, t);
  }

  private async runAndArm(s: ReportSchedule, at: Date): Promise<void> {
    try {
      const run = await this.runOnce(s, at);
      this.options.onRun?.(run);
    } catch (e) {
      this.options.onError?.(s.name, e);
    }
    this.arm(s);
  }

  /**
   * Builds, delivers and records one report of `s` for the period from its last run (or the
   * template's `since`) to `at`.
   */
  async runOnce(s: ReportSchedule, at: Date): Promise<ScheduleRun> {
    const trail = await this.options.trail(s.tenant);
    if (!this.last.has(s.name)) this.last.set(s.name, await this.lastRun(s));
    const since = this.last.get(s.name) ?? s.report.since ?? null;
    const until = at.toISOString();
    // Everything received before `until` is in the log now: a checkpoint covers it all.
    await trail.checkpoint();
    const { model, source } = await buildReport(trail, {
      template: s.report.template,
      query: { ...s.report.filters, ...(since !== null ? { since } : {}), until },
      ...(s.report.subject !== undefined ? { subject: s.report.subject } : {}),
      now: this.now,
      generator: `auditrail serve (schedule ${s.name})`,
      createdBy: `schedule:${s.name}`,
      embedEvidence: s.report.format === 'html' || s.report.format === 'json',
    });
    const f = s.report.format;
    const bytes =
      f === 'html'
        ? Buffer.from(renderHtml(model, source))
        : f === 'json'
          ? Buffer.from(reportJson(model, source))
          : f === 'csv'
            ? Buffer.from(renderCsv(model))
            : await renderPdf(model, source);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const run: ScheduleRun = {
      schedule: s.name,
      period: { since, until },
      format: f,
      report_id: model.id,
      sha256,
      events: model.totals.events,
    };
    if ('dir' in s.to) {
      const file = join(s.to.dir, `${s.name}-${stamp(until)}.${f}`);
      mkdirSync(dirname(file), { recursive: true });
      const tmp = `${file}.${process.pid}.tmp`;
      writeFileSync(tmp, bytes, { mode: 0o600 });
      renameSync(tmp, file);
      run.file = file;
    } else {
      await post(s.to.webhook, bytes, CONTENT_TYPES[f], s.name, this.now());
      run.url = redactUrl(s.to.webhook.url, s.secrets);
    }
    await trail.record({
      type: REPORT_GENERATED,
      actor: { type: 'system', id: 'auditrail-serve' },
      action: { type: 'report.generate', target: `schedule:${s.name}`, params: { ...run } },
    });
    this.last.set(s.name, until);
    return run;
  }
}

/** A URL with its query removed when a secret sits anywhere in it. */
function redactUrl(url: string, secrets: readonly string[]): string {
  if (!secrets.some((x) => url.includes(x))) return url;
  const u = new URL(url);
  return `${u.origin}${u.pathname
    .split('/')
    .map((p) => (secrets.some((x) => p.includes(x)) ? '…' : p))
    .join('/')}`;
}

async function post(
  hook: { url: string; secret?: string; timeout_ms: number },
  bytes: Buffer,
  contentType: string,
  name: string,
  now: Date,
): Promise<void> {
  const ts = String(Math.floor(now.getTime() / 1000));
  const headers: Record<string, string> = { 'content-type': contentType, 'x-auditrail-schedule': name };
  if (hook.secret !== undefined) {
    headers[TIMESTAMP_HEADER] = ts;
    // The webhook sink's scheme: sha256= hex HMAC-SHA256 over `<timestamp>.<body>`.
    headers[SIGNATURE_HEADER] =
      `sha256=${createHmac('sha256', hook.secret).update(`${ts}.`).update(bytes).digest('hex')}`;
  }
  let res: Response;
  try {
    res = await fetch(hook.url, {
      method: 'POST',
      headers,
      body: bytes,
      // A report goes to the configured host only.
      redirect: 'error',
      signal: AbortSignal.timeout(hook.timeout_ms),
    });
  } catch (e) {
    throw new AuditError('store_failure', `schedule ${name}: POST failed: ${(e as Error).name}`, {
      cause: e,
    });
  }
  await res.arrayBuffer().catch(() => undefined);
  if (!res.ok) throw new AuditError('store_failure', `schedule ${name}: the webhook answered ${res.status}`);
}
