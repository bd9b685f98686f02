import { createHash, randomBytes } from 'node:crypto';
import { AuditError } from '../../errors.js';
import type { AuditEvent, RecordedEvent, RiskLevel } from '../../event/types.js';
import type { AuditTrail } from '../audit-trail.js';
import { storeOf, toRecordedEvent } from '../internals.js';

/** What an automated response does to an agent's next actions (docs/detection.md). */
export const RESPONSE_KINDS = ['demote', 'require_approval', 'rate_limit', 'quarantine'] as const;
export type ResponseKind = (typeof RESPONSE_KINDS)[number];

/** Trust tiers from highest to lowest, as `demote` reads them unless its params name others. */
export const DEFAULT_TIERS = ['trusted', 'standard', 'untrusted'] as const;

/**
 * A response's parameters: `tiers` (demote; highest first), `approvers` and `ttl_ms`
 * (require_approval), `per_minute` (rate_limit).
 */
export interface ResponseParams {
  tiers?: string[];
  approvers?: string[];
  ttl_ms?: number;
  per_minute?: number;
}

/** One response as its `response.applied` event records it. */
export interface AppliedResponse {
  id: string;
  kind: ResponseKind;
  agent_id: string;
  anomaly_id: string;
  detector: string;
  /** The rule of the `responses:` config that applied it (its index and `when`). */
  rule: string;
  params: ResponseParams;
  /** Seq and time of the `response.applied` event. */
  seq: number;
  applied_at: string;
}

/** A response, with its revert when it was reverted. */
export interface ResponseState extends AppliedResponse {
  reverted?: { by: string; reason: string; seq: number; at: string };
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const idText = (v: unknown): string | undefined =>
  typeof v === 'string' && v.length > 0 && v.length <= 256 ? v : undefined;
const strings = (v: unknown): string[] | undefined =>
  Array.isArray(v) && v.length > 0 && v.length <= 32 && v.every((x) => idText(x) !== undefined)
    ? (v as string[])
    : undefined;
const count = (v: unknown): number | undefined =>
  Number.isSafeInteger(v) && (v as number) > 0 ? (v as number) : undefined;

/**
 * The id of the response `rule` applies for `anomaly`: the same anomaly and rule always give the
 * same id, so a responder that restarts before moving its cursor records the response once.
 *
 * @example
 * responseId('an_1', 0, 'quarantine') // 'rsp_3f1c…' (24 hex digits)
 */
export function responseId(anomalyId: string, rule: number, kind: ResponseKind): string {
  const h = createHash('sha256').update(`${anomalyId}\u0000${rule}\u0000${kind}`).digest('hex');
  return `rsp_${h.slice(0, 24)}`;
}

/**
 * Checks a response's parameters for its kind; throws `invalid_argument` naming the fault.
 *
 * @example
 * checkResponseParams('rate_limit', { per_minute: 10 }, 'responses[0].params') // { per_minute: 10 }
 */
export function checkResponseParams(kind: ResponseKind, raw: unknown, at: string): ResponseParams {
  const bad = (f: string, what: string): AuditError =>
    new AuditError('invalid_argument', `${at}${f ? `.${f}` : ''} ${what}`);
  if (raw !== undefined && !isObj(raw)) throw bad('', 'must be a mapping');
  const p = raw ?? {};
  const allowed: Record<ResponseKind, string[]> = {
    demote: ['tiers'],
    require_approval: ['approvers', 'ttl_ms'],
    rate_limit: ['per_minute'],
    quarantine: [],
  };
  for (const k of Object.keys(p))
    if (!allowed[kind].includes(k)) throw bad(k, `is not a parameter of ${kind}`);
  const out: ResponseParams = {};
  if (p['tiers'] !== undefined) {
    const t = strings(p['tiers']);
    if (!t || t.length < 2) throw bad('tiers', 'must list at least two trust tiers, highest first');
    out.tiers = t;
  }
  if (kind === 'require_approval') {
    const a = strings(p['approvers']);
    if (!a) throw bad('approvers', 'must list who may approve (1 to 32 names)');
    out.approvers = a;
    if (p['ttl_ms'] !== undefined) {
      const t = count(p['ttl_ms']);
      if (t === undefined) throw bad('ttl_ms', 'must be a positive integer');
      out.ttl_ms = t;
    }
  }
  if (kind === 'rate_limit') {
    const n = count(p['per_minute']);
    if (n === undefined || n > 1_000_000) throw bad('per_minute', 'must be an integer from 1 to 1000000');
    out.per_minute = n;
  }
  return out;
}

/**
 * The `response.applied` event of a response (what `applyResponse` records).
 *
 * @example
 * responseAppliedEvent({ id, kind: 'quarantine', agent_id: 'bot', anomaly_id: 'an_1', detector: 'denial_spike', rule: 'responses[0]', params: {} })
 */
export function responseAppliedEvent(
  r: Omit<AppliedResponse, 'seq' | 'applied_at'>,
  extra: { risk_level?: RiskLevel; run_id?: string; session_id?: string } = {},
): AuditEvent {
  return {
    event_id: r.id,
    type: 'response.applied',
    actor: { type: 'system', id: 'auditrail-respond' },
    action: { type: `response.${r.kind}`, target: `agent/${r.agent_id}` },
    ...(extra.risk_level ? { risk_level: extra.risk_level } : {}),
    ...(extra.run_id ? { run_id: extra.run_id } : {}),
    ...(extra.session_id ? { session_id: extra.session_id } : {}),
    metadata: {
      response: {
        id: r.id,
        kind: r.kind,
        agent_id: r.agent_id,
        anomaly_id: r.anomaly_id,
        detector: r.detector,
        rule: r.rule,
        params: r.params as Obj,
      },
    },
  };
}

/** The response a `response.applied` event records, or null when it does not parse. */
export function appliedOf(e: RecordedEvent): AppliedResponse | null {
  if (e.type !== 'response.applied') return null;
  const m = e.metadata?.['response'];
  if (!isObj(m)) return null;
  const id = idText(m['id']);
  const kind = m['kind'];
  const agent = idText(m['agent_id']);
  if (id === undefined || agent === undefined) return null;
  if (typeof kind !== 'string' || !(RESPONSE_KINDS as readonly string[]).includes(kind)) return null;
  let params: ResponseParams;
  try {
    params = checkResponseParams(kind as ResponseKind, m['params'], 'params');
  } catch {
    return null;
  }
  return {
    id,
    kind: kind as ResponseKind,
    agent_id: agent,
    anomaly_id: idText(m['anomaly_id']) ?? '',
    detector: idText(m['detector']) ?? '',
    rule: idText(m['rule']) ?? '',
    params,
    seq: e.seq,
    applied_at: e.time ?? e.ts,
  };
}

const PAGE = 1000;
/** Longest a response recorded other than by applyResponse/revertResponse goes unseen. */
export const FULL_READ_MS = 1000;
const versionKey = (trail: AuditTrail): string => `responses.version:${trail.origin}`;

/**
 * Marks the log's responses as changed (a meta row every process reads): the next decision of
 * any governor on this log reads the response events instead of waiting for its periodic read.
 */
async function bumpVersion(trail: AuditTrail): Promise<void> {
  await storeOf(trail).setMeta(versionKey(trail), randomBytes(8).toString('hex'));
}

/**
 * The responses of one log, kept in memory and brought up to date from the log before each use:
 * `response.applied` and `response.reverted` events read by type (the query index) after the
 * last seq seen. What decides is the events; to keep a decision cheap they are read only when the
 * log's response version (a meta row that {@link applyResponse} and {@link revertResponse} change,
 * in any process) moved, and at least every {@link FULL_READ_MS} anyway (a response event
 * recorded some other way). So a response applied by another process is honoured at the next
 * decision, and a refresh with nothing new is one primary-key lookup.
 *
 * @example
 * const book = responseBook(trail);
 * await book.refresh();
 * book.active('support-bot'); // [{ id: 'rsp_…', kind: 'quarantine', … }]
 */
export class ResponseBook {
  readonly #all = new Map<string, ResponseState>();
  readonly #byAgent = new Map<string, ResponseState[]>();
  /** Reverts read before their response (a response and its revert appended between two reads). */
  readonly #earlyReverts = new Map<string, NonNullable<ResponseState['reverted']>>();
  #appliedAfter = -1;
  #revertedAfter = -1;
  #refreshing: Promise<void> | null = null;
  /** The version read before the last read of the events, and when that read was. */
  #version: string | undefined | null = null;
  #readAt = -Infinity;

