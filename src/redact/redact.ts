/**
 * The redactor: walks an event, replaces secrets with {@link REDACTED}, and lists the RFC 6901
 * JSON pointers it changed. It runs on every event before anything is hashed or stored, so it
 * copies only the objects and arrays on the path to a change (untouched subtrees are shared,
 * an event without secrets comes back as the same object) and never mutates its input.
 *
 * What is redacted:
 * - the whole value under a secret key name (see `key-names.ts`), whatever its type, except
 *   `null`, `undefined` and `''`, which carry nothing; likewise the `value` of a name/value pair
 *   whose `name` or `key` is a secret key name (HAR headers, Kubernetes env vars);
 * - in every string (values, array elements, and object keys), the substrings that the value
 *   detectors find (see `value-patterns.ts`); the surrounding text stays. A key holding a secret
 *   is renamed, so that no pointer ever carries one: its pointer names the renamed member;
 * - any subtree nested deeper than {@link MAX_DEPTH} (fail closed; also ends cycles).
 *
 * Plain objects and arrays are walked; other objects (Date, Map, class instances) pass as they are.
 */
import { createHintScanner, hintBit } from './hint-scanner.js';
import { createKeyClassifier, SECRET_KEY_HINTS, splitKeyWords } from './key-names.js';
import {
  assignmentDetector,
  base64JsonDetector,
  BUILTIN_DETECTORS,
  flagDetector,
  MIN_SECRET_LENGTH,
  patternDetector,
} from './value-patterns.js';
import type { Detector, ValuePattern } from './value-patterns.js';

/** What replaces a secret. */
export const REDACTED = '***REDACTED***';

/** Nesting deeper than this is replaced whole (`canonicalize` refuses deeper than 128 anyway). */
export const MAX_DEPTH = 100;

/**
 * Redaction settings on top of the defaults.
 *
 * @example
 * const options: RedactionOptions = {
 *   extraKeys: ['otp', /^x-internal-/i],
 *   extraPatterns: [{ name: 'acme', pattern: /acme_[a-z0-9]{32}/ }],
 *   allowKeys: ['PWD'],
 *   allowValues: ['sk_test_known_fixture_value', /^ghp_0{36}$/],
 *   allowPointers: ['/tool/output/', '/meta/signature'],
 * };
 */
export interface RedactionOptions {
  /**
   * Extra secret key words, matched as a word sequence (`'mfa code'` matches `mfaCode`, `MFA_CODE`)
   * without the default rules' metadata exceptions, or regexes tested on the whole key.
   */
  extraKeys?: readonly (string | RegExp)[];
  /** Extra value patterns; each one runs on every string (no pre-check can cover it). */
  extraPatterns?: readonly ValuePattern[];
  /** Key names never treated as secret (exact, case-insensitive); value detectors still apply. */
  allowKeys?: readonly string[];
  /**
   * Values never redacted. A string is compared with the whole value under a secret key and
   * with each detected secret; a regex keeps a value under a secret key when it matches all of
   * it, and keeps every detected secret lying inside one of its matches in a string.
   */
  allowValues?: readonly (string | RegExp)[];
  /**
   * JSON pointers never redacted: an exact pointer (`/meta/signature`), or a prefix ending in
   * `/` (`/tool/output/`), which covers that node and everything beneath it.
   */
  allowPointers?: readonly string[];
}

/**
 * A redacted value and the RFC 6901 pointers of what was redacted, in document order.
 *
 * @example
 * const result: RedactionResult = { value: { password: REDACTED }, pointers: ['/password'] };
 */
export interface RedactionResult<T = unknown> {
  value: T;
  pointers: string[];
}

/**
 * Redacts one value. The result has the input's type for the caller's convenience, though a
 * redacted number or object under a secret key becomes the string {@link REDACTED}.
 *
 * @example
 * const redact: Redactor = createRedactor();
 * redact({ password: 'hunter2' }).pointers // ['/password']
 */
export type Redactor = <T>(value: T) => RedactionResult<T>;

