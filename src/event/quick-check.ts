/**
 * A quick yes for the common case of event validation: the event schema compiled into plain
 * checks that answer true only for an event the schema accepts (as ajv reads it) and whose text
 * the log can commit to (every string and member name valid Unicode, no member named
 * `__proto__`), in one walk. Any other answer is "don't know": `validate.ts` then runs the full
 * checks, which name every problem. So the quick check may refuse a valid event (an exotic
 * object, a string near a length bound), never accept a bad one.
 *
 * It reads the schema itself ({@link compileQuickCheck}), so a new field is checked without a
 * second copy of the rules; a keyword it does not know makes compilation throw and every event
 * take the full path.
 */

import { AuditError } from '../errors.js';

/** True: the value passes. False: not known to pass (run the full checks). */
export type QuickCheck = (value: unknown, depth: number) => boolean;

/** Deeper than this, the quick check gives up (the full walk stops at 130, canonical JSON at 128). */
const MAX_DEPTH = 100;

// `String.prototype.isWellFormed` (ES2024, Node 20): false when a string holds a lone surrogate.
// Linear, and constant time for strings V8 holds as one byte per character.
interface WellFormed {
  isWellFormed(): boolean;
}
function wellFormed(s: string): boolean {
  return (s as unknown as WellFormed).isWellFormed();
}

/**
 * Any JSON value whose text is fine: strings and member names well formed, no `__proto__`
 * member; plain objects and arrays only (anything else: don't know).
 */
function freeValue(value: unknown, depth: number): boolean {
  switch (typeof value) {
    case 'string':
      return wellFormed(value);
    case 'number':
    case 'boolean':
      return true;
    case 'object': {
      if (value === null) return true;
      if (depth > MAX_DEPTH) return false;
      const proto = Object.getPrototypeOf(value) as unknown;
      if (proto === Array.prototype) {
        const array = value as unknown[];
        for (let i = 0; i < array.length; i++) if (!freeValue(array[i], depth + 1)) return false;
        return true;
      }
      if (proto !== Object.prototype && proto !== null) return false;
      const obj = value as Record<string, unknown>;
      for (const k of Object.keys(obj)) {
        if (k === '__proto__' || !wellFormed(k) || !freeValue(obj[k], depth + 1)) return false;
      }
      return true;
    }
    default:
      // undefined, functions, symbols, bigints: let the full checks decide.
      return false;
  }
}

type Format = (s: string) => boolean;

/** The keywords understood; annotations are ignored. */
const KNOWN = new Set([
  '$schema',
  '$id',
  'title',
  'description',
  'type',
  'enum',
  'const',
  'minLength',
  'maxLength',
  'pattern',
  'format',
  'minimum',
  'maximum',
  'maxItems',
  'items',
  'properties',
  'required',
  'additionalProperties',
  'anyOf',
]);

function typeCheck(type: string): (v: unknown) => boolean {
  switch (type) {
    case 'string':
      return (v) => typeof v === 'string';
    case 'integer':
      return (v) => Number.isInteger(v);
    case 'number':
      return (v) => typeof v === 'number' && Number.isFinite(v);
    case 'boolean':
      return (v) => typeof v === 'boolean';
    case 'null':
      return (v) => v === null;
    case 'object':
      return (v) => typeof v === 'object' && v !== null && !Array.isArray(v);
    case 'array':
      return (v) => Array.isArray(v);
    default:
      throw new AuditError('invalid_argument', `quick check: unknown type ${type}`);
  }
}

/** A keyword whose value must be a string (a pattern, a format name). */
function text(s: Record<string, unknown>, key: string): string | undefined {
  const v = s[key];
  if (v !== undefined && typeof v !== 'string')
    throw new AuditError('invalid_argument', `quick check: ${key}`);
  return v;
}

function primitive(v: unknown): boolean {
  return v === null || ['string', 'number', 'boolean'].includes(typeof v);
}

/**
 * Compiles a JSON Schema (the subset the event schema uses) into a {@link QuickCheck}. Patterns
 * are compiled as ajv compiles them (`u` flag); `formats` are ajv's own format functions.
 * Throws on a keyword or value it does not handle.
 *
 * @example
 * const check = compileQuickCheck({ type: 'string', maxLength: 8 }, {});
 * check('ok', 0) // true;  check('much too long', 0) // false (the full check decides)
 */
