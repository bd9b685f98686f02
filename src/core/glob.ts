/**
 * The one glob implementation of the product: policy match keys (`policy/glob.ts` wraps these
 * with its error code) and query filters in every store (`compileFilterGlob`).
 *
 * `*` matches any run of characters, empty included, across `/`, `.` and `:` alike (action types
 * and targets are flat strings, not paths); `?` matches exactly one character (code point);
 * `\` makes the next character literal. `[ ] { }` are reserved so a later version can give them
 * meaning without changing what an existing bundle matches; `**` is refused because it would only
 * suggest path semantics that `*` does not have. Matching is case-sensitive.
 */

import { CoreError } from './errors.js';
import { hasLoneSurrogate } from './note.js';

/** A compiled test for one string. */
export type StringMatcher = (value: string) => boolean;

type Token = { kind: 'literal'; text: string } | { kind: 'star' } | { kind: 'one' };

const RESERVED = new Set(['[', ']', '{', '}']);

/** Splits a glob into tokens, or returns why it is not one. */
function tokenize(pattern: string): Token[] | string {
  if (pattern.length === 0) return 'glob must not be empty';
  const tokens: Token[] = [];
  let literal = '';
  const flush = (): void => {
    if (literal !== '') tokens.push({ kind: 'literal', text: literal });
    literal = '';
  };
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === '\\') {
      const next = pattern.codePointAt(i + 1);
      if (next === undefined) return `glob "${pattern}" ends with an unfinished escape "\\"`;
      const ch = String.fromCodePoint(next);
      literal += ch;
      i += ch.length;
    } else if (c === '*') {
      if (pattern[i + 1] === '*') {
        return `glob "${pattern}" uses "**": "*" already matches any characters, "/" and "." included`;
      }
      flush();
      tokens.push({ kind: 'star' });
    } else if (c === '?') {
      flush();
      tokens.push({ kind: 'one' });
    } else if (RESERVED.has(c)) {
      return `glob "${pattern}" uses reserved character "${c}" (write "\\${c}" to match it literally)`;
    } else {
      literal += c;
    }
  }
  flush();
  return tokens;
}

/**
 * Why `pattern` is not a valid glob, or `null` when it is.
 *
 * @example
 * globError('db.delete*'); // null
 * globError('prod/[a-z]'); // 'glob "prod/[a-z]" uses reserved character "[" …'
 */
export function globError(pattern: string): string | null {
  const t = tokenize(pattern);
  return typeof t === 'string' ? t : null;
}

type Part = { kind: 'literal'; text: string } | { kind: 'one' };

/** A run of literals and `?` between two `*`. */
type Segment = readonly Part[];

// Where a segment matches starting at `i`: the end index, or -1. `?` takes one code point (a
// surrogate pair counts once), a literal its exact UTF-16 units. No choice is made, so no
// backtracking: one call is O(segment length).
function matchForward(seg: Segment, v: string, i: number): number {
  for (const p of seg) {
    if (p.kind === 'literal') {
      if (!v.startsWith(p.text, i)) return -1;
      i += p.text.length;
    } else {
      if (i >= v.length) return -1;
      i += (v.codePointAt(i) as number) > 0xffff ? 2 : 1;
    }
  }
  return i;
}

// The same from the right: where a segment that ends at `end` starts, or -1.
function matchBackward(seg: Segment, v: string, end: number): number {
  for (let k = seg.length - 1; k >= 0; k--) {
    const p = seg[k] as Part;
    if (p.kind === 'literal') {
      if (end < p.text.length || !v.endsWith(p.text, end)) return -1;
      end -= p.text.length;
    } else {
      if (end <= 0) return -1;
      const low = v.charCodeAt(end - 1);
      const high = end >= 2 ? v.charCodeAt(end - 2) : 0;
      end -= low >= 0xdc00 && low <= 0xdfff && high >= 0xd800 && high <= 0xdbff ? 2 : 1;
    }
  }
  return end;
}

// Inside a surrogate pair: with `?` in a glob, `*` takes whole code points, so a segment may not
// start there.
function splitsPair(v: string, i: number): boolean {
  if (i <= 0 || i >= v.length) return false;
  const low = v.charCodeAt(i);
  const high = v.charCodeAt(i - 1);
  return low >= 0xdc00 && low <= 0xdfff && high >= 0xd800 && high <= 0xdbff;
}