type Path = (string | number)[];

interface KeyInfo {
  readonly secret: boolean;
  /** The key with secrets inside it redacted, when it holds any. */
  readonly rename: string | undefined;
}

const KEY_CACHE_LIMIT = 4096;
const CACHEABLE_KEY_LENGTH = 128;

/**
 * Builds a redactor. Build it once and reuse it: options are compiled and key names cached.
 *
 * @example
 * const redact = createRedactor({ allowKeys: ['PWD'] });
 * const { value, pointers } = redact({
 *   headers: { Authorization: 'Bearer abc.def' },
 *   command: 'psql postgres://admin:hunter2@db.internal/app',
 * });
 * // value:    { headers: { Authorization: '***REDACTED***' },
 * //            command: 'psql postgres://admin:***REDACTED***@db.internal/app' }
 * // pointers: ['/headers/Authorization', '/command']
 */
export function createRedactor(options: RedactionOptions = {}): Redactor {
  const r = new Redaction(options);
  return <T>(value: T): RedactionResult<T> => {
    const pointers: string[] = [];
    const out = r.walk(value, [], 0, pointers);
    return { value: out as T, pointers };
  };
}

class Redaction {
  private readonly isSecretKey: (key: string) => boolean;
  private readonly hints: (text: string) => number;
  private readonly detectors: readonly Detector[];
  private readonly extraDetectors: readonly Detector[];
  private readonly minLength: number;
  private readonly allowExact: ReadonlySet<string>;
  private readonly allowWhole: readonly RegExp[];
  private readonly allowInside: readonly RegExp[];
  private readonly allowPointerExact: ReadonlySet<string>;
  private readonly allowPointerPrefixes: readonly string[];
  private readonly keyCache = new Map<string, KeyInfo>();

  constructor(options: RedactionOptions) {
    const extraKeys = options.extraKeys ?? [];
    this.isSecretKey = createKeyClassifier({ extraKeys, allowKeys: options.allowKeys ?? [] });

    // The free-text assignment detector needs a literal that every secret key name contains; a
    // phrase's longest word does. Its key pattern is ASCII, so other words can never match there.
    const keyHints: string[] = [...SECRET_KEY_HINTS];
    let predictable = true;
    for (const rule of extraKeys) {
      if (typeof rule !== 'string') predictable = false;
      else {
        const longest = splitKeyWords(rule).reduce((a, b) => (b.length > a.length ? b : a), '');
        if (/^[\x20-\x7e]+$/.test(longest)) keyHints.push(longest);
      }
    }
    this.detectors = [
      ...BUILTIN_DETECTORS,
      assignmentDetector(this.isSecretKey, predictable ? keyHints : null),
      flagDetector(this.isSecretKey, predictable ? keyHints : null),
      base64JsonDetector((text) => this.scan(text) !== text),
    ];
    this.hints = createHintScanner(this.detectors);
    this.extraDetectors = (options.extraPatterns ?? []).map(patternDetector);
    this.minLength = this.extraDetectors.length > 0 ? 1 : MIN_SECRET_LENGTH;

    const exact = new Set<string>();
    const whole: RegExp[] = [];
    const inside: RegExp[] = [];
    for (const allowed of options.allowValues ?? []) {
      if (typeof allowed === 'string') exact.add(allowed);
      else if (allowed instanceof RegExp) {
        whole.push(new RegExp(`^(?:${allowed.source})$`, allowed.flags.replace(/[gy]/g, '')));
        inside.push(new RegExp(allowed.source, allowed.flags.replace('y', '') + (allowed.global ? '' : 'g')));
      } else throw new TypeError('allowValues: expected strings or regular expressions');
    }
    this.allowExact = exact;
    this.allowWhole = whole;
    this.allowInside = inside;

    const pointerExact = new Set<string>();
    const prefixes: string[] = [];
    for (const pointer of options.allowPointers ?? []) {
      if (pointer !== '' && !pointer.startsWith('/')) {
        throw new TypeError(`allowPointers: ${JSON.stringify(pointer)} is not a JSON pointer`);
      }
      if (pointer.endsWith('/')) prefixes.push(pointer);
      else pointerExact.add(pointer);
    }
    this.allowPointerExact = pointerExact;
    this.allowPointerPrefixes = prefixes;
  }

