// Writes docs/api.md, the HTTP API reference, from the server's OpenAPI document (the route
// schemas are its source of truth). `npm run api-doc`; src/server/api-doc.test.ts checks it is current.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildServer } from '../src/server/app.js';
import { renderApiReference, type ApiDocument } from '../src/server/api-doc.js';
import { MemoryStore } from '../src/store/memory/memory-store.js';

const app = await buildServer({ store: new MemoryStore(), keyDir: null });
try {
  const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json<ApiDocument>();
  writeFileSync(join(import.meta.dirname, '..', 'docs', 'api.md'), renderApiReference(doc));
  console.log('wrote docs/api.md');
} finally {
  await app.close();
}
