import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  compileFilterGlob,
  compileGlob,
  compileGlobList,
  globError,
  literalPrefix,
  literalText,
} from './glob.js';

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

// Today's semantics as a RegExp, kept only as the reference the matcher is compared with (on
// short values, where backtracking is harmless).
function referenceMatch(glob: string, value: string): boolean {
  let source = '^';
  let one = false;
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string;
    if (c === '\\') {
      source += (glob[++i] as string).replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&');
    } else if (c === '*') source += '.*';
    else if (c === '?') {
      source += '.';
      one = true;
    } else source += c.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&');
  }
  return new RegExp(source + '$', one ? 'su' : 's').test(value);
}

describe('glob matcher agrees with the reference semantics', () => {
  it('on random globs and values over a small alphabet', () => {
    // A fixed linear congruential generator: the same cases on every run.
    let seed = 12345;
    const next = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    const globAlphabet = ['a', 'b', '/', '*', '?', '\\*', 'ab', '😀'];
    const valueAlphabet = ['a', 'b', '/', '*', '😀'];
    for (let n = 0; n < 4000; n++) {
      let glob = '';
      const len = 1 + next(7);
      for (let i = 0; i < len; i++) glob += globAlphabet[next(globAlphabet.length)] as string;
      if (globError(glob) !== null) continue;
      let value = '';
      const vlen = next(9);
      for (let i = 0; i < vlen; i++) value += valueAlphabet[next(valueAlphabet.length)] as string;
      assert.equal(compileGlob(glob)(value), referenceMatch(glob, value), `${glob} vs ${value}`);
    }
  });
});

describe('glob matching time is linear (no backtracking)', () => {
  const adversarial: [glob: string, value: string][] = [
    ['a*a*a*a*a*a*b', 'a'.repeat(1024)],
    ['a*a*a*a*a*a*a*a*a*a*a*a*b', 'a'.repeat(100_000)],
    ['s3://*/*/*/*.key', 's3://' + '/'.repeat(1000)],
    ['*?*?*?*?*?*?*x', 'y'.repeat(50_000)],
    ['*a?a?a?a?a*c', 'ab'.repeat(40_000)],
  ];
  for (const [glob, value] of adversarial) {
    it(`${glob} against ${value.length} characters, under 50 ms`, () => {
      const m = compileGlob(glob);
      const start = performance.now();
      assert.equal(m(value), false);
      assert.ok(performance.now() - start < 50, `took ${performance.now() - start} ms`);
    });
  }
});

describe('filter globs (query filters)', () => {
  it('have `*` and `?` as wildcards and everything else literal', () => {
    assert.equal(compileFilterGlob('io.fs.*')('io.fs.read'), true);
    assert.equal(compileFilterGlob('io.fs.*')('ioXfs.read'), false);
    assert.equal(compileFilterGlob('a?c')('abc'), true);
    assert.equal(compileFilterGlob('[x]*')('[x]y'), true);
    assert.equal(compileFilterGlob('a\\b*')('a\\bc'), true);
    assert.equal(compileFilterGlob('a**b')('a/x/b'), true);
    assert.equal(compileFilterGlob('a*a*a*a*a*a*b')('a'.repeat(5000)), false);
  });
});