  walk(value: unknown, path: Path, depth: number, pointers: string[]): unknown {
    if (typeof value === 'string') {
      const out = this.scan(value);
      if (out === value || this.pointerAllowed(path)) return value;
      pointers.push(toPointer(path));
      return out;
    }
    if (typeof value !== 'object' || value === null) return value;
    if (Array.isArray(value)) {
      if (depth >= MAX_DEPTH) return this.redactWhole(value, path, pointers);
      return this.walkArray(value, path, depth, pointers);
    }
    const proto = Object.getPrototypeOf(value) as unknown;
    if (proto !== Object.prototype && proto !== null) return value;
    if (depth >= MAX_DEPTH) return this.redactWhole(value, path, pointers);
    return this.walkObject(value as Record<string, unknown>, path, depth, pointers);
  }

  private walkArray(array: readonly unknown[], path: Path, depth: number, pointers: string[]): unknown {
    let out: unknown[] | undefined;
    const argv = argvSecrets(array, this.isSecretKey);
    path.push(0);
    for (let i = 0; i < array.length; i++) {
      path[path.length - 1] = i;
      const item = array[i];
      const kept = argv?.get(i);
      let next: unknown;
      if (kept === undefined || item === REDACTED || this.pointerAllowed(path)) {
        next = this.walk(item, path, depth + 1, pointers);
      } else {
        pointers.push(toPointer(path));
        next = (item as string).slice(0, kept) + REDACTED;
      }
      if (next !== item) {
        out ??= array.slice();
        out[i] = next;
      }
    }
    path.pop();
    return out ?? array;
  }

  private walkObject(
    obj: Readonly<Record<string, unknown>>,
    path: Path,
    depth: number,
    pointers: string[],
  ): unknown {
    const keys = Object.keys(obj);
    // Built on the first change: keys before it are copied, every key from it on is set in order.
    let out: Record<string, unknown> | undefined;
    const pairSecret = Object.hasOwn(obj, 'value') && this.isSecretPairName(obj);
    path.push('');
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i] as string;
      const item = obj[key];
      const info = this.keyInfo(key);
      let outKey = key;
      if (info.rename !== undefined) {
        path[path.length - 1] = info.rename;
        if (!this.pointerAllowed(path)) {
          outKey = info.rename;
          pointers.push(toPointer(path));
        }
      }
      path[path.length - 1] = outKey;
      const mark = pointers.length;
      let next: unknown;
      if ((info.secret || (pairSecret && key === 'value')) && this.redactsUnderSecretKey(item, path)) {
        pointers.push(toPointer(path));
        next = REDACTED;
      } else next = this.walk(item, path, depth + 1, pointers);
      // A renamed member whose value is redacted too is one pointer, listed once.
      if (outKey !== key && pointers.length > mark && pointers[mark] === pointers[mark - 1]) {
        pointers.splice(mark, 1);
      }