/**
 * A linear-time matcher for any token list: the glob is cut at its `*` into segments; the first
 * must match at the start, the last at the end, and each middle one is placed at its leftmost
 * match after the previous one. Leftmost is always right for `*`-only wildcards (a later `*` can
 * absorb whatever an earlier placement leaves), so nothing is ever retried: at most
 * O(value length × glob length) character comparisons, with no RegExp backtracking.
 */
function segmentMatcher(tokens: readonly Token[]): StringMatcher {
  const segments: Part[][] = [[]];
  let codePoints = false;
  for (const t of tokens) {
    if (t.kind === 'star') segments.push([]);
    else {
      if (t.kind === 'one') codePoints = true;
      (segments[segments.length - 1] as Part[]).push(t);
    }
  }
  const first = segments[0] as Segment;
  if (segments.length === 1) return (v) => matchForward(first, v, 0) === v.length;
  const last = segments[segments.length - 1] as Segment;
  const middle = segments.slice(1, -1).filter((s) => s.length > 0);
  return (v) => {
    let pos = matchForward(first, v, 0);
    if (pos < 0) return false;
    const limit = matchBackward(last, v, v.length);
    if (limit < pos) return false;
    for (const seg of middle) {
      const head = seg[0] as Part;
      let found = -1;
      for (let i = pos; i <= limit; i++) {
        // Jump to the next place the segment's leading literal occurs.
        if (head.kind === 'literal') {
          i = v.indexOf(head.text, i);
          if (i < 0 || i > limit) return false;
        }
        if (codePoints && splitsPair(v, i)) continue;
        const end = matchForward(seg, v, i);
        if (end >= 0 && end <= limit) {
          found = end;
          break;
        }
      }
      if (found < 0) return false;
      pos = found;
    }
    return true;
  };
}

/**
 * Compiles a glob to a matcher, once. Literal globs compare with `===`, a single trailing or
 * leading `*` with `startsWith` / `endsWith`; anything else runs a segment matcher whose cost is
 * linear in the value (for a given glob): no regular expression, no backtracking, so no value
 * can stall it. Throws a `CoreError` (`malformed`) on an invalid glob (validate with
 * {@link globError} first; `policy/glob.ts` throws `policy_invalid` instead).
 *
 * @example
 * const m = compileGlob('prod/*');
 * m('prod/db/users'); // true
 * m('staging/db'); // false
 */
export function compileGlob(pattern: string): StringMatcher {
  const tokens = tokenize(pattern);
  if (typeof tokens === 'string') throw new CoreError('malformed', tokens);
  return compileTokens(tokens);
}

function compileTokens(tokens: readonly Token[]): StringMatcher {
  const [first, second, third] = tokens;
  if (tokens.length === 1 && first?.kind === 'literal') {
    const text = first.text;
    return (v) => v === text;
  }
  if (tokens.length === 1 && first?.kind === 'star') return () => true;
  if (tokens.length === 2 && first?.kind === 'literal' && second?.kind === 'star') {
    const prefix = first.text;
    return (v) => v.startsWith(prefix);
  }
  if (tokens.length === 2 && first?.kind === 'star' && second?.kind === 'literal') {
    const suffix = second.text;
    return (v) => v.endsWith(suffix);
  }
  if (
    tokens.length === 3 &&
    first?.kind === 'literal' &&
    second?.kind === 'star' &&
    third?.kind === 'literal'
  ) {
    const prefix = first.text;
    const suffix = third.text;
    const min = prefix.length + suffix.length;
    return (v) => v.length >= min && v.startsWith(prefix) && v.endsWith(suffix);
  }
  return segmentMatcher(tokens);
}

/**
 * Whether a query filter's value is a glob (it holds `*` or `?`) rather than a value to compare
 * for equality. Only the `action_type`, `target` and `type` filters take globs.
 *
 * @example
 * isFilterGlob('order/*'); // true
 * isFilterGlob('order/1042'); // false
 */
export function isFilterGlob(value: string): boolean {
  return value.includes('*') || value.includes('?');
}

/**
 * A matcher for a query filter's wildcard value (`action_type`, `target`, `type` filters): `*`
 * and `?` as in policy globs, every other character literal (no escapes, no reserved
 * characters; `**` is `*`). Every store filters with this matcher (SQLite calls it as the SQL
 * function `auditrail_glob`), so they all return the same events; the cases they must agree on
 * are `FILTER_GLOB_CASES` in `glob.cases.ts`. Stored values are well-formed Unicode (validation
 * refuses lone surrogates), so a pattern holding a lone surrogate matches nothing.
 *
 * @example
 * const m = compileFilterGlob('io.fs.*');
 * m('io.fs.read_text_file'); // true
 */
