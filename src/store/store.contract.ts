import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EMPTY_ROOT } from '../core/merkle.js';
import { planAppend } from '../sdk/append-plan.js';
import { prepareEvent } from '../sdk/prepare.js';
import { createRedactor } from '../redact/index.js';
import type { AuditStore } from './store.js';

/**
 * The contract every {@link AuditStore} passes (SQLite, PostgreSQL, memory). A backend's test
 * file calls `storeContract('name', factory)`; `factory` returns a fresh, empty store.
 */
export function storeContract(name: string, factory: () => Promise<AuditStore>, skip?: string): void {
  const redactor = createRedactor();
  const prep = (i: number, extra: Record<string, unknown> = {}) =>
    prepareEvent(
      {
        event_id: `evt-${i}`,
        type: 'action.intent',
        session_id: `s-${i % 3}`,
        actor: { type: 'agent', id: `agent-${i % 2}` },
        action: { type: i % 2 ? 'write:refund' : 'read:order', target: `order/${i}`, params: { n: i } },
        ...extra,
      },
      { tenant: 'acme', redactor },
    );
  const appendAll = async (
    store: AuditStore,
    origin: string,
    items: ReturnType<typeof prep>[],
    now = Date.now(),
  ) =>
    store.append(
      origin,
      items.map((x) => x.eid),
      (ctx) => planAppend(ctx, items, now),
    );

  describe(`AuditStore contract: ${name}`, { skip: skip ?? false }, () => {
    it('creates a log once and returns the same head', async () => {
      const store = await factory();
      const a = await store.openLog('o/t/acme/x', 'acme', EMPTY_ROOT);
      const b = await store.openLog('o/t/acme/x', 'acme', EMPTY_ROOT);
      assert.equal(a.logId, b.logId);
      assert.equal(a.size, 0);
      assert.ok(a.root.equals(EMPTY_ROOT));
      assert.equal((await store.listLogs()).length, 1);
      assert.equal(await store.getLog('nope'), undefined);
      await store.close();
    });

    it('appends a batch atomically and assigns consecutive seqs', async () => {
      const store = await factory();
      const head = await store.openLog('o/t/acme/x', 'acme', EMPTY_ROOT);
      const r1 = await appendAll(store, head.origin, [prep(0), prep(1), prep(2)]);
      const r2 = await appendAll(store, head.origin, [prep(3)]);
      assert.deepEqual(
        [...r1, ...r2].map((r) => r.seq),
        [0, 1, 2, 3],
      );
      const after = await store.getLog(head.origin);
      assert.equal(after?.size, 4);
      const events = await store.readEvents(head.logId, 0, 10);
      assert.deepEqual(
        events.map((e) => e.entry.seq),
        [0, 1, 2, 3],
      );
      assert.ok(events.every((e) => e.disclosures.length === 2));
      assert.equal((await store.getByEid(head.logId, 'evt-2'))?.entry.seq, 2);
      assert.equal((await store.getBySeq(head.logId, 3))?.entry.eid, 'evt-3');
      await store.close();
    });

    it('is idempotent on event id', async () => {
      const store = await factory();
      const head = await store.openLog('o/t/acme/x', 'acme', EMPTY_ROOT);
      await appendAll(store, head.origin, [prep(0)]);
      const again = await appendAll(store, head.origin, [prep(0), prep(1), prep(1)]);
      assert.deepEqual(
        again.map((r) => [r.seq, r.duplicate ?? false]),
        [
          [0, true],
          [1, false],
          [1, true],
        ],
      );
      assert.equal((await store.getLog(head.origin))?.size, 2);
      await store.close();
    });

    it('rolls back a failed plan: nothing of the batch is stored', async () => {
      const store = await factory();
      const head = await store.openLog('o/t/acme/x', 'acme', EMPTY_ROOT);
      await assert.rejects(
        store.append(head.origin, ['evt-9'], (ctx) => {
          const r = planAppend(ctx, [prep(9)], Date.now());
          r.plan.entries.push({ ...r.plan.entries[0]! }); // duplicate primary key
          return r;
        }),
      );
      assert.equal((await store.getLog(head.origin))?.size, 0);
      assert.equal(await store.getByEid(head.logId, 'evt-9'), undefined);
      await store.close();
    });

    it('filters, orders and pages queries', async () => {
      const store = await factory();
      const head = await store.openLog('o/t/acme/x', 'acme', EMPTY_ROOT);
      await appendAll(
        store,
        head.origin,
        Array.from({ length: 12 }, (_, i) => prep(i)),
      );
      const s1 = await store.query(head.logId, { session_id: 's-1' }, { limit: 10, order: 'asc' });
      assert.deepEqual(
        s1.map((e) => e.entry.seq),
        [1, 4, 7, 10],
      );
      const desc = await store.query(head.logId, { action_type: 'write:*' }, { limit: 2, order: 'desc' });
      assert.deepEqual(
        desc.map((e) => e.entry.seq),
        [11, 9],
      );
      const page2 = await store.query(
        head.logId,
        { action_type: 'write:*' },
        { limit: 2, order: 'desc', before: 9 },
      );
      assert.deepEqual(
        page2.map((e) => e.entry.seq),
        [7, 5],
      );
      const after = await store.query(
        head.logId,
        { actor_id: 'agent-0' },
        { limit: 3, order: 'asc', after: 4 },
      );
      assert.deepEqual(
        after.map((e) => e.entry.seq),
        [6, 8, 10],
      );
      assert.equal(await store.countEvents(head.logId, { session_id: 's-0' }), 4);
      assert.equal(await store.countEvents(head.logId, { type: 'action.*' }), 12);
      // Wildcards are `*` and `?` only, the same in every store: `[` is a character.
      assert.equal(await store.countEvents(head.logId, { action_type: 'wr?te:*' }), 6);
      assert.equal(await store.countEvents(head.logId, { action_type: '[wr]ite:*' }), 0);
      assert.ok(s1.every((e) => e.disclosures.length === 2));
      await store.close();
    });

    it('stores tiles and checkpoints', async () => {
      const store = await factory();
      const head = await store.openLog('o/t/acme/x', 'acme', EMPTY_ROOT);
      await appendAll(
        store,
        head.origin,
        Array.from({ length: 300 }, (_, i) => prep(i)),
      );
      const tiles = await store.getTiles(head.logId, [
        { level: 0, index: 0 },
        { level: 0, index: 1 },
        { level: 1, index: 0 },
      ]);
      assert.equal(tiles.get('0/0')?.length, 510 * 32); // 256 hashes, then the interior heights
      assert.equal(tiles.get('0/1')?.length, 44 * 32);
      assert.equal(tiles.get('1/0')?.length, 32);
      const h = (await store.getLog(head.origin))!;
      await store.addCheckpoint(h.logId, { size: 300, root: h.root, note: 'n300', createdAt: 't' });
      await store.addCheckpoint(h.logId, { size: 300, root: h.root, note: 'again', createdAt: 't' });
      await store.addCheckpoint(h.logId, { size: 10, root: h.root, note: 'n10', createdAt: 't' });
      assert.deepEqual(
        (await store.listCheckpoints(h.logId)).map((c) => c.note),
        ['n10', 'n300'],
      );
      assert.equal((await store.latestCheckpoint(h.logId))?.size, 300);
      const seen: number[] = [];
      for await (const chunk of store.scan(h.logId, 0, 300, 128)) seen.push(chunk.length);
      assert.deepEqual(seen, [128, 128, 44]);
      assert.deepEqual(await store.storedSize(h.logId), { count: 300, maxSeq: 299 });
      await store.close();
    });

    it('reads index rows in keyset pages and replaces, prunes and rebuilds derived rows', async () => {
      const store = await factory();
      const head = await store.openLog('o/t/acme/x', 'acme', EMPTY_ROOT);
      const items = Array.from({ length: 5 }, (_, i) => prep(i));
      await appendAll(store, head.origin, items);
      const all = await store.readIndex(head.logId, null, 100);
      assert.deepEqual(
        all.map((r) => r.seq),
        [0, 1, 2, 3, 4],
      );
      const stored = await store.readEvents(head.logId, 0, 5);
      assert.deepEqual(all[2], {
        seq: 2,
        type: 'action.intent',
        ts: stored[2]!.entry.ts,
        ...items[2]!.index,
      });
      const page1 = await store.readIndex(head.logId, null, 2);
      const page2 = await store.readIndex(head.logId, page1[1]!.seq, 2);
      const page3 = await store.readIndex(head.logId, page2[1]!.seq, 2);
      assert.deepEqual(
        [...page1, ...page2, ...page3].map((r) => r.seq),
        [0, 1, 2, 3, 4],
      );
      // Replace rows 1..2 by one edited row and one row far outside the log, then prune.
      await store.replaceIndex(head.logId, 1, 3, [{ ...all[1]!, session_id: 'moved' }]);
      await store.replaceIndex(head.logId, 9, 10, [{ ...all[4]!, seq: 9 }]);
      assert.deepEqual(
        (await store.readIndex(head.logId, null, 100)).map((r) => [r.seq, r.session_id]),
        [
          [0, 's-0'],
          [1, 'moved'],
          [3, 's-0'],
          [4, 's-1'],
          [9, 's-1'],
        ],
      );
      assert.equal(await store.countEvents(head.logId, { session_id: 'moved' }), 1);
      assert.equal(await store.pruneIndex(head.logId, 5), 1);
      assert.deepEqual(
        (await store.readIndex(head.logId, null, 100)).map((r) => r.seq),
        [0, 1, 3, 4],
      );
      await store.close();
    });

    it('lists tiles, writes missing ones and sets the head', async () => {
      const store = await factory();
      const head = await store.openLog('o/t/acme/x', 'acme', EMPTY_ROOT);
      await appendAll(
        store,
        head.origin,
        Array.from({ length: 300 }, (_, i) => prep(i)),
      );
      assert.deepEqual(await store.listTiles(head.logId), [
        { level: 0, index: 0, width: 256, bytes: 510 * 32 }, // a full tile holds its interior too
        { level: 0, index: 1, width: 44, bytes: 44 * 32 },
        { level: 1, index: 0, width: 1, bytes: 32 },
      ]);
      const h = (await store.getLog(head.origin))!;
      const partial = (await store.getTiles(h.logId, [{ level: 0, index: 1 }])).get('0/1')!;
      const grown = Buffer.concat([partial, Buffer.alloc(32, 1)]);
      await store.putTiles(h.logId, [
        { level: 0, index: 1, width: 45, hashes: grown },
        { level: 2, index: 0, width: 1, hashes: Buffer.alloc(32, 2) },
      ]);
      const tiles = await store.getTiles(h.logId, [
        { level: 0, index: 1 },
        { level: 2, index: 0 },
      ]);
      assert.ok(tiles.get('0/1')?.equals(grown));
      assert.ok(tiles.get('2/0')?.equals(Buffer.alloc(32, 2)));
      await store.setHead(h.logId, {
        size: 299,
        root: Buffer.alloc(32, 3),
        rightEdge: Buffer.alloc(64, 4),
        lastTs: 'then',
      });
      const after = (await store.getLog(head.origin))!;
      assert.equal(after.size, 299);
      assert.ok(after.root.equals(Buffer.alloc(32, 3)));
      assert.ok(after.rightEdge.equals(Buffer.alloc(64, 4)));
      assert.equal(after.lastTs, 'then');
      await store.close();
    });

    it('keeps approvals with compare-and-set transitions', async () => {
      const store = await factory();
      const row = {
        id: 'apr-1',
        logOrigin: 'o',
        status: 'pending' as const,
        requestDigest: 'sha256:x',
        approvers: ['alice'],
        expiresAt: '2030-01-01T00:00:00Z',
        createdAt: '2026-01-01T00:00:00Z',
        request: '{}',
        decidedBy: null,
        decidedAt: null,
        reason: null,
      };
      await store.putApproval(row);
      assert.equal((await store.listApprovals('pending')).length, 1);
      assert.equal(
        await store.updateApproval('apr-1', 'pending', {
          status: 'granted',
          decidedBy: 'alice',
          reason: 'ok',
        }),
        true,
      );
      assert.equal(await store.updateApproval('apr-1', 'pending', { status: 'denied' }), false);
      const got = await store.getApproval('apr-1');
      assert.equal(got?.status, 'granted');
      assert.equal(got?.decidedBy, 'alice');
      assert.deepEqual(got?.approvers, ['alice']);
      await store.setMeta('k', 'v1');
      await store.setMeta('k', 'v2');
      assert.equal(await store.getMeta('k'), 'v2');
      await store.close();
    });
  });
}
