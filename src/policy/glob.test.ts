import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileGlob, compileGlobList, globError, literalPrefix, literalText } from './glob.js';

describe('glob semantics', () => {
  const cases: [glob: string, value: string, expected: boolean][] = [
    ['read:*', 'read:ticket', true],
    ['read:*', 'read:', true],
    ['read:*', 'write:ticket', false],
    ['read:*', 'READ:ticket', false], // case-sensitive
    // `*` crosses `/`, `.` and `:` alike.
    ['prod/*', 'prod/db/users', true],
    ['db.delete*', 'db.delete_row', true],
    ['db.delete*', 'db.deleteMany.now', true],
    ['*', '', true],
    ['*', 'anything/at.all', true],
    ['*.admin', 'svc.ops.admin', true],
    ['*.admin', 'svc.ops.admins', false],
    ['a*b*c', 'abc', true],
    ['a*b*c', 'a-b/c.c', true],
    ['a*b*c', 'acb', false],
    ['pre*suf', 'presuf', true],
    ['pre*suf', 'presu', false],
    ['pre*suf', 'pre-x-suf', true],
    // `?` is exactly one character (a code point, not a UTF-16 unit).
    ['tool?', 'tool1', true],
    ['tool?', 'tool', false],
    ['tool?', 'tool12', false],
    ['tool?', 'tool😀', true],
    ['?', '/', true],
    // `.` and other RegExp syntax are literal.
    ['io.fs.*', 'ioXfs.read', false],
    ['a+b(c)|d$*', 'a+b(c)|d$e', true],
    ['x^y', 'x^y', true],
    // Escapes make the next character literal.
    ['a\\*b', 'a*b', true],
    ['a\\*b', 'aXb', false],
    ['a\\?', 'a?', true],
    ['a\\?', 'ab', false],
    ['\\[x\\]', '[x]', true],
    ['a\\\\b', 'a\\b', true],
    // Line breaks are characters like any other.
    ['a*b', 'a\nb', true],
    ['a?b', 'a\nb', true],
  ];
  for (const [glob, value, expected] of cases) {
    it(`${JSON.stringify(glob)} ${expected ? 'matches' : 'does not match'} ${JSON.stringify(value)}`, () => {
      assert.equal(globError(glob), null);
      assert.equal(compileGlob(glob)(value), expected);
      assert.equal(compileGlobList([glob])(value), expected);
    });
  }
});

describe('glob syntax errors', () => {
  const bad: [string, RegExp][] = [
    ['', /must not be empty/],
    ['a\\', /unfinished escape/],
    ['prod/**', /"\*\*".*already matches/],
    ['prod/[a-z]', /reserved character "\["/],
    ['x]', /reserved character "\]"/],
    ['{a,b}', /reserved character "\{"/],
    ['a}', /reserved character "\}"/],
  ];
  for (const [glob, message] of bad) {
    it(`rejects ${JSON.stringify(glob)}`, () => {
      assert.match(globError(glob) ?? '', message);
      assert.throws(() => compileGlob(glob), message);
    });
  }
});

describe('glob helpers', () => {
  it('literalText gives the one string a wildcard-free glob matches', () => {
    assert.equal(literalText('write:refund'), 'write:refund');
    assert.equal(literalText('a\\*b'), 'a*b');
    assert.equal(literalText('read:*'), null);
    assert.equal(literalText('tool?'), null);
  });

  it('literalPrefix gives the text before the first wildcard', () => {
    assert.equal(literalPrefix('db.delete*'), 'db.delete');
    assert.equal(literalPrefix('a\\*b*'), 'a*b');
    assert.equal(literalPrefix('*.read'), '');
    assert.equal(literalPrefix('?x'), '');
    assert.equal(literalPrefix('exact'), 'exact');
  });

  it('a list matches when any glob does', () => {
    const m = compileGlobList(['read:*', 'search:web', 'search:docs', '*.list']);
    assert.equal(m('read:x'), true);
    assert.equal(m('search:web'), true);
    assert.equal(m('search:docs'), true);
    assert.equal(m('users.list'), true);
    assert.equal(m('search:images'), false);
    const literals = compileGlobList(['a', 'b']);
    assert.equal(literals('b'), true);
    assert.equal(literals('c'), false);
  });
});
