import { createHash } from 'node:crypto';
import { AuditError, type AuditEvent, type AuditTrail } from '../index.js';
import { detectState, type DetectState } from '../sdk/detect-state.js';
import type { DetectConfig } from './config.js';
import { DETECT_ACTOR, DetectEngine, type Anomaly, type DetectInput } from './engine.js';

/** What one run did. */
export interface DetectReport {
  /** Events looked at (the detector's own excluded). */
  events: number;
  /** `anomaly.detected` events appended. */
  anomalies: number;
  /** The cursor after the run: the next seq the detectors will read. */
  cursor: number;
}

export interface DetectRunnerOptions {
  /** Waits `ms` (or less, when `signal` aborts). Injected by tests. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Progress lines for people. */
  log?: (line: string) => void;
  /** Events read per page (default 5,000). */
  pageSize?: number;
  /** Events between two state snapshots (default 50,000; one is also saved when a run ends). */
  snapshotEvery?: number;
  /** Called with each anomaly once its event is durable. */
  onAnomaly?: (anomaly: Anomaly, seq: number) => void;
}

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
 * The `anomaly.detected` event of an anomaly. Its `event_id` is derived from the anomaly's id,
 * so appending it again (after a crash between the append and the cursor's move) stores it once.
 *
 * @example
 * await trail.record(anomalyEvent(anomaly));
 */
export function anomalyEvent(a: Anomaly): AuditEvent {
  const payload: Record<string, unknown> = {
    id: a.id,
    detector: a.detector,
    agent_id: a.agent_id,
    score: a.score,
    threshold: a.threshold,
    seqs: a.seqs,
    window: a.window,
    summary: a.summary,
  };
  if (a.run_id !== undefined) payload['run_id'] = a.run_id;
  return {
    event_id: `anomaly-${createHash('sha256').update(a.id).digest('hex').slice(0, 40)}`,
    type: 'anomaly.detected',
    actor: { ...DETECT_ACTOR },
    risk_level: a.risk_level,
    ...(a.session_id !== undefined ? { session_id: a.session_id } : {}),
    ...(a.run_id !== undefined ? { run_id: a.run_id } : {}),
    metadata: { anomaly: payload },
  };
}

/**
 * Runs the detectors of one config over one log from its cursor: reads a page, feeds the
 * engine, appends the anomalies it raised (durably), and only then moves the cursor
 * (compare-and-set). The learned state is saved as a snapshot every `snapshotEvery` events and
 * when a run ends; on start it is restored and the events between the snapshot and the cursor
 * are read again without raising anything (their anomalies are already in the log). Nothing is
 * lost or raised twice across a crash or a restart.
 *
 * @example
 * const runner = new DetectRunner(trail, await loadDetectConfig('auditrail.yaml'));
 * const report = await runner.run(); // up to the log's end, then returns
 */
export class DetectRunner {
  private readonly state: DetectState;
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  private readonly log: (line: string) => void;
  private readonly pageSize: number;
  private readonly snapshotEvery: number;
  readonly engine: DetectEngine;

  constructor(
    private readonly trail: AuditTrail,
    private readonly config: DetectConfig,
    private readonly options: DetectRunnerOptions = {},
  ) {
    this.state = detectState(trail);
    this.sleep = options.sleep ?? defaultSleep;
    this.log = options.log ?? (() => undefined);
    this.pageSize = Math.min(Math.max(options.pageSize ?? 5000, 1), 10_000);
    this.snapshotEvery = options.snapshotEvery ?? 50_000;
    this.engine = new DetectEngine(config);
  }

  private page(next: number, limit = this.pageSize): Promise<{ events: DetectInput[] }> {
    return this.trail.query({ limit, ...(next > 0 ? { cursor: `a${next - 1}` } : {}) });
  }

  /** Restores the snapshot and reads again what lies between it and the cursor, silently. */
  private async restore(cursor: number): Promise<void> {
    const raw = await this.state.snapshot(this.config.name);
    let from = 0;
    if (raw !== undefined) {
      const m = /^\{"v":1,"next":(\d{1,15}),"engine":/.exec(raw.slice(0, 64));
      const at = m ? Number(m[1]) : -1;
      if (m && at <= cursor && this.engine.restore(raw.slice(m[0].length, -1))) from = at;
      else this.log(`detect ${this.config.name}: the saved state does not fit; rebuilding it from seq 0`);
    }
    if (from >= cursor) return;
    this.log(`detect ${this.config.name}: rebuilding the detectors' state from seq ${from} to ${cursor - 1}`);
    for (let next = from; next < cursor;) {
      const { events } = await this.page(next, Math.min(10_000, cursor - next));
      if (events.length === 0) break;
      for (const e of events) if (e.seq < cursor) this.engine.observe(e);
      next = (events.at(-1) as DetectInput).seq + 1;
    }
    this.engine.take();
  }

  /**
   * The event of an anomaly. Its event id is predictable; when another producer already holds
   * it with other content (an ingest key can write any event id), the anomaly takes the next
   * free alternate id instead of failing the batch: an alert cannot be suppressed that way.
   */
  private async eventFor(a: Anomaly): Promise<AuditEvent> {
    const event = anomalyEvent(a);
    const base = event.event_id as string;
    for (let n = 1; n <= 8; n++) {
      const held = await this.trail.get(event.event_id as string);
      const same =
        held === undefined ||
        (held.type === 'anomaly.detected' &&
          held.actor.id === DETECT_ACTOR.id &&
          (held.metadata as { anomaly?: { id?: unknown } } | undefined)?.anomaly?.id === a.id);
      if (same) return event;
      this.log(
        `detect ${this.config.name}: event id ${event.event_id} is held by seq ${held.seq}; using another`,
      );
      event.event_id = `${base}-${n}`;
    }
    return event;
  }

  private async saveSnapshot(next: number): Promise<void> {
    await this.state.saveSnapshot(
      this.config.name,
      `{"v":1,"next":${next},"engine":${this.engine.snapshot()}}`,
    );
  }

  /**
   * Reads from the cursor to the log's end and returns; with `follow`, keeps going as events
   * arrive (polling every `poll`), until `signal` aborts.
   */
  async run(options: { follow?: boolean; signal?: AbortSignal } = {}): Promise<DetectReport> {
    const { follow = false, signal } = options;
    const name = this.config.name;
    let next = await this.state.cursor(name);
    await this.restore(next);
    const report: DetectReport = { events: 0, anomalies: 0, cursor: next };
    let sinceSnapshot = 0;
    let dirty = false;
    try {
      while (!signal?.aborted) {
        const { events } = await this.page(next);
        if (events.length === 0) {
          if (dirty) {
            await this.saveSnapshot(next);
            dirty = false;
            sinceSnapshot = 0;
          }
          if (!follow) break;
          await this.sleep(this.config.poll_ms, signal);
          continue;
        }
        const before = this.engine.events;
        for (const e of events) this.engine.observe(e);
        report.events += this.engine.events - before;
        const raised = this.engine.take();
        if (raised.length > 0) {
          // Durable before the cursor moves: a crash here raises them again, stored once.
          const receipts = await this.trail.recordBatch(
            await Promise.all(raised.map((a) => this.eventFor(a))),
          );
          report.anomalies += receipts.filter((r) => r.duplicate !== true).length;
          raised.forEach((a, i) => this.options.onAnomaly?.(a, receipts[i]?.seq ?? -1));
        }
        const end = (events.at(-1) as DetectInput).seq + 1;
        if (!(await this.state.advance(name, next, end)))
          throw new AuditError(
            'conflict',
            `detect '${name}': its cursor moved under this detector (is another one running on this log?)`,
          );
        next = end;
        dirty = true;
        sinceSnapshot += events.length;
        if (sinceSnapshot >= this.snapshotEvery) {
          await this.saveSnapshot(next);
          dirty = false;
          sinceSnapshot = 0;
        }
      }
      if (dirty) await this.saveSnapshot(next);
    } catch (e) {
      throw e instanceof AuditError
        ? e
        : new AuditError('store_failure', `detect '${name}': ${(e as Error).message}`, { cause: e });
    }
    report.cursor = next;
    return report;
  }
}
