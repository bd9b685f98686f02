import { canonicalBytes } from '../core/canonical-json.js';
import {
  disclosureDigest,
  makeDisclosureText,
  PERSON_ACTOR_POINTERS,
  pointerProblem,
  SALT_BYTES,
  SENSITIVE_POINTERS,
  splitEvent,
} from '../core/disclosure.js';
import { deriveIndexValues, type PersonTagger } from '../core/index-row.js';
import { AuditError, ValidationError } from '../errors.js';
import { MAX_EVENT_BYTES } from '../event/schema.js';
import type { AuditEvent } from '../event/types.js';
import { validateEvent } from '../event/validate.js';
import { randomBytesFast, uuidv7 } from '../internal/ids.js';
import { isoTime } from '../internal/time.js';
import type { Redactor } from '../redact/index.js';
import { TextDisclosure, type PreparedLeaf } from '../core/append-plan.js';

/** An event made ready for the log outside the write lock: validated, redacted, split, committed. */
export interface PreparedEvent extends PreparedLeaf {
  /** The event as it will be read back (after redaction, with defaults filled in). */
  event: AuditEvent & { event_id: string };
  /** True when `time` was filled in from the clock (so a re-send may differ in it). */
  timeDefaulted: boolean;
}

export interface PrepareOptions {
  tenant: string;
  redactor: Redactor;
  /** Extra pointers to store as their own disclosure. */
  sensitivePointers?: readonly string[];
  now?: () => number;
  /** Id source for an event without `event_id` (default UUIDv7 from the clock). */
  ids?: () => string;
  random?: (n: number) => Buffer;
  /** The log's person tagger: people's ids are indexed by keyed hash (core/index-row.ts). */
  tag?: PersonTagger;
}

const LEVEL_BY_PREFIX: Record<string, 'pipeline' | 'agent' | 'decision'> = {
  policy: 'decision',
  approval: 'decision',
  action: 'agent',
  delegation: 'agent',
  context: 'agent',
  agent: 'agent',
};

/**
 * Validates, redacts and splits one event into salted disclosures. Throws {@link ValidationError}
 * for a bad event (nothing is stored). Pure apart from the injected clock and randomness.
 */
export function prepareEvent(input: unknown, options: PrepareOptions): PreparedEvent {
  validateEvent(input);
  const now = options.now ?? Date.now;
  const dot = input.type.indexOf('.');
  const base: AuditEvent & { event_id: string } = {
    ...input,
    event_id: input.event_id ?? (options.ids ? options.ids() : uuidv7(now())),
    tenant: input.tenant ?? options.tenant,
    time: input.time ?? isoTime(now()),
    level: input.level ?? LEVEL_BY_PREFIX[dot < 0 ? input.type : input.type.slice(0, dot)] ?? 'pipeline',
    schema_version: 1,
  };
  if (base.tenant !== options.tenant) {
    throw new ValidationError([
      {
        field: '/tenant',
        rule: 'const',
        message: `must be ${JSON.stringify(options.tenant)}, the tenant of this trail`,
      },
    ]);
  }
  // Redaction runs before anything is hashed or stored (DESIGN §2). `redacted` is ours to set.
  const { redacted: _ignored, ...body } = base;
  const { value, pointers } = options.redactor(body);
  const event = value as AuditEvent & { event_id: string };
  if (pointers.length > 0) event.redacted = pointers;

  // Verifiers refuse these pointers (docs/verification.md §3.2): never commit to one.
  for (const p of options.sensitivePointers ?? []) {
    const problem = pointerProblem(p);
    if (problem !== undefined || p === '')
      throw new AuditError(
        'invalid_argument',
        `sensitive pointer ${JSON.stringify(p)} ${problem ?? 'is the body'}`,
      );
  }
  const sensitive: string[] = [...SENSITIVE_POINTERS, ...(options.sensitivePointers ?? [])];
  if (event.actor.type === 'user') sensitive.push(...PERSON_ACTOR_POINTERS);
  const parts = splitEvent(event as unknown as Record<string, unknown>, sensitive);
  const random = options.random ?? randomBytesFast;
  const disclosures: TextDisclosure[] = [];
  const digests: string[] = [];
  let total = 0;
  for (const part of parts) {
    let text: string;
    try {
      text = makeDisclosureText(random(SALT_BYTES), part.pointer, part.value);
    } catch (e) {
      throw new ValidationError([
        { field: part.pointer, rule: 'json', message: `cannot be stored as JSON: ${(e as Error).message}` },
      ]);
    }
    const size = Buffer.byteLength(text, 'utf8');
    total += size;
    disclosures.push(new TextDisclosure(part.pointer, text, size));
    // The digest of the text is the digest of its UTF-8 bytes (no copy to prefix the domain).
    digests.push(disclosureDigest(text));
  }
  if (total > MAX_EVENT_BYTES) {
    throw new ValidationError([
      {
        field: '',
        rule: 'maxBytes',
        message: `is ${total} bytes once canonical, above the ${MAX_EVENT_BYTES} limit`,
      },
    ]);
  }
  digests.sort();
  return {
    eid: event.event_id,
    type: event.type,
    digests,
    disclosures,
    event,
    timeDefaulted: input.time === undefined,
    // The same derivation verify uses to check the stored index rows.
    index: deriveIndexValues(event, options.tag),
  };
}

/** Canonical bytes of an event's content, ignoring fields the log sets: used to detect id reuse. */
export function contentKey(event: AuditEvent, ignoreTime = false): string {
  const { redacted: _r, time, ...rest } = event;
  if (!ignoreTime && time !== undefined) (rest as AuditEvent).time = time;
  try {
    return canonicalBytes(rest).toString('utf8');
  } catch (e) {
    throw new AuditError('invalid_argument', 'event is not JSON', { cause: e });
  }
}
