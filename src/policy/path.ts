/**
 * Canonical path targets. A rule allowing `/tmp/allowed/*` must not let
 * `/tmp/allowed/../outside/secret.txt` through, so a target that looks like a path or a URL is
 * matched in canonical form: the percent-escapes of the path's own syntax (`%2e` `.`, `%2f` `/`)
 * decoded once, `.` and empty segments dropped, `..` resolved. Other escapes stay as written, so
 * a rule naming `https://host/a%20b` still matches it. What cannot be resolved without guessing how the tool will read the path — a `..`
 * above the root, NUL, a backslash, an encoding left after one decoding — is an error, and the
 * caller denies (fail-closed). See docs/policy.md "Path targets".
 */

/** A canonical target, or why there is none. */
export type CanonicalTarget = { value: string } | { error: string };

// `scheme://authority`: the path after it is canonicalised, the prefix kept as written.
const URL_PREFIX = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*/;
const PATH_ESCAPE = /%(?:2[eEfF]|5[cC])/g;
// An escaped `%` before one of the path's escapes: encoded twice (`%252e`), read as `.` by a tool
// that decodes twice and as `%2e` by one that decodes once.
const DOUBLE_ESCAPE = /%25(?:2[eEfF]|5[cC]|00)/;

/**
 * Whether a target is matched as a path: it starts like one (`/`, `./`, `../`, `~/`, a URL
 * with `://`), or it has a `.` / `..` segment or a percent-encoded dot or slash anywhere.
 *
 * @example
 * isPathLike('/tmp/x'); // true
 * isPathLike('prod/db/users'); // false
 * isPathLike('prod/../staging'); // true
 */
export function isPathLike(target: string): boolean {
  if (/^(?:\/|\.\.?(?:[/\\]|$)|~\/)/.test(target) || URL_PREFIX.test(target)) return true;
  if (/%(?:2[eEfF]|5[cC])/.test(target)) return true;
  // A `.` or `..` segment between separators (either slash).
  return /(?:^|[/\\])\.\.?(?:[/\\]|$)/.test(target);
}

/**
 * The canonical form of an action target. Targets that are not path-like are returned as they
 * are; path-like ones are decoded and resolved, or refused.
 *
 * @example
 * canonicalTarget('/tmp/allowed/../outside'); // { value: '/tmp/outside' }
 * canonicalTarget('/tmp/allowed/%2e%2e/x'); // { value: '/tmp/x' }
 * canonicalTarget('/../etc/passwd'); // { error: 'action.target escapes above its root' }
 * canonicalTarget('db.users'); // { value: 'db.users' }
 */
export function canonicalTarget(target: string): CanonicalTarget {
  if (target.includes('\0')) return { error: 'action.target contains NUL' };
  if (!isPathLike(target)) return { value: target };

  const prefix = URL_PREFIX.exec(target)?.[0] ?? '';
  let rest = target.slice(prefix.length);
  // The query and fragment of a URL are not path: kept as written.
  let tail = '';
  if (prefix !== '') {
    const q = rest.search(/[?#]/);
    if (q >= 0) {
      tail = rest.slice(q);
      rest = rest.slice(0, q);
    }
  }

  if (/%00/.test(rest)) return { error: 'action.target contains NUL' };
  if (DOUBLE_ESCAPE.test(rest)) {
    return { error: 'action.target is percent-encoded twice (ambiguous path)' };
  }
  const decoded = rest.replace(PATH_ESCAPE, (e) =>
    e[2] === 'e' || e[2] === 'E' ? '.' : e[1] === '2' ? '/' : '\\',
  );
  // `\` is a separator on Windows and a plain character elsewhere: which file is meant depends
  // on the tool, so a path target with one is refused rather than guessed at.
  if (decoded.includes('\\')) return { error: 'action.target has a backslash (ambiguous path)' };

  const absolute = decoded.startsWith('/');
  const trailing = /\/\.{0,2}$/.test(decoded) && decoded !== '' && !/(?:^|\/)\.\.$/.test(decoded);
  const out: string[] = [];
  for (const segment of decoded.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') {
      if (out.length === 0) return { error: 'action.target escapes above its root' };
      out.pop();
    } else out.push(segment);
  }
  // A leading `./` is kept: a rule written `./data/*` still matches `./data/../data/x`.
  const lead = absolute ? '/' : decoded.startsWith('./') ? './' : '';
  let path = lead + out.join('/');
  if (trailing && out.length > 0) path += '/';
  if (path === '') path = '.';
  return { value: prefix + path + tail };
}
