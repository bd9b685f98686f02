import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatTs, isLogTs, isoTime } from './time.js';

describe('time', () => {
  it('isoTime gives toISOString of each millisecond, also when asked again or out of order', () => {
    const ms = [1763822111123, 1763822111123, 1763822111124, 0, 1763822111123, 253402300799999];
    for (const m of ms) assert.equal(isoTime(m), new Date(m).toISOString());
  });

  it('formatTs keeps microseconds in 6 digits and sorts as a string', () => {
    assert.equal(formatTs(1763822111123.456), '2025-11-22T14:35:11.123456Z');
    assert.equal(formatTs(1763822111123), '2025-11-22T14:35:11.123000Z');
    assert.ok(isLogTs(formatTs(Date.now())));
    assert.ok(formatTs(1763822111123.999) < formatTs(1763822111124));
  });
});
