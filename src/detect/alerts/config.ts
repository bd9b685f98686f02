import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { AuditError } from '../../errors.js';
import type { RiskLevel } from '../../event/types.js';
import { expandEnv } from '../../internal/env.js';
import { checkHttpUrl, DEFAULT_RETRY, globList, riskAtLeast, type RetryConfig } from '../../export/config.js';

export const CHANNELS = ['slack', 'pagerduty', 'webhook', 'email'] as const;
export type ChannelType = (typeof CHANNELS)[number];
type Risk = RiskLevel;

/** PagerDuty's Events API v2 endpoint (the default `url` of a pagerduty channel). */
export const PAGERDUTY_EVENTS_URL = 'https://events.pagerduty.com/v2/enqueue';

/** Which anomalies a channel is told about. */
export interface AlertFilter {
  /** Detector name globs; any match passes (default: all). */
  detectors?: string[];
  /** Lowest risk level that passes; an anomaly without one counts as `medium`. */
  risk?: Risk;
}

export interface SlackChannel {
  channel: 'slack';
  /** The incoming webhook URL (it is the credential: kept secret). */
  url: string;
}
export interface PagerDutyChannel {
  channel: 'pagerduty';
  url: string;
  /** The integration's routing key (32 characters). */
  routing_key: string;
}
export interface WebhookChannel {
  channel: 'webhook';
  url: string;
  /** HMAC-SHA256 key of the signature header (as the SIEM webhook). */
  secret: string;
  headers?: Record<string, string>;
}
export interface EmailChannel {
  channel: 'email';
  smtp: { host: string; port: number; secure: boolean; user?: string; password?: string };
  from: string;
  to: string[];
}

export type AlertConfig = (SlackChannel | PagerDutyChannel | WebhookChannel | EmailChannel) & {
  name: string;
  filter: AlertFilter;
  /** Base URL of the dashboard, for the links to the run timeline and the events. */
  dashboard_url?: string;
  /** Also tell of resolved anomalies (PagerDuty: resolve the incident). Default true. */
  resolved: boolean;
  /** `beginning`: a new channel alerts on every anomaly in the log; `end` (default): only new ones. */
  start: 'beginning' | 'end';
  timeout_ms: number;
  retry: RetryConfig;
  /** Values taken from the environment or marked secret: never printed. */
  secrets: string[];
};

const MAX_CONFIG_BYTES = 1_000_000;
type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function bad(field: string, what: string): AuditError {
  return new AuditError('invalid_argument', `alerts config: ${field} ${what}`);
}

function known(o: Obj, at: string, keys: readonly string[]): void {
  for (const k of Object.keys(o)) if (!keys.includes(k)) throw bad(`${at}.${k}`, 'is not a known field');
}

/**
 * Reads the YAML document of a config file (at most 1 MB); shared by `alerts:` and `responses:`.
 *
 * @example
 * const doc = await readConfigDocument('auditrail.yaml', 'alerts config');
 */
export async function readConfigDocument(path: string, what: string): Promise<string> {
  let buf: Buffer;
  try {
    buf = await readFile(path);
  } catch (e) {
    throw new AuditError('invalid_argument', `cannot read ${what} ${path}: ${(e as Error).message}`, {
      cause: e,
    });
  }
  if (buf.length > MAX_CONFIG_BYTES)
    throw new AuditError('invalid_argument', `${what} ${path} is larger than ${MAX_CONFIG_BYTES} bytes`);
  return buf.toString('utf8');
}

/**
 * Reads `alerts:` from a YAML config file; an absent key is an empty list. See {@link parseAlertConfig}.
 *
 * @example
 * const channels = await loadAlertConfig('auditrail.yaml');
 */
