import { AuditError, type AuditTrail } from '../index.js';
import type { RecordedEvent } from '../event/types.js';
import { compileGlobList } from '../core/glob.js';
import type { DeadLetter, ExportState } from '../sdk/export-state.js';
import {
  compileCondition,
  CostMeter,
  DEFAULT_COST_BUDGET,
  runCondition,
  type CompiledCondition,
} from '../policy/condition.js';
import { EXPORT_CEL_VARIABLES, type ExportConfig, type ExportFilter } from './config.js';
import { formatJson, nativeRecord, type FormatContext } from './format.js';
import {
  ChunkPool,
  EncodedParts,
  isEncodingSink,
  type EncodingSink,
  type ExportRecord,
  type SendResult,
  type Sink,
} from './sink.js';

/**
 * What a pipeline needs of its config: a name (its cursor's), batching, retries and the secrets
 * to mask. An export config adds its filter and format; an alert channel brings a transform.
 */
export type PipelineConfig = Pick<ExportConfig, 'name' | 'batch' | 'retry' | 'secrets'> &
  Partial<Pick<ExportConfig, 'filter' | 'format'>>;

/** What one run did. */
export interface RunReport {
  /** Events the receiver acknowledged. */
  delivered: number;
  batches: number;
  /** Events in batches the receiver refused for good (now dead letters). */
  dead_lettered: number;
  /** The sink's cursor after the run: the next seq it will be sent. */
  cursor: number;
}

/**
 * What a pipeline sends for one event: its record, or null to skip it (the cursor still passes
 * it). A promise only when the transform must read the log (an alert looking up its anomaly).
 */
export type EventTransform = (
  event: RecordedEvent,
) => Record<string, unknown> | null | Promise<Record<string, unknown> | null>;

export interface PipelineOptions {
  context: FormatContext;
  /**
   * Replaces the config's filter and format (alert channels build their own messages); the
   * cursor, batching, retries and dead letters stay the pipeline's.
   */
  transform?: EventTransform;
  /**
   * Events read per query (default: the batch size; at most {@link READ_PAGE} for a sink that
   * encodes records as they are read). A transform that
   * keeps few events (alerts: anomalies only) reads larger pages, so a one-event batch does not
   * cost one query per event.
   */
  pageSize?: number;
  /** Waits `ms` (or less, when `signal` aborts). Injected by tests. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Jitter source in [0, 1). */
  random?: () => number;
  now?: () => number;
  /** Progress lines for people (a retry, a dead letter); never holds a secret. */
  log?: (line: string) => void;
  /** Hears each acknowledged batch's event count (for metrics). */
  onDelivered?: (events: number) => void;
}

/** The longest Retry-After honoured (a receiver asking for more is waited on this long, then tried). */
const MAX_RETRY_AFTER_MS = 3_600_000;
/** trail.query's largest page. */
const MAX_PAGE = 10_000;
/** Events read per query by default: a batch is read in pages this size, so only a page of event objects is alive at a time. */
const READ_PAGE = 128;
const RISK_RANK = { low: 1, medium: 2, high: 3, critical: 4 } as const;

