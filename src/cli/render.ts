import type { RecordedEvent } from '../index.js';
import {
  csvRow,
  formatDuration,
  groupDigits,
  renderTable,
  type Cell,
  type Colors,
  type Column,
  type Row,
} from './format.js';
import type { Sink } from './io.js';

/** Output formats of commands that list events. */
export const LIST_FORMATS = ['table', 'json', 'jsonl', 'csv'] as const;
export type ListFormat = (typeof LIST_FORMATS)[number];

/** The fixed CSV columns of `log` and `export` (docs/cli.md). */
export const CSV_COLUMNS = [
  'seq',
  'ts',
  'event_id',
  'type',
  'actor_type',
  'actor_id',
  'action_type',
  'target',
  'decision',
  'matched_rule',
  'reason',
  'status',
  'risk',
  'session_id',
  'run_id',
  'leaf_hash',
] as const;

function csvValues(e: RecordedEvent): unknown[] {
  const risk = e.risk_level ?? e.policy?.risk;
  const byColumn: Record<(typeof CSV_COLUMNS)[number], unknown> = {
    seq: e.seq,
    ts: e.ts,
    event_id: e.event_id,
    type: e.type,
    actor_type: e.actor?.type,
    actor_id: e.actor?.id,
    action_type: e.action?.type,
    target: e.action?.target,
    decision: e.policy?.decision,
    matched_rule: e.policy?.matched_rule,
    // The policy's reason on a decision, the approver's on an approval.
    reason: e.policy?.reason ?? e.approval?.reason,
    status: e.outcome?.status,
    risk,
    session_id: e.session_id,
    run_id: e.run_id,
    leaf_hash: e.leaf_hash,
  };
  return CSV_COLUMNS.map((c) => byColumn[c]);
}

/**
 * An event for JSON output: what the log assigned (seq, ts, leaf_hash, log), then event_id and
 * type, then the event's other fields in their stored order.
 */
export function presentEvent(e: RecordedEvent): RecordedEvent {
  const { seq, ts, leaf_hash, log, event_id, type, ...rest } = e;
  return { seq, ts, leaf_hash, log, event_id, type, ...rest };
}

/** The decision, approval, status or phase an event reports, for the "result" column. */
export function resultOf(e: RecordedEvent): string {
  if (e.policy) return e.policy.decision;
  if (e.outcome) return e.outcome.status;
  if (e.approval?.decision) return e.approval.decision;
  if (e.type === 'action.retried' && e.dispatch?.attempt !== undefined)
    return `attempt ${e.dispatch.attempt}`;
  if (e.dispatch?.status) return e.dispatch.status;
  const phase = e.metadata?.['phase'];
  return typeof phase === 'string' ? phase : '';
}

export function paintResult(result: string, c: Colors): Cell {
  const paint =
    result === 'allow' || result === 'success' || result === 'granted'
      ? c.green
      : result === 'deny' || result === 'failure' || result === 'denied' || result === 'blocked'
        ? c.red
        : result === 'require_approval' ||
            result === 'timeout' ||
            result === 'pending' ||
            result.startsWith('attempt')
          ? c.yellow
          : undefined;
  return paint ? { text: result, paint } : { text: result };
}

function actorOf(e: RecordedEvent): string {
  if (!e.actor) return '';
  // People are told apart from software: their ids are indexed as `user:<id>` too.
  return e.actor.type === 'user' ? `user:${e.actor.id}` : e.actor.id;
}

function actionOf(e: RecordedEvent): string {
  if (!e.action) return '';
  return e.action.target ? `${e.action.type} → ${e.action.target}` : e.action.type;
}

const quote = (s: string, max = 90): string => `"${s.length > max ? `${s.slice(0, max - 1)}…` : s}"`;

/**
 * The notes under a timeline row: what an auditor looks for first. Never values of redacted
 * fields (only their pointers), and data subjects only as a count.
 */
