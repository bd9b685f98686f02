import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ValidationError } from '../errors.js';
import { validateEvent } from './validate.js';

const base = { type: 'action.intent', actor: { type: 'agent', id: 'bot' } };

function issues(input: unknown): { field: string; rule: string }[] {
  try {
    validateEvent(input);
  } catch (e) {
    assert.ok(e instanceof ValidationError);
    return e.issues.map(({ field, rule }) => ({ field, rule }));
  }
  return [];
}

describe('validateEvent: text the log can commit to as shown', () => {
  it('refuses a lone surrogate in any string, naming the field', () => {
    for (const s of ['\uD800', 'a\uDBFFb', '\uDC00', 'x\uDFFF', '\uDC00\uD800']) {
      assert.deepEqual(issues({ ...base, metadata: { note: s } }), [
        { field: '/metadata/note', rule: 'unicode' },
      ]);
      assert.deepEqual(issues({ ...base, action: { type: 'w', params: { list: ['ok', s] } } }), [
        { field: '/action/params/list/1', rule: 'unicode' },
      ]);
    }
    assert.deepEqual(issues({ ...base, context: { reasoning: 'fine 😀' } }), []);
  });

  it('refuses a lone surrogate in a member name, with the name escaped in the pointer', () => {
    assert.deepEqual(issues({ ...base, metadata: { 'a/b': { ['k\uD800']: 1 } } }), [
      { field: '/metadata/a~1b/k\uD800', rule: 'unicode' },
    ]);
  });

  it('refuses a member named __proto__, and keeps the prototype untouched', () => {
    const input = JSON.parse(
      '{"type":"action.intent","actor":{"type":"agent","id":"bot"},"metadata":{"__proto__":{"polluted":1}}}',
    ) as unknown;
    assert.deepEqual(issues(input), [{ field: '/metadata/__proto__', rule: 'name' }]);
    assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
    // Other names JavaScript knows are ordinary members.
    assert.deepEqual(issues({ ...base, metadata: { constructor: 'x', prototype: 1, toString: 'y' } }), []);
  });
});
