import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { AuditError } from '../errors.js';
import { globError } from '../core/glob.js';
import { expandEnv } from '../internal/env.js';
import { compileCondition } from '../policy/condition.js';

/** The variables a sink's CEL filter reads: the event, as `log --format jsonl` prints it. */
export const EXPORT_CEL_VARIABLES = ['event'] as const;

/** The formats a sink can send (docs/siem.md). */
export const EXPORT_FORMATS = ['native', 'ocsf', 'ecs'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];
export const SINK_TYPES = ['file', 'webhook', 'splunk', 'datadog', 'stdout', 'syslog', 'otlp'] as const;
export type SinkType = (typeof SINK_TYPES)[number];
const RISKS = ['low', 'medium', 'high', 'critical'] as const;
export type Risk = (typeof RISKS)[number];

export interface FileSinkConfig {
  type: 'file';
  path: string;
  /** Start a new file when the current one would pass this size (bytes). */
  max_bytes?: number;
  /** Start a new file at each UTC day. */
  daily?: boolean;
}
export interface WebhookSinkConfig {
  type: 'webhook';
  url: string;
  /** HMAC-SHA256 key of the signature header. */
  secret: string;
  headers?: Record<string, string>;
  timeout_ms?: number;
}
export interface SplunkSinkConfig {
  type: 'splunk';
  /** Base URL of the HEC, e.g. https://splunk.example:8088 (the path is added). */
  url: string;
  token: string;
  index?: string;
  sourcetype?: string;
  source?: string;
  host?: string;
  timeout_ms?: number;
}
export interface DatadogSinkConfig {
  type: 'datadog';
  /** Full intake URL (default https://http-intake.logs.datadoghq.com/api/v2/logs). */
  url?: string;
  api_key: string;
  service?: string;
  ddsource?: string;
  ddtags?: string;
  hostname?: string;
  timeout_ms?: number;
}
export interface StdoutSinkConfig {
  type: 'stdout';
}
export const SYSLOG_TRANSPORTS = ['tcp', 'tls', 'udp'] as const;
export interface SyslogSinkConfig {
  type: 'syslog';
  host: string;
  port: number;
  /** tcp (RFC 6587 octet counting), tls (RFC 5425) or udp (RFC 5426, one datagram a message). */
  transport: (typeof SYSLOG_TRANSPORTS)[number];
  /** MSG: the record as JSON, or a CEF line built from the event. */
  message: 'json' | 'cef';
  /** Syslog facility, 0-23 (default 10, authpriv). */
  facility?: number;
  app_name?: string;
  hostname?: string;
  /** Structured-data ID: name@<your IANA enterprise number> (default auditrail@32473). */
  sd_id?: string;
  /** TLS: PEM file of the CA that signed the receiver's certificate (default: the system's). */
  ca?: string;
  /** TLS: name checked against the receiver's certificate (default: host). */
  servername?: string;
  timeout_ms?: number;
}
export interface OtlpSinkConfig {
  type: 'otlp';
  /** OTLP/HTTP logs endpoint (default http://127.0.0.1:4318/v1/logs). */
  url?: string;
  headers?: Record<string, string>;
  /** Resource attribute service.name (default auditrail). */
  service_name?: string;
  timeout_ms?: number;
}
export type SinkConfig =
  | FileSinkConfig
  | WebhookSinkConfig
  | SplunkSinkConfig
  | DatadogSinkConfig
  | StdoutSinkConfig
  | SyslogSinkConfig
  | OtlpSinkConfig;

export interface ExportFilter {
  /** Event type globs (core/glob.ts syntax); any match passes. */
  types?: string[];
  /** Lowest risk level that passes; events without a risk level do not pass. */
  risk?: Risk;
  tenant?: string;
  /** CEL over `event` (the native record); see docs/siem.md "Filters". */
  cel?: string;
}
export interface BatchConfig {
  max_events: number;
  max_bytes: number;
  /** How long a following exporter waits for more events before it sends what it has. */
  max_wait_ms: number;
}
export interface RetryConfig {
  /** Attempts per batch before the run stops (the cursor stays: nothing is skipped). */
  max_attempts: number;
  initial_ms: number;
  max_ms: number;
}
export interface ExportConfig {
  name: string;
  sink: SinkConfig;
  format: ExportFormat;
  filter: ExportFilter;
  batch: BatchConfig;
  retry: RetryConfig;
  /** Values taken from the environment (`${NAME}`): never printed. */
  secrets: string[];
}

