import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AuditError } from '../errors.js';
import { compileGlob, compileGlobList, globError, literalPrefix, literalText } from './glob.js';

// The matcher itself is core/glob.ts (tested in core/glob.test.ts); policy adds its error code.
describe('policy globs', () => {
  it('match as core globs do', () => {
    assert.equal(compileGlob('db.delete*')('db.delete_row'), true);
    assert.equal(compileGlobList(['read:*', 'search:web'])('search:web'), true);
    assert.equal(literalText('a\\*b'), 'a*b');
    assert.equal(literalPrefix('db.delete*'), 'db.delete');
    assert.equal(globError('db.delete*'), null);
  });

  it('report an invalid glob as policy_invalid', () => {
    const policyInvalid = (message: RegExp) => (e: unknown) =>
      e instanceof AuditError && e.code === 'policy_invalid' && message.test(e.message);
    assert.throws(() => compileGlob('prod/[a-z]'), policyInvalid(/reserved character "\["/));
    assert.throws(() => compileGlobList(['ok', 'prod/**']), policyInvalid(/"\*\*"/));
    assert.throws(() => literalText('a\\'), policyInvalid(/unfinished escape/));
    assert.throws(() => literalPrefix(''), policyInvalid(/must not be empty/));
  });
});