      if (out === undefined && (next !== item || outKey !== key)) {
        out = {};
        for (let j = 0; j < i; j++) setOwn(out, keys[j] as string, obj[keys[j] as string]);
      }
      if (out !== undefined) {
        let finalKey = outKey;
        // Two keys whose secrets differ can redact to the same text; keep both members.
        for (let n = 2; outKey !== key && Object.hasOwn(out, finalKey); n++) finalKey = `${outKey} (${n})`;
        setOwn(out, finalKey, next);
      }
    }
    path.pop();
    return out ?? obj;
  }

  /** Whether a value under a secret key is replaced (it also checks the allowlists). */
  private redactsUnderSecretKey(item: unknown, path: Path): boolean {
    if (item === null || item === undefined || item === '' || item === REDACTED) return false;
    if (typeof item === 'string' && this.valueAllowed(item)) return false;
    return !this.pointerAllowed(path);
  }

  private isSecretPairName(obj: Readonly<Record<string, unknown>>): boolean {
    const name = obj['name'] ?? obj['key'];
    return typeof name === 'string' && this.isSecretKey(name);
  }

  private redactWhole(value: unknown, path: Path, pointers: string[]): unknown {
    if (this.pointerAllowed(path)) return value;
    pointers.push(toPointer(path));
    return REDACTED;
  }

  private keyInfo(key: string): KeyInfo {
    const known = this.keyCache.get(key);
    if (known !== undefined) return known;
    const scanned = this.scan(key);
    const info: KeyInfo = { secret: this.isSecretKey(key), rename: scanned === key ? undefined : scanned };
    if (key.length <= CACHEABLE_KEY_LENGTH) {
      if (this.keyCache.size >= KEY_CACHE_LIMIT)
        this.keyCache.delete(this.keyCache.keys().next().value as string);
      this.keyCache.set(key, info);
    }
    return info;
  }

  private valueAllowed(value: string): boolean {
    if (this.allowExact.has(value)) return true;
    for (const regex of this.allowWhole) if (regex.test(value)) return true;
    return false;
  }

  private pointerAllowed(path: Path): boolean {
    if (this.allowPointerExact.size === 0 && this.allowPointerPrefixes.length === 0) return false;
    const pointer = toPointer(path);
    if (this.allowPointerExact.has(pointer)) return true;
    for (const prefix of this.allowPointerPrefixes) {
      if (pointer.startsWith(prefix) || pointer === prefix.slice(0, -1)) return true;
    }
    return false;
  }

  /** The string with every detected secret replaced, or the same string when there is none. */
  scan(text: string): string {
    if (text.length < this.minLength || this.allowExact.has(text)) return text;
    const ranges: number[] = [];
    const candidates = this.hints(text);
    if (candidates !== 0) {
      for (let i = 0; i < this.detectors.length; i++) {
        if ((candidates & hintBit(i)) !== 0) collect(this.detectors[i] as Detector, text, ranges);
      }
    }
    for (const detector of this.extraDetectors) collect(detector, text, ranges);
    if (ranges.length === 0) return text;
    return this.replace(text, ranges);
  }

  private replace(text: string, ranges: number[]): string {
    const kept = this.allowInside.length > 0 ? this.allowedRanges(text) : [];
    // Flat arrays and one join: a text with many secrets must not cost an object per secret.
    const starts: number[] = [];
    const ends: number[] = [];
    let sorted = true;
    for (let i = 0; i < ranges.length; i += 2) {
      const start = ranges[i] as number;
      const end = ranges[i + 1] as number;
      if (end - start === REDACTED.length && text.startsWith(REDACTED, start)) continue;
      if (this.allowExact.size > 0 && this.allowExact.has(text.slice(start, end))) continue;
      if (kept.length > 0 && kept.some(([s, e]) => s <= start && end <= e)) continue;
      if (starts.length > 0 && start < (starts[starts.length - 1] as number)) sorted = false;
      starts.push(start);
      ends.push(end);
    }
    if (starts.length === 0) return text;
    const order = sorted ? undefined : starts.map((_, i) => i).sort((a, b) => starts[a]! - starts[b]!);
    // Overlapping or touching spans become one marker.
    const parts: string[] = [];
    let at = -1;
    for (let k = 0; k < starts.length; k++) {
      const i = order === undefined ? k : (order[k] as number);
      const start = starts[i] as number;
      const end = ends[i] as number;
      if (start > at) parts.push(text.slice(Math.max(at, 0), start), REDACTED);
      if (end > at) at = end;
    }
    parts.push(text.slice(at));
    return parts.join('');
  }

  private allowedRanges(text: string): [number, number][] {
    const kept: [number, number][] = [];
    for (const regex of this.allowInside) {
      regex.lastIndex = 0;
      for (let m = regex.exec(text); m !== null; m = regex.exec(text)) {
        kept.push([m.index, m.index + m[0].length]);
        if (m[0].length === 0) regex.lastIndex++;
      }
    }
    return kept;
  }
}

