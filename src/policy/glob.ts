/**
 * Globs for policy match keys.
 *
 * `*` matches any run of characters, empty included, across `/`, `.` and `:` alike (action types
 * and targets are flat strings, not paths); `?` matches exactly one character (code point);
 * `\` makes the next character literal. `[ ] { }` are reserved so a later version can give them
 * meaning without changing what an existing bundle matches; `**` is refused because it would only
 * suggest path semantics that `*` does not have. Matching is case-sensitive.
 */

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

const REGEX_SYNTAX = /[\\^$.*+?()[\]{}|/]/g;

/**
 * Compiles a glob to a matcher, once. Literal globs compare with `===`, a single trailing or
 * leading `*` with `startsWith` / `endsWith`; anything else becomes an anchored RegExp.
 * Throws on an invalid glob (validate with {@link globError} first).
 *
 * @example
 * const m = compileGlob('prod/*');
 * m('prod/db/users'); // true
 * m('staging/db'); // false
 */
export function compileGlob(pattern: string): StringMatcher {
  const tokens = tokenize(pattern);
  if (typeof tokens === 'string') throw new Error(tokens);
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
  let source = '^';
  let one = false;
  for (const t of tokens) {
    if (t.kind === 'star') source += '.*';
    else if (t.kind === 'one') {
      source += '.';
      one = true;
    } else source += t.text.replace(REGEX_SYNTAX, '\\$&');
  }
  // `s`: `.` also matches line breaks. `u` (slower) only where it changes the outcome: it makes
  // `?` one code point rather than one UTF-16 unit; `*` matches the same either way.
  const re = new RegExp(source + '$', one ? 'su' : 's');
  return (v) => re.test(v);
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
  if (typeof tokens === 'string') throw new Error(tokens);
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
  if (typeof tokens === 'string') throw new Error(tokens);
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
