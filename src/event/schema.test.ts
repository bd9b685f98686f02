import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ValidationError } from '../errors.js';
import { EVENT_SCHEMA, EVENT_TYPES } from './schema.js';
import { validateEvent } from './validate.js';

const agent = { type: 'agent', id: 'bot' };

function issues(e: unknown): string[] {
  try {
    validateEvent(e);
    return [];
  } catch (err) {
    assert.ok(err instanceof ValidationError);
    return err.issues.map((i) => `${i.field} ${i.rule}`);
  }
}

describe('event schema v1', () => {
  it('is published unchanged at docs/schema/event.v1.schema.json (npm run schema)', () => {
    const published = JSON.parse(
      readFileSync(join(import.meta.dirname, '../../docs/schema/event.v1.schema.json'), 'utf8'),
    );
    assert.deepEqual(published, JSON.parse(JSON.stringify(EVENT_SCHEMA)));
  });

  it('accepts every known type and custom x. types', () => {
    for (const type of [...EVENT_TYPES, 'x.acme.custom_step'])
      assert.deepEqual(issues({ type, actor: agent }), []);
  });

  it('names the field and the rule of each problem', () => {
    assert.deepEqual(issues({ type: 'action.intent' }), ['/actor required']);
    assert.deepEqual(issues({ type: 'action.intent', actor: { type: 'bot', id: 'x' } }), [
      '/actor/type enum',
    ]);
    assert.deepEqual(issues({ type: 'X.bad', actor: agent }), ['/type enum']);
    assert.deepEqual(issues({ type: 'action.intent', actor: agent, surprise: 1 }), [
      '/surprise additionalProperties',
    ]);
    assert.deepEqual(issues({ type: 'action.intent', actor: agent, trace_id: 'abc' }), ['/trace_id pattern']);
    assert.deepEqual(issues({ type: 'action.intent', actor: agent, time: 'yesterday' }), ['/time format']);
    assert.deepEqual(issues({ type: 'action.failed', actor: agent, outcome: { status: 'meh' } }), [
      '/outcome/status enum',
    ]);
    assert.deepEqual(issues({ type: 'action.intent', actor: agent, dispatch: { attempt: 0 } }), [
      '/dispatch/attempt minimum',
    ]);
    assert.deepEqual(issues([]), [' type']);
    assert.deepEqual(issues(null), [' type']);
  });

  it('reports all problems, not only the first', () => {
    const all = issues({
      type: 'action.intent',
      actor: { type: 'agent' },
      risk_level: 'extreme',
      level: 'x',
    });
    assert.deepEqual(all.sort(), ['/actor/id required', '/level enum', '/risk_level enum']);
  });
});
