// Fuzzed requests: wrong types, huge numbers, deep nesting, invalid UTF-8, truncated JSON, wrong
// content types, duplicate keys. No response is a 5xx, nothing of a rejected request is stored,
// and /healthz still answers.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { sampleEvent, testServer, type TestServer } from './test-helpers.js';

let s: TestServer;
after(async () => {
  await s.app.close();
});

const ROUTES = [
  ['POST', '/v1/events'],
  ['POST', '/v1/decide'],
  ['POST', '/v1/actions/evt-1/outcome'],
  ['POST', '/v1/approvals/apr_x/approve'],
  ['POST', '/v1/verify'],
  ['GET', '/v1/events'],
] as const;

const valid = JSON.stringify(sampleEvent(1));

/** Raw bodies: mutations of a valid event plus hostile shapes. */
const body = fc.oneof(
  fc.jsonValue().map((v) => JSON.stringify(v)),
  fc.nat({ max: valid.length - 1 }).map((n) => valid.slice(0, n)), // truncated
  fc.integer({ min: 1, max: 400 }).map((d) => '['.repeat(d) + ']'.repeat(d)), // deep nesting
  fc.integer({ min: 1, max: 400 }).map((d) => '{"a":'.repeat(d) + '1' + '}'.repeat(d)),
  fc.constantFrom(
    '{"type":"action.intent","type":"x.a","actor":{"type":"agent","id":"a"}}',
    '{"type":"action.intent","actor":{"type":"agent","id":1e999}}',
    '{"type":"action.intent","actor":{"type":"agent","id":"a"},"seq":123456789012345678901234567890}',
    '{"__proto__":{"admin":true},"type":"action.intent","actor":{"type":"agent","id":"a"}}',
    '{"type":"action.intent","actor":{"type":"agent","id":"a\\ud800"}}',
    '[]',
    'null',
    '',
  ),
  fc.uint8Array({ minLength: 1, maxLength: 64 }).map((b) => Buffer.from(b)), // random bytes, invalid UTF-8
  fc
    .record({
      type: fc.oneof(fc.string(), fc.integer(), fc.constant('action.intent')),
      actor: fc.oneof(
        fc.anything(),
        fc.record({ type: fc.string(), id: fc.oneof(fc.string(), fc.double()) }),
      ),
      action: fc.anything(),
    })
    .map((v) => JSON.stringify(v)),
);

const contentType = fc.constantFrom(
  'application/json',
  'application/json; charset=utf-8',
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/json; charset=latin1',
);

describe('fuzzed requests', () => {
  it('never answer 5xx, store nothing rejected, and leave /healthz answering', async () => {
    s = await testServer();
    const key = s.keys.a!;
    const size = async (): Promise<number> =>
      (await s.call(key, { method: 'POST', url: '/v1/verify' })).json<{ size: number }>().size;
    let stored = await size();
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...ROUTES),
        body,
        contentType,
        async ([method, url], payload, type) => {
          const r = await s.call(key, {
            method,
            url,
            headers: { 'content-type': type },
            ...(method === 'POST' ? { payload } : {}),
          });
          assert.ok(r.statusCode < 500, `${method} ${url} ${type}: ${r.statusCode} ${r.body.slice(0, 200)}`);
          const now = await size();
          if (r.statusCode >= 400)
            assert.equal(now, stored, `a rejected request stored something: ${r.body}`);
          stored = now;
        },
      ),
      { numRuns: 300 },
    );
    assert.equal((await s.call(null, { method: 'GET', url: '/healthz' })).statusCode, 200);
  });
});
