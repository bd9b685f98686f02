import { CoreError } from './errors.js';

/**
 * RFC 8785 JSON Canonicalization Scheme (JCS).
 *
 * Object keys are sorted by UTF-16 code units (RFC 8785 §3.2.3), numbers use the
 * ECMAScript Number-to-String rules (§3.2.2.3, which `JSON.stringify` implements),
 * strings use the minimal JSON escaping of ECMAScript (§3.2.2.2). Values that JSON
 * cannot carry (undefined, functions, non-finite numbers, bigint, lone surrogates)
 * are rejected instead of being silently dropped: a canonical form must be total.
 *
 * @example
 * canonicalize({ b: 1, a: [true, null] }) // '{"a":[true,null],"b":1}'
 */
export function canonicalize(value: unknown): string {
  return write(value, 0);
}

/** {@link canonicalize}, as UTF-8 bytes. */
export function canonicalBytes(value: unknown): Buffer {
  return Buffer.from(canonicalize(value), 'utf8');
}

/** Raised for a value that has no canonical JSON form (code `not_canonical`). */
export class CanonicalJsonError extends CoreError {
  override readonly name = 'CanonicalJsonError';
  declare readonly code: 'not_canonical';

  constructor(message: string, options?: ErrorOptions) {
    super('not_canonical', message, options);
  }
}

const MAX_DEPTH = 128;
// Lone surrogates make the UTF-8 form ill-defined (RFC 8785 §3.2.2.2 requires well-formed Unicode).
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

// Characters JSON escapes, and surrogates (which need the lone-surrogate check).
// eslint-disable-next-line no-control-regex
const NEEDS_CARE = /["\\\u0000-\u001f\ud800-\udfff]/;

function writeString(value: string): string {
  // Fast path: nothing to escape and no surrogates at all (most strings).
  if (!NEEDS_CARE.test(value)) return `"${value}"`;
  if (LONE_SURROGATE.test(value)) throw new CanonicalJsonError('string contains a lone surrogate');
  return JSON.stringify(value);
}

// Member names repeat from one event to the next (`type`, `actor`, `id`…): their JSON form and
// the colon after it are kept, bounded in count and length since names come from the input.
const MEMBER_CACHE_SIZE = 4096;
const MEMBER_CACHE_LENGTH = 64;
const memberPrefixes = new Map<string, string>();

function memberPrefix(name: string): string {
  let out = memberPrefixes.get(name);
  if (out === undefined) {
    out = writeString(name) + ':';
    if (name.length <= MEMBER_CACHE_LENGTH && memberPrefixes.size < MEMBER_CACHE_SIZE)
      memberPrefixes.set(name, out);
  }
  return out;
}

function write(value: unknown, depth: number): string {
  if (depth > MAX_DEPTH) throw new CanonicalJsonError(`nesting deeper than ${MAX_DEPTH}`);
  switch (typeof value) {
    case 'string':
      return writeString(value);
    case 'number':
      if (!Number.isFinite(value)) throw new CanonicalJsonError(`number ${value} has no JSON form`);
      // ECMAScript Number::toString is the JSON form of a finite number (and -0 prints as 0).
      return String(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object': {
      if (value === null) return 'null';
      if (Array.isArray(value)) {
        let out = '[';
        for (let i = 0; i < value.length; i++) {
          if (i > 0) out += ',';
          out += write(value[i], depth + 1);
        }
        return out + ']';
      }
      const proto = Object.getPrototypeOf(value) as unknown;
      if (proto !== Object.prototype && proto !== null) {
        if (value instanceof Date) return write(value.toISOString(), depth);
        throw new CanonicalJsonError(
          `cannot canonicalize a ${value.constructor?.name ?? 'non-plain'} object`,
        );
      }
      const obj = value as Record<string, unknown>;
      // Default sort compares UTF-16 code units, exactly what RFC 8785 §3.2.3 asks.
      const keys = Object.keys(obj);
      if (keys.length > 1) keys.sort();
      let out = '{';
      for (let i = 0; i < keys.length; i++) {
        const k = keys[i] as string;
        const v = obj[k];
        if (v === undefined) continue;
        if (out.length > 1) out += ',';
        out += memberPrefix(k) + write(v, depth + 1);
      }
      return out + '}';
    }
    default:
      throw new CanonicalJsonError(`a ${typeof value} has no JSON form`);
  }
}