export async function loadAlertConfig(
  path: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<AlertConfig[]> {
  return parseAlertConfig(await readConfigDocument(path, 'alerts config'), env);
}

/**
 * Parses and checks the `alerts:` list of a YAML config (docs/detection.md, "Alerts"). `${NAME}`
 * in a string is the environment variable NAME (which must be set); such values, and every
 * credential field, are secrets and never appear in an error. Throws `invalid_argument` naming
 * the field at fault.
 *
 * @example
 * const [slack] = parseAlertConfig(`alerts:
 *   - name: oncall
 *     channel: slack
 *     url: \${SLACK_WEBHOOK_URL}
 *     filter: { detectors: [denial_spike], risk: high }`, { SLACK_WEBHOOK_URL: 'https://hooks.slack.com/services/T/B/x' });
 */
export function parseAlertConfig(text: string, env: NodeJS.ProcessEnv = process.env): AlertConfig[] {
  let doc: unknown;
  try {
    doc = parseYaml(text, { maxAliasCount: 100 });
  } catch (e) {
    throw new AuditError('invalid_argument', `alerts config is not valid YAML: ${(e as Error).message}`, {
      cause: e,
    });
  }
  if (doc === null || doc === undefined) return [];
  if (!isObj(doc)) throw bad('(document)', 'must be a mapping');
  const list = doc['alerts'];
  if (list === undefined) return [];
  if (!Array.isArray(list)) throw bad('alerts', 'must be a list');
  const names = new Set<string>();
  return list.map((raw: unknown, i) => {
    const at = `alerts[${i}]`;
    if (!isObj(raw)) throw bad(at, 'must be a mapping');
    const name = raw['name'];
    if (typeof name !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name))
      throw bad(`${at}.name`, 'must be 1-64 letters, digits, dot, dash or underscore');
    if (names.has(name)) throw bad(`${at}.name`, `'${name}' is used twice`);
    names.add(name);
    const channel = raw['channel'];
    if (typeof channel !== 'string' || !(CHANNELS as readonly string[]).includes(channel))
      throw bad(`${at}.channel`, `must be one of ${CHANNELS.join(', ')}`);
    const common = ['name', 'channel', 'filter', 'dashboard_url', 'resolved', 'start', 'timeout_ms', 'retry'];
    const own: Record<ChannelType, string[]> = {
      slack: ['url'],
      pagerduty: ['url', 'routing_key'],
      webhook: ['url', 'secret', 'headers'],
      email: ['smtp', 'from', 'to'],
    };
    known(raw, at, [...common, ...own[channel as ChannelType]]);
    const secrets: string[] = [];
    const str = (k: string, required: boolean, secret = false): string | undefined => {
      const v = raw[k];
      if (v === undefined) {
        if (required) throw bad(`${at}.${k}`, 'is required');
        return undefined;
      }
      if (typeof v !== 'string' || v === '') throw bad(`${at}.${k}`, 'must be a non-empty string');
      const value = expand(v, `${at}.${k}`, env, secrets);
      if (secret) secrets.push(value);
      return value;
    };
    const dashboard = str('dashboard_url', false);
    if (dashboard !== undefined) checkUrl(dashboard, `${at}.dashboard_url`);
    const common_ = {
      name,
      filter: parseFilter(raw['filter'], `${at}.filter`),
      ...(dashboard !== undefined ? { dashboard_url: dashboard.replace(/\/+$/, '') } : {}),
      resolved: flag(raw['resolved'], `${at}.resolved`, true),
      start: startOf(raw['start'], `${at}.start`),
      timeout_ms: positive(raw['timeout_ms'], `${at}.timeout_ms`, 10_000),
      retry: parseRetry(raw['retry'], `${at}.retry`),
      secrets,
    };
    switch (channel as ChannelType) {
      case 'slack': {
        // The incoming webhook URL carries its token: the whole URL is a secret.
        const url = str('url', true, true)!;
        checkUrl(url, `${at}.url`);
        return { ...common_, channel: 'slack', url };
      }
      case 'pagerduty': {
        const url = str('url', false) ?? PAGERDUTY_EVENTS_URL;
        checkUrl(url, `${at}.url`);
        const key = str('routing_key', true, true)!;
        if (!/^[A-Za-z0-9]{32}$/.test(key)) throw bad(`${at}.routing_key`, 'must be 32 letters or digits');
        return { ...common_, channel: 'pagerduty', url, routing_key: key };
      }
      case 'webhook': {
        const url = str('url', true)!;
        checkUrl(url, `${at}.url`);
        const secret = str('secret', true, true)!;
        const headers = parseHeaders(raw['headers'], `${at}.headers`, env, secrets);
        return { ...common_, channel: 'webhook', url, secret, ...(headers ? { headers } : {}) };
      }
      case 'email': {
        const from = str('from', true)!;
        checkAddress(from, `${at}.from`);
        const to = typeof raw['to'] === 'string' ? [raw['to']] : raw['to'];
        if (!Array.isArray(to) || to.length === 0 || to.length > 50)
          throw bad(`${at}.to`, 'must be an address or a list of 1 to 50 addresses');
        const toList = to.map((t: unknown, j) => {
          if (typeof t !== 'string') throw bad(`${at}.to[${j}]`, 'must be an e-mail address');
          const v = expand(t, `${at}.to[${j}]`, env, secrets);
          checkAddress(v, `${at}.to[${j}]`);
          return v;
        });
        return {
          ...common_,
          channel: 'email',
          smtp: parseSmtp(raw['smtp'], `${at}.smtp`, env, secrets),
          from,
          to: toList,
        };
      }
    }
  });
}