export function notesOf(e: RecordedEvent, seqOf: (eventId: string) => number | undefined): string {
  const notes: string[] = [];
  if (e.policy) {
    const rule = e.policy.matched_rule ? `rule ${e.policy.matched_rule}` : 'no rule matched';
    notes.push(e.policy.reason ? `${rule}: ${quote(e.policy.reason)}` : rule);
    if (e.policy.approvers?.length) notes.push(`approvers ${e.policy.approvers.join(', ')}`);
  }
  if (e.approval) {
    const a = e.approval;
    if (a.approver) notes.push(`by ${a.approver}${a.reason ? `: ${quote(a.reason)}` : ''}`);
    else if (a.approvers?.length) notes.push(`asks ${a.approvers.join(', ')}`);
    if (a.request_id) notes.push(`request ${a.request_id}`);
  }
  if (e.type === 'action.retried' && e.dispatch?.attempt !== undefined) {
    notes.push(
      `attempt ${e.dispatch.attempt}${e.dispatch.max_attempts ? ` of ${e.dispatch.max_attempts}` : ''}`,
    );
  }
  if (e.outcome?.error_message) notes.push(`error: ${quote(e.outcome.error_message)}`);
  if (e.outcome?.duration_ms !== undefined && e.outcome.status !== 'success') {
    notes.push(`after ${formatDuration(e.outcome.duration_ms)}`);
  }
  if (e.undo) {
    const seq = seqOf(e.undo.of_event_id);
    notes.push(
      `undoes ${seq !== undefined ? `seq ${seq}` : e.undo.of_event_id}${e.undo.reason ? `: ${quote(e.undo.reason)}` : ''}`,
    );
  }
  if (e.type === 'anomaly.detected') {
    const detector = e.metadata?.['detector'];
    const score = e.metadata?.['score'];
    if (typeof detector === 'string')
      notes.push(`${detector}${typeof score === 'number' ? ` (score ${score})` : ''}`);
    if (e.context?.reasoning) notes.push(quote(e.context.reasoning));
  }
  // The chain on the delegation events themselves; inside it, "on behalf of" on intents says enough.
  if (e.type.startsWith('delegation.') && e.delegation?.chain?.length) {
    notes.push(
      `chain ${e.delegation.chain.map((l) => l.agent_id).join(' → ')} (depth ${e.delegation.depth ?? '?'})`,
    );
  }
  if (e.type === 'action.intent' && e.actor?.on_behalf_of) notes.push(`on behalf of ${e.actor.on_behalf_of}`);
  const ctx = e.context;
  if (
    ctx?.data_classification &&
    ctx.data_classification !== 'public' &&
    ctx.data_classification !== 'internal'
  ) {
    const n = ctx.data_subject_ids?.length ?? 0;
    notes.push(
      `${ctx.data_classification.toUpperCase()}${n > 0 ? `, ${n} data subject${n > 1 ? 's' : ''}` : ''}`,
    );
  }
  if (e.model && (e.model.input_tokens !== undefined || e.model.output_tokens !== undefined)) {
    notes.push(
      `${e.model.name ?? 'model'} ${groupDigits(e.model.input_tokens ?? 0)}→${groupDigits(e.model.output_tokens ?? 0)} tok`,
    );
  }
  if (e.redacted?.length) notes.push(`redacted: ${e.redacted.join(', ')}`);
  if (e.erased?.length) notes.push(`erased: ${e.erased.map((x) => x.pointer).join(', ')}`);
  return notes.join(' · ');
}

/** Below this width the timeline has no actor column (the actor is shown in the notes). */
export const NARROW_WIDTH = 90;

/**
 * The timeline table: seq, time, type, actor, action → target, result, with notes under each
 * row. `time` is the producer's clock (`time`) or the log's (`ts`).
 */
export function timelineTable(
  events: RecordedEvent[],
  options: { width: number; colors: Colors; clock: 'time' | 'ts' },
): string {
  const c = options.colors;
  const seqByEid = new Map(events.map((e) => [e.event_id, e.seq]));
  const timeOf = (e: RecordedEvent): string => {
    const t = options.clock === 'time' ? (e.time ?? e.ts) : e.ts;
    return options.clock === 'time' ? t.slice(11, 19) : `${t.slice(0, 10)} ${t.slice(11, 19)}`;
  };
  // Narrow terminals (80 columns): the actor moves into the notes so that type, action and result
  // keep their room. The time is never shortened.
  const withActor = options.width >= NARROW_WIDTH;
  const columns: Column[] = [
    { header: 'seq', align: 'right', min: 3 },
    { header: options.clock === 'time' ? 'time' : 'ts (UTC)', min: options.clock === 'time' ? 8 : 19 },
    // Types are short and tell rows apart: never cut (up to action.dead_lettered).
    { header: 'type', min: Math.min(20, Math.max(4, ...events.map((e) => e.type.length))) },
    ...(withActor ? [{ header: 'actor', min: 8, max: 15 }] : []),
    { header: 'action → target', min: 12 },
    { header: 'result', min: 6 },
  ];
  const rows: Row[] = events.map((e) => {
    const notes = notesOf(e, (id) => seqByEid.get(id));
    const actor = withActor ? '' : actorOf(e);
    const note = actor ? `actor ${actor}${notes ? ` · ${notes}` : ''}` : notes;
    return {
      cells: [
        { text: String(e.seq), paint: c.dim },
        { text: timeOf(e), paint: c.dim },
        { text: e.type, paint: c.cyan },
        ...(withActor ? [actorOf(e)] : []),
        actionOf(e),
        paintResult(resultOf(e), c),
      ],
      ...(note ? { note } : {}),
    };
  });
  return renderTable(columns, rows, options);
}

/**
 * Writes events in a machine format as they arrive, page by page: `jsonl` one event per line,
 * `json` one array (one element per line), `csv` the fixed {@link CSV_COLUMNS}.
 */
export class EventWriter {
  private count = 0;
  constructor(
    private readonly sink: Sink,
    private readonly format: Exclude<ListFormat, 'table'>,
  ) {}

  async begin(): Promise<void> {
    if (this.format === 'csv') await this.sink.write(csvRow([...CSV_COLUMNS]));
    if (this.format === 'json') await this.sink.write('[');
  }

  async write(events: RecordedEvent[]): Promise<void> {
    let chunk = '';
    for (const e of events) {
      if (this.format === 'jsonl') chunk += `${JSON.stringify(presentEvent(e))}\n`;
      else if (this.format === 'json')
        chunk += `${this.count === 0 ? '\n' : ',\n'}${JSON.stringify(presentEvent(e))}`;
      else chunk += csvRow(csvValues(e));
      this.count++;
    }
    await this.sink.write(chunk);
  }

  async finish(): Promise<number> {
    if (this.format === 'json') await this.sink.write(this.count === 0 ? ']\n' : '\n]\n');
    return this.count;
  }
}