const ARGV_FLAG = /^--?([A-Za-z][\w.-]{0,63})$/;
const MYSQL_COMMAND = /^(?:mysql\w*|mariadb[\w-]*)$/;

/**
 * The elements of a command line given as an array (`execFile` arguments, a container's
 * `command`) that hold a secret, each with how many of its characters stay: the value after a
 * flag named by a secret key (`["--password", "x"]`), mysql's `-pSECRET`, `sshpass -p SECRET`,
 * `redis-cli -a SECRET` and the words after a Redis `AUTH`. `undefined` when there are none.
 */
function argvSecrets(
  array: readonly unknown[],
  isSecretKey: (key: string) => boolean,
): Map<number, number> | undefined {
  const first = array[0];
  if (array.length < 2 || typeof first !== 'string') return undefined;
  const command = first
    .slice(first.lastIndexOf('/') + 1)
    .toLowerCase()
    .replace(/\.exe$/, '');
  const redis = command === 'redis-cli';
  if (!redis && command !== 'auth') {
    // Cheap pre-check on the hot path: a command line with a secret has a flag in it.
    let flag = false;
    for (const item of array) if (typeof item === 'string' && item.charCodeAt(0) === 45) flag = true;
    if (!flag) return undefined;
  }
  let found: Map<number, number> | undefined;
  const mark = (i: number, kept: number): void => {
    const item = array[i];
    if (typeof item === 'string' && item.length > kept) (found ??= new Map()).set(i, kept);
  };
  if (command === 'auth') for (let i = 1; i <= 2; i++) mark(i, 0);
  for (let i = 1; i < array.length; i++) {
    const prev = array[i - 1];
    const item = array[i];
    if (typeof item !== 'string' || typeof prev !== 'string') continue;
    const flag = ARGV_FLAG.exec(prev);
    if (flag !== null && !item.startsWith('-') && isSecretKey(flag[1] as string)) mark(i, 0);
    else if (MYSQL_COMMAND.test(command) && item.startsWith('-p') && item.length > 2) mark(i, 2);
    else if (command === 'sshpass' && prev === '-p') mark(i, 0);
    else if (redis && (prev === '-a' || prev === '--pass')) mark(i, 0);
    else if (redis && item.toUpperCase() === 'AUTH') {
      mark(i + 1, 0);
      mark(i + 2, 0);
    }
  }
  return found;
}

/** Runs one detector over `text`, appending accepted `[start, end)` pairs to `ranges`. */
function collect(detector: Detector, text: string, ranges: number[]): void {
  const regex = detector.pattern;
  regex.lastIndex = 0;
  for (let m = regex.exec(text); m !== null; m = regex.exec(text)) {
    const range = detector.locate(m, text);
    if (range !== undefined && range[1] > range[0]) {
      ranges.push(range[0], range[1]);
      // Go on after the redacted range, which may extend past the match (a value read by `locate`).
      regex.lastIndex = Math.max(regex.lastIndex, range[1], m.index + 1);
    } else {
      // Rejected: look again from the next character, a real secret may start inside this match
      // (`url=https://host/?token=...`).
      regex.lastIndex = m.index + 1;
    }
  }
}

function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  // A plain assignment to `__proto__` would set the prototype instead of a member.
  if (key === '__proto__') {
    Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
  } else target[key] = value;
}

/** RFC 6901 §3: `~` is written `~0` and `/` is written `~1`. */
function toPointer(path: Path): string {
  let pointer = '';
  for (const segment of path) {
    if (typeof segment === 'number') pointer += '/' + String(segment);
    else if (segment.includes('~') || segment.includes('/')) {
      pointer += '/' + segment.replaceAll('~', '~0').replaceAll('/', '~1');
    } else pointer += '/' + segment;
  }
  return pointer;
}