export function compileQuickCheck(schema: unknown, formats: Readonly<Record<string, Format>>): QuickCheck {
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema))
    throw new AuditError('invalid_argument', 'quick check: a schema must be an object');
  const s = schema as Record<string, unknown>;
  for (const k of Object.keys(s))
    if (!KNOWN.has(k)) throw new AuditError('invalid_argument', `quick check: keyword ${k}`);

  const special = specialized(s, formats);
  if (special !== undefined) return special;

  // Checks on the value itself (all must hold), then one walk of its contents.
  const checks: QuickCheck[] = [];
  if (s['type'] !== undefined) {
    const types = (Array.isArray(s['type']) ? s['type'] : [s['type']]) as unknown[];
    const each = types.map((t) => typeCheck(String(t)));
    checks.push(each.length === 1 ? each[0]! : (v) => each.some((c) => c(v)));
  }
  if (s['enum'] !== undefined) {
    const values = s['enum'] as unknown[];
    if (!Array.isArray(values) || !values.every(primitive))
      throw new AuditError('invalid_argument', 'quick check: enum');
    const set = new Set(values);
    checks.push((v) => set.has(v) && !(typeof v === 'number' && Number.isNaN(v)));
  }
  if (s['const'] !== undefined) {
    const c = s['const'];
    if (!primitive(c)) throw new AuditError('invalid_argument', 'quick check: const');
    checks.push((v) => v === c);
  }
  const maxLength = s['maxLength'];
  if (maxLength !== undefined) {
    if (typeof maxLength !== 'number') throw new AuditError('invalid_argument', 'quick check: maxLength');
    // ajv counts code points, never more than UTF-16 units: within the bound in units is within.
    checks.push((v) => typeof v !== 'string' || v.length <= maxLength);
  }
  const minLength = s['minLength'];
  if (minLength !== undefined) {
    // A non-empty string has at least one code point; longer minimums are not used.
    if (minLength !== 0 && minLength !== 1)
      throw new AuditError('invalid_argument', 'quick check: minLength');
    checks.push((v) => typeof v !== 'string' || v.length >= minLength);
  }
  const pattern = text(s, 'pattern');
  if (pattern !== undefined) {
    const re = new RegExp(pattern, 'u');
    checks.push((v) => typeof v !== 'string' || re.test(v));
  }
  const formatName = text(s, 'format');
  if (formatName !== undefined) {
    const f = formats[formatName];
    if (f === undefined) throw new AuditError('invalid_argument', `quick check: format ${formatName}`);
    checks.push((v) => typeof v !== 'string' || f(v));
  }
  for (const [key, holds] of [
    ['minimum', (v: number, b: number) => v >= b],
    ['maximum', (v: number, b: number) => v <= b],
  ] as const) {
    const bound = s[key];
    if (bound === undefined) continue;
    if (typeof bound !== 'number') throw new AuditError('invalid_argument', `quick check: ${key}`);
    checks.push((v) => typeof v !== 'number' || holds(v, bound));
  }
  if (s['anyOf'] !== undefined) {
    if (!Array.isArray(s['anyOf'])) throw new AuditError('invalid_argument', 'quick check: anyOf');
    const options = (s['anyOf'] as unknown[]).map((o) => compileQuickCheck(o, formats));
    checks.push((v, depth) => options.some((o) => o(v, depth)));
  }

  const walk = contentsCheck(s, formats);
  if (checks.length === 0) return walk;
  if (checks.length === 1) {
    const only = checks[0]!;
    return (v, depth) => only(v, depth) && walk(v, depth);
  }
  return (v, depth) => {
    for (const c of checks) if (!c(v, depth)) return false;
    return walk(v, depth);
  };
}

const ANNOTATIONS = ['$schema', '$id', 'title', 'description'];

/** True when `s` holds no keyword but annotations and `allowed`. */
function only(s: Record<string, unknown>, allowed: readonly string[]): boolean {
  for (const k of Object.keys(s)) if (!allowed.includes(k) && !ANNOTATIONS.includes(k)) return false;
  return true;
}

/**
 * One closure for the shapes most fields have (a bounded string, an enum, a bounded number):
 * the same answers as the general composition, without a call per keyword.
 */
