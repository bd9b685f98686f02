import assert from 'node:assert/strict';
import { personTagger } from './index-row.js';
import { describe, it } from 'node:test';
import { signCheckpoint } from './checkpoint.js';
import { makeDisclosure } from './disclosure.js';
import { deriveIndexValues, feedsIndex } from './index-row.js';
import { CompactRange, hashLeaf } from './merkle.js';
import { formatVerifierKey, generateSigner, parseVerifierKey } from './note.js';
import {
  checkCheckpointRows,
  checkLogRow,
  checkTileSet,
  expectedIndexRow,
  expectIndex,
  IndexVerifier,
  PACKED_INDEX_COLUMNS,
  type IndexedEntry,
  type PackedIndexValues,
  type StoredIndexValues,
} from './verify-index.js';

const salt = Buffer.alloc(16, 7);

/** An entry of `seq` with a body disclosure (and a person's id as its own disclosure for users). */
function entry(seq: number, body: Record<string, unknown>, extra: [string, unknown][] = []): IndexedEntry {
  const parts: [string, unknown][] = [['', body], ...extra];
  return {
    entry: { seq, type: 'action.intent', ts: `2026-01-01T00:00:0${seq % 10}.000000Z` },
    disclosures: parts.map(([pointer, value], unit) => ({
      unit,
      pointer,
      disclosure: makeDisclosure(salt, pointer, value),
      erasedBySeq: null,
    })),
  };
}

const agentBody = (i: number) => ({
  type: 'action.intent',
  tenant: 'acme',
  session_id: `s-${i}`,
  actor: { type: 'agent', id: 'bot' },
  action: { type: 'write:refund', target: `order/${i}` },
  risk_level: 'high',
  time: '2026-01-01T00:00:00Z',
});

function storedRow(e: IndexedEntry): StoredIndexValues {
  const row = expectedIndexRow(e);
  assert.ok(row);
  return row;
}

describe('index row derivation', () => {
  it('indexes people as user:<id> and falls back to the policy risk', () => {
    const v = deriveIndexValues({
      actor: { type: 'user', id: 'alice' },
      policy: { decision: 'deny', risk: 'medium' },
    });
    assert.equal(v.actor_id, 'user:alice');
    assert.equal(v.risk, 'medium');
    assert.equal(v.decision, 'deny');
    assert.equal(v.session_id, null);
  });

  it('parses only the disclosures an index column reads from', () => {
    assert.equal(feedsIndex(''), true);
    assert.equal(feedsIndex('/actor/id'), true);
    assert.equal(feedsIndex('/actor'), true);
    assert.equal(feedsIndex('/action/params'), false);
    assert.equal(feedsIndex('/outcome/result'), false);
  });

  it('derives the row from the body and a separate person id', () => {
    const e = entry(3, { ...agentBody(3), actor: { type: 'user' } }, [
      ['/actor/id', 'alice'],
      ['/action/params', { amount: 5 }],
    ]);
    const x = expectIndex(e);
    assert.deepEqual(x.problems, []);
    assert.equal(x.values?.actor_id, 'user:alice');
    assert.equal(x.values?.session_id, 's-3');
    assert.equal(x.unchecked.size, 0);
  });

  it('leaves columns whose source was erased unchecked, and keeps their stored value on rebuild', () => {
    const e = entry(3, { ...agentBody(3), actor: { type: 'user' } }, [['/actor/id', 'alice']]);
    const stored = storedRow(e);
    const erased: IndexedEntry = {
      ...e,
      disclosures: e.disclosures.map((d) =>
        d.pointer === '/actor/id' ? { ...d, disclosure: null, erasedBySeq: 9 } : d,
      ),
    };
    const x = expectIndex(erased);
    // The target is hashed when it names a person, so it depends on the actor's id too.
    assert.deepEqual([...x.unchecked], ['actor_id', 'target']);
    assert.equal(expectedIndexRow(erased, stored)?.actor_id, 'user:alice');
    assert.equal(expectedIndexRow(erased)?.actor_id, null);
    // With an index key, erasure clears the column: the stored value is not kept.
    assert.equal(expectedIndexRow(erased, stored, personTagger(Buffer.alloc(32, 7)))?.actor_id, null);
  });

  it('reports renumbered units and a pointer column that differs from the disclosure', () => {
    const e = entry(1, agentBody(1), [['/actor/id', 'x']]);
    const moved: IndexedEntry = {
      ...e,
      disclosures: [e.disclosures[0]!, { ...e.disclosures[1]!, unit: 5, pointer: '/actor' }],
    };
    const x = expectIndex(moved);
    assert.equal(x.problems.length, 2);
    assert.match(x.problems.join('\n'), /units are 0,5/);
    assert.match(x.problems.join('\n'), /pointer column/);
  });
});

