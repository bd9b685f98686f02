/**
 * Globs for policy match keys: the product's one glob implementation (`core/glob.ts`, which
 * documents the syntax), with an invalid glob reported as an `AuditError` (`policy_invalid`)
 * instead of core's `CoreError`.
 */

import * as core from '../core/glob.js';
import { CoreError } from '../core/errors.js';
import { AuditError } from '../errors.js';

export type { StringMatcher } from '../core/glob.js';
export { globError } from '../core/glob.js';

// Core raises `malformed` for a glob that does not parse; a bundle author sees `policy_invalid`.
function asPolicyError<T>(run: () => T): T {
  try {
    return run();
  } catch (e) {
    if (e instanceof CoreError) throw new AuditError('policy_invalid', e.message, { cause: e });
    throw e;
  }
}

/**
 * Compiles a glob to a linear-time matcher (see `core/glob.ts`); throws `policy_invalid` when
 * the glob is not valid.
 *
 * @example
 * const m = compileGlob('prod/*');
 * m('prod/db/users'); // true
 */
export function compileGlob(pattern: string): core.StringMatcher {
  return asPolicyError(() => core.compileGlob(pattern));
}

/**
 * The one string a wildcard-free glob matches (escapes resolved), or `null` when it has
 * wildcards; throws `policy_invalid` when the glob is not valid.
 *
 * @example
 * literalText('a\\*b'); // 'a*b'
 */
export function literalText(pattern: string): string | null {
  return asPolicyError(() => core.literalText(pattern));
}

/**
 * The literal text every match of `pattern` starts with; throws `policy_invalid` when the glob
 * is not valid.
 *
 * @example
 * literalPrefix('db.delete*'); // 'db.delete'
 */
export function literalPrefix(pattern: string): string {
  return asPolicyError(() => core.literalPrefix(pattern));
}

/**
 * One matcher for a list of globs (true when any matches); throws `policy_invalid` when one is
 * not valid.
 *
 * @example
 * compileGlobList(['read:*', 'search:web'])('search:web'); // true
 */
export function compileGlobList(patterns: readonly string[]): core.StringMatcher {
  return asPolicyError(() => core.compileGlobList(patterns));
}
