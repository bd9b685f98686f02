/**
 * The one table of query-filter glob cases: `[pattern, value, expected]`, in the filter syntax of
 * `compileFilterGlob` (`glob.ts`) (`*` any run of characters, `?` one code point, everything else
 * literal; a pattern without `*` or `?` compares for equality). The glob unit test checks the
 * matcher against it, and the store contract (`store/store.contract.ts`) stores every value as an
 * event's target and queries every pattern, so each store must return exactly these answers.
 * Every value is a valid `action.target` (at most 1,024 characters, well-formed Unicode).
 *
 * Test data: kept out of the build (tsconfig.build.json).
 */

/** One case: the filter value, a stored value, and whether the filter selects it. */
export type GlobCase = readonly [pattern: string, value: string, expected: boolean];

export const FILTER_GLOB_CASES: readonly GlobCase[] = [
  // `*` matches any run of characters, the empty run included, across `/`, `.` and `:` alike.
  ['order/1*', 'order/1', true],
  ['order/1*', 'order/1042', true],
  ['order/1*', 'order/1/items/7', true],
  ['order/1*', 'order/2', false],
  ['order/1*', 'order/', false],
  ['order/1*', 'Order/1', false], // case-sensitive
  ['*', '', true],
  ['*', 'anything/at.all', true],
  ['prod/*', 'prod/db/users', true],
  ['prod/*', 'prod', false],
  ['db.delete*', 'db.deleteMany.now', true],
  ['*.admin', 'svc.ops.admin', true],
  ['*.admin', 'svc.ops.admins', false],
  ['*:order', 'read:order', true],
  ['*:order', 'read:orders', false],
  ['a*b*c', 'abc', true],
  ['a*b*c', 'a-b/c.c', true],
  ['a*b*c', 'acb', false],
  ['pre*suf', 'presuf', true],
  ['pre*suf', 'presu', false],
  ['pre*suf', 'pre-x-suf', true],
  ['pre*suf', 'presuf-suf', true],
  ['*vice*', 'prod/service-1', true],
  ['*vice*', 'device', true],
  ['*vice*', 'vic', false],
  ['**é/*', 'café/menu', true],
  ['**é/*', 'cafe/menu', false],
  ['ab*b', 'ab', false], // the `b` after `*` is not the one in `ab`
  ['ab*b', 'abb', true],
  ['a**b', 'a/x/b', true], // `**` is `*`
  ['a**b', 'ab', true],
  // `?` matches exactly one character: one code point, so a surrogate pair counts once.
  ['*/1?', 'order/10', true],
  ['*/1?', 'order/1', false],
  ['*/1?', 'order/100', false],
  ['tool?', 'tool1', true],
  ['tool?', 'tool', false],
  ['tool?', 'tool12', false],
  ['tool?', 'tool😀', true],
  ['tool?', 'toolé', true],
  ['ord?r/*', 'ordér/11', true],
  ['ord?r/*', 'order/1', true],
  ['?', '/', true],
  ['?', '😀', true],
  ['??', '😀', false],
  ['*?', '', false],
  ['*?*', 'x', true],
  ['a?b', 'a\nb', true], // line breaks are characters like any other
  ['a*', 'a\nb', true],
  // Everything else is literal: RegExp syntax, SQL LIKE's `%` and `_`, brackets, braces and `\`.
  ['io.fs.*', 'io.fs.read', true],
  ['io.fs.*', 'ioXfs.read', false],
  ['a+b(c)|d$*', 'a+b(c)|d$e', true],
  ['x^y*', 'x^y', true],
  ['100%*', '100%_done', true],
  ['100%*', '100_done', false],
  ['a_c*', 'abc', false],
  ['a_c*', 'a_c', true],
  ['[x]*', '[x]y', true],
  ['[x]*', 'x', false],
  ['[!a]?', '[!a]b', true],
  ['[a-z]*', 'q', false],
  ['{a,b}*', '{a,b}c', true],
  ['{a,b}*', 'a', false],
  ['a\\b*', 'a\\bc', true],
  ['a\\*', 'a\\', true],
  ['a\\*', 'a*', false],
  ['a\\?', 'a?', false],
  ['a\\?', 'a\\?', true],
  // A pattern without `*` or `?` compares for equality.
  ['order/1', 'order/1', true],
  ['order/1', 'order/10', false],
  ['[x]', '[x]', true],
  // Where a store narrows by the text before the first wildcard, the range ends where code
  // point order (UTF-8 byte order) says: past U+FFFF, over the surrogates, past U+10FFFF.
  ['é*', 'éa', true],
  ['é*', 'f', false],
  ['\uFFFF*', '\uFFFFa', true],
  ['\uFFFF*', '😀', false],
  ['\uD7FF*', '\uD7FF1', true],
  ['\uD7FF*', '\uE000', false],
  ['😀*', '😀x', true],
  ['😀*', '😁', false],
  ['\u{10FFFF}*', '\u{10FFFF}\u{10FFFF}', true],
  ['x\u{10FFFF}*', 'x\u{10FFFF}a', true],
  ['x\u{10FFFF}*', 'y', false],
  // A lone surrogate never occurs in a stored value, not even as half of a pair.
  ['*\uD83D*', '😀', false],
  ['\uD83D?', '😀', false],
  // Backtracking bait: linear-time matching answers at once.
  ['a*a*a*a*a*a*b', 'a'.repeat(1024), false],
  ['*a?a?a?a?a*c', 'ab'.repeat(512), false],
  ['s3://*/*/*/*.key', 's3://' + '/'.repeat(1019), false],
];