describe('IndexVerifier', () => {
  const entries = [0, 1, 2, 3, 4].map((i) => entry(i, agentBody(i)));

  function run(
    rows: (StoredIndexValues | PackedIndexValues)[],
    pageSize = 2,
  ): ReturnType<IndexVerifier['finish']> {
    const iv = new IndexVerifier();
    let fed = 0;
    for (const e of entries) {
      while (fed < rows.length && iv.fedUpTo < e.entry.seq) {
        iv.addRows(rows.slice(fed, fed + pageSize));
        fed += pageSize;
      }
      iv.push(e);
    }
    iv.addRows(rows.slice(fed));
    return iv.finish();
  }

  it('accepts exactly one matching row per entry', () => {
    assert.deepEqual(run(entries.map(storedRow)), []);
    assert.deepEqual(run(entries.map(storedRow), 1), []);
  });

  it('names a missing row, an edited column, and rows that match no entry', () => {
    const rows = entries.map(storedRow);
    rows.splice(1, 1); // seq 1 missing
    rows[2] = { ...rows[2]!, session_id: 's-other', type: 'action.failed' }; // seq 3
    // In SQL order: numbers ascending, then text.
    rows.splice(2, 0, { ...rows[0]!, seq: 2.5 });
    rows.push({ ...rows[0]!, seq: 9 }, { ...rows[0]!, seq: 'x' });
    const f = run(rows);
    assert.deepEqual(
      f.map((x) => [x.seq, x.kind]),
      [
        [1, 'index_missing'],
        [null, 'index_extra'], // seq 2.5: not an integer
        [3, 'index_mismatch'],
        [9, 'index_extra'],
        [null, 'index_extra'],
      ],
    );
    assert.match(f[2]!.detail, /columns type, session_id of entry 3 differ/);
  });

  it('treats a value of another type as a different value', () => {
    const rows = entries.map(storedRow);
    rows[4] = { ...rows[4]!, risk: 4 };
    const f = run(rows);
    assert.deepEqual(
      f.map((x) => [x.seq, x.kind]),
      [[4, 'index_mismatch']],
    );
  });

  it('skips rows at or above the covered end (appended while verifying), but not other extras', () => {
    const iv = new IndexVerifier();
    iv.addRows([
      ...entries.map(storedRow),
      { ...storedRow(entries[0]!), seq: 7 },
      { ...storedRow(entries[0]!), seq: 'x' },
    ]);
    for (const e of entries) iv.push(e);
    assert.deepEqual(
      iv.finish(5).map((x) => [x.seq, x.kind]),
      [[null, 'index_extra']],
    );
  });

  /** A row as SQLite's json_array packs it (JSON.stringify writes the same text for these values). */
  const packed = (r: StoredIndexValues): PackedIndexValues => ({
    seq: r.seq,
    packed: JSON.stringify(PACKED_INDEX_COLUMNS.map((c) => r[c])),
  });

  it('compares packed rows whole, and column by column when their text differs', () => {
    assert.deepEqual(run(entries.map(storedRow).map(packed)), []);
    // The same values written with an escape: another text, no failure.
    const escaped = entries.map(storedRow).map(packed);
    escaped[1] = { ...escaped[1]!, packed: escaped[1]!.packed.replace('"s-1"', '"\\u0073-1"') };
    assert.notEqual(escaped[1].packed, packed(storedRow(entries[1]!)).packed);
    assert.deepEqual(run(escaped), []);
    // An edited column, a value of another type, and text that is no row: named as unpacked.
    const rows = entries.map(storedRow);
    const edited = rows.map(packed);
    edited[3] = packed({ ...rows[3]!, session_id: 's-other', type: 'action.failed' });
    edited[4] = packed({ ...rows[4]!, risk: 4 });
    edited[0] = { seq: 0, packed: '["not", "a row"]' };
    const f = run(edited);
    assert.deepEqual(
      f.map((x) => [x.seq, x.kind]),
      [
        [0, 'index_mismatch'],
        [3, 'index_mismatch'],
        [4, 'index_mismatch'],
      ],
    );
    assert.match(f[1]!.detail, /columns type, session_id of entry 3 differ/);
    assert.match(f[2]!.detail, /column risk of entry 4 differs/);
  });

  it('reports a second row for the same seq as extra', () => {
    const rows = entries.map(storedRow);
    rows.splice(2, 0, { ...rows[2]! });
    assert.deepEqual(
      run(rows).map((x) => [x.seq, x.kind]),
      [[2, 'index_extra']],
    );
  });
});

