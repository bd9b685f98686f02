import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BatchingWriter } from './batching-writer.js';

/** A flush that commits elsewhere: each call stays open until the test releases it. */
function gatedFlush() {
  const calls: { items: number[]; release: (fail?: Error) => void }[] = [];
  let active = 0;
  let maxActive = 0;
  const flush = (items: number[]) =>
    new Promise<number[]>((resolve, reject) => {
      active++;
      maxActive = Math.max(maxActive, active);
      calls.push({
        items,
        release: (fail) => {
          active--;
          if (fail) reject(fail);
          else resolve(items.map((i) => i * 10));
        },
      });
    });
  return { flush, calls, maxActive: () => maxActive };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('BatchingWriter', () => {
  it('keeps at most maxInFlight batches committing and resolves each item with its own result', async () => {
    const g = gatedFlush();
    const w = new BatchingWriter<number, number>({ flush: g.flush, maxBatch: 2, maxInFlight: 2 });
    const results = [1, 2, 3, 4, 5, 6].map((i) => w.write(i));
    await tick();
    assert.equal(g.calls.length, 2, 'two batches handed over at once');
    assert.deepEqual(
      g.calls.map((c) => c.items),
      [
        [1, 2],
        [3, 4],
      ],
    );
    g.calls[1]!.release();
    assert.deepEqual(await Promise.all(results.slice(2, 4)), [30, 40], 'a later batch may finish first');
    await tick();
    assert.deepEqual(g.calls[2]?.items, [5, 6]);
    g.calls[0]!.release();
    g.calls[2].release();
    assert.deepEqual(await Promise.all(results), [10, 20, 30, 40, 50, 60]);
    assert.equal(g.maxActive(), 2);
  });

  it('hands over a batch as soon as eagerBatch items are queued, within the same turn', async () => {
    const g = gatedFlush();
    const w = new BatchingWriter<number, number>({ flush: g.flush, maxInFlight: 2, eagerBatch: () => 3 });
    const results = [1, 2, 3].map((i) => w.write(i));
    assert.equal(g.calls.length, 1, 'no wait for the end of the turn');
    assert.deepEqual(g.calls[0]!.items, [1, 2, 3]);
    g.calls[0]!.release();
    assert.deepEqual(await Promise.all(results), [10, 20, 30]);
  });

  it('flush waits for the batches in flight that hold earlier items, not for later ones', async () => {
    const g = gatedFlush();
    const w = new BatchingWriter<number, number>({ flush: g.flush, maxBatch: 1, maxInFlight: 2 });
    const first = w.write(1);
    await tick();
    let flushed = false;
    const f = w.flush().then(() => (flushed = true));
    void w.write(2);
    await tick();
    assert.equal(flushed, false);
    g.calls[0]!.release();
    await f;
    assert.equal(await first, 10);
    assert.equal(flushed, true, 'item 2 (queued after the flush) is still committing');
    g.calls[1]!.release();
    await w.close();
  });

  it('puts fire-and-forget items of a failed batch back while another batch commits', async () => {
    const g = gatedFlush();
    const errors: unknown[] = [];
    const w = new BatchingWriter<number, number>({
      flush: g.flush,
      maxBatch: 1,
      maxInFlight: 2,
      onError: (e) => errors.push(e),
    });
    w.enqueue(1);
    w.enqueue(2);
    await tick();
    g.calls[0]!.release(new Error('disk full'));
    g.calls[1]!.release();
    await tick();
    assert.equal(errors.length, 1);
    assert.equal(w.pending, 1, 'the failed item is queued again');
    const closing = w.close();
    await tick();
    g.calls.at(-1)!.release();
    await closing;
    assert.deepEqual(g.calls.at(-1)!.items, [1], 'retried, not dropped');
  });
  it('keeps arrival order when two batches in flight fail, so flush still waits for the first items', async () => {
    const g = gatedFlush();
    const w = new BatchingWriter<number, number>({
      flush: g.flush,
      maxBatch: 2,
      maxInFlight: 2,
      onError: () => undefined,
    });
    for (const i of [1, 2, 3, 4]) w.enqueue(i);
    await tick();
    // The earlier batch fails first, then the later one (whose items go back in front).
    g.calls[0]!.release(new Error('disk full'));
    await tick();
    g.calls[1]!.release(new Error('disk full'));
    await tick();
    assert.equal(w.pending, 4);
    let flushed = false;
    const f = w.flush().then(() => (flushed = true));
    await tick();
    assert.deepEqual(g.calls[2]?.items, [1, 2], 'the earliest items are retried first');
    g.calls[2].release();
    await tick();
    assert.equal(flushed, false, 'items 3 and 4 came before the flush too');
    g.calls[3]!.release();
    await f;
    assert.deepEqual(g.calls[3]!.items, [3, 4]);
  });
  it('commits a writeAll group in one batch, beyond maxBatch, and never splits it', async () => {
    const g = gatedFlush();
    const w = new BatchingWriter<number, number>({ flush: g.flush, maxBatch: 3 });
    const before = w.write(1);
    const group = w.writeAll([2, 3, 4, 5, 6]);
    const after = w.write(7);
    await tick();
    assert.deepEqual(g.calls[0]!.items, [1, 2, 3, 4, 5, 6], 'the group rides whole with the item before it');
    g.calls[0]!.release();
    assert.equal(await before, 10);
    assert.deepEqual(await group, [20, 30, 40, 50, 60]);
    await tick();
    assert.deepEqual(g.calls[1]!.items, [7]);
    g.calls[1]!.release();
    assert.equal(await after, 70);
  });
  it('rejects every item of a writeAll group when its batch fails', async () => {
    const g = gatedFlush();
    const w = new BatchingWriter<number, number>({ flush: g.flush, maxBatch: 2 });
    const group = w.writeAll([1, 2, 3]);
    await tick();
    assert.deepEqual(g.calls[0]!.items, [1, 2, 3]);
    g.calls[0]!.release(new Error('disk full'));
    await assert.rejects(group, /disk full/);
    assert.equal(w.pending, 0, 'nothing of the group is kept for a later, partial retry');
  });
});
