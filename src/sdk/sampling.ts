/**
 * Sampling at record time (docs/privacy.md § Sampling): of the routine low-risk events a rule
 * matches, one in N is kept — chosen by a hash of the event id, so a re-sent event gets the same
 * answer — and each run of dropped events is summed up in a `sampling.summary` event (counts and a
 * digest of what was dropped), recorded every `flush_seconds` while events are dropped and on close.
 * Decisions, approvals, denials and failures are never dropped, whatever a rule says.
 */
import { createHash, type Hash } from 'node:crypto';
import { canonicalize } from '../core/canonical-json.js';
import type { Receipt } from '../core/append-plan.js';
import type { AuditEvent } from '../event/types.js';
import { matchesEvent, type SamplingPolicy, type SamplingRule } from './retention-config.js';

/** The event type of a summary, and the actor that records it. */
export const SAMPLING_SUMMARY = 'sampling.summary';
export const SAMPLER_ACTOR = 'auditrail-sampler';

/** Outcomes and decisions that keep an event whatever the rule (a denial or failure is never routine). */
const NEVER_DROPPED_STATUS = new Set(['failure', 'denied', 'blocked', 'timeout', 'cancelled']);

/** What a `sampling.summary` event carries in `metadata.sampling`. */
export interface SamplingSummary {
  rule: string;
  /** One in `every` matching events was kept. */
  every: number;
  /** Matching events recorded in this run: `kept + dropped`. */
  matched: number;
  kept: number;
  dropped: number;
  /** `sha256:` hex over each dropped event as stored would have been (JCS, after redaction), one per line, in order. */
  dropped_digest: string;
  first_event_id: string;
  last_event_id: string;
  /** Producer times (`time`) of the first and last dropped event. */
  from: string;
  until: string;
}

interface Window {
  matched: number;
  kept: number;
  dropped: number;
  hash: Hash;
  first: { id: string; time: string } | null;
  last: { id: string; time: string } | null;
}

/** The receipt of a sampled-out event: nothing stored, so no seq (-1) and no leaf hash. */
export function sampledReceipt(eventId: string): Receipt {
  return { seq: -1, event_id: eventId, leaf_hash: '', sampled_out: true };
}

/**
 * Whether event `eventId` is kept by a 1-in-`every` rule: the first 32 bits of SHA-256 of the id,
 * modulo `every`, are 0. Deterministic, so every copy of a producer agrees.
 *
 * @example
 * keptBySampling('01890a5d-ac96-774b-bcce-b302099a8057', 100) // true or false, always the same
 */
export function keptBySampling(eventId: string, every: number): boolean {
  return createHash('sha256').update(eventId).digest().readUInt32BE(0) % every === 0;
}

/**
 * The sampler of one trail: {@link Sampler.drop} is asked for each prepared event; dropped ones are
 * counted per rule and recorded as summaries through `record`.
 */
export class Sampler {
  private readonly windows = new Map<SamplingRule, Window>();
  private readonly timer: NodeJS.Timeout;
  private flushing: Promise<void> = Promise.resolve();
  private readonly unrecorded: SamplingSummary[] = [];

  constructor(
    private readonly policy: SamplingPolicy,
    private readonly tenant: string,
    private readonly record: (e: AuditEvent) => Promise<unknown>,
    private readonly onError: (e: unknown) => void,
  ) {
    this.timer = setInterval(() => {
      this.flush().catch(onError);
    }, policy.flushMs);
    this.timer.unref();
  }

  /** True when `event` (validated, redacted, with its id) is sampled out: it is counted, not stored. */
  drop(event: AuditEvent & { event_id: string }): boolean {
    const rule = this.ruleOf(event);
    if (rule === undefined) return false;
    let w = this.windows.get(rule);
    if (w === undefined) {
      w = { matched: 0, kept: 0, dropped: 0, hash: createHash('sha256'), first: null, last: null };
      this.windows.set(rule, w);
    }
    w.matched++;
    if (keptBySampling(event.event_id, rule.every)) {
      w.kept++;
      return false;
    }
    w.dropped++;
    w.hash.update(`${canonicalize(event)}\n`);
    const at = { id: event.event_id, time: event.time ?? '' };
    w.first ??= at;
    w.last = at;
    return true;
  }

  private ruleOf(e: AuditEvent): SamplingRule | undefined {
    if (e.policy !== undefined || e.approval !== undefined) return undefined;
    if (e.outcome?.status !== undefined && NEVER_DROPPED_STATUS.has(e.outcome.status)) return undefined;
    const facts = {
      tenant: e.tenant ?? this.tenant,
      type: e.type,
      classification: e.context?.data_classification,
      risk: e.risk_level,
    };
    return this.policy.rules.find((r) => matchesEvent(r.match, facts));
  }

  /** Records a summary for each rule that dropped events since the last flush. */
  flush(): Promise<void> {
    const next = this.flushing.then(() => this.flushNow());
    this.flushing = next.catch(() => undefined);
    return next;
  }

  private async flushNow(): Promise<void> {
    for (const [rule, w] of this.windows) {
      if (w.dropped === 0) continue;
      this.windows.delete(rule);
      this.unrecorded.push({
        rule: rule.name,
        every: rule.every,
        matched: w.matched,
        kept: w.kept,
        dropped: w.dropped,
        dropped_digest: `sha256:${w.hash.digest('hex')}`,
        first_event_id: w.first!.id,
        last_event_id: w.last!.id,
        from: w.first!.time,
        until: w.last!.time,
      });
    }
    // A summary that could not be recorded is kept and tried again at the next flush: a count
    // of dropped events is never lost while the trail is open.
    const batch = this.unrecorded.splice(0);
    const results = await Promise.allSettled(
      batch.map((summary) =>
        this.record({
          type: SAMPLING_SUMMARY,
          actor: { type: 'system', id: SAMPLER_ACTOR },
          action: { type: 'sampling.summarize', target: `sampling:${summary.rule}` },
          metadata: { sampling: summary },
        }),
      ),
    );
    const failed = results.flatMap((r, i) =>
      r.status === 'rejected' ? [{ reason: r.reason as unknown, s: batch[i]! }] : [],
    );
    this.unrecorded.unshift(...failed.map((f) => f.s));
    if (failed.length > 0) throw failed[0]!.reason;
  }

  /** Stops the timer and records what is left. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}
