import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { planAppend, type AppendContext, type AppendPlan, type PreparedLeaf } from './append-plan.js';
import { INDEX_COLUMNS, type IndexValues } from './index-row.js';
import { parseLeaf } from './leaf.js';
import { EMPTY_ROOT, hashLeaf, MemoryNodeReader, rootOf } from './merkle.js';
import { TileNodeReader, type TileRow } from './tiles.js';

const ORIGIN = 'example.com/log';
const T0 = Date.UTC(2026, 11, 6, 12, 0, 0);

function item(i: number, eid = `evt-${i}`): PreparedLeaf {
  const index = Object.fromEntries(
    INDEX_COLUMNS.map((c) => [c, c === 'session_id' ? `s-${i % 3}` : null]),
  ) as unknown as IndexValues;
  return {
    eid,
    type: i % 2 === 0 ? 'action.intent' : 'policy.decision',
    digests: [`${String(i).padStart(42, 'A')}A`],
    disclosures: [
      { pointer: '', bytes: Buffer.from(`["s","",${i}]`) },
      { pointer: '/action/params', bytes: Buffer.from(`["s","/action/params",${i}]`) },
    ],
    index,
  };
}

function emptyContext(): AppendContext {
  return {
    head: {
      logId: 1,
      origin: ORIGIN,
      tenant: 't',
      size: 0,
      root: EMPTY_ROOT,
      rightEdge: Buffer.alloc(0),
      lastTs: null,
    },
    existing: new Map(),
    partialTiles: [],
  };
}

/** Stored tiles after a plan: its rows replace those of the same key. */
function storeTiles(tiles: Map<string, Buffer>, plan: AppendPlan): void {
  for (const t of plan.tiles) tiles.set(`${t.level}/${t.index}`, t.hashes);
}

/** The context after `plan` was committed on `ctx`: its head, the partial tiles as stored. */
function after(ctx: AppendContext, plan: AppendPlan, tiles: Map<string, Buffer>): AppendContext {
  const partialTiles: TileRow[] = [];
  for (const [key, hashes] of tiles) {
    const [level, index] = key.split('/').map(Number) as [number, number];
    if (hashes.length < 256 * 32) partialTiles.push({ level, index, width: hashes.length / 32, hashes });
  }
  return { head: { ...ctx.head, ...plan.head }, existing: new Map(), partialTiles };
}

describe('planAppend (the in-transaction half of an append)', () => {
  it('gives seqs in order, leaves that commit to them, and the head of the tree they make', () => {
    const items = Array.from({ length: 5 }, (_, i) => item(i));
    const { plan, result } = planAppend(emptyContext(), items, T0);
    assert.deepEqual(
      plan.entries.map((e) => e.seq),
      [0, 1, 2, 3, 4],
    );
    for (const e of plan.entries) {
      const leaf = parseLeaf(e.leaf);
      assert.deepEqual(
        [leaf.log, leaf.seq, leaf.ts, leaf.eid, leaf.type],
        [ORIGIN, e.seq, '2026-12-06T12:00:00.000000Z', e.eid, e.type],
      );
      assert.ok(e.leafHash.equals(hashLeaf(e.leaf)));
    }
    assert.deepEqual(
      result.map((r) => [r.seq, r.event_id, r.leaf_hash]),
      plan.entries.map((e) => [e.seq, e.eid, e.leafHash.toString('hex')]),
    );
    // Every disclosure row by seq and unit, and one index row per entry with its values.
    assert.deepEqual(
      plan.disclosures.map((d) => [d.seq, d.unit, d.pointer]),
      [0, 1, 2, 3, 4].flatMap((s) => [
        [s, 0, ''],
        [s, 1, '/action/params'],
      ]),
    );
    assert.deepEqual(
      plan.index.map((x) => [x.seq, x.session_id]),
      [0, 1, 2, 3, 4].map((s) => [s, `s-${s % 3}`]),
    );
    const root = rootOf(5, new MemoryNodeReader(plan.entries.map((e) => e.leafHash)));
    assert.ok(plan.head.root.equals(root));
    assert.equal(plan.head.size, 5);
  });

  it('keeps log time from going backwards: ts is the later of now and the last ts', () => {
    const ctx = emptyContext();
    ctx.head.lastTs = '2026-12-06T12:00:01.000000Z';
    const early = planAppend(ctx, [item(0)], T0);
    assert.equal(early.plan.entries[0]!.ts, '2026-12-06T12:00:01.000000Z');
    const late = planAppend(ctx, [item(0)], T0 + 2000.5);
    assert.equal(late.plan.entries[0]!.ts, '2026-12-06T12:00:02.000500Z');
    assert.equal(late.plan.head.lastTs, late.plan.entries[0]!.ts);
  });

  it('answers a re-sent event id with the stored receipt and stores nothing for it', () => {
    const ctx = emptyContext();
    const stored = Buffer.alloc(32, 7);
    ctx.existing.set('evt-1', { seq: 99, leafHash: stored, eid: 'evt-1' });
    const { plan, result } = planAppend(ctx, [item(0), item(1), item(2), item(0, 'evt-0')], T0);
    assert.deepEqual(
      plan.entries.map((e) => e.eid),
      ['evt-0', 'evt-2'],
    );
    assert.deepEqual(result[1], {
      seq: 99,
      event_id: 'evt-1',
      leaf_hash: stored.toString('hex'),
      duplicate: true,
    });
    // The same id twice in one batch: one entry, the second answered with the first's receipt.
    assert.deepEqual(result[3], { ...result[0], duplicate: true });
    assert.equal(plan.head.size, 2);
    // Nothing new at all: no tiles, and the head (with its last ts) stays.
    const none = planAppend(ctx, [item(1)], T0);
    assert.deepEqual(none.plan.entries, []);
    assert.deepEqual(none.plan.tiles, []);
    assert.deepEqual(none.plan.head, { size: 0, root: EMPTY_ROOT, rightEdge: Buffer.alloc(0), lastTs: null });
  });

  it('builds the same tree and tiles in batches of any size as in one', () => {
    const items = Array.from({ length: 600 }, (_, i) => item(i));
    const whole = planAppend(emptyContext(), items, T0);
    const wholeTiles = new Map<string, Buffer>();
    storeTiles(wholeTiles, whole.plan);
    let ctx = emptyContext();
    const tiles = new Map<string, Buffer>();
    for (const size of [1, 254, 3, 256, 86]) {
      const batch = items.slice(ctx.head.size, ctx.head.size + size);
      const { plan } = planAppend(ctx, batch, T0);
      storeTiles(tiles, plan);
      ctx = after(ctx, plan, tiles);
    }
    assert.equal(ctx.head.size, 600);
    assert.ok(ctx.head.root.equals(whole.plan.head.root));
    assert.ok(ctx.head.rightEdge.equals(whole.plan.head.rightEdge));
    assert.deepEqual([...tiles.keys()].sort(), [...wholeTiles.keys()].sort());
    for (const [k, v] of tiles) assert.ok(v.equals(wholeTiles.get(k)!), `tile ${k}`);
    // The stored tiles give the root back.
    const reader = new TileNodeReader((l, i) => tiles.get(`${l}/${i}`), 600);
    assert.ok(rootOf(600, reader).equals(whole.plan.head.root));
  });
});