export const DEFAULT_BATCH: BatchConfig = { max_events: 500, max_bytes: 1_000_000, max_wait_ms: 1000 };
export const DEFAULT_RETRY: RetryConfig = { max_attempts: 10, initial_ms: 500, max_ms: 60_000 };
const MAX_CONFIG_BYTES = 1_000_000;

function bad(field: string, what: string): AuditError {
  return new AuditError('invalid_argument', `export config: ${field} ${what}`);
}

type Obj = Record<string, unknown>;
function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Reads `exports:` from a YAML config file (relative file sink paths are taken from the file's
 * directory). See {@link parseExportConfig}.
 */
export async function loadExportConfig(
  path: string,
  env: NodeJS.ProcessEnv = process.env,
  options: { optional?: boolean } = {},
): Promise<ExportConfig[]> {
  let text: string;
  try {
    const buf = await readFile(path);
    if (buf.length > MAX_CONFIG_BYTES) {
      throw new AuditError(
        'invalid_argument',
        `export config ${path} is larger than ${MAX_CONFIG_BYTES} bytes`,
      );
    }
    text = buf.toString('utf8');
  } catch (e) {
    if (e instanceof AuditError) throw e;
    throw new AuditError('invalid_argument', `cannot read export config ${path}: ${(e as Error).message}`, {
      cause: e,
    });
  }
  const configs = parseExportConfig(text, env, options);
  // A relative file sink path (or CA file) is relative to the config file, wherever the command runs.
  for (const c of configs) {
    if (c.sink.type === 'file') c.sink.path = resolve(dirname(path), c.sink.path);
    if (c.sink.type === 'syslog' && c.sink.ca !== undefined) c.sink.ca = resolve(dirname(path), c.sink.ca);
  }
  return configs;
}

/**
 * Parses and checks the `exports:` list of a YAML config. `${NAME}` in any string is replaced by
 * the environment variable NAME (which must be set); such values are secrets and never appear in
 * an error. With `optional`, a config without `exports:` gives none. Throws an `invalid_argument` AuditError naming the field at fault.
 *
 * @example
 * const [splunk] = parseExportConfig(`exports:
 *   - name: splunk
 *     sink: { type: splunk, url: "https://splunk:8088", token: "\${HEC_TOKEN}" }
 *     format: ocsf`, { HEC_TOKEN: 't' });
 */
export function parseExportConfig(
  text: string,
  env: NodeJS.ProcessEnv = process.env,
  options: { optional?: boolean } = {},
): ExportConfig[] {
  let doc: unknown;
  try {
    doc = parseYaml(text, { maxAliasCount: 100 });
  } catch (e) {
    throw new AuditError('invalid_argument', `export config is not valid YAML: ${(e as Error).message}`, {
      cause: e,
    });
  }
  // `optional`: a config of `auditrail serve` may hold only schedules.
  if (options.optional === true && (doc === null || (isObj(doc) && doc['exports'] === undefined))) return [];
  if (!isObj(doc) || !Array.isArray(doc['exports'])) throw bad('exports', 'must be a list');
  const names = new Set<string>();
  return doc['exports'].map((raw: unknown, i) => {
    const at = `exports[${i}]`;
    if (!isObj(raw)) throw bad(at, 'must be a mapping');
    known(raw, at, ['name', 'sink', 'format', 'filter', 'batch', 'retry']);
    const secrets: string[] = [];
    const name = raw['name'];
    if (typeof name !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name))
      throw bad(`${at}.name`, 'must be 1-64 letters, digits, dot, dash or underscore');
    if (names.has(name)) throw bad(`${at}.name`, `'${name}' is used twice`);
    names.add(name);
    const sink = parseSink(raw['sink'], `${at}.sink`, env, secrets);
    const format = raw['format'] ?? 'native';
    if (typeof format !== 'string' || !(EXPORT_FORMATS as readonly string[]).includes(format))
      throw bad(`${at}.format`, `must be one of ${EXPORT_FORMATS.join(', ')}`);
    if (sink.type === 'syslog' && sink.message === 'cef' && format !== 'native')
      throw bad(`${at}.format`, 'must be native (or left out) with message: cef (CEF has its own fields)');
    return {
      name,
      sink,
      format: format as ExportFormat,
      filter: parseFilter(raw['filter'], `${at}.filter`),
      batch: parseNumbers(raw['batch'], `${at}.batch`, DEFAULT_BATCH),
      retry: parseNumbers(raw['retry'], `${at}.retry`, DEFAULT_RETRY),
      secrets,
    };
  });
}