  constructor(
    private readonly trail: AuditTrail,
    private readonly now: () => number = Date.now,
  ) {}

  /** Brings the book up to date with the log (one refresh at a time; concurrent callers share it). */
  refresh(): Promise<void> {
    this.#refreshing ??= this.update().finally(() => (this.#refreshing = null));
    return this.#refreshing;
  }

  private async update(): Promise<void> {
    // The version is read before the events: a change after this read is seen next time.
    const version = await storeOf(this.trail).getMeta(versionKey(this.trail));
    const at = this.now();
    if (version === this.#version && at - this.#readAt < FULL_READ_MS) return;
    await this.read();
    this.#version = version;
    this.#readAt = at;
  }

  /**
   * Committed events of one type after seq `after`, from the store's type index. Straight from
   * the store, not `trail.query`: a decision must not force the queued outcome of the previous
   * action into a commit of its own (it shares the next intent's).
   */
  private async page(type: string, after: number): Promise<RecordedEvent[]> {
    const rows = await storeOf(this.trail).query(
      this.trail['head'].logId,
      { type },
      { ...(after >= 0 ? { after } : {}), limit: PAGE, order: 'asc' },
    );
    return rows.map((r) => toRecordedEvent(r, this.trail.origin));
  }

  private async read(): Promise<void> {
    for (;;) {
      const page = await this.page('response.applied', this.#appliedAfter);
      for (const e of page) {
        this.#appliedAfter = e.seq;
        const r = appliedOf(e);
        if (r === null || this.#all.has(r.id)) continue;
        const state: ResponseState = { ...r };
        const early = this.#earlyReverts.get(r.id);
        if (early) {
          state.reverted = early;
          this.#earlyReverts.delete(r.id);
        }
        this.#all.set(r.id, state);
        if (!state.reverted) {
          const list = this.#byAgent.get(r.agent_id);
          if (list) list.push(state);
          else this.#byAgent.set(r.agent_id, [state]);
        }
      }
      if (page.length < PAGE) break;
    }
    for (;;) {
      const page = await this.page('response.reverted', this.#revertedAfter);
      for (const e of page) {
        this.#revertedAfter = e.seq;
        const m = e.metadata;
        const id = idText(m?.['response_id']);
        if (id === undefined) continue;
        const revert = {
          by: idText(m?.['by']) ?? e.actor.id,
          reason: typeof m?.['reason'] === 'string' ? m['reason'].slice(0, 1000) : '',
          seq: e.seq,
          at: e.time ?? e.ts,
        };
        const state = this.#all.get(id);
        if (!state) {
          this.#earlyReverts.set(id, revert);
          continue;
        }
        if (state.reverted) continue;
        state.reverted = revert;
        const list = this.#byAgent.get(state.agent_id);
        const left = list?.filter((x) => x.id !== id) ?? [];
        if (left.length > 0) this.#byAgent.set(state.agent_id, left);
        else this.#byAgent.delete(state.agent_id);
      }
      if (page.length < PAGE) break;
    }
  }

  /** The agent's active responses, oldest first (as of the last refresh). */
  active(agentId: string): readonly ResponseState[] {
    return this.#byAgent.get(agentId) ?? [];
  }

  /** Every response (with its revert, if any), oldest first. */
  all(): ResponseState[] {
    return [...this.#all.values()];
  }

  get(id: string): ResponseState | undefined {
    return this.#all.get(id);
  }
}

const BOOKS = new WeakMap<AuditTrail, ResponseBook>();

/**
 * The response book of `trail`, shared by every governor on it in this process.
 *
 * @example
 * const book = responseBook(trail); await book.refresh(); book.all();
 */
export function responseBook(trail: AuditTrail): ResponseBook {
  let b = BOOKS.get(trail);
  if (!b) {
    b = new ResponseBook(trail);
    BOOKS.set(trail, b);
  }
  return b;
}

/**
 * Records `response.applied` for a response, once: a response id already in the log is not
 * recorded again. Returns whether it was recorded now.
 *
 * @example
 * await applyResponse(trail, { id: responseId('an_1', 0, 'quarantine'), kind: 'quarantine', agent_id: 'bot', anomaly_id: 'an_1', detector: 'denial_spike', rule: 'responses[0]', params: {} });
 */
export async function applyResponse(
  trail: AuditTrail,
  r: Omit<AppliedResponse, 'seq' | 'applied_at'>,
  extra: { risk_level?: RiskLevel; run_id?: string; session_id?: string } = {},
): Promise<boolean> {
  if (!(RESPONSE_KINDS as readonly string[]).includes(r.kind))
    throw new AuditError('invalid_argument', `response kind must be one of ${RESPONSE_KINDS.join(', ')}`);
  const params = checkResponseParams(r.kind, r.params, 'params');
  if ((await trail.get(r.id)) !== undefined) return false;
  await trail.record(responseAppliedEvent({ ...r, params }, extra));
  await bumpVersion(trail);
  return true;
}

/**
 * Reverts an active response: records `response.reverted` naming it, who and why. Throws
 * `not_found` for an unknown id, `conflict` when it was already reverted, `invalid_argument`
 * without a reason.
 *
 * @example
 * await revertResponse(trail, 'rsp_3f1c…', { by: 'alice', reason: 'false positive: load test' });
 */
export async function revertResponse(
  trail: AuditTrail,
  id: string,
  by: { by: string; reason: string },
): Promise<ResponseState> {
  const reason = by.reason.trim();
  if (reason === '') throw new AuditError('invalid_argument', 'a revert needs a reason (--reason)');
  if (reason.length > 1000)
    throw new AuditError('invalid_argument', 'the reason is longer than 1000 characters');
  if (!/^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$/.test(by.by))
    throw new AuditError('invalid_argument', `'${by.by.slice(0, 64)}' is not a principal name`);
  const book = responseBook(trail);
  await book.refresh();
  const r = book.get(id);
  if (!r) throw new AuditError('not_found', `no response ${id.slice(0, 64)} in this log`);
  if (r.reverted)
    throw new AuditError(
      'conflict',
      `response ${id} was already reverted by ${r.reverted.by} at ${r.reverted.at}`,
    );
  await trail.record({
    type: 'response.reverted',
    actor: { type: 'user', id: by.by },
    action: { type: `response.${r.kind}`, target: `agent/${r.agent_id}` },
    parent_event_id: r.id,
    metadata: { response_id: r.id, anomaly_id: r.anomaly_id, by: by.by, reason },
  });
  await bumpVersion(trail);
  await book.refresh();
  return book.get(id)!;
}
