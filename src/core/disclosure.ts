import { hash } from 'node:crypto';
import { canonicalize } from './canonical-json.js';
import { CoreError } from './errors.js';

/**
 * Salted disclosures (SD-JWT style, RFC 9901 §4.2): each sensitive field of an event is stored
 * as `JCS([salt, json_pointer, value])` and the leaf commits only to
 * `b64url(SHA-256(DISCLOSURE_DOMAIN || disclosure))`. Deleting a disclosure (erasure, retention)
 * leaves every hash, proof and checkpoint intact; the salt makes the digest unguessable.
 */
export const DISCLOSURE_DOMAIN = 'auditrail/disclosure/v1\n';
const DOMAIN_BYTES = Buffer.from(DISCLOSURE_DOMAIN, 'utf8');

/** Salt length in bytes: 128 bits, as RFC 9901 §9.3 recommends. */
export const SALT_BYTES = 16;

// Canonical unpadded base64url of 16 bytes (what decodeBase64UrlStrict accepts at that length,
// without decoding): 22 characters, the last carrying 2 bits then 4 zero bits (A, Q, g or w).
const CANONICAL_SALT = /^[A-Za-z0-9_-]{21}[AQgw]$/;

/** Fields stored as their own disclosure, so they can be erased or withheld one by one. */
export const SENSITIVE_POINTERS = [
  '/action/params',
  '/outcome/result',
  '/outcome/error_message',
  '/context/reasoning',
  '/context/user_message',
  '/context/data_subject_ids',
  '/actor/on_behalf_of',
] as const;

/** Pointers of person-identifying actor fields, split out only when the actor is a user. */
export const PERSON_ACTOR_POINTERS = ['/actor/id', '/actor/name'] as const;

export interface DisclosurePart {
  pointer: string;
  value: unknown;
}

/**
 * Builds one disclosure's bytes.
 *
 * @example
 * makeDisclosure(salt16, '/action/params', { amount: 120 }) // JCS(["<b64url salt>","/action/params",{"amount":120}])
 */
export function makeDisclosure(salt: Uint8Array, pointer: string, value: unknown): Buffer {
  return Buffer.from(makeDisclosureText(salt, pointer, value), 'utf8');
}

/**
 * {@link makeDisclosure} as text (its bytes are the UTF-8 of it): {@link disclosureDigest} hashes
 * the text without an intermediate copy.
 *
 * @example
 * disclosureDigest(makeDisclosureText(salt16, '/action/params', { amount: 120 }))
 */
export function makeDisclosureText(salt: Uint8Array, pointer: string, value: unknown): string {
  if (salt.length !== SALT_BYTES) throw new RangeError(`disclosure salt must be ${SALT_BYTES} bytes`);
  const b64 = (Buffer.isBuffer(salt) ? salt : Buffer.from(salt)).toString('base64url');
  return canonicalize([b64, pointer, value]);
}

/**
 * The digest a leaf commits to: `b64url(SHA-256("auditrail/disclosure/v1\n" || disclosure))`.
 *
 * @example
 * disclosureDigest(Buffer.from('["c2FsdA","",{}]')) // 43 base64url characters
 */
export function disclosureDigest(disclosure: Uint8Array | string): string {
  // A string is the disclosure's UTF-8 text, hashed as its UTF-8 bytes (no copy).
  if (typeof disclosure === 'string') return hash('sha256', DISCLOSURE_DOMAIN + disclosure, 'base64url');
  return hash('sha256', Buffer.concat([DOMAIN_BYTES, disclosure]), 'base64url');
}

/**
 * Reference tokens a pointer may not hold (after unescaping): JavaScript gives them special
 * meaning on plain objects, so a naive reassembly could reach `Object.prototype`.
 */
export const FORBIDDEN_POINTER_TOKENS: ReadonlySet<string> = new Set([
  '__proto__',
  'constructor',
  'prototype',
]);

/**
 * Why `pointer` is not an acceptable disclosure pointer, or undefined when it is: `""` or an RFC
 * 6901 pointer starting with `/`, every `~` followed by `0` or `1`, and no token (unescaped)
 * equal to `__proto__`, `constructor` or `prototype` (docs/verification.md §3.2).
 *
 * @example
 * pointerProblem('/action/params') // undefined
 * pointerProblem('/__proto__/x')   // 'holds the reserved token "__proto__"'
 */
