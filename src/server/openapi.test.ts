import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import { EVENT_SCHEMA } from '../event/schema.js';
import { testServer, type TestServer } from './test-helpers.js';

let s: TestServer;
after(async () => {
  await s.app.close();
});

describe('GET /openapi.json', () => {
  it('is a valid OpenAPI 3.1 document whose Event is the event model schema', async () => {
    s = await testServer();
    const r = await s.call(null, { method: 'GET', url: '/openapi.json' });
    assert.equal(r.statusCode, 200);
    const doc = r.json<
      Record<string, unknown> & {
        openapi: string;
        paths: Record<string, unknown>;
        components: { schemas: Record<string, Record<string, unknown>> };
      }
    >();
    assert.equal(doc.openapi, '3.1.0');
    const result = await new Validator().validate(doc);
    assert.equal(result.valid, true, JSON.stringify(result.errors, null, 2));
    assert.deepEqual(doc.components.schemas['Event']!['properties'], EVENT_SCHEMA.properties);
    for (const p of ['/v1/events', '/v1/decide', '/checkpoint', '/tile/{L}/{N}', '/v1/proofs/bundle/{seq}'])
      assert.ok(p in doc.paths, p);
  });
});