describe('tile set', () => {
  const tiles = (size: number) => {
    const out = [];
    for (let level = 0, count = size; count > 0; level++, count = Math.floor(count / 256)) {
      for (let index = 0; index < Math.ceil(count / 256); index++) {
        const width = index < Math.floor(count / 256) ? 256 : count % 256;
        out.push({ level, index, width, bytes: width * 32 });
      }
    }
    return out;
  };

  it('accepts the full and partial tiles of the tree', () => {
    assert.deepEqual(checkTileSet(0, []), []);
    assert.deepEqual(checkTileSet(300, tiles(300)), []);
    assert.deepEqual(checkTileSet(65536 + 3, tiles(65536 + 3)), []);
    assert.equal(tiles(300).length, 3);
  });

  it('checks only the tiles from a leaf on (incremental verification)', () => {
    const size = 65536 + 3;
    const recent = tiles(size).filter((t) => t.index >= Math.floor(60000 / 256 ** (t.level + 1)));
    assert.deepEqual(checkTileSet(size, recent, { fromLeaf: 60000 }), []);
    const missing = recent.filter((t) => !(t.level === 0 && t.index === 240));
    assert.deepEqual(
      checkTileSet(size, missing, { fromLeaf: 60000 }).map((f) => [f.seq, f.kind]),
      [[240 * 256, 'tile_missing']],
    );
    assert.deepEqual(
      checkTileSet(size, recent.slice(1), {})
        .map((f) => f.kind)
        .slice(0, 1),
      ['tile_missing'],
    );
  });

  it('accepts full tiles stored with their interior (510 hashes), and no other length', () => {
    const expand = (t: ReturnType<typeof tiles>) =>
      t.map((x) => (x.width === 256 ? { ...x, bytes: 510 * 32 } : x));
    assert.deepEqual(checkTileSet(600, expand(tiles(600))), []);
    assert.deepEqual(checkTileSet(600, expand(tiles(900)), { grew: true }), []);
    const odd = tiles(600).map((x) => (x.level === 0 && x.index === 0 ? { ...x, bytes: 400 * 32 } : x));
    assert.deepEqual(
      checkTileSet(600, odd).map((f) => [f.seq, f.kind]),
      [[0, 'tile_mismatch']],
    );
    // A partial tile is never expanded.
    const partial = tiles(600).map((x) => (x.level === 0 && x.index === 2 ? { ...x, bytes: 510 * 32 } : x));
    assert.deepEqual(
      checkTileSet(600, partial).map((f) => [f.seq, f.kind]),
      [[512, 'tile_mismatch']],
    );
  });

  it('reports missing, short, oversized and extra tiles', () => {
    const t = tiles(600);
    const missing = t.filter((x) => !(x.level === 0 && x.index === 1));
    assert.deepEqual(
      checkTileSet(600, missing).map((f) => [f.seq, f.kind]),
      [[256, 'tile_missing']],
    );
    const short = t.map((x) => (x.level === 0 && x.index === 2 ? { ...x, width: 80, bytes: 80 * 32 } : x));
    assert.deepEqual(
      checkTileSet(600, short).map((f) => [f.seq, f.kind]),
      [[512, 'tile_missing']],
    );
    const wide = t.map((x) => (x.level === 1 ? { ...x, width: 3 } : x));
    assert.deepEqual(
      checkTileSet(600, wide).map((f) => [f.seq, f.kind]),
      [[0, 'tile_mismatch']],
    );
    assert.deepEqual(
      checkTileSet(600, [...t, { level: 0, index: 9, width: 1, bytes: 32 }]).map((f) => [f.seq, f.kind]),
      [[null, 'tile_mismatch']],
    );
    // One tile stored twice (a primary key dropped): a proof may read either row.
    assert.deepEqual(
      checkTileSet(600, [...t, t[0]!]).map((f) => [f.seq, f.kind]),
      [[null, 'tile_mismatch']],
    );
  });

  it('accepts right-edge tiles of a log that grew while it was verified, and nothing else', () => {
    assert.deepEqual(checkTileSet(600, tiles(900), { grew: true }), []);
    assert.equal(checkTileSet(600, tiles(900)).length, 3);
    const fullEdited = tiles(900).map((x) => (x.level === 0 && x.index === 0 ? { ...x, width: 255 } : x));
    assert.deepEqual(
      checkTileSet(600, fullEdited, { grew: true }).map((f) => [f.seq, f.kind]),
      [[0, 'tile_mismatch']],
    );
  });
});