function specialized(
  s: Record<string, unknown>,
  formats: Readonly<Record<string, Format>>,
): QuickCheck | undefined {
  const type = s['type'];
  if (type === 'string' && only(s, ['type', 'minLength', 'maxLength', 'pattern', 'format'])) {
    const max = s['maxLength'] ?? Infinity;
    const min = s['minLength'] ?? 0;
    // ajv counts code points, never more than UTF-16 units: within the bound in units is within;
    // a non-empty string has at least one code point (longer minimums are not used).
    if (typeof max !== 'number' || (min !== 0 && min !== 1))
      throw new AuditError('invalid_argument', 'quick check: string length');
    const pattern = text(s, 'pattern');
    const formatName = text(s, 'format');
    const re = pattern === undefined ? null : new RegExp(pattern, 'u');
    const format = formatName === undefined ? null : formats[formatName];
    if (format === undefined) throw new AuditError('invalid_argument', `quick check: format ${formatName}`);
    return (v) =>
      typeof v === 'string' &&
      v.length <= max &&
      v.length >= min &&
      (re === null || re.test(v)) &&
      (format === null || format(v)) &&
      wellFormed(v);
  }
  if (type === undefined && s['enum'] !== undefined && only(s, ['enum'])) {
    const values = s['enum'];
    if (!Array.isArray(values) || !values.every(primitive))
      throw new AuditError('invalid_argument', 'quick check: enum');
    for (const v of values)
      if ((typeof v === 'string' && !wellFormed(v)) || Number.isNaN(v))
        throw new AuditError('invalid_argument', 'quick check: enum');
    // Members are the schema's own well-formed strings and plain values: no text to check.
    const set = new Set(values);
    return (v) => set.has(v);
  }
  if ((type === 'integer' || type === 'number') && only(s, ['type', 'minimum', 'maximum'])) {
    const min = s['minimum'] ?? -Infinity;
    const max = s['maximum'] ?? Infinity;
    if (typeof min !== 'number' || typeof max !== 'number')
      throw new AuditError('invalid_argument', 'quick check: bounds');
    const integer = type === 'integer';
    return (v) =>
      typeof v === 'number' && (integer ? Number.isInteger(v) : Number.isFinite(v)) && v >= min && v <= max;
  }
  return undefined;
}

/** The walk of a value's contents: objects by their properties, arrays by their items, else free. */
function contentsCheck(s: Record<string, unknown>, formats: Readonly<Record<string, Format>>): QuickCheck {
  if (
    s['properties'] !== undefined ||
    s['required'] !== undefined ||
    s['additionalProperties'] !== undefined
  ) {
    const props = new Map<string, QuickCheck>();
    for (const [k, sub] of Object.entries((s['properties'] ?? {}) as Record<string, unknown>)) {
      if (k === '__proto__' || !wellFormed(k))
        throw new AuditError('invalid_argument', 'quick check: property name');
      props.set(k, compileQuickCheck(sub, formats));
    }
    const required = (s['required'] ?? []) as unknown[];
    if (!Array.isArray(required) || !required.every((r) => typeof r === 'string'))
      throw new AuditError('invalid_argument', 'quick check: required');
    const extra = s['additionalProperties'];
    if (extra !== undefined && extra !== false)
      throw new AuditError('invalid_argument', 'quick check: additionalProperties');
    const closed = extra === false;
    return (value, depth) => {
      if (typeof value !== 'object' || value === null || depth > MAX_DEPTH) return false;
      const proto = Object.getPrototypeOf(value) as unknown;
      if (proto !== Object.prototype && proto !== null) return false;
      const obj = value as Record<string, unknown>;
      for (const r of required) if (obj[r] === undefined) return false;
      for (const k of Object.keys(obj)) {
        const check = props.get(k);
        const v = obj[k];
        if (check === undefined) {
          if (closed || k === '__proto__' || !wellFormed(k) || !freeValue(v, depth + 1)) return false;
        } else if (v !== undefined && !check(v, depth + 1)) return false;
      }
      return true;
    };
  }
  if (s['items'] !== undefined || s['maxItems'] !== undefined) {
    const item = s['items'] === undefined ? freeValue : compileQuickCheck(s['items'], formats);
    const maxItems = s['maxItems'] ?? Infinity;
    if (typeof maxItems !== 'number') throw new AuditError('invalid_argument', 'quick check: maxItems');
    return (value, depth) => {
      if (!Array.isArray(value) || Object.getPrototypeOf(value) !== Array.prototype) return false;
      if (value.length > maxItems || depth > MAX_DEPTH) return false;
      for (let i = 0; i < value.length; i++) if (!item(value[i], depth + 1)) return false;
      return true;
    };
  }
  return freeValue;
}

/**
 * True when no enumerable member is inherited by plain objects: ajv looks for unknown members
 * with `for…in`, which would see one added to `Object.prototype`; the quick check lists own
 * members only, so it steps aside then.
 */
export function prototypeClean(): boolean {
  for (const _ in Object.prototype) return false;
  return true;
}