export function pointerProblem(pointer: unknown): string | undefined {
  if (typeof pointer !== 'string') return 'is not a string';
  if (pointer === '') return undefined;
  // The same few pointers recur on every event (and twice per disclosure a timeline shows).
  const known = pointerProblems.get(pointer);
  if (known !== undefined) return known === null ? undefined : known;
  const problem = findPointerProblem(pointer);
  if (pointerProblems.size > 1024) pointerProblems.clear();
  pointerProblems.set(pointer, problem ?? null);
  return problem;
}

const pointerProblems = new Map<string, string | null>();

function findPointerProblem(pointer: string): string | undefined {
  if (!pointer.startsWith('/')) return 'must be "" or start with "/"';
  if (/~(?![01])/.test(pointer)) return 'has a "~" not followed by "0" or "1"';
  for (const t of tokensOf(pointer)) {
    if (FORBIDDEN_POINTER_TOKENS.has(t)) return `holds the reserved token ${JSON.stringify(t)}`;
  }
  return undefined;
}

// Invalid UTF-8 is an error, not U+FFFD: another verifier must not see a different value. A
// byte order mark is kept (and then fails JSON parsing), as Buffer#toString would.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Decodes UTF-8 strictly: throws on invalid sequences (overlong forms, surrogates, truncation).
 *
 * @example
 * decodeUtf8Strict(Buffer.from('héllo')) // 'héllo';  decodeUtf8Strict(Buffer.of(0xc3)) // throws
 */
export function decodeUtf8Strict(bytes: Uint8Array): string {
  try {
    return utf8.decode(bytes);
  } catch (e) {
    throw new CoreError('malformed', 'not valid UTF-8', { cause: e });
  }
}

// The last disclosure text parsed, and what it gave: verification reads each body twice (the
// approval check, then the query index check) and parses it once.
let lastText: string | undefined;
let lastValue: unknown;
let lastError: Error | undefined;

/**
 * `JSON.parse(text)`, remembering the last text: parsing the same string again returns the same
 * value (which callers must not mutate) or throws the same error.
 *
 * @example
 * parseDisclosureJson('["c2FsdA","",{}]') // ['c2FsdA', '', {}]
 */
export function parseDisclosureJson(text: string): unknown {
  if (text !== lastText) {
    lastText = text;
    try {
      lastValue = JSON.parse(text);
      lastError = undefined;
    } catch (e) {
      lastValue = undefined;
      lastError = e instanceof Error ? e : new SyntaxError(String(e));
    }
  }
  if (lastError !== undefined) throw lastError;
  return lastValue;
}

/**
 * Parses disclosure bytes strictly (docs/verification.md §3.2): valid UTF-8 JSON, a 3-element
 * array [salt (canonical base64url of 16 bytes), pointer (see {@link pointerProblem}), value]. A
 * string is taken as the disclosure's already (strictly) decoded text.
 *
 * @example
 * parseDisclosure(Buffer.from('["Ueg0vLsznunRFD2XpECDkA","/action/params",{"amount":120}]')).pointer // '/action/params'
 */
export function parseDisclosure(bytes: Uint8Array | string): {
  salt: string;
  pointer: string;
  value: unknown;
} {
  let parsed: unknown;
  try {
    parsed = typeof bytes === 'string' ? parseDisclosureJson(bytes) : JSON.parse(decodeUtf8Strict(bytes));
  } catch (e) {
    throw new CoreError('malformed', 'disclosure is not JSON in valid UTF-8', { cause: e });
  }
  if (!Array.isArray(parsed) || parsed.length !== 3)
    throw new CoreError('malformed', 'disclosure must be a 3-element array');
  const [salt, pointer, value] = parsed as [unknown, unknown, unknown];
  if (typeof salt !== 'string' || !CANONICAL_SALT.test(salt)) {
    throw new CoreError(
      'malformed',
      'disclosure salt must be 16 bytes of canonical base64url (22 characters)',
    );
  }
  const problem = pointerProblem(pointer);
  if (problem !== undefined) throw new CoreError('malformed', `disclosure pointer ${problem}`);
  return { salt, pointer: pointer as string, value };
}

function unescapeToken(t: string): string {
  return t.replace(/~1/g, '/').replace(/~0/g, '~');
}

