import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { toolCallToAction } from '../index.js';
import { DecisionCache, toolAction } from './tool-action.js';

describe('toolCallToAction', () => {
  it('maps a framework tool call the way every adapter does', () => {
    assert.deepEqual(toolCallToAction({ id: 'c1', name: 'refund', args: { order: '7' } }), {
      type: 'tool:refund',
      params: { order: '7' },
    });
    assert.deepEqual(toolCallToAction({ name: 'ping' }), { type: 'tool:ping' });
    const actions = { refund: { type: 'write:refund', target: 'payments' } };
    assert.deepEqual(toolCallToAction({ name: 'refund', args: { order: '7' } }, { actions }), {
      type: 'write:refund',
      target: 'payments',
      params: { order: '7' },
    });
  });
});

describe('toolAction', () => {
  it('defaults to tool:<name> with the input as params', () => {
    assert.deepEqual(toolAction('search', { q: 'x' }), { type: 'tool:search', params: { q: 'x' } });
    assert.deepEqual(toolAction('ping', undefined), { type: 'tool:ping' });
    assert.deepEqual(toolAction('echo', {}, { prefix: 'mcp:' }), { type: 'mcp:echo', params: {} });
  });

  it('merges a partial spec over the default, or uses a function instead', () => {
    const actions = {
      search: { type: 'read:search', side_effects: [] },
      refund: (input: unknown) => ({ type: 'write:refund', target: `order/${(input as { id: string }).id}` }),
    };
    assert.deepEqual(toolAction('search', { q: 'x' }, { actions }), {
      type: 'read:search',
      params: { q: 'x' },
      side_effects: [],
    });
    assert.deepEqual(toolAction('refund', { id: '7' }, { actions }), {
      type: 'write:refund',
      target: 'order/7',
    });
    // Only own keys: a tool named like an Object.prototype member gets the default.
    assert.deepEqual(toolAction('toString', 1, { actions }), { type: 'tool:toString', params: 1 });
  });
});

describe('DecisionCache', () => {
  it('is bounded: the oldest entry goes first', () => {
    const cache = new DecisionCache(2);
    const entry = { action: { type: 't' }, error: new Error('x') };
    cache.set('a', entry);
    cache.set('b', entry);
    cache.set('c', entry);
    assert.equal(cache.get('a'), undefined);
    assert.ok(cache.get('b') && cache.get('c'));
  });
});