describe('log row and checkpoint rows', () => {
  const cr = new CompactRange();
  for (let i = 0; i < 5; i++) cr.append(hashLeaf(Buffer.of(i)));

  it('checks right_edge and last_ts against the tree', () => {
    const head = { size: 5, rightEdge: cr.encode(), lastTs: 't4' };
    const tree = { size: 5, rightEdge: cr.encode() };
    assert.deepEqual(checkLogRow(head, tree, { seq: 4, ts: 't4' }), []);
    assert.equal(checkLogRow({ ...head, lastTs: 't9' }, tree, { seq: 4, ts: 't4' }).length, 1);
    assert.equal(checkLogRow({ ...head, rightEdge: Buffer.alloc(96) }, tree, { seq: 4, ts: 't4' }).length, 1);
    // A head of another size is the leaf check's business (head_mismatch there).
    assert.deepEqual(checkLogRow({ ...head, size: 4 }, tree, null), []);
  });

  it('checks checkpoint columns against the note and finds the witnessed one missing', () => {
    const origin = 'example.com/t/acme/default';
    const { signer } = generateSigner(origin);
    const verifier = parseVerifierKey(formatVerifierKey(origin, signer.publicKey));
    const note = signCheckpoint({ origin, size: 5, root: cr.root() }, [signer]);
    const row = { size: 5, root: cr.root(), note };
    assert.deepEqual(checkCheckpointRows([row], [verifier], origin, note, 5), []);
    assert.deepEqual(
      checkCheckpointRows([{ ...row, size: 6 }], [verifier], origin, undefined, 5).map((f) => f.kind),
      ['checkpoint_edited'],
    );
    assert.deepEqual(
      checkCheckpointRows([{ ...row, root: Buffer.alloc(32) }], [verifier], origin, undefined, 5).map(
        (f) => f.kind,
      ),
      ['checkpoint_edited'],
    );
    assert.deepEqual(
      checkCheckpointRows([], [verifier], origin, note, 5).map((f) => [f.seq, f.kind]),
      [[5, 'checkpoint_missing']],
    );
    // Witnessed beyond the entries: that is a rollback, reported by the leaf check.
    assert.deepEqual(checkCheckpointRows([], [verifier], origin, note, 3), []);
    // One checkpoint stored twice (a primary key dropped): listings would show both.
    assert.deepEqual(
      checkCheckpointRows([row, row], [verifier], origin, note, 5).map((f) => [f.seq, f.kind]),
      [[5, 'checkpoint_edited']],
    );
  });
});