const pointerTokens = new Map<string, string[]>();

/** RFC 6901 reference tokens of a pointer (memoised: the same few pointers recur on every event). */
function tokensOf(pointer: string): string[] {
  let t = pointerTokens.get(pointer);
  if (!t) {
    t = pointer.split('/').slice(1).map(unescapeToken);
    if (pointerTokens.size > 1024) pointerTokens.clear();
    pointerTokens.set(pointer, t);
  }
  return t;
}

/**
 * Splits an event into disclosure parts: one per sensitive field present, and the rest of the
 * body under the pointer `""`. Pure; does not mutate `event`.
 *
 * @example
 * splitEvent({ type: 'x.a', action: { type: 't', params: { q: 1 } } }, ['/action/params'])
 * // [{ pointer: '', value: { type: 'x.a', action: { type: 't' } } }, { pointer: '/action/params', value: { q: 1 } }]
 */
export function splitEvent(event: Record<string, unknown>, pointers: readonly string[]): DisclosurePart[] {
  let rest: Record<string, unknown> = event;
  const parts: DisclosurePart[] = [];
  for (const pointer of pointers) {
    const tokens = tokensOf(pointer);
    if (tokens.length === 0) continue;
    // Find the value first; most sensitive pointers are absent from most events.
    const path: Record<string, unknown>[] = [rest];
    let node = rest;
    for (let i = 0; i < tokens.length - 1; i++) {
      const child = node[tokens[i] as string];
      if (typeof child !== 'object' || child === null || Array.isArray(child)) break;
      node = child as Record<string, unknown>;
      path.push(node);
    }
    const last = tokens[tokens.length - 1] as string;
    if (path.length !== tokens.length || node[last] === undefined || !Object.hasOwn(node, last)) continue;
    parts.push({ pointer, value: node[last] });
    // Copy along the path, leaving the caller's objects untouched (no `delete`: it would turn
    // the copies into slow dictionary objects).
    let replacement = without(node, last);
    for (let i = path.length - 2; i >= 0; i--) {
      replacement = { ...path[i], [tokens[i] as string]: replacement };
    }
    rest = replacement;
  }
  parts.unshift({ pointer: '', value: rest === event ? { ...event } : rest });
  return parts;
}

function without(obj: Record<string, unknown>, key: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(obj)) if (k !== key) setOwn(out, k, obj[k]);
  return out;
}

/**
 * Sets an own, enumerable member whatever its name: `__proto__` is the one accessor on plain
 * objects (assigning it would change the prototype), so it is defined, not assigned.
 */
function setOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    obj[key] = value;
  }
}

/** A shallow copy; spread defines members (CreateDataProperty), so an own `__proto__` stays a member. */
function copyOf(obj: Record<string, unknown>): Record<string, unknown> {
  return { ...obj };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Reassembles an event from its disclosure parts (the inverse of {@link splitEvent},
 * docs/verification.md §3.3); parts that were erased are simply absent. The body is the first
 * part with pointer `""` (`{}` if it is absent or not an object); the others are applied in order.
 * Members are only ever read and written as own properties, so no pointer reaches a prototype;
 * parts whose pointer {@link pointerProblem} refuses are skipped.
 *
 * @example
 * assembleEvent([{ pointer: '', value: { type: 'x.a' } }, { pointer: '/action/params', value: { q: 1 } }])
 * // { type: 'x.a', action: { params: { q: 1 } } }
 */
export function assembleEvent(parts: readonly DisclosurePart[]): Record<string, unknown> {
  const base = parts.find((p) => p.pointer === '');
  // Copy only along the paths written to, so the parts' values are never mutated.
  const out: Record<string, unknown> = base && isObject(base.value) ? copyOf(base.value) : {};
  for (const part of parts) {
    if (part.pointer === '' || pointerProblem(part.pointer) !== undefined) continue;
    const tokens = tokensOf(part.pointer);
    let node: Record<string, unknown> = out;
    for (let i = 0; i < tokens.length - 1; i++) {
      const key = tokens[i] as string;
      const child = Object.hasOwn(node, key) ? node[key] : undefined;
      const copy = isObject(child) ? copyOf(child) : {};
      setOwn(node, key, copy);
      node = copy;
    }
    setOwn(node, tokens[tokens.length - 1] as string, part.value);
  }
  return out;
}
