import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { canonicalTarget, isPathLike } from './path.js';

describe('canonicalTarget', () => {
  const canonical: [raw: string, value: string][] = [
    ['/tmp/allowed/x.txt', '/tmp/allowed/x.txt'],
    ['/tmp/allowed/../outside/secret.txt', '/tmp/outside/secret.txt'],
    ['/tmp/allowed/%2e%2e/outside', '/tmp/outside'],
    ['/tmp/allowed/%2E%2E/outside', '/tmp/outside'],
    ['/tmp/allowed/..%2foutside', '/tmp/outside'],
    ['/tmp/allowed/..%2Foutside', '/tmp/outside'],
    ['/tmp/allowed//x', '/tmp/allowed/x'],
    ['/tmp/allowed/./x', '/tmp/allowed/x'],
    ['/tmp/allowed/x/', '/tmp/allowed/x/'],
    ['/tmp/allowed/x/..', '/tmp/allowed'],
    ['//tmp///allowed', '/tmp/allowed'],
    ['/', '/'],
    ['./data/../data/x', './data/x'],
    ['a/./b', 'a/b'],
    ['file:///tmp/allowed/../outside', 'file:///tmp/outside'],
    ['https://example.com/a/../b?x=../y#../z', 'https://example.com/b?x=../y#../z'],
    ['https://example.com/a%20b', 'https://example.com/a%20b'],
    // Not path-like: flat names are matched as written.
    ['prod/db/users', 'prod/db/users'],
    ['db.delete', 'db.delete'],
    ['write:refund', 'write:refund'],
    ['a..b/c', 'a..b/c'],
  ];
  for (const [raw, value] of canonical) {
    it(`${raw} -> ${value}`, () => assert.deepEqual(canonicalTarget(raw), { value }));
  }

  const refused: [raw: string, error: RegExp][] = [
    ['/../etc/passwd', /escapes above its root/],
    ['/tmp/../../etc/passwd', /escapes above its root/],
    ['../outside', /escapes above its root/],
    ['a/../../b', /escapes above its root/],
    ['/tmp/allowed/%252e%252e/outside', /encoded twice/],
    ['/tmp/allowed/%252fx', /encoded twice/],
    ['/tmp/allowed/x%00.txt', /NUL/],
    ['/tmp/allowed/x\0.txt', /NUL/],
    ['/tmp/allowed/..\\outside', /backslash/],
    ['C:\\tmp\\..\\windows', /backslash/],
    ['file:///../etc', /escapes above its root/],
  ];
  for (const [raw, error] of refused) {
    it(`refuses ${JSON.stringify(raw)}`, () => {
      const r = canonicalTarget(raw);
      assert.ok('error' in r, `expected an error, got ${JSON.stringify(r)}`);
      assert.match(r.error, error);
    });
  }

  it('decides path-likeness by shape', () => {
    assert.equal(isPathLike('/x'), true);
    assert.equal(isPathLike('./x'), true);
    assert.equal(isPathLike('~/x'), true);
    assert.equal(isPathLike('s3://bucket/key'), true);
    assert.equal(isPathLike('x/%2e%2e/y'), true);
    assert.equal(isPathLike('prod/*'), false);
    assert.equal(isPathLike('svc.ops.admin'), false);
  });

  it('is linear on long inputs', () => {
    const start = performance.now();
    assert.deepEqual(canonicalTarget('/' + 'a/../'.repeat(20_000) + 'x'), { value: '/x' });
    assert.deepEqual(canonicalTarget('/' + '%2e%2e/'.repeat(20_000)), {
      error: 'action.target escapes above its root',
    });
    assert.ok(performance.now() - start < 1000); // quadratic would take minutes
  });
});