function defaultSleep(ms: number, signal?: AbortSignal): Promise<void> {
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

/**
 * The filter of a sink as a predicate over events; `tenant` defaults to the log's tenant. The CEL
 * expression reads `event` (the native record) within the policy engine's cost budget per event;
 * when it fails on an event (a missing field, over budget) the event passes — a filter that
 * cannot decide never loses an audit record — and `onCelError` hears why.
 */
export function compileFilter(
  filter: ExportFilter,
  logTenant: string,
  onCelError: (e: RecordedEvent, why: string) => void = () => undefined,
): (e: RecordedEvent) => boolean {
  const types = filter.types ? compileGlobList(filter.types) : null;
  const minRisk = filter.risk ? RISK_RANK[filter.risk] : 0;
  let cel: CompiledCondition | null = null;
  if (filter.cel !== undefined) {
    const compiled = compileCondition(filter.cel, EXPORT_CEL_VARIABLES);
    if (!('program' in compiled))
      throw new AuditError('invalid_argument', `export filter cel is not valid CEL: ${compiled.message}`);
    cel = compiled;
  }
  return (e) => {
    if (types && !types(e.type)) return false;
    if (minRisk > 0 && (e.risk_level === undefined || RISK_RANK[e.risk_level] < minRisk)) return false;
    if (filter.tenant !== undefined && (e.tenant ?? logTenant) !== filter.tenant) return false;
    if (cel) {
      const r = runCondition(cel, { event: nativeRecord(e) }, new CostMeter(DEFAULT_COST_BUDGET));
      if (typeof r === 'string') {
        onCelError(e, r);
        return true;
      }
      return r;
    }
    return true;
  };
}

/** An export record made from its JSON text; the object form is parsed on first use. */
class FormattedRecord implements ExportRecord {
  private parsed: Record<string, unknown> | undefined;
  constructor(
    readonly event: RecordedEvent,
    readonly json: string,
  ) {}
  get record(): Record<string, unknown> {
    return (this.parsed ??= JSON.parse(this.json) as Record<string, unknown>);
  }
}

function withJson(event: RecordedEvent, record: Record<string, unknown> | null): ExportRecord | null {
  return record === null ? null : { event, record, json: JSON.stringify(record) };
}

interface Batch {
  /** The records, or for an encoding sink nothing: their bytes are in `parts` (see {@link EncodingSink}). */
  records: ExportRecord[];
  parts: EncodedParts;
  /** How many records the batch sends. */
  size: number;
  /** First and last seq the batch covers (filtered-out events included). */
  from: number;
  to: number;
  /** The cursor after this batch. */
  end: number;
}

/**
 * Delivers one log's events to one sink, in seq order, at least once: reads from the sink's
 * cursor, batches by count and bytes, sends, and moves the cursor (compare-and-set) only after
 * the receiver acknowledged. Passing failures are retried with exponential backoff and jitter,
 * honouring Retry-After; a batch refused for good becomes a dead letter and delivery goes on.
 * It only reads the log, so a slow or dead receiver never slows `record()` or another sink.
 *
 * @example
 * const pipeline = new ExportPipeline(trail, exportState(trail), config, sink, { context });
 * const report = await pipeline.run(); // everything up to the log's end, then returns
 */
export class ExportPipeline {
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  private readonly random: () => number;
  private readonly now: () => number;
  private readonly log: (line: string) => void;
  /** What is sent for an event, or null to skip it; a promise only from an async transform. */
  private readonly toRecord: (e: RecordedEvent) => ExportRecord | null | Promise<ExportRecord | null>;
  /** The sink's encoder, when it is an {@link EncodingSink}. */
  private readonly encode: ((record: ExportRecord) => string) | undefined;
  /** The buffers encoded batches are written into, reused from batch to batch. */
  private readonly chunks = new ChunkPool();
  private readonly maxEvents: number;
  private readonly maxBytes: number;
  /**
   * Events of the last page read that its batch did not take, from index `at`; the next batch
   * (from seq `next`) starts with them.
   */
  private spare: { next: number; events: readonly RecordedEvent[]; at: number } | null = null;

  constructor(
    private readonly trail: AuditTrail,
    private readonly state: ExportState,
    private readonly config: PipelineConfig,
    private readonly sink: Sink,
    private readonly options: PipelineOptions,
  ) {
    this.sleep = options.sleep ?? defaultSleep;
    this.random = options.random ?? Math.random;
    this.now = options.now ?? Date.now;
    this.log = options.log ?? (() => undefined);
    let celErrors = 0;
    const accept = compileFilter(config.filter ?? {}, trail.tenant, (e, why) => {
      // Said for the first few events only: one bad expression must not flood the log.
      if (++celErrors <= 3)
        this.log(`${config.name}: filter cel failed on seq ${e.seq} (${why}); the event is sent`);
    });
    const format = config.format ?? 'native';
    const transform = options.transform;
    this.toRecord = transform
      ? (e) => {
          const out = transform(e);
          return out instanceof Promise ? out.then((r) => withJson(e, r)) : withJson(e, out);
        }
      : // The format's JSON is what sinks send; the object is parsed from it only if a sink asks.
        (e) => (accept(e) ? new FormattedRecord(e, formatJson(format, e, options.context)) : null);
    this.encode = isEncodingSink(sink) ? (r) => sink.encode(r) : undefined;
    this.maxEvents = Math.min(config.batch.max_events, sink.limits.maxEvents ?? MAX_PAGE, MAX_PAGE);
    this.maxBytes = Math.min(config.batch.max_bytes, sink.limits.maxBytes ?? Infinity);
  }

  /** Removes every secret of the config from `text` (a receiver may echo a token back). */
  private scrub(text: string): string {
    let out = text;
    for (const s of this.config.secrets) if (s.length > 0) out = out.split(s).join('[secret]');
    return out;
  }

  /** Up to `limit` events of the log after seq `after` (all of them from the start when -1). */
  private async read(after: number, limit: number): Promise<RecordedEvent[]> {
    return (await this.trail.query({ limit, ...(after >= 0 ? { cursor: `a${after}` } : {}) })).events;
  }

  /**
   * Reads, filters and formats events from seq `next` on (up to `last`), up to the batch limits.
   * Events are read a page at a time, and for an encoding sink each record becomes its bytes at
   * once, so no more than a page of event objects is alive while a batch fills. A batch cut by
   * bytes or count leaves the rest of its page for the next batch (when that starts there).
   */
  private async collect(next: number, last = Infinity): Promise<Batch> {
    const records: ExportRecord[] = [];
    const parts = new EncodedParts(this.chunks);
    let bytes = 0;
    let end = next;
    let to = next - 1;
    // A batch of records holds its events anyway: read it in one page. One of parts holds bytes.
    const page = Math.min(
      MAX_PAGE,
      this.options.pageSize ?? (this.encode ? Math.min(this.maxEvents, READ_PAGE) : this.maxEvents),
    );
    const spare = this.spare;
    this.spare = null;
    let events: readonly RecordedEvent[] = [];
    let i = 0;
    // Whether the store may hold events after those of `events`.
    let more = true;
    if (spare !== null && spare.next === next) {
      events = spare.events;
      i = spare.at;
    }
    for (;;) {
      if (i === events.length) {
        const want = Math.min(page, last - end + 1);
        if (!more || want <= 0) break;
        events = await this.read(end - 1, want);
        i = 0;
        more = events.length === want;
        if (events.length === 0) break;
      }
      const event = events[i]!;
      if (event.seq > last) {
        this.spare = { next: end, events, at: i };
        break;
      }
      const out = this.toRecord(event);
      // Awaited only when it is a promise: an export's per-event cost stays synchronous.
      const record = out instanceof Promise ? await out : out;
      if (record !== null) {
        const size = Buffer.byteLength(record.json) + 1;
        // A batch always takes its first record, so one oversized event cannot stall the sink.
        if (records.length + parts.length > 0 && bytes + size > this.maxBytes) {
          this.spare = { next: end, events, at: i };
          break;
        }
        if (this.encode) parts.add(this.encode(record));
        else records.push(record);
        bytes += size;
      }
      to = event.seq;
      end = event.seq + 1;
      i++;
      if (records.length + parts.length >= this.maxEvents) {
        if (i < events.length) this.spare = { next: end, events, at: i };
        break;
      }
    }
    return { records, parts, size: records.length + parts.length, from: next, to, end };
  }

  /** Sends one batch until acknowledged, refused for good, or out of attempts (`follow`: never). */
  private async deliver(
    batch: Batch,
    follow: boolean,
    signal?: AbortSignal,
  ): Promise<SendResult | { kind: 'aborted' }> {
    for (let attempt = 1; ; attempt++) {
      const result = await (this.encode
        ? (this.sink as EncodingSink).sendEncoded(batch.parts)
        : this.sink.send(batch.records));
      if (result.kind !== 'retry') return result;
      if (!follow && attempt >= this.config.retry.max_attempts) return result;
      const { initial_ms, max_ms } = this.config.retry;
      const backoff = Math.min(max_ms, initial_ms * 2 ** Math.min(attempt - 1, 30));
      // Equal jitter: half fixed, half random, so many exporters do not retry in step.
      const wait =
        result.retryAfterMs !== undefined
          ? Math.min(result.retryAfterMs, MAX_RETRY_AFTER_MS)
          : backoff / 2 + (this.random() * backoff) / 2;
      this.log(
        `${this.config.name}: seq ${batch.from}-${batch.to} not delivered (${this.scrub(result.detail)}); ` +
          `attempt ${attempt + 1} in ${Math.round(wait)} ms`,
      );
      await this.sleep(wait, signal);
      if (signal?.aborted) return { kind: 'aborted' };
    }
  }

  private deadLetter(batch: Batch, result: { status: number | null; detail: string }): DeadLetter {
    const response = this.trail.redact(this.scrub(result.detail)).value.slice(0, 2048);
    return {
      id: `${batch.from}-${batch.to}`,
      from_seq: batch.from,
      to_seq: batch.to,
      events: batch.size,
      status: result.status,
      response,
      at: new Date(this.now()).toISOString(),
    };
  }

  private gaveUp(batch: Batch, result: { detail: string }): AuditError {
    return new AuditError(
      'timeout',
      `sink '${this.config.name}': seq ${batch.from}-${batch.to} not delivered after ` +
        `${this.config.retry.max_attempts} attempts (${this.scrub(result.detail)}); ` +
        `its cursor stays at seq ${batch.from}, nothing is skipped`,
    );
  }

  /**
   * Delivers from the cursor to the log's end and returns; with `follow`, keeps going as events
   * arrive (polling every `batch.max_wait_ms`), retrying without limit, until `signal` aborts.
   */
  async run(options: { follow?: boolean; signal?: AbortSignal } = {}): Promise<RunReport> {
    const { follow = false, signal } = options;
    const report: RunReport = { delivered: 0, batches: 0, dead_lettered: 0, cursor: 0 };
    // Events read by an earlier run may have been erased since: this run reads its own.
    this.spare = null;
    let next = await this.state.cursor(this.config.name);
    // The two batches after the one being delivered, read and formatted (the second once the
    // first is) while that one is on its way: the reading thread never waits on a receiver's
    // answer, and sending stays one batch at a time, in order.
    let ahead: Promise<Batch> | null = null;
    let ahead2: Promise<Batch> | null = null;
    while (!signal?.aborted) {
      const batch = await (ahead ?? this.collect(next));
      ahead = ahead2;
      ahead2 = null;
      if (batch.end === next) {
        ahead = null;
        if (!follow) break;
        await this.sleep(this.config.batch.max_wait_ms, signal);
        continue;
      }
      if (batch.size > 0) {
        const delivering = this.deliver(batch, follow, signal);
        // Reading never writes, so reading ahead changes nothing the cursor stands for; a failed
        // read surfaces when a later turn awaits it (or not at all, when this run stops first).
        const first: Promise<Batch> = ahead ?? this.collect(batch.end);
        const second = first.then((b) => (b.end > b.from ? this.collect(b.end) : b));
        first.catch(() => undefined);
        second.catch(() => undefined);
        ahead = first;
        ahead2 = second;
        const result = await delivering;
        // Delivered, refused or given up: its buffers go back for the batches after it.
        batch.parts.release();
        if (result.kind === 'aborted') break;
        if (result.kind === 'retry') throw this.gaveUp(batch, result);
        if (result.kind === 'permanent') {
          await this.state.addDeadLetter(this.config.name, this.deadLetter(batch, result));
          this.log(
            `${this.config.name}: seq ${batch.from}-${batch.to} refused (${this.scrub(result.detail)}); ` +
              'kept as a dead letter',
          );
          report.dead_lettered += batch.size;
        } else {
          report.delivered += batch.size;
          this.options.onDelivered?.(batch.size);
        }
        report.batches++;
      }
      if (!(await this.state.advance(this.config.name, next, batch.end)))
        throw new AuditError(
          'conflict',
          `sink '${this.config.name}': its cursor moved under this exporter (is another one running?)`,
        );
      next = batch.end;
    }
    report.cursor = next;
    return report;
  }

  /**
   * Sends the sink's dead letters again, oldest first, reading their events back from the log.
   * A letter the receiver now acknowledges is removed; one refused again stays, with the new answer.
   */
  async replay(): Promise<{ replayed: number; events: number; still_dead: number }> {
    const out = { replayed: 0, events: 0, still_dead: 0 };
    this.spare = null;
    for (const letter of await this.state.deadLetters(this.config.name)) {
      let next = letter.from_seq;
      let refused: DeadLetter | null = null;
      let sent = 0;
      while (next <= letter.to_seq) {
        const batch = await this.collect(next, letter.to_seq);
        if (batch.end === next) break;
        if (batch.size > 0) {
          const result = await this.deliver(batch, false);
          batch.parts.release();
          if (result.kind === 'aborted') break;
          if (result.kind === 'retry') throw this.gaveUp(batch, result);
          if (result.kind === 'permanent') {
            refused = {
              ...this.deadLetter(batch, result),
              id: letter.id,
              from_seq: letter.from_seq,
              to_seq: letter.to_seq,
            };
            break;
          }
          sent += batch.size;
        }
        next = batch.end;
      }
      await this.state.removeDeadLetter(this.config.name, letter.id);
      if (refused) {
        await this.state.addDeadLetter(this.config.name, refused);
        out.still_dead++;
      } else {
        out.replayed++;
        out.events += sent;
      }
    }
    return out;
  }
}