export function compileFilterGlob(pattern: string): StringMatcher {
  if (hasLoneSurrogate(pattern)) return () => false;
  const tokens: Token[] = [];
  let literal = '';
  for (const c of pattern) {
    if (c === '*' || c === '?') {
      if (literal !== '') tokens.push({ kind: 'literal', text: literal });
      literal = '';
      if (c === '?') tokens.push({ kind: 'one' });
      else if (tokens[tokens.length - 1]?.kind !== 'star') tokens.push({ kind: 'star' });
    } else literal += c;
  }
  if (literal !== '' || tokens.length === 0) tokens.push({ kind: 'literal', text: literal });
  return compileTokens(tokens);
}

/**
 * The text every match of a filter glob starts with (everything before its first `*` or `?`):
 * a store narrows its scan to values in `[prefix, prefixUpperBound(prefix))` before matching.
 *
 * @example
 * filterGlobPrefix('order/1*'); // 'order/1'
 * filterGlobPrefix('*:order'); // ''
 */
export function filterGlobPrefix(pattern: string): string {
  const star = pattern.indexOf('*');
  const one = pattern.indexOf('?');
  const end = star < 0 ? one : one < 0 ? star : Math.min(star, one);
  return end < 0 ? pattern : pattern.slice(0, end);
}

/**
 * The least string above every string that starts with `prefix`, in code point order (the
 * order of UTF-8 bytes, so SQLite's BINARY collation and PostgreSQL's `C`): the last code point
 * that can grow is incremented (U+D7FF to U+E000, over the surrogates) and what follows it is
 * dropped. `null` when there is none (`prefix` empty or all U+10FFFF): no upper bound. A string
 * `s` starts with `prefix` exactly when `prefix <= s < prefixUpperBound(prefix)`.
 *
 * @example
 * prefixUpperBound('order/1'); // 'order/2'
 * prefixUpperBound(''); // null
 */
export function prefixUpperBound(prefix: string): string | null {
  const points = Array.from(prefix, (c) => c.codePointAt(0) as number);
  while (points.length > 0) {
    const last = points.pop() as number;
    if (last < 0x10ffff) return String.fromCodePoint(...points, last === 0xd7ff ? 0xe000 : last + 1);
  }
  return null;
}

/**
 * The one string a wildcard-free glob matches (escapes resolved), or `null` when it has wildcards.
 *
 * @example
 * literalText('write:refund'); // 'write:refund'
 * literalText('a\\*b'); // 'a*b'
 * literalText('read:*'); // null
 */
export function literalText(pattern: string): string | null {
  const tokens = tokenize(pattern);
  if (typeof tokens === 'string') throw new CoreError('malformed', tokens);
  const [only] = tokens;
  return tokens.length === 1 && only?.kind === 'literal' ? only.text : null;
}

/**
 * The literal text every match of `pattern` starts with, used to index rules by action type.
 *
 * @example
 * literalPrefix('db.delete*'); // 'db.delete'
 * literalPrefix('*.read'); // ''
 */
export function literalPrefix(pattern: string): string {
  const tokens = tokenize(pattern);
  if (typeof tokens === 'string') throw new CoreError('malformed', tokens);
  const [first] = tokens;
  return first?.kind === 'literal' ? first.text : '';
}

/**
 * One matcher for a list of globs: true when any of them matches. Literal globs are looked up in
 * a Set, so a long allow-list costs one hash lookup.
 *
 * @example
 * const m = compileGlobList(['read:*', 'search:web']);
 * m('search:web'); // true
 */
export function compileGlobList(patterns: readonly string[]): StringMatcher {
  const literals = new Set<string>();
  const others: StringMatcher[] = [];
  for (const p of patterns) {
    const text = literalText(p);
    if (text !== null) literals.add(text);
    else others.push(compileGlob(p));
  }
  if (others.length === 0) {
    if (literals.size === 1) {
      const [only] = literals;
      return (v) => v === only;
    }
    return (v) => literals.has(v);
  }
  if (literals.size === 0 && others.length === 1) return others[0] as StringMatcher;
  return (v) => {
    if (literals.has(v)) return true;
    for (const m of others) if (m(v)) return true;
    return false;
  };
}
