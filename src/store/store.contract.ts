import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { randomBytes } from 'node:crypto';
import { planAppend, type PreparedLeaf } from '../core/append-plan.js';
import { disclosureDigest, makeDisclosure, SENSITIVE_POINTERS, splitEvent } from '../core/disclosure.js';
import { deriveIndexValues } from '../core/index-row.js';
import { compileFilterGlob } from '../core/glob.js';
import { FILTER_GLOB_CASES } from '../core/glob.cases.js';
import { EMPTY_ROOT } from '../core/merkle.js';
import { AuditError } from '../errors.js';
import type { ApprovalRow, AuditStore, EventFilter } from './store.js';

/**
 * The contract every {@link AuditStore} passes (SQLite, PostgreSQL, memory). A backend's test
 * file calls `storeContract('name', factory)`; `factory` returns a fresh, empty store.
 */
export function storeContract(name: string, factory: () => Promise<AuditStore>, skip?: string): void {
  // Stores never see the SDK: the contract builds its leaves with core/ alone.
  const prep = (i: number, extra: Record<string, unknown> = {}): PreparedLeaf => {
    const event = {
      event_id: `evt-${i}`,
      type: 'action.intent',
      tenant: 'acme',
      time: '2026-01-01T00:00:00Z',
      level: 'agent',
      schema_version: 1,
      session_id: `s-${i % 3}`,
      actor: { type: 'agent', id: `agent-${i % 2}` },
      action: { type: i % 2 ? 'write:refund' : 'read:order', target: `order/${i}`, params: { n: i } },
      ...extra,
    };
    const disclosures = splitEvent(event, SENSITIVE_POINTERS).map((part) => ({
      pointer: part.pointer,
      bytes: makeDisclosure(randomBytes(16), part.pointer, part.value),
    }));
    return {
      eid: event.event_id,
      type: event.type,
      digests: disclosures.map((d) => disclosureDigest(d.bytes)).sort(),
      disclosures,
      index: deriveIndexValues(event),
    };
  };
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

  const approval = (id: string): ApprovalRow => ({
    id,
    logOrigin: 'o',
    status: 'pending',
    requestDigest: 'sha256:x',
    approvers: ['alice', 'bob'],
    expiresAt: '2030-01-01T00:00:00Z',
    createdAt: '2026-01-01T00:00:00Z',
    actionType: 'write:refund',
    target: null,
    sideEffects: null,
    matchedRule: 'r',
    requestReason: 'refunds need a person',
    actorType: 'agent',
    actorId: 'bot',
    sessionId: null,
    runId: null,
    parentEventId: null,
    traceId: null,
    spanId: null,
    decidedBy: null,
    decidedAt: null,
    reason: null,
  });
  const isCode = (code: string) => (e: unknown) =>
    e instanceof AuditError && e.code === code ? true : assert.fail(`expected ${code}, got ${String(e)}`);

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
      if (store.getByEids) {
        const found = await store.getByEids(head.logId, ['evt-3', 'evt-9', 'evt-1', 'evt-3']);
        assert.deepEqual(found.map((e) => e.entry.seq).sort(), [1, 3]);
        assert.ok(found.every((e) => e.disclosures.length === 2));
        assert.deepEqual(await store.getByEids(head.logId, []), []);
      }
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
      if (store.getTileRange) {
        // The complete tiles of a level in one read, the same bytes as getTiles gives.
        const run = await store.getTileRange(head.logId, 0, 0, 1);
        assert.deepEqual([...run.keys()], ['0/0']);
        assert.ok(run.get('0/0')!.equals(tiles.get('0/0')!));
        assert.equal((await store.getTileRange(head.logId, 0, 5, 9)).size, 0);
      }
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
      assert.equal(await store.lastSeq(h.logId), 299);
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
      // From a leaf on (incremental verification): the tiles holding its hash or later ones.
      assert.deepEqual(await store.listTiles(head.logId, 256), [
        { level: 0, index: 1, width: 44, bytes: 44 * 32 },
        { level: 1, index: 0, width: 1, bytes: 32 },
      ]);
      const h = (await store.getLog(head.origin))!;
      // The level-0 partial tile holds the leaf hashes of the entries after the last full tile
      // (a store may read it from the entries rather than store it).
      const leaves = await store.readEvents(h.logId, 256, 300);
      const partial = (await store.getTiles(h.logId, [{ level: 0, index: 1 }])).get('0/1')!;
      assert.ok(partial.equals(Buffer.concat(leaves.map((e) => e.entry.leafHash))));
      // A partial tile of a level above grows by its new hashes.
      const upper = (await store.getTiles(h.logId, [{ level: 1, index: 0 }])).get('1/0')!;
      const grown = Buffer.concat([upper, Buffer.alloc(32, 1)]);
      await store.putTiles(h.logId, [
        { level: 1, index: 0, width: 2, hashes: grown },
        { level: 2, index: 0, width: 1, hashes: Buffer.alloc(32, 2) },
      ]);
      const tiles = await store.getTiles(h.logId, [
        { level: 1, index: 0 },
        { level: 2, index: 0 },
      ]);
      assert.ok(tiles.get('1/0')?.equals(grown));
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

    it('reads events by seq range, seq and event id, with disclosures in unit order', async () => {
      const store = await factory();
      const head = await store.openLog('o/t/acme/x', 'acme', EMPTY_ROOT);
      const items = Array.from({ length: 6 }, (_, i) =>
        prep(i, { context: { reasoning: `why ${i}` }, outcome: { status: 'success', result: { i } } }),
      );
      await appendAll(store, head.origin, items);
      assert.deepEqual(
        (await store.readEvents(head.logId, 2, 5)).map((e) => e.entry.seq),
        [2, 3, 4],
      );
      assert.deepEqual(await store.readEvents(head.logId, 6, 10), []);
      assert.deepEqual(await store.readEvents(head.logId, 3, 3), []);
      const e4 = await store.getBySeq(head.logId, 4);
      assert.ok(e4);
      assert.equal(e4.entry.eid, 'evt-4');
      assert.equal(e4.entry.type, 'action.intent');
      assert.ok(e4.entry.leaf.length > 0);
      assert.equal(e4.entry.leafHash.length, 32);
      // Unit 0 is the body; the rest follow in the order they were prepared, byte for byte.
      assert.deepEqual(
        e4.disclosures.map((d) => [d.seq, d.unit, d.pointer, d.erasedBySeq]),
        items[4]!.disclosures.map((d, unit) => [4, unit, d.pointer, null]),
      );
      e4.disclosures.forEach((d, unit) =>
        assert.ok(d.disclosure?.equals(items[4]!.disclosures[unit]!.bytes)),
      );
      const byEid = await store.getByEid(head.logId, 'evt-4');
      assert.ok(byEid?.entry.leaf.equals(e4.entry.leaf));
      assert.equal(await store.getBySeq(head.logId, 6), undefined);
      assert.equal(await store.getBySeq(head.logId, -1), undefined);
      // Evidence's read, where a store has it: the same leaves and disclosures, as text.
      if (store.readEntryTexts) {
        const texts = await store.readEntryTexts(head.logId, 1, 6);
        const events = await store.readEvents(head.logId, 1, 6);
        assert.deepEqual(
          texts.map((t) => [t.seq, t.leaf.toString('hex'), t.disclosures]),
          events.map((e) => [
            e.entry.seq,
            e.entry.leaf.toString('hex'),
            e.disclosures.map((d) => ({
              pointer: d.pointer,
              disclosure: d.disclosure?.toString('utf8') ?? null,
              erasedBySeq: d.erasedBySeq,
            })),
          ]),
        );
        assert.deepEqual(await store.readEntryTexts(head.logId, 6, 10), []);
      }
      assert.equal(await store.getByEid(head.logId, 'evt-99'), undefined);
      await store.close();
    });

    it('keeps logs apart: seqs, reads, queries, counts and checkpoints are per log', async () => {
      const store = await factory();
      const a = await store.openLog('o/t/acme/a', 'acme', EMPTY_ROOT);
      const b = await store.openLog('o/t/acme/b', 'acme', EMPTY_ROOT);
      assert.notEqual(a.logId, b.logId);
      await appendAll(store, a.origin, [prep(0), prep(1), prep(2)]);
      // The same event ids in another log are new events there, not duplicates.
      const rb = await appendAll(store, b.origin, [prep(0), prep(7)]);
      assert.deepEqual(
        rb.map((r) => [r.seq, r.duplicate ?? false]),
        [
          [0, false],
          [1, false],
        ],
      );
      assert.equal((await store.getByEid(b.logId, 'evt-7'))?.entry.seq, 1);
      assert.equal(await store.getByEid(a.logId, 'evt-7'), undefined);
      assert.equal(await store.countEvents(a.logId, {}), 3);
      assert.equal(await store.countEvents(b.logId, {}), 2);
      assert.deepEqual(
        (await store.query(b.logId, {}, { limit: 10, order: 'asc' })).map((e) => e.entry.eid),
        ['evt-0', 'evt-7'],
      );
      await store.addCheckpoint(a.logId, { size: 3, root: a.root, note: 'a3', createdAt: 't' });
      assert.equal(await store.latestCheckpoint(b.logId), undefined);
      assert.deepEqual(await store.listCheckpoints(b.logId), []);
      assert.deepEqual(await store.storedSize(b.logId), { count: 2, maxSeq: 1 });
      assert.equal(await store.lastSeq(b.logId), 1);
      assert.deepEqual((await store.listLogs()).map((l) => [l.origin, l.size]).sort(), [
        ['o/t/acme/a', 3],
        ['o/t/acme/b', 2],
      ]);
      assert.equal((await store.getLog('o/t/acme/b'))?.tenant, 'acme');
      await store.close();
    });

    it('answers an empty log', async () => {
      const store = await factory();
      const head = await store.openLog('o/t/acme/x', 'acme', EMPTY_ROOT);
      assert.equal(head.lastTs, null);
      assert.equal(head.rightEdge.length, 0);
      assert.deepEqual(await store.readEvents(head.logId, 0, 10), []);
      assert.deepEqual(await store.query(head.logId, {}, { limit: 10, order: 'desc' }), []);
      assert.equal(await store.countEvents(head.logId, {}), 0);
      assert.deepEqual(await store.storedSize(head.logId), { count: 0, maxSeq: null });
      assert.equal(await store.lastSeq(head.logId), null);
      assert.deepEqual(await store.readIndex(head.logId, null, 10), []);
      assert.deepEqual(await store.listTiles(head.logId), []);
      assert.equal((await store.getTiles(head.logId, [{ level: 0, index: 0 }])).size, 0);
      assert.equal(await store.latestCheckpoint(head.logId), undefined);
      const chunks: unknown[] = [];
      for await (const c of store.scan(head.logId, 0, 0, 16)) chunks.push(c);
      assert.equal(chunks.flat().length, 0);
      await store.close();
    });

    it('applies each filter, literal or glob, and combines them with AND', async () => {
      const store = await factory();
      const head = await store.openLog('o/t/acme/x', 'acme', EMPTY_ROOT);
      const decisions = ['allow', 'deny', 'require_approval'] as const;
      const statuses = ['success', 'failure'] as const;
      const risks = ['low', 'high'] as const;
      const items = Array.from({ length: 12 }, (_, i) =>
        prep(i, {
          type: i < 6 ? 'policy.decision' : 'action.succeeded',
          run_id: `run-${i % 4}`,
          trace_id: i % 2 ? '0af7651916cd43dd8448eb211c80319c' : '4bf92f3577b34da6a3ce929d0e0e4736',
          risk_level: risks[i % 2],
          ...(i < 6
            ? { policy: { decision: decisions[i % 3], reason: 'r' } }
            : { outcome: { status: statuses[i % 2] } }),
          action: {
            type: i % 2 ? 'write:refund' : 'read:order',
            target: i === 11 ? 'ordér/11' : `order/${i}`,
          },
        }),
      );
      // Three batches a second apart, so `since`/`until` have distinct log times to cut at.
      await appendAll(store, head.origin, items.slice(0, 4), Date.UTC(2026, 0, 1, 0, 0, 0));
      await appendAll(store, head.origin, items.slice(4, 8), Date.UTC(2026, 0, 1, 0, 0, 1));
      await appendAll(store, head.origin, items.slice(8), Date.UTC(2026, 0, 1, 0, 0, 2));
      const seqs = async (filter: EventFilter) => {
        const rows = await store.query(head.logId, filter, { limit: 100, order: 'asc' });
        assert.equal(await store.countEvents(head.logId, filter), rows.length, JSON.stringify(filter));
        return rows.map((e) => e.entry.seq);
      };
      assert.deepEqual(await seqs({ tenant: 'acme' }), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
      assert.deepEqual(await seqs({ tenant: 'other' }), []);
      assert.deepEqual(await seqs({ run_id: 'run-1' }), [1, 5, 9]);
      assert.deepEqual(await seqs({ trace_id: '0af7651916cd43dd8448eb211c80319c' }), [1, 3, 5, 7, 9, 11]);
      assert.deepEqual(await seqs({ actor_id: 'agent-0' }), [0, 2, 4, 6, 8, 10]);
      assert.deepEqual(await seqs({ type: 'policy.decision' }), [0, 1, 2, 3, 4, 5]);
      assert.deepEqual(await seqs({ type: 'action.*' }), [6, 7, 8, 9, 10, 11]);
      assert.deepEqual(await seqs({ type: 'policy' }), []);
      assert.deepEqual(await seqs({ decision: 'deny' }), [1, 4]);
      assert.deepEqual(await seqs({ decision: 'require_approval' }), [2, 5]);
      assert.deepEqual(await seqs({ status: 'failure' }), [7, 9, 11]);
      assert.deepEqual(await seqs({ risk: 'high' }), [1, 3, 5, 7, 9, 11]);
      assert.deepEqual(await seqs({ target: 'order/1' }), [1]);
      assert.deepEqual(await seqs({ target: 'order/1*' }), [1, 10]);
      assert.deepEqual(await seqs({ target: '*/1?' }), [10, 11]);
      // `?` is one character, also a non-ASCII one.
      assert.deepEqual(await seqs({ target: 'ord?r/*' }), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
      assert.deepEqual(await seqs({ action_type: 'write:refund' }), [1, 3, 5, 7, 9, 11]);
      assert.deepEqual(await seqs({ action_type: '*:order' }), [0, 2, 4, 6, 8, 10]);
      // Matching is case-sensitive, and only action_type, target and type take wildcards.
      assert.deepEqual(await seqs({ action_type: 'WRITE:*' }), []);
      assert.deepEqual(await seqs({ session_id: 's-*' }), []);
      assert.deepEqual(await seqs({ since: '2026-01-01T00:00:01.000000Z' }), [4, 5, 6, 7, 8, 9, 10, 11]);
      assert.deepEqual(await seqs({ until: '2026-01-01T00:00:01.000000Z' }), [0, 1, 2, 3]);
      assert.deepEqual(
        await seqs({ since: '2026-01-01T00:00:01.000000Z', until: '2026-01-01T00:00:02.000000Z' }),
        [4, 5, 6, 7],
      );
      assert.deepEqual(
        await seqs({ type: 'action.*', risk: 'high', since: '2026-01-01T00:00:02.000000Z' }),
        [9, 11],
      );
      assert.deepEqual(await seqs({ decision: 'deny', status: 'failure' }), []);
      await store.close();
    });

    it('pages with after and before together, in both orders', async () => {
      const store = await factory();
      const head = await store.openLog('o/t/acme/x', 'acme', EMPTY_ROOT);
      await appendAll(
        store,
        head.origin,
        Array.from({ length: 10 }, (_, i) => prep(i)),
      );
      const page = async (o: { after?: number; before?: number; limit: number; order: 'asc' | 'desc' }) =>
        (await store.query(head.logId, {}, o)).map((e) => e.entry.seq);
      assert.deepEqual(await page({ after: 2, before: 7, limit: 10, order: 'asc' }), [3, 4, 5, 6]);
      assert.deepEqual(await page({ after: 2, before: 7, limit: 2, order: 'desc' }), [6, 5]);
      assert.deepEqual(await page({ after: 9, limit: 10, order: 'asc' }), []);
      assert.deepEqual(await page({ before: 0, limit: 10, order: 'desc' }), []);
      assert.deepEqual(await page({ limit: 3, order: 'desc' }), [9, 8, 7]);
      await store.close();
    });

    it('scans a seq range in chunks, bytes or their exact text', async () => {
      const store = await factory();
      const head = await store.openLog('o/t/acme/x', 'acme', EMPTY_ROOT);
      const items = Array.from({ length: 7 }, (_, i) => prep(i));
      await appendAll(store, head.origin, items);
      const rows = [];
      const sizes: number[] = [];
      for await (const chunk of store.scan(head.logId, 2, 7, 2)) {
        sizes.push(chunk.length);
        rows.push(...chunk);
      }
      assert.deepEqual(sizes, [2, 2, 1]);
      assert.deepEqual(
        rows.map((r) => r.entry.seq),
        [2, 3, 4, 5, 6],
      );
      const full = await store.readEvents(head.logId, 2, 7);
      rows.forEach((r, i) => {
        const want = full[i]!;
        assert.equal(Buffer.from(r.entry.leaf).toString('utf8'), want.entry.leaf.toString('utf8'));
        assert.ok(r.entry.leafHash.equals(want.entry.leafHash));
        if (r.entry.leafHashHex !== undefined)
          assert.equal(r.entry.leafHashHex, want.entry.leafHash.toString('hex'));
        assert.deepEqual(
          r.disclosures.map((d) => [
            d.pointer,
            d.disclosure === null ? null : Buffer.from(d.disclosure).toString('utf8'),
          ]),
          want.disclosures.map((d) => [d.pointer, d.disclosure?.toString('utf8') ?? null]),
        );
      });
      await store.close();
    });

    it('advances the head (size, root, right edge, last ts) on each append', async () => {
      const store = await factory();
      const head = await store.openLog('o/t/acme/x', 'acme', EMPTY_ROOT);
      const t = Date.UTC(2026, 0, 1);
      await appendAll(store, head.origin, [prep(0), prep(1), prep(2)], t);
      const h3 = (await store.getLog(head.origin))!;
      assert.equal(h3.size, 3);
      assert.equal(h3.root.length, 32);
      assert.ok(!h3.root.equals(EMPTY_ROOT));
      assert.equal(h3.rightEdge.length, 64); // subtrees of 2 and 1
      assert.equal(h3.lastTs, '2026-01-01T00:00:00.000000Z');
      // A clock that went back does not move log time back.
      await appendAll(store, head.origin, [prep(3)], t - 5000);
      const h4 = (await store.getLog(head.origin))!;
      assert.equal(h4.rightEdge.length, 32);
      assert.equal(h4.lastTs, '2026-01-01T00:00:00.000000Z');
      assert.equal((await store.getBySeq(head.logId, 3))?.entry.ts, '2026-01-01T00:00:00.000000Z');
      await store.close();
    });

    it('lists approvals by status, refuses unknown transitions, and keeps meta per key', async () => {
      const store = await factory();
      const base = approval('apr-0');
      await store.putApproval({ ...base, id: 'apr-1', status: 'pending' });
      await store.putApproval({ ...base, id: 'apr-2', status: 'pending' });
      await store.putApproval({ ...base, id: 'apr-3', status: 'pending', logOrigin: 'other' });
      assert.equal(await store.getApproval('apr-9'), undefined);
      assert.equal(await store.updateApproval('apr-9', 'pending', { status: 'granted' }), false);
      assert.equal(
        await store.updateApproval('apr-1', 'pending', {
          status: 'denied',
          decidedBy: 'bob',
          decidedAt: '2026-01-01T00:01:00Z',
          reason: 'no',
        }),
        true,
      );
      assert.deepEqual(await store.getApproval('apr-1'), {
        ...base,
        id: 'apr-1',
        status: 'denied',
        decidedBy: 'bob',
        decidedAt: '2026-01-01T00:01:00Z',
        reason: 'no',
      });
      // A grant is used once: granted -> used succeeds one time only.
      assert.equal(await store.updateApproval('apr-2', 'pending', { status: 'granted' }), true);
      assert.equal(await store.updateApproval('apr-2', 'granted', { status: 'used' }), true);
      assert.equal(await store.updateApproval('apr-2', 'granted', { status: 'used' }), false);
      assert.deepEqual((await store.listApprovals()).map((r) => r.id).sort(), ['apr-1', 'apr-2', 'apr-3']);
      assert.deepEqual(
        (await store.listApprovals('pending')).map((r) => r.id),
        ['apr-3'],
      );
      assert.deepEqual(
        (await store.listApprovals('used')).map((r) => r.id),
        ['apr-2'],
      );
      assert.deepEqual(await store.listApprovals('expired'), []);
      assert.equal(await store.getMeta('missing'), undefined);
      await store.setMeta('a', 'x');
      await store.setMeta('b', '');
      assert.equal(await store.getMeta('a'), 'x');
      assert.equal(await store.getMeta('b'), '');
      await store.close();
    });

    it('keeps approvals with compare-and-set transitions', async () => {
      const store = await factory();
      const row = { ...approval('apr-1'), approvers: ['alice'] };
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
      // A refused transition changes nothing, not even the fields it carried.
      assert.equal(
        await store.updateApproval('apr-1', 'pending', {
          status: 'denied',
          decidedBy: 'mallory',
          reason: 'x',
        }),
        false,
      );
      assert.deepEqual(await store.getApproval('apr-1'), {
        ...row,
        status: 'granted',
        decidedBy: 'alice',
        reason: 'ok',
      });
      await store.setMeta('k', 'v1');
      await store.setMeta('k', 'v2');
      assert.equal(await store.getMeta('k'), 'v2');
      await store.close();
    });

    it('stores every approval field as given, parameters of any JSON shape included', async () => {
      const store = await factory();
      const full: ApprovalRow = {
        ...approval('apr-full'),
        target: 'order/1',
        params: { amount: 49.99, currency: 'USD', nested: { list: [1, 'two', null, true] } },
        sideEffects: ['refund', 'email'],
        matchedRule: 'refunds',
        sessionId: 's-1',
        runId: 'run-1',
        parentEventId: 'evt-1',
        traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
        spanId: '00f067aa0ba902b7',
      };
      const bare: ApprovalRow = { ...approval('apr-bare'), matchedRule: null };
      await store.putApproval(full);
      await store.putApproval(bare);
      for (const [id, params] of [
        ['apr-str', 'just text'],
        ['apr-null', null],
        ['apr-num', 0],
        ['apr-arr', []],
        ['apr-unicode', { note: 'ordér ✓ 😀' }],
      ] as const) {
        await store.putApproval({ ...approval(id), params });
        assert.deepEqual((await store.getApproval(id))?.params, params, id);
      }
      assert.deepEqual(await store.getApproval('apr-full'), full);
      const got = await store.getApproval('apr-bare');
      assert.deepEqual(got, bare);
      assert.ok(got && !('params' in got) && got.target === null && got.sideEffects === null);
      // A row read back is a copy: changing it changes nothing stored.
      const copy = (await store.getApproval('apr-full'))!;
      (copy.params as { amount: number }).amount = 1;
      copy.approvers.push('mallory');
      assert.deepEqual(await store.getApproval('apr-full'), full);
      // An id is stored once.
      await assert.rejects(store.putApproval({ ...full, status: 'granted' }), isCode('conflict'));
      assert.equal((await store.getApproval('apr-full'))?.status, 'pending');
      await store.close();
    });

    it('lists approvals by creation time, of one status and one log', async () => {
      const store = await factory();
      const rows = [
        { ...approval('apr-c'), createdAt: '2026-01-01T00:00:03Z', logOrigin: 'o/a' },
        { ...approval('apr-a'), createdAt: '2026-01-01T00:00:01Z', logOrigin: 'o/b' },
        {
          ...approval('apr-b'),
          createdAt: '2026-01-01T00:00:02Z',
          logOrigin: 'o/a',
          status: 'granted' as const,
        },
        { ...approval('apr-d'), createdAt: '2026-01-01T00:00:00Z', logOrigin: 'o/a' },
      ];
      for (const r of rows) await store.putApproval(r);
      const ids = async (status?: ApprovalRow['status'], log?: string) =>
        (await store.listApprovals(status, log)).map((r) => r.id);
      assert.deepEqual(await ids(), ['apr-d', 'apr-a', 'apr-b', 'apr-c']);
      assert.deepEqual(await ids('pending'), ['apr-d', 'apr-a', 'apr-c']);
      assert.deepEqual(await ids(undefined, 'o/a'), ['apr-d', 'apr-b', 'apr-c']);
      assert.deepEqual(await ids('pending', 'o/a'), ['apr-d', 'apr-c']);
      assert.deepEqual(await ids('granted', 'o/b'), []);
      assert.deepEqual(await ids(undefined, 'o/none'), []);
      assert.deepEqual((await store.listApprovals('granted', 'o/a'))[0], rows[2]);
      await store.close();
    });

    it('writes approval rows in the same transaction as an append: both or neither', async () => {
      const store = await factory();
      const head = await store.openLog('o/t/acme/x', 'acme', EMPTY_ROOT);
      const ok = await store.append(head.origin, ['evt-0'], (ctx) => planAppend(ctx, [prep(0)], Date.now()), {
        approvals: [approval('apr-1')],
      });
      assert.equal(ok[0]?.seq, 0);
      assert.equal((await store.getApproval('apr-1'))?.status, 'pending');
      // A plan that fails: neither its entry nor its approval row is stored.
      await assert.rejects(
        store.append(
          head.origin,
          ['evt-1'],
          () => {
            throw new Error('injected failure');
          },
          { approvals: [approval('apr-2')] },
        ),
      );
      // A plan the store refuses (a seq taken twice): the same.
      await assert.rejects(
        store.append(
          head.origin,
          ['evt-1'],
          (ctx) => {
            const r = planAppend(ctx, [prep(1)], Date.now());
            r.plan.entries.push({ ...r.plan.entries[0]! });
            return r;
          },
          { approvals: [approval('apr-3')] },
        ),
      );
      // An approval row the store refuses (its id exists): the entries of the append are not stored.
      await assert.rejects(
        store.append(head.origin, ['evt-1'], (ctx) => planAppend(ctx, [prep(1)], Date.now()), {
          approvals: [approval('apr-4'), { ...approval('apr-1'), status: 'granted' }],
        }),
        isCode('conflict'),
      );
      assert.equal((await store.getLog(head.origin))?.size, 1);
      assert.equal(await store.getByEid(head.logId, 'evt-1'), undefined);
      assert.deepEqual(
        (await store.listApprovals()).map((r) => [r.id, r.status]),
        [['apr-1', 'pending']],
      );
      // The log still appends after the failures, at the next seq.
      const next = await store.append(
        head.origin,
        ['evt-1'],
        (ctx) => planAppend(ctx, [prep(1)], Date.now()),
        {
          approvals: [],
        },
      );
      assert.equal(next[0]?.seq, 1);
      await store.close();
    });

    it('keeps named cursors per log, moved by compare-and-set', async () => {
      const store = await factory();
      const a = await store.openLog('o/t/acme/a', 'acme', EMPTY_ROOT);
      const b = await store.openLog('o/t/acme/b', 'acme', EMPTY_ROOT);
      assert.equal(await store.getCursor(a.logId, 'siem'), undefined);
      assert.deepEqual(await store.listCursors(a.logId), []);
      // Unconditional set creates, then moves (also backwards: a replay from the start).
      assert.equal(await store.setCursor(a.logId, 'siem', 5), true);
      assert.deepEqual(await store.getCursor(a.logId, 'siem'), { name: 'siem', seq: 5 });
      assert.equal(await store.setCursor(a.logId, 'siem', 0), true);
      assert.deepEqual(await store.getCursor(a.logId, 'siem'), { name: 'siem', seq: 0 });
      // Compare-and-set: moves only from the expected seq.
      assert.equal(await store.setCursor(a.logId, 'siem', 10, 0), true);
      assert.equal(await store.setCursor(a.logId, 'siem', 20, 0), false);
      assert.deepEqual(await store.getCursor(a.logId, 'siem'), { name: 'siem', seq: 10 });
      assert.equal(await store.setCursor(a.logId, 'siem', 10, 10), true);
      // Expected null: only when the cursor does not exist yet.
      assert.equal(await store.setCursor(a.logId, 'siem', 99, null), false);
      assert.equal(await store.setCursor(a.logId, 'detector', 3, null), true);
      assert.equal(await store.setCursor(a.logId, 'detector', 4, null), false);
      // Expecting a seq of a cursor that does not exist never creates it.
      assert.equal(await store.setCursor(a.logId, 'ghost', 1, 0), false);
      assert.equal(await store.getCursor(a.logId, 'ghost'), undefined);
      // One cursor per (log, name): the same name in another log is another cursor.
      assert.equal(await store.getCursor(b.logId, 'siem'), undefined);
      assert.equal(await store.setCursor(b.logId, 'siem', 7, null), true);
      assert.deepEqual(await store.listCursors(a.logId), [
        { name: 'detector', seq: 3 },
        { name: 'siem', seq: 10 },
      ]);
      assert.deepEqual(await store.listCursors(b.logId), [{ name: 'siem', seq: 7 }]);
      // Names and seqs are checked.
      for (const bad of [-1, 1.5, Number.NaN, 2 ** 53]) {
        await assert.rejects(store.setCursor(a.logId, 'siem', bad), isCode('invalid_argument'), String(bad));
        await assert.rejects(
          store.setCursor(a.logId, 'siem', 1, bad),
          isCode('invalid_argument'),
          String(bad),
        );
      }
      for (const bad of ['', 'x'.repeat(201), 'a\nb']) {
        await assert.rejects(
          store.setCursor(a.logId, bad, 1),
          isCode('invalid_argument'),
          JSON.stringify(bad),
        );
      }
      assert.deepEqual(await store.getCursor(a.logId, 'siem'), { name: 'siem', seq: 10 });
      await store.close();
    });

    it('keeps API keys: stored once, looked up by id, listed per tenant, revoked once', async () => {
      const store = await factory();
      const key = (id: string, tenant: string, createdAt: string) => ({
        id,
        hash: Buffer.alloc(32, id.length),
        tenant,
        name: `${id}-owner`,
        scopes: ['ingest', 'read'],
        createdAt,
        revokedAt: null,
      });
      assert.equal(await store.getApiKey('atr_none'), undefined);
      assert.deepEqual(await store.listApiKeys(), []);
      await store.putApiKey(key('atr_b', 'acme', '2026-01-02T00:00:00Z'));
      await store.putApiKey(key('atr_a', 'acme', '2026-01-01T00:00:00Z'));
      await store.putApiKey(key('atr_c', 'other', '2026-01-03T00:00:00Z'));
      await assert.rejects(store.putApiKey(key('atr_a', 'acme', '2026-01-04T00:00:00Z')), isCode('conflict'));
      assert.deepEqual(await store.getApiKey('atr_a'), key('atr_a', 'acme', '2026-01-01T00:00:00Z'));
      assert.deepEqual(
        (await store.listApiKeys()).map((k) => k.id),
        ['atr_a', 'atr_b', 'atr_c'],
      );
      assert.deepEqual(
        (await store.listApiKeys('acme')).map((k) => k.id),
        ['atr_a', 'atr_b'],
      );
      assert.equal(await store.revokeApiKey('atr_a', '2026-02-01T00:00:00Z'), true);
      assert.equal(await store.revokeApiKey('atr_a', '2026-03-01T00:00:00Z'), false);
      assert.equal(await store.revokeApiKey('atr_none', '2026-03-01T00:00:00Z'), false);
      assert.equal((await store.getApiKey('atr_a'))?.revokedAt, '2026-02-01T00:00:00Z');
      await store.close();
    });

    it('serializes concurrent appends to one log and keeps other logs apart', async () => {
      const store = await factory();
      const a = await store.openLog('o/t/acme/a', 'acme', EMPTY_ROOT);
      const b = await store.openLog('o/t/acme/b', 'acme', EMPTY_ROOT);
      // 24 batches at once on two logs, one event re-sent by two batches: every event once, in
      // one gap-free run of seqs per log, and each log's head the size of what it holds.
      const batches = Array.from({ length: 24 }, (_, k) => ({
        origin: k % 2 ? b.origin : a.origin,
        items: [prep(1000 + k * 2), prep(1000 + k * 2 + 1), ...(k < 4 ? [prep(1)] : [])],
      }));
      const receipts = await Promise.all(batches.map((x) => appendAll(store, x.origin, x.items)));
      for (const head of [a, b]) {
        const after = (await store.getLog(head.origin))!;
        const events = await store.readEvents(head.logId, 0, 1000);
        assert.equal(after.size, events.length);
        assert.deepEqual(
          events.map((e) => e.entry.seq),
          events.map((_, i) => i),
        );
        assert.equal(new Set(events.map((e) => e.entry.eid)).size, events.length);
        assert.equal(events.length, 12 * 2 + 1);
      }
      const flat = receipts.flat();
      assert.equal(flat.filter((r) => r.duplicate === true).length, 2);
      await store.close();
    });

    it('commits prepared leaves through its own leaf writer, when it has one', async (t) => {
      const store = await factory();
      const failures: unknown[] = [];
      const writer = store.openLeafWriter?.((e) => failures.push(e)) ?? null;
      if (writer === null) {
        t.skip(`${name} has no leaf writer: every append goes through append()`);
        await store.close();
        return;
      }
      try {
        const head = await store.openLog('o/t/acme/x', 'acme', EMPTY_ROOT);
        await appendAll(store, head.origin, [prep(0)]);
        // The writer starts in the background; until then appends go through append().
        for (let i = 0; i < 200 && !writer.ready && failures.length === 0; i++) {
          await new Promise((r) => setTimeout(r, 50));
        }
        assert.deepEqual(failures, []);
        assert.equal(writer.ready, true);
        // A time after the first append's: the writer stamps the time it is given.
        const now = Date.UTC(2100, 0, 1);
        const r = await writer.append(head.origin, [prep(1), prep(2), prep(0)], now);
        assert.deepEqual(
          r.receipts.map((x) => [x.seq, x.event_id, x.duplicate ?? false]),
          [
            [1, 'evt-1', false],
            [2, 'evt-2', false],
            [0, 'evt-0', true],
          ],
        );
        const after = (await store.getLog(head.origin))!;
        assert.equal(after.size, 3);
        assert.equal(r.head?.size, 3);
        assert.ok(r.head?.root.equals(after.root));
        assert.equal((await store.getBySeq(head.logId, 2))?.entry.ts, '2100-01-01T00:00:00.000000Z');
        assert.equal(after.lastTs, '2100-01-01T00:00:00.000000Z');
        assert.equal(writer.busy, false);
      } finally {
        await writer.release();
        await store.close();
      }
    });

    it('clears the personal index columns of some entries (a purge), nothing else', async () => {
      const store = await factory();
      try {
        const head = await store.openLog('o/t/acme/clear', 'acme', EMPTY_ROOT);
        await appendAll(
          store,
          head.origin,
          Array.from({ length: 3 }, (_, i) => prep(i)),
        );
        assert.equal(await store.countEvents(head.logId, { session_id: 's-1' }), 1);
        assert.equal(
          await store.clearIndexColumns(head.logId, [1, 7], ['session_id', 'actor_id', 'target', 'time']),
          1,
        );
        const rows = await store.readIndex(head.logId, null, 10);
        assert.deepEqual(
          rows.map((r) => [r.seq, r.session_id, r.actor_id, r.target, r.time, r.action_type]),
          [
            [0, 's-0', 'agent-0', 'order/0', '2026-01-01T00:00:00Z', 'read:order'],
            [1, null, null, null, null, 'write:refund'],
            [2, 's-2', 'agent-0', 'order/2', '2026-01-01T00:00:00Z', 'read:order'],
          ],
        );
        assert.equal(await store.countEvents(head.logId, { session_id: 's-1' }), 0);
        assert.equal(await store.clearIndexColumns(head.logId, [], ['target']), 0);
      } finally {
        await store.close();
      }
    });

    it('erases disclosures: plaintext gone, erasing seq named, hashes untouched, in every read', async () => {
      const store = await factory();
      const head = await store.openLog('o/t/acme/x', 'acme', EMPTY_ROOT);
      const items = Array.from({ length: 4 }, (_, i) => prep(i, { context: { reasoning: `why ${i}` } }));
      await appendAll(store, head.origin, items);
      const before = (await store.getBySeq(head.logId, 1))!;
      const reasoning = before.disclosures.findIndex((d) => d.pointer === '/context/reasoning');
      assert.ok(reasoning > 0);
      // Unit 1 of seq 1 and unit 0 of seq 2, by the event at seq 3; unknown units are skipped.
      const units = [
        { seq: 1, unit: reasoning },
        { seq: 2, unit: 0 },
        { seq: 2, unit: 99 },
        { seq: 42, unit: 0 },
      ];
      assert.equal(await store.eraseDisclosures(head.logId, units, 3, '2026-01-02T00:00:00Z'), 2);
      // Erasing again erases nothing more and keeps the first erasing seq.
      assert.equal(await store.eraseDisclosures(head.logId, units, 4, '2026-01-03T00:00:00Z'), 0);
      const erasedOf = (e: {
        disclosures: { unit: number; disclosure: unknown; erasedBySeq: number | null }[];
      }) => e.disclosures.filter((d) => d.disclosure === null).map((d) => [d.unit, d.erasedBySeq]);
      const e1 = (await store.getBySeq(head.logId, 1))!;
      assert.deepEqual(erasedOf(e1), [[reasoning, 3]]);
      assert.ok(e1.entry.leaf.equals(before.entry.leaf) && e1.entry.leafHash.equals(before.entry.leafHash));
      assert.equal(e1.disclosures.length, before.disclosures.length);
      assert.ok(e1.disclosures[0]!.disclosure?.equals(before.disclosures[0]!.disclosure!));
      assert.deepEqual(erasedOf((await store.getByEid(head.logId, 'evt-2'))!), [[0, 3]]);
      assert.deepEqual((await store.readEvents(head.logId, 0, 4)).map(erasedOf), [
        [],
        [[reasoning, 3]],
        [[0, 3]],
        [],
      ]);
      assert.deepEqual((await store.query(head.logId, {}, { limit: 10, order: 'asc' })).map(erasedOf), [
        [],
        [[reasoning, 3]],
        [[0, 3]],
        [],
      ]);
      const scanned = [];
      for await (const chunk of store.scan(head.logId, 0, 4, 3)) scanned.push(...chunk);
      assert.deepEqual(scanned.map(erasedOf), [[], [[reasoning, 3]], [[0, 3]], []]);
      await store.close();
    });

    it('erasure clears the index columns read from what it erased, and only those', async () => {
      const store = await factory();
      const head = await store.openLog('o/t/acme/x', 'acme', EMPTY_ROOT);
      await appendAll(store, head.origin, [prep(0), prep(1), prep(2)]);
      // seq 1: its body (every column comes from it); seq 2: only its params (no column).
      const params2 = (await store.getBySeq(head.logId, 2))!.disclosures.find(
        (d) => d.pointer === '/action/params',
      )!;
      await store.eraseDisclosures(
        head.logId,
        [
          { seq: 1, unit: 0 },
          { seq: 2, unit: params2.unit },
        ],
        3,
        '2026-01-02T00:00:00Z',
      );
      const rows = await store.readIndex(head.logId, null, 10);
      const r1 = rows.find((r) => r.seq === 1)!;
      for (const c of [
        'tenant',
        'session_id',
        'actor_id',
        'action_type',
        'target',
        'time',
        'subjects',
      ] as const)
        assert.equal(r1[c], null, c);
      assert.equal(r1.type, 'action.intent');
      const r2 = rows.find((r) => r.seq === 2)!;
      assert.equal(r2.session_id, 's-2');
      assert.equal(r2.target, 'order/2');
      assert.equal(await store.countEvents(head.logId, { session_id: 's-1' }), 0);
      await store.close();
    });

    it('filters by any of several values, and by one subject tag among several', async () => {
      const store = await factory();
      const head = await store.openLog('o/t/acme/x', 'acme', EMPTY_ROOT);
      const items = [prep(0), prep(1), prep(2), prep(3)];
      items[1]!.index = { ...items[1]!.index, subjects: 'aaa bbb', actor_id: 'user:t1' };
      items[2]!.index = { ...items[2]!.index, subjects: 'bbb', target: 'h:t2' };
      await appendAll(store, head.origin, items);
      const seqs = async (f: EventFilter): Promise<number[]> =>
        (await store.query(head.logId, f, { limit: 10, order: 'asc' })).map((e) => e.entry.seq);
      assert.deepEqual(await seqs({ subject: 'bbb' }), [1, 2]);
      assert.deepEqual(await seqs({ subject: 'aaa' }), [1]);
      assert.deepEqual(await seqs({ subject: 'aa' }), []);
      assert.deepEqual(await seqs({ actor_id: ['agent-0', 'user:t1'] }), [0, 1, 2]);
      assert.deepEqual(await seqs({ target: ['order/0', 'h:t2'] }), [0, 2]);
      assert.deepEqual(await seqs({ target: [] }), []);
      assert.equal(await store.countEvents(head.logId, { subject: 'bbb', session_id: 's-2' }), 1);
      await store.close();
    });

    it('addMeta stores a value only when none is there, and gives back the one stored', async () => {
      const store = await factory();
      assert.equal(await store.addMeta('k', 'first'), 'first');
      assert.equal(await store.addMeta('k', 'second'), 'first');
      assert.equal(await store.getMeta('k'), 'first');
      await store.close();
    });

    it('archives a range: drops its disclosures and index rows, keeps leaves and tiles, restores them', async () => {
      const store = await factory();
      const head = await store.openLog('o/t/acme/arch', 'acme', EMPTY_ROOT);
      await appendAll(
        store,
        head.origin,
        Array.from({ length: 6 }, (_, i) => prep(i)),
      );
      const before = await store.readEvents(head.logId, 0, 6);
      const indexBefore = await store.readIndex(head.logId, null, 100);
      const tilesBefore = await store.listTiles(head.logId);
      const row = {
        from: 1,
        to: 4,
        bySeq: 5,
        manifestSha256: 'a'.repeat(64),
        createdAt: '2026-01-02T00:00:00Z',
      };
      // Nothing is dropped outside a recorded archive.
      await assert.rejects(store.dropArchivedRows(head.logId, 1, 4), isCode('invalid_argument'));
      await assert.rejects(store.addArchive(head.logId, { ...row, bySeq: 3 }), isCode('invalid_argument'));
      await assert.rejects(
        store.addArchive(head.logId, { ...row, manifestSha256: 'x' }),
        isCode('invalid_argument'),
      );
      await store.addArchive(head.logId, row);
      await assert.rejects(store.addArchive(head.logId, { ...row, from: 3, to: 5 }), isCode('conflict'));
      assert.deepEqual(await store.listArchives(head.logId), [row]);
      await assert.rejects(store.dropArchivedRows(head.logId, 0, 4), isCode('invalid_argument'));
      const dropped = await store.dropArchivedRows(head.logId, 1, 4);
      const perEntry = before.slice(1, 4).reduce((n, e) => n + e.disclosures.length, 0);
      assert.deepEqual(dropped, { disclosures: perEntry, indexRows: 3 });
      const after = await store.readEvents(head.logId, 0, 6);
      assert.deepEqual(
        after.map((e) => e.disclosures.length),
        before.map((e, i) => (i >= 1 && i < 4 ? 0 : e.disclosures.length)),
      );
      for (let i = 0; i < 6; i++) assert.ok(after[i]!.entry.leaf.equals(before[i]!.entry.leaf));
      assert.deepEqual(
        (await store.readIndex(head.logId, null, 100)).map((r) => r.seq),
        [0, 4, 5],
      );
      assert.equal(await store.countEvents(head.logId, {}), 3);
      assert.deepEqual(await store.listTiles(head.logId), tilesBefore);
      // Restore: the same rows back; a row already there is kept; the record goes.
      const ds = before.slice(1, 4).flatMap((e) => e.disclosures);
      const idx = indexBefore.filter((r) => r.seq >= 1 && r.seq < 4);
      assert.equal(await store.restoreArchivedRows(head.logId, ds, idx), ds.length);
      assert.equal(await store.restoreArchivedRows(head.logId, ds, idx), 0);
      assert.equal(await store.removeArchive(head.logId, 1), true);
      assert.equal(await store.removeArchive(head.logId, 1), false);
      assert.deepEqual(await store.listArchives(head.logId), []);
      const restored = await store.readEvents(head.logId, 0, 6);
      for (let i = 0; i < 6; i++) {
        assert.deepEqual(
          restored[i]!.disclosures.map((d) => [
            d.unit,
            d.pointer,
            d.disclosure?.toString('hex'),
            d.erasedBySeq,
          ]),
          before[i]!.disclosures.map((d) => [
            d.unit,
            d.pointer,
            d.disclosure?.toString('hex'),
            d.erasedBySeq,
          ]),
        );
      }
      assert.deepEqual(await store.readIndex(head.logId, null, 100), indexBefore);
      await store.close();
    });

    it('matches action_type and target globs as the shared matcher does (core/glob.cases.ts)', async () => {
      const store = await factory();
      const head = await store.openLog('o/t/acme/x', 'acme', EMPTY_ROOT);
      // Every value of the table stored once, as both target and action type (the second has an
      // index in SQLite, the first none), plus one event with neither.
      const values = [...new Set(FILTER_GLOB_CASES.map(([, v]) => v))];
      const items = values.map((v, i) => prep(i, { action: { type: v, target: v } }));
      items.push(prep(values.length, { type: 'agent.lifecycle', action: undefined }));
      await appendAll(store, head.origin, items);
      const seqOf = new Map(values.map((v, i) => [v, i]));
      for (const pattern of new Set(FILTER_GLOB_CASES.map(([p]) => p))) {
        const matcher = compileFilterGlob(pattern);
        const want = values.flatMap((v, i) => (matcher(v) ? [i] : []));
        for (const field of ['target', 'action_type'] as const) {
          const filter = { [field]: pattern };
          const what = `${field} ${JSON.stringify(pattern).slice(0, 40)}`;
          const asc = await store.query(head.logId, filter, { limit: 1000, order: 'asc' });
          assert.deepEqual(
            asc.map((e) => e.entry.seq),
            want,
            what,
          );
          const desc = await store.query(head.logId, filter, { limit: 1000, order: 'desc' });
          assert.deepEqual(
            desc.map((e) => e.entry.seq),
            [...want].reverse(),
            what,
          );
          assert.equal(await store.countEvents(head.logId, filter), want.length, what);
        }
      }
      // And the table's own answers, in case the matcher and the table ever part.
      for (const [pattern, value, expected] of FILTER_GLOB_CASES) {
        const rows = await store.query(head.logId, { target: pattern }, { limit: 1000, order: 'asc' });
        const seq = seqOf.get(value);
        assert.equal(
          rows.some((e) => e.entry.seq === seq),
          expected,
          `${JSON.stringify(pattern).slice(0, 40)} on ${JSON.stringify(value).slice(0, 40)}`,
        );
      }
      await store.close();
    });
  });
}
