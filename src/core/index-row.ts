/**
 * The query index columns of one event (the `events` table): derived from the event's fields,
 * never hashed. The write path (`sdk/prepare.ts`) and verification (`verify-index.ts`) both call
 * {@link deriveIndexValues}, so what is stored and what verify expects cannot drift apart.
 */

/** Index column values, in table order (seq, ts and type come from the leaf). */
export interface IndexValues {
  tenant: string | null;
  session_id: string | null;
  run_id: string | null;
  trace_id: string | null;
  actor_id: string | null;
  action_type: string | null;
  target: string | null;
  decision: string | null;
  status: string | null;
  risk: string | null;
  time: string | null;
}

/** The fields of an event the index reads (structurally, an `AuditEvent` is one). */
export interface IndexedEvent {
  tenant?: string | undefined;
  session_id?: string | undefined;
  run_id?: string | undefined;
  trace_id?: string | undefined;
  time?: string | undefined;
  risk_level?: string | undefined;
  actor: { type: string; id: string };
  action?: { type?: string | undefined; target?: string | undefined } | undefined;
  policy?: { decision?: string | undefined; risk?: string | undefined } | undefined;
  outcome?: { status?: string | undefined } | undefined;
}

/** Column names of {@link IndexValues}, in table order. */
export const INDEX_COLUMNS = [
  'tenant',
  'session_id',
  'run_id',
  'trace_id',
  'actor_id',
  'action_type',
  'target',
  'decision',
  'status',
  'risk',
  'time',
] as const satisfies readonly (keyof IndexValues)[];

/**
 * JSON pointers each column is read from: verification only needs the disclosures holding these,
 * and cannot check a column whose source was erased.
 */
export const INDEX_SOURCES: Readonly<Record<keyof IndexValues, readonly string[]>> = {
  tenant: ['/tenant'],
  session_id: ['/session_id'],
  run_id: ['/run_id'],
  trace_id: ['/trace_id'],
  actor_id: ['/actor/type', '/actor/id'],
  action_type: ['/action/type'],
  target: ['/action/target'],
  decision: ['/policy/decision'],
  status: ['/outcome/status'],
  risk: ['/risk_level', '/policy/risk'],
  time: ['/time'],
};

/**
 * The index columns of an event. People are indexed as `user:<id>` so a filter on an agent id
 * never matches a person by accident.
 *
 * @example
 * deriveIndexValues({ actor: { type: 'agent', id: 'bot' }, action: { type: 'read:order' } })
 * // { tenant: null, …, actor_id: 'bot', action_type: 'read:order', …, time: null }
 */
export function deriveIndexValues(event: IndexedEvent): IndexValues {
  const actorId = event.actor.type === 'user' ? null : event.actor.id;
  return {
    tenant: event.tenant ?? null,
    session_id: event.session_id ?? null,
    run_id: event.run_id ?? null,
    trace_id: event.trace_id ?? null,
    actor_id: actorId ?? `user:${event.actor.id}`,
    action_type: event.action?.type ?? null,
    target: event.action?.target ?? null,
    decision: event.policy?.decision ?? null,
    status: event.outcome?.status ?? null,
    risk: event.risk_level ?? event.policy?.risk ?? null,
    time: event.time ?? null,
  };
}

/** True when a disclosure stored under `pointer` may hold a value one of the sources reads. */
export function feedsIndex(pointer: string): boolean {
  if (pointer === '') return true;
  for (const sources of Object.values(INDEX_SOURCES)) {
    for (const s of sources) {
      if (s === pointer || s.startsWith(`${pointer}/`) || pointer.startsWith(`${s}/`)) return true;
    }
  }
  return false;
}
