// Writes the published JSON Schema of the event model from its source of truth (src/event/schema.ts).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EVENT_SCHEMA } from '../src/event/schema.js';

const dir = join(import.meta.dirname, '..', 'docs', 'schema');
mkdirSync(dir, { recursive: true });
writeFileSync(join(dir, 'event.v1.schema.json'), `${JSON.stringify(EVENT_SCHEMA, null, 2)}\n`);
console.log('wrote docs/schema/event.v1.schema.json');
