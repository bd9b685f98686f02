import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { describeSchema, renderApiReference, type ApiDocument } from './api-doc.js';
import { testServer, type TestServer } from './test-helpers.js';

let s: TestServer;
after(async () => {
  await s.app.close();
});

describe('docs/api.md', () => {
  it('is the reference rendered from the current OpenAPI document (npm run api-doc)', async () => {
    s = await testServer();
    const doc = (await s.call(null, { method: 'GET', url: '/openapi.json' })).json<ApiDocument>();
    const rendered = renderApiReference(doc);
    const stored = readFileSync(new URL('../../docs/api.md', import.meta.url), 'utf8');
    assert.ok(stored === rendered, 'docs/api.md is out of date: run `npm run api-doc` and commit it');
    // Every route of the document has its section, with its scope.
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const method of Object.keys(ops)) {
        assert.ok(rendered.includes(`### \`${method.toUpperCase()} ${path}\``), `${method} ${path}`);
      }
    }
    assert.match(rendered, /### `POST \/v1\/decide`\n\n[^\n]+\n\nKey scope: `decide`\./);
    assert.match(rendered, /### `GET \/healthz`\n\n[^\n]+\n\nPublic: no API key needed\./);
  });

  it('describes schemas with the bounds a client must respect', () => {
    assert.equal(
      describeSchema({
        type: 'array',
        minItems: 1,
        maxItems: 1000,
        items: { $ref: '#/components/schemas/Event' },
      }),
      'array (1–1000) of Event',
    );
    assert.equal(
      describeSchema({ type: 'string', minLength: 1, maxLength: 128, pattern: '^[a|b]+$' }),
      'string (1–128 chars, pattern `^[a|b]+$`)',
    );
    assert.equal(
      describeSchema({ type: 'integer', minimum: 1, maximum: 1000, default: 100 }),
      'integer (1–1000, default `100`)',
    );
    assert.equal(describeSchema({ enum: ['asc', 'desc'] }), '`asc`, `desc`');
    assert.equal(describeSchema({ type: ['string', 'null'] }), 'string or null');
    assert.equal(describeSchema({ type: 'integer', minimum: 0 }), 'integer (≥ 0)');
    assert.equal(describeSchema({ type: 'string', minLength: 0, maxLength: 40 }), 'string (≤ 40 chars)');
    assert.equal(
      describeSchema({ type: 'object', required: ['id'], properties: { type: {}, id: {} } }),
      'object {type, id*}',
    );
  });
});
