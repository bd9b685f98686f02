import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { idKey, isNotification, isRequest, isResponse, LineReader } from './json-rpc.js';

function reader(max = 1024) {
  const lines: string[] = [];
  const oversize: number[] = [];
  const r = new LineReader(
    (l) => lines.push(l),
    (n) => oversize.push(n),
    max,
  );
  return { r, lines, oversize };
}

describe('LineReader', () => {
  it('splits on newlines across chunks, drops CR and blank lines', () => {
    const { r, lines } = reader();
    r.push(Buffer.from('{"a":1}\r\n{"b"'));
    r.push(Buffer.from(':2}\n\n  \n{"c":3}'));
    assert.deepEqual(lines, ['{"a":1}', '{"b":2}']);
    r.end();
    assert.deepEqual(lines, ['{"a":1}', '{"b":2}', '{"c":3}']);
  });

  it('does not break a multi-byte character split between chunks', () => {
    const { r, lines } = reader();
    const bytes = Buffer.from('{"t":"é✓"}\n');
    r.push(bytes.subarray(0, 7));
    r.push(bytes.subarray(7));
    assert.deepEqual(lines, ['{"t":"é✓"}']);
  });

  it('discards a line longer than the bound, reports it once, and reads on after it', () => {
    const { r, lines, oversize } = reader(8);
    r.push(Buffer.from('0123456'));
    r.push(Buffer.from('789abc'));
    r.push(Buffer.from('def\n{"ok":1}\n'));
    assert.equal(oversize.length, 1);
    assert.deepEqual(lines, ['{"ok":1}']);
  });
});

describe('message kinds', () => {
  it('tells requests, notifications and responses apart', () => {
    assert.ok(isRequest({ jsonrpc: '2.0', id: 1, method: 'tools/call' }));
    assert.ok(!isRequest({ jsonrpc: '2.0', id: null, method: 'tools/call' }));
    assert.ok(isNotification({ jsonrpc: '2.0', method: 'notifications/cancelled' }));
    assert.ok(isResponse({ jsonrpc: '2.0', id: 'a', result: {} }));
    assert.ok(isResponse({ jsonrpc: '2.0', id: null, error: { code: -32700, message: 'x' } }));
    assert.ok(!isResponse({ jsonrpc: '2.0', id: 1, method: 'ping', result: {} }));
  });

  it('keys ids so that 1 and "1" differ', () => {
    assert.notEqual(idKey(1), idKey('1'));
  });
});