function expand(v: string, field: string, env: NodeJS.ProcessEnv, secrets: string[]): string {
  return expandEnv(v, env, secrets, (name) =>
    bad(field, `names environment variable ${name}, which is not set`),
  );
}

function flag(v: unknown, field: string, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  if (typeof v !== 'boolean') throw bad(field, 'must be true or false');
  return v;
}

function startOf(v: unknown, field: string): 'beginning' | 'end' {
  if (v === undefined) return 'end';
  if (v !== 'beginning' && v !== 'end') throw bad(field, 'must be beginning or end');
  return v;
}

function positive(v: unknown, field: string, dflt: number, max = 3_600_000): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1 || v > max)
    throw bad(field, `must be an integer from 1 to ${max}`);
  return v;
}

function parseRetry(raw: unknown, at: string): RetryConfig {
  if (raw === undefined) return { ...DEFAULT_RETRY };
  if (!isObj(raw)) throw bad(at, 'must be a mapping');
  known(raw, at, Object.keys(DEFAULT_RETRY));
  return {
    max_attempts: positive(raw['max_attempts'], `${at}.max_attempts`, DEFAULT_RETRY.max_attempts, 1000),
    initial_ms: positive(raw['initial_ms'], `${at}.initial_ms`, DEFAULT_RETRY.initial_ms),
    max_ms: positive(raw['max_ms'], `${at}.max_ms`, DEFAULT_RETRY.max_ms),
  };
}

function parseFilter(raw: unknown, at: string): AlertFilter {
  if (raw === undefined) return {};
  if (!isObj(raw)) throw bad(at, 'must be a mapping');
  known(raw, at, ['detectors', 'risk']);
  const out: AlertFilter = {};
  const detectors = globList(raw['detectors'], `${at}.detectors`, bad);
  if (detectors !== undefined) out.detectors = detectors;
  const risk = riskAtLeast(raw['risk'], `${at}.risk`, bad);
  if (risk !== undefined) out.risk = risk;
  return out;
}

function parseHeaders(
  raw: unknown,
  at: string,
  env: NodeJS.ProcessEnv,
  secrets: string[],
): Record<string, string> | undefined {
  if (raw === undefined) return undefined;
  if (!isObj(raw)) throw bad(at, 'must be a mapping of header names to strings');
  const h: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (typeof v !== 'string' || !/^[A-Za-z0-9-]{1,64}$/.test(k))
      throw bad(`${at}.${k}`, 'must be a string under a valid header name');
    h[k] = expand(v, `${at}.${k}`, env, secrets);
  }
  return h;
}

function parseSmtp(
  raw: unknown,
  at: string,
  env: NodeJS.ProcessEnv,
  secrets: string[],
): EmailChannel['smtp'] {
  if (!isObj(raw)) throw bad(at, 'must be a mapping with host and port');
  known(raw, at, ['host', 'port', 'secure', 'user', 'password']);
  const host = raw['host'];
  if (typeof host !== 'string' || !/^[A-Za-z0-9.:-]{1,255}$/.test(host))
    throw bad(`${at}.host`, 'must be a host name or address');
  const port = raw['port'];
  if (typeof port !== 'number' || !Number.isSafeInteger(port) || port < 1 || port > 65535)
    throw bad(`${at}.port`, 'must be a port number');
  const out: EmailChannel['smtp'] = { host, port, secure: flag(raw['secure'], `${at}.secure`, port === 465) };
  for (const k of ['user', 'password'] as const) {
    const v = raw[k];
    if (v === undefined) continue;
    if (typeof v !== 'string' || v === '') throw bad(`${at}.${k}`, 'must be a non-empty string');
    const value = expand(v, `${at}.${k}`, env, secrets);
    if (k === 'password') secrets.push(value);
    out[k] = value;
  }
  if ((out.user === undefined) !== (out.password === undefined))
    throw bad(at, 'needs both user and password, or neither');
  return out;
}

function checkUrl(value: string, field: string): void {
  checkHttpUrl(value, field, bad);
}

function checkAddress(v: string, field: string): void {
  // One address, no display name, no header-breaking characters.
  if (v.length > 254 || !/^[^\s@<>,;"]+@[A-Za-z0-9.-]+$/.test(v))
    throw bad(field, 'must be one e-mail address (name@host)');
}