function known(o: Obj, at: string, keys: readonly string[]): void {
  for (const k of Object.keys(o)) if (!keys.includes(k)) throw bad(`${at}.${k}`, 'is not a known field');
}

function parseNumbers<T extends object>(raw: unknown, at: string, defaults: T): T {
  if (raw === undefined) return { ...defaults };
  if (!isObj(raw)) throw bad(at, 'must be a mapping');
  known(raw, at, Object.keys(defaults));
  const out: Record<string, number> = { ...(defaults as Record<string, number>) };
  for (const [k, v] of Object.entries(raw)) {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < (k === 'max_wait_ms' ? 0 : 1))
      throw bad(`${at}.${k}`, 'must be a positive integer');
    out[k] = v;
  }
  return out as T;
}

function parseFilter(raw: unknown, at: string): ExportFilter {
  if (raw === undefined) return {};
  if (!isObj(raw)) throw bad(at, 'must be a mapping');
  known(raw, at, ['types', 'risk', 'tenant', 'cel']);
  const out: ExportFilter = {};
  const types = globList(raw['types'], `${at}.types`, bad);
  if (types !== undefined) out.types = types;
  const risk = riskAtLeast(raw['risk'], `${at}.risk`, bad);
  if (risk !== undefined) out.risk = risk;
  const tenant = raw['tenant'];
  if (tenant !== undefined) {
    if (typeof tenant !== 'string' || tenant === '') throw bad(`${at}.tenant`, 'must be a non-empty string');
    out.tenant = tenant;
  }
  const cel = raw['cel'];
  if (cel !== undefined) {
    if (typeof cel !== 'string') throw bad(`${at}.cel`, 'must be a CEL expression (a string)');
    const compiled = compileCondition(cel, EXPORT_CEL_VARIABLES);
    if (!('program' in compiled))
      throw bad(
        `${at}.cel`,
        `is not a valid CEL expression: ${compiled.message}` +
          (compiled.offset !== undefined ? ` (at character ${compiled.offset + 1})` : ''),
      );
    out.cel = cel;
  }
  return out;
}

/** How a config parser names a bad field: an `invalid_argument` error with its own prefix. */
export type FieldError = (field: string, what: string) => AuditError;

/**
 * A glob or a non-empty list of globs (the one glob of core/glob.ts), each checked; undefined
 * when absent. Shared by the `exports:` filters and the `alerts:` filters.
 */
export function globList(raw: unknown, field: string, bad: FieldError): string[] | undefined {
  if (raw === undefined) return undefined;
  const list = typeof raw === 'string' ? [raw] : raw;
  if (!Array.isArray(list) || list.length === 0 || list.some((t) => typeof t !== 'string'))
    throw bad(field, 'must be a glob or a non-empty list of globs');
  list.forEach((t: string, j) => {
    const err = globError(t);
    if (err !== null) throw bad(`${field}[${j}]`, `is not a valid glob: ${err}`);
  });
  return list as string[];
}

/** A risk level (the lowest one a filter passes); undefined when absent. */
export function riskAtLeast(raw: unknown, field: string, bad: FieldError): Risk | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string' || !(RISKS as readonly string[]).includes(raw))
    throw bad(field, `must be one of ${RISKS.join(', ')}`);
  return raw as Risk;
}

/** An http(s) URL without credentials in it (`hint` says where they go instead). */
export function checkHttpUrl(value: string, field: string, bad: FieldError, hint = ''): void {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw bad(field, 'is not a valid URL');
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw bad(field, 'must be an http(s) URL');
  if (u.username !== '' || u.password !== '') throw bad(field, `must not carry credentials${hint}`);
}

/** Replaces `${NAME}` by the environment's value; the value is noted as a secret. */
function expand(v: string, field: string, env: NodeJS.ProcessEnv, secrets: string[]): string {
  return expandEnv(v, env, secrets, (name) =>
    bad(field, `names environment variable ${name}, which is not set`),
  );
}

