import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseDisclosure } from '../core/disclosure.js';
import { AuditError, ValidationError } from '../errors.js';
import { createRedactor } from '../redact/index.js';
import { prepareEvent } from './prepare.js';

const options = { tenant: 'acme', redactor: createRedactor() };
const event = {
  type: 'action.intent',
  actor: { type: 'agent', id: 'bot' },
  metadata: { a: { b: 1 }, constructor: { c: 2 } },
} as const;

describe('prepareEvent: what record() commits to', () => {
  it('refuses sensitive pointers a verifier would refuse (reserved tokens, bad escapes)', () => {
    for (const p of [
      '/metadata/__proto__',
      '/metadata/constructor',
      '/prototype',
      '/metadata/a~2',
      'metadata',
      '',
    ]) {
      assert.throws(
        () => prepareEvent(event, { ...options, sensitivePointers: [p] }),
        (e) =>
          e instanceof AuditError && e.code === 'invalid_argument' && e.message.includes(JSON.stringify(p)),
        p,
      );
    }
    const ok = prepareEvent(event, { ...options, sensitivePointers: ['/metadata/a'] });
    assert.deepEqual(
      ok.disclosures.map((d) => parseDisclosure(d.bytes).pointer),
      ['', '/metadata/a'],
    );
  });

  it('rejects a lone surrogate before anything is committed, naming the field', () => {
    assert.throws(
      () => prepareEvent({ ...event, context: { reasoning: 'why\uD83D' } }, options),
      (e) => e instanceof ValidationError && e.issues[0]?.field === '/context/reasoning',
    );
  });
});
