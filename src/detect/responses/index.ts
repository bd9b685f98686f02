import { parse as parseYaml } from 'yaml';
import {
  AuditError,
  applyResponse,
  checkResponseParams,
  responseId,
  RESPONSE_KINDS,
  type AuditTrail,
  type ResponseKind,
  type ResponseParams,
} from '../../index.js';
import type { RecordedEvent } from '../../event/types.js';
import { compileGlobList } from '../../core/glob.js';
import { exportState } from '../../sdk/export-state.js';
import { anomalyOf, type Anomaly } from '../alerts/anomaly.js';
import { readConfigDocument } from '../alerts/config.js';

/** One `responses:` rule: when an anomaly matches, apply this response to its agent. */
export interface ResponseRule {
  /** Detector name globs (any match). */
  detectors: string[];
  score_at_least?: number;
  do: ResponseKind;
  params: ResponseParams;
  /** Where it is in the config (`responses[i]`), recorded with each response it applies. */
  at: string;
  index: number;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const bad = (field: string, what: string): AuditError =>
  new AuditError('invalid_argument', `responses config: ${field} ${what}`);

/**
 * Parses the `responses:` list of a YAML config (docs/detection.md, "Automated responses"); an
 * absent key is an empty list. Throws `invalid_argument` naming the field at fault.
 *
 * @example
 * parseResponseConfig(`responses:
 *   - when: { detector: privilege_escalation, score_at_least: 5 }
 *     do: quarantine`)
 */
export function parseResponseConfig(text: string): ResponseRule[] {
  let doc: unknown;
  try {
    doc = parseYaml(text, { maxAliasCount: 100 });
  } catch (e) {
    throw new AuditError('invalid_argument', `responses config is not valid YAML: ${(e as Error).message}`, {
      cause: e,
    });
  }
  if (doc === null || doc === undefined) return [];
  if (!isObj(doc)) throw bad('(document)', 'must be a mapping');
  const list = doc['responses'];
  if (list === undefined) return [];
  if (!Array.isArray(list)) throw bad('responses', 'must be a list');
  return list.map((raw: unknown, i) => {
    const at = `responses[${i}]`;
    if (!isObj(raw)) throw bad(at, 'must be a mapping');
    for (const k of Object.keys(raw))
      if (!['when', 'do', 'params'].includes(k)) throw bad(`${at}.${k}`, 'is not a known field');
    const when = raw['when'];
    if (!isObj(when)) throw bad(`${at}.when`, 'must be a mapping with a detector');
    for (const k of Object.keys(when))
      if (!['detector', 'score_at_least'].includes(k)) throw bad(`${at}.when.${k}`, 'is not a known field');
    const d = when['detector'];
    const detectors = typeof d === 'string' ? [d] : d;
    if (
      !Array.isArray(detectors) ||
      detectors.length === 0 ||
      detectors.some((x) => typeof x !== 'string' || x === '' || x.length > 128)
    )
      throw bad(`${at}.when.detector`, 'must be a detector name (glob) or a list of them');
    try {
      compileGlobList(detectors as string[]);
    } catch (e) {
      throw bad(`${at}.when.detector`, `is not a valid glob: ${(e as Error).message}`);
    }
    const score = when['score_at_least'];
    if (score !== undefined && (typeof score !== 'number' || !Number.isFinite(score)))
      throw bad(`${at}.when.score_at_least`, 'must be a number');
    const kind = raw['do'];
    if (typeof kind !== 'string' || !(RESPONSE_KINDS as readonly string[]).includes(kind))
      throw bad(`${at}.do`, `must be one of ${RESPONSE_KINDS.join(', ')}`);
    const params = checkResponseParams(kind as ResponseKind, raw['params'], `responses config: ${at}.params`);
    return {
      detectors: detectors as string[],
      ...(score !== undefined ? { score_at_least: score } : {}),
      do: kind as ResponseKind,
      params,
      at,
      index: i,
    };
  });
}

/** Reads `responses:` from a YAML config file. */
export async function loadResponseConfig(path: string): Promise<ResponseRule[]> {
  return parseResponseConfig(await readConfigDocument(path, 'responses config'));
}

/** The rules an anomaly matches, in config order. */
function matching(rules: readonly ResponseRule[]): (a: Anomaly) => ResponseRule[] {
  const compiled = rules.map((r) => ({ r, test: compileGlobList(r.detectors) }));
  return (a) =>
    compiled
      .filter(
        ({ r, test }) => test(a.detector) && (r.score_at_least === undefined || a.score >= r.score_at_least),
      )
      .map(({ r }) => r);
}

/** What one responder run did. */
export interface ResponderReport {
  anomalies: number;
  applied: number;
  cursor: number;
}

// Not a valid channel name, so no alert channel can share this cursor.
const CURSOR = '~responder';
const PAGE = 1000;

/**
 * Applies the response rules to the log's `anomaly.detected` events from the responder's cursor
 * (`alert:responder`, restart-safe): each matching rule records one `response.applied` (its id
 * derived from anomaly and rule, so a restart never applies it twice). With `follow`, polls for
 * new anomalies every `pollMs` until `signal` aborts.
 *
 * @example
 * await runResponder(trail, await loadResponseConfig('auditrail.yaml'), { follow: true, signal });
 */
export async function runResponder(
  trail: AuditTrail,
  rules: readonly ResponseRule[],
  options: {
    follow?: boolean;
    signal?: AbortSignal;
    pollMs?: number;
    log?: (line: string) => void;
  } = {},
): Promise<ResponderReport> {
  const state = exportState(trail, 'alert');
  const match = matching(rules);
  const report: ResponderReport = { anomalies: 0, applied: 0, cursor: await state.cursor(CURSOR) };
  let next = report.cursor;
  while (!options.signal?.aborted) {
    const page = await trail.query({
      type: 'anomaly.detected',
      limit: PAGE,
      ...(next > 0 ? { cursor: `a${next - 1}` } : {}),
    });
    let end = next;
    for (const e of page.events) {
      await respond(trail, e, match, report, options.log);
      end = e.seq + 1;
    }
    if (page.events.length === 0) {
      if (!options.follow) break;
      await sleep(options.pollMs ?? 1000, options.signal);
      continue;
    }
    if (!(await state.advance(CURSOR, next, end)))
      throw new AuditError(
        'conflict',
        'the responder cursor moved under this responder (is another one running?)',
      );
    next = end;
  }
  report.cursor = next;
  return report;
}

async function respond(
  trail: AuditTrail,
  e: RecordedEvent,
  match: (a: Anomaly) => ResponseRule[],
  report: ResponderReport,
  log?: (line: string) => void,
): Promise<void> {
  const a = anomalyOf(e);
  if (a === null) return;
  report.anomalies++;
  for (const rule of match(a)) {
    const id = responseId(a.id, rule.index, rule.do);
    const recorded = await applyResponse(
      trail,
      {
        id,
        kind: rule.do,
        agent_id: a.agent_id,
        anomaly_id: a.id,
        detector: a.detector,
        rule: rule.at,
        params: rule.params,
      },
      {
        ...(a.risk_level ? { risk_level: a.risk_level } : {}),
        ...(a.run_id !== undefined ? { run_id: a.run_id } : {}),
        ...(a.session_id !== undefined ? { session_id: a.session_id } : {}),
      },
    );
    if (recorded) {
      report.applied++;
      log?.(`response ${id}: ${rule.do} on agent ${a.agent_id} (anomaly ${a.id}, ${a.detector}, ${rule.at})`);
    }
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