function parseSink(raw: unknown, at: string, env: NodeJS.ProcessEnv, secrets: string[]): SinkConfig {
  if (!isObj(raw)) throw bad(at, 'must be a mapping with a type');
  const type = raw['type'];
  if (typeof type !== 'string' || !(SINK_TYPES as readonly string[]).includes(type))
    throw bad(`${at}.type`, `must be one of ${SINK_TYPES.join(', ')}`);
  const fields: Record<SinkType, { required: string[]; optional: string[]; secret: string[] }> = {
    file: { required: ['path'], optional: ['max_bytes', 'daily'], secret: [] },
    webhook: { required: ['url', 'secret'], optional: ['headers', 'timeout_ms'], secret: ['secret'] },
    splunk: {
      required: ['url', 'token'],
      optional: ['index', 'sourcetype', 'source', 'host', 'timeout_ms'],
      secret: ['token'],
    },
    datadog: {
      required: ['api_key'],
      optional: ['url', 'service', 'ddsource', 'ddtags', 'hostname', 'timeout_ms'],
      secret: ['api_key'],
    },
    stdout: { required: [], optional: [], secret: [] },
    syslog: {
      required: ['host', 'port'],
      optional: [
        'transport',
        'message',
        'facility',
        'app_name',
        'hostname',
        'sd_id',
        'ca',
        'servername',
        'timeout_ms',
      ],
      secret: [],
    },
    otlp: { required: [], optional: ['url', 'headers', 'service_name', 'timeout_ms'], secret: [] },
  };
  const f = fields[type as SinkType];
  known(raw, at, ['type', ...f.required, ...f.optional]);
  const out: Obj = { type };
  for (const k of [...f.required, ...f.optional]) {
    const v = raw[k];
    const field = `${at}.${k}`;
    if (v === undefined) {
      if (f.required.includes(k)) throw bad(field, 'is required');
      continue;
    }
    if (k === 'max_bytes' || k === 'timeout_ms') {
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1)
        throw bad(field, 'must be a positive integer');
      out[k] = v;
    } else if (k === 'port') {
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1 || v > 65535)
        throw bad(field, 'must be a port number, 1-65535');
      out[k] = v;
    } else if (k === 'facility') {
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0 || v > 23)
        throw bad(field, 'must be a syslog facility number, 0-23');
      out[k] = v;
    } else if (k === 'transport' || k === 'message') {
      const allowed: readonly string[] = k === 'transport' ? SYSLOG_TRANSPORTS : ['json', 'cef'];
      if (typeof v !== 'string' || !allowed.includes(v))
        throw bad(field, `must be one of ${allowed.join(', ')}`);
      out[k] = v;
    } else if (k === 'daily') {
      if (typeof v !== 'boolean') throw bad(field, 'must be true or false');
      out[k] = v;
    } else if (k === 'headers') {
      if (!isObj(v)) throw bad(field, 'must be a mapping of header names to strings');
      const h: Record<string, string> = {};
      for (const [hk, hv] of Object.entries(v)) {
        if (typeof hv !== 'string' || !/^[A-Za-z0-9-]{1,64}$/.test(hk))
          throw bad(`${field}.${hk}`, 'must be a string under a valid header name');
        h[hk] = expand(hv, `${field}.${hk}`, env, secrets);
      }
      out[k] = h;
    } else {
      if (typeof v !== 'string' || v === '') throw bad(field, 'must be a non-empty string');
      const value = expand(v, field, env, secrets);
      // A secret written into the file itself still never appears in output.
      if (f.secret.includes(k)) secrets.push(value);
      if (k === 'url') checkUrl(value, field);
      if (k === 'app_name' && !/^[!-~]{1,48}$/.test(value))
        throw bad(field, 'must be 1-48 printable ASCII characters without spaces (RFC 5424 APP-NAME)');
      if (k === 'hostname' && type === 'syslog' && !/^[!-~]{1,255}$/.test(value))
        throw bad(field, 'must be 1-255 printable ASCII characters without spaces (RFC 5424 HOSTNAME)');
      if (k === 'sd_id' && !/^[!#-<>-\\^-~]{1,32}$/.test(value))
        throw bad(
          field,
          'must be 1-32 printable ASCII characters without space, =, ] or " (e.g. auditrail@32473)',
        );
      out[k] = value;
    }
  }
  if (type === 'syslog') {
    out['transport'] ??= 'tcp';
    out['message'] ??= 'json';
  }
  return out as unknown as SinkConfig;
}

function checkUrl(value: string, field: string): void {
  checkHttpUrl(value, field, bad, ' (use the token field)');
}
