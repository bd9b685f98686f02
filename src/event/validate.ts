import { Ajv2020 } from 'ajv/dist/2020.js';
import * as addFormatsModule from 'ajv-formats';
import type { ErrorObject } from 'ajv';
import { hasLoneSurrogate } from '../core/note.js';
import { ValidationError, type ValidationIssue } from '../errors.js';
import { compileQuickCheck, prototypeClean, type QuickCheck } from './quick-check.js';
import { EVENT_SCHEMA } from './schema.js';
import type { AuditEvent } from './types.js';

// ajv-formats is CommonJS with a default export; under NodeNext it arrives as the module object.
type AddFormats = (ajv: Ajv2020, formats: string[]) => Ajv2020;
const addFormats = (addFormatsModule as unknown as { default: AddFormats }).default;

// Two compilations of the one schema: the fast one stops at the first error (the common case is
// a valid event), the thorough one runs only on failure to report every problem.
const fastAjv = new Ajv2020({ allErrors: false, strict: true, allowUnionTypes: true });
addFormats(fastAjv, ['date-time']);
const quickCheck = fastAjv.compile(EVENT_SCHEMA);
const ajv = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true });
addFormats(ajv, ['date-time']);
const check = ajv.compile(EVENT_SCHEMA);

/** ajv's own format functions, for the quick check to agree with it. */
function formatsOf(instance: Ajv2020): Record<string, (s: string) => boolean> {
  const out: Record<string, (s: string) => boolean> = {};
  for (const [name, def] of Object.entries(instance.formats)) {
    const v: unknown = typeof def === 'object' && !(def instanceof RegExp) ? def.validate : def;
    if (typeof v === 'function') out[name] = (s) => (v as (s: string) => boolean)(s) === true;
    else if (v instanceof RegExp) out[name] = (s) => v.test(s);
  }
  return out;
}

// The common case (a valid event) answered in one walk; anything else takes the full checks.
// A schema the quick check cannot read leaves every event to them.
let quickValid: QuickCheck;
try {
  quickValid = compileQuickCheck(EVENT_SCHEMA, formatsOf(fastAjv));
} catch {
  quickValid = () => false;
}

function issueOf(e: ErrorObject): ValidationIssue {
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required':
      return {
        field: `${e.instancePath}/${String(p['missingProperty'])}`,
        rule: 'required',
        message: 'is required',
      };
    case 'additionalProperties':
      return {
        field: `${e.instancePath}/${String(p['additionalProperty'])}`,
        rule: 'additionalProperties',
        message: 'is not a known field (custom data goes in metadata)',
      };
    case 'enum':
      return {
        field: e.instancePath,
        rule: 'enum',
        message: `must be one of ${(p['allowedValues'] as unknown[]).map(String).join(', ')}`,
      };
    default:
      return { field: e.instancePath, rule: e.keyword, message: e.message ?? 'is invalid' };
  }
}

// Deeper than canonical JSON allows (128) is refused later anyway; stop walking there.
const MAX_WALK_DEPTH = 130;
const SURROGATE = /[\uD800-\uDFFF]/;

function escapeToken(t: string): string {
  return t.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** Fast pass: true if some string or member name needs a closer look (no paths built). */
function suspectText(value: unknown, depth: number): boolean {
  if (typeof value === 'string') return SURROGATE.test(value);
  if (typeof value !== 'object' || value === null || depth > MAX_WALK_DEPTH) return false;
  if (Array.isArray(value)) {
    for (const v of value) if (suspectText(v, depth + 1)) return true;
    return false;
  }
  for (const k in value) {
    if (!Object.hasOwn(value, k)) continue;
    if (k === '__proto__' || SURROGATE.test(k)) return true;
    if (suspectText((value as Record<string, unknown>)[k], depth + 1)) return true;
  }
  return false;
}

/**
 * Text the log could not commit to as shown: strings and member names with a lone surrogate
 * (no UTF-8 form, so the stored bytes would differ from the value the producer holds), and
 * members named `__proto__` (a JavaScript reader merging the event would change a prototype).
 * Returns one issue per field, with its JSON pointer. Runs only after {@link suspectText}.
 */
function textIssues(value: unknown, path: string, depth: number, out: ValidationIssue[]): void {
  if (out.length >= 20 || depth > MAX_WALK_DEPTH) return;
  if (typeof value === 'string') {
    if (hasLoneSurrogate(value))
      out.push({ field: path, rule: 'unicode', message: 'holds a lone surrogate (not valid Unicode text)' });
    return;
  }
  if (typeof value !== 'object' || value === null) return;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) textIssues(value[i], `${path}/${i}`, depth + 1, out);
    return;
  }
  for (const k of Object.keys(value)) {
    const field = `${path}/${escapeToken(k)}`;
    if (k === '__proto__') {
      out.push({ field, rule: 'name', message: 'is a member name JavaScript readers cannot hold safely' });
      continue;
    }
    if (hasLoneSurrogate(k)) {
      out.push({ field, rule: 'unicode', message: 'is a member name with a lone surrogate' });
      continue;
    }
    textIssues((value as Record<string, unknown>)[k], field, depth + 1, out);
  }
}

/**
 * Validates an event against the v1 schema. Throws a {@link ValidationError} naming each bad
 * field (as a JSON pointer) and the rule it broke. Text must be valid Unicode everywhere (no lone
 * surrogate in any string or member name) and no member may be named `__proto__`.
 *
 * @example
 * validateEvent({ type: 'action.intent', actor: { type: 'robot', id: 'a' } });
 * // ValidationError: invalid event: /actor/type must be one of agent, user, service, system (enum)
 */
export function validateEvent(input: unknown): asserts input is AuditEvent {
  if (quickCheckEvent(input)) return;
  validateEventFully(input);
}

/**
 * The quick check alone: true only for an event {@link validateEvent} accepts; false means
 * "run the full checks" (not necessarily invalid). For tests and benchmarks.
 */
export function quickCheckEvent(input: unknown): boolean {
  return quickValid(input, 0) && prototypeClean();
}

/** {@link validateEvent} without the quick check: every rule, every problem named. */
export function validateEventFully(input: unknown): asserts input is AuditEvent {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new ValidationError([{ field: '', rule: 'type', message: 'must be a JSON object' }]);
  }
  if (suspectText(input, 0)) {
    const text: ValidationIssue[] = [];
    textIssues(input, '', 0, text);
    if (text.length > 0) throw new ValidationError(text);
  }
  if (quickCheck(input) || check(input)) return;
  const errors = check.errors ?? [];
  // `type` uses anyOf (known or x.*): report it once, clearly, instead of ajv's three sub-errors.
  const issues: ValidationIssue[] = [];
  const seen = new Set<string>();
  for (const e of errors) {
    let issue: ValidationIssue;
    if (
      e.instancePath === '/type' &&
      (e.keyword === 'anyOf' || e.keyword === 'enum' || e.keyword === 'pattern')
    ) {
      issue = {
        field: '/type',
        rule: 'enum',
        message: 'must be a known event type (see docs/concepts.md) or a custom type under x.',
      };
    } else if (e.keyword === 'anyOf' || e.keyword === 'if') {
      continue;
    } else {
      issue = issueOf(e);
    }
    const key = `${issue.field}|${issue.rule}`;
    if (seen.has(key)) continue;
    seen.add(key);
    issues.push(issue);
  }
  throw new ValidationError(
    issues.length > 0 ? issues : [{ field: '', rule: 'schema', message: 'is invalid' }],
  );
}
