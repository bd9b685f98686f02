import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { signCheckpoint } from './checkpoint.js';
import { disclosureDigest, makeDisclosure } from './disclosure.js';
import { encodeLeaf } from './leaf.js';
import { hashLeaf, MemoryNodeReader, rootOf } from './merkle.js';
import { formatVerifierKey, generateSigner, parseVerifierKey } from './note.js';
import { LogVerifier, type FailureKind, type VerifyEntry, type VerifyReport } from './verify-log.js';

const ORIGIN = 'example.test/t/acme/default';
const { signer } = generateSigner(ORIGIN);
const verifier = parseVerifierKey(formatVerifierKey(ORIGIN, signer.publicKey));

interface Body {
  type?: string;
  parent_event_id?: string;
  [k: string]: unknown;
}

/** One stored entry as a store would hand it to the verifier: leaf bytes and disclosure rows. */
function entry(seq: number, body: Body = {}, origin = ORIGIN): VerifyEntry {
  const type = body.type ?? 'x.test';
  const disclosures = [
    makeDisclosure(Buffer.alloc(16, seq % 256), '', { ...body, type, n: seq }),
    makeDisclosure(Buffer.alloc(16, (seq + 128) % 256), '/action/params', { n: seq }),
  ];
  const leaf = encodeLeaf({
    v: 1,
    log: origin,
    seq,
    ts: `2026-01-01T00:00:${String(seq).padStart(2, '0')}.000000Z`,
    type,
    eid: `e-${seq}`,
    d: disclosures.map((d) => disclosureDigest(d)).sort(),
  });
  return {
    entry: {
      seq,
      leaf,
      leafHash: hashLeaf(leaf),
      eid: `e-${seq}`,
      type,
      ts: `2026-01-01T00:00:${String(seq).padStart(2, '0')}.000000Z`,
    },
    disclosures: [
      { pointer: '', disclosure: disclosures[0]!, erasedBySeq: null },
      { pointer: '/action/params', disclosure: disclosures[1]!, erasedBySeq: null },
    ],
  };
}

const log = (n: number, bodies: Record<number, Body> = {}): VerifyEntry[] =>
  Array.from({ length: n }, (_, i) => entry(i, bodies[i]));

function rootFor(entries: readonly VerifyEntry[], size = entries.length): Buffer {
  const hashes = entries.slice(0, size).map((e) => Buffer.from(e.entry.leafHash));
  return rootOf(size, new MemoryNodeReader(hashes));
}

function checkpoint(entries: readonly VerifyEntry[], size: number, root?: Buffer, by = signer): string {
  return signCheckpoint({ origin: ORIGIN, size, root: root ?? rootFor(entries, size) }, [by]);
}

function verify(
  entries: readonly VerifyEntry[],
  options: {
    checkpoints?: string[];
    witnessed?: string[];
    head?: { size: number; root: Uint8Array };
    tileHash?: (level: number, index: number) => Uint8Array | undefined;
    maxFailures?: number;
  } = {},
): VerifyReport {
  const v = new LogVerifier({
    origin: ORIGIN,
    verifiers: [verifier],
    checkpoints: options.checkpoints ?? [],
    ...(options.witnessed ? { witnessed: options.witnessed } : {}),
    ...(options.tileHash ? { tileHash: options.tileHash } : {}),
    ...(options.maxFailures !== undefined ? { maxFailures: options.maxFailures } : {}),
  });
  for (const e of entries) v.push(e);
  return v.finish(options.head ?? { size: entries.length, root: rootFor(entries) });
}

const kinds = (r: VerifyReport): [number | null, FailureKind][] => r.failures.map((f) => [f.seq, f.kind]);

describe('LogVerifier: an intact log', () => {
  it('verifies, checks every checkpoint and reports the unsigned tail', () => {
    const entries = log(10);
    const r = verify(entries, {
      checkpoints: [checkpoint(entries, 0), checkpoint(entries, 4), checkpoint(entries, 8)],
    });
    assert.deepEqual(r.failures, []);
    assert.equal(r.ok, true);
    assert.equal(r.size, 10);
    assert.equal(r.root, rootFor(entries).toString('hex'));
    assert.equal(r.checkpoints_verified, 3);
    assert.equal(r.unsigned_tail, 2);
    assert.equal(r.log, ORIGIN);
  });

  it('accepts leaves and disclosures given as their UTF-8 text', () => {
    const entries = log(3).map((e) => ({
      entry: { ...e.entry, leaf: Buffer.from(e.entry.leaf).toString('utf8') },
      disclosures: e.disclosures.map((d) => ({
        ...d,
        disclosure: Buffer.from(d.disclosure!).toString('utf8'),
      })),
    }));
    assert.deepEqual(verify(entries).failures, []);
  });

  it('counts a checkpoint held both in the database and in the witness file once', () => {
    const entries = log(5);
    const cp = checkpoint(entries, 5);
    const r = verify(entries, { checkpoints: [cp], witnessed: [cp] });
    assert.equal(r.ok, true);
    assert.equal(r.checkpoints_verified, 1);
    assert.equal(r.unsigned_tail, 0);
  });

  it('verifies an empty log', () => {
    const r = verify([], { head: { size: 0, root: rootOf(0, new MemoryNodeReader([])) } });
    assert.equal(r.ok, true);
    assert.equal(r.size, 0);
  });

  it('exposes its position and the compact range of the tree so far', () => {
    const v = new LogVerifier({ origin: ORIGIN, verifiers: [verifier], checkpoints: [] });
    for (const e of log(3)) v.push(e);
    assert.equal(v.position, 3);
    // Size 3 = a subtree of 2 and one of 1: two 32-byte hashes.
    assert.equal(v.rightEdge.length, 64);
  });
});

describe('LogVerifier: each kind of damage, with its seq', () => {
  it('leaf_edited: leaf bytes that do not hash to the stored hash', () => {
    const entries = log(4);
    entries[2] = { ...entries[2]!, entry: { ...entries[2]!.entry, leafHash: Buffer.alloc(32, 1) } };
    assert.deepEqual(kinds(verify(entries, { head: { size: 4, root: rootFor(log(4)) } })), [
      [2, 'leaf_edited'],
    ]);
  });

  it('leaf_malformed: bytes that are not a leaf record (the tree is still rebuilt)', () => {
    const entries = log(4);
    const leaf = Buffer.from('{"v":1}');
    entries[1] = { entry: { ...entries[1]!.entry, leaf, leafHash: hashLeaf(leaf) }, disclosures: [] };
    const r = verify(entries);
    assert.deepEqual(kinds(r), [[1, 'leaf_malformed']]);
    assert.equal(r.size, 4);
  });

  it('cross_log: an entry of another log', () => {
    const entries = log(3);
    entries[1] = entry(1, {}, 'example.test/t/acme/other');
    assert.deepEqual(kinds(verify(entries)), [[1, 'cross_log']]);
  });

  it('reordered: a leaf stored at another seq, a seq seen twice, a ts going back', () => {
    const entries = log(4);
    const moved = entry(3);
    entries[2] = { ...moved, entry: { ...moved.entry, seq: 2 } };
    assert.deepEqual(kinds(verify(entries)), [[2, 'reordered']]);

    const twice = log(3);
    const v = new LogVerifier({ origin: ORIGIN, verifiers: [verifier], checkpoints: [] });
    for (const e of [twice[0]!, twice[1]!, twice[1]!, twice[2]!]) v.push(e);
    assert.deepEqual(kinds(v.finish({ size: 3, root: rootFor(twice) })), [[1, 'reordered']]);
  });

  it('reordered: a ts earlier than the previous entry', () => {
    const entries = log(3);
    const e = entries[2]!;
    const leaf = encodeLeaf({
      ...(JSON.parse(Buffer.from(e.entry.leaf).toString('utf8')) as Parameters<typeof encodeLeaf>[0]),
      ts: '2025-01-01T00:00:00.000000Z',
    });
    entries[2] = {
      ...e,
      entry: { ...e.entry, leaf, leafHash: hashLeaf(leaf), ts: '2025-01-01T00:00:00.000000Z' },
    };
    const r = verify(entries);
    assert.deepEqual(kinds(r), [[2, 'reordered']]);
    assert.match(r.failures[0]!.detail, /earlier than the previous entry/);
  });

  it('index_edited: eid, type or ts columns that differ from the leaf', () => {
    for (const column of ['eid', 'type', 'ts'] as const) {
      const entries = log(3);
      entries[1] = { ...entries[1]!, entry: { ...entries[1]!.entry, [column]: 'changed' } };
      assert.deepEqual(kinds(verify(entries)), [[1, 'index_edited']], column);
    }
  });

  it('payload_edited: a disclosure not committed to, or stored twice', () => {
    const entries = log(3);
    const e = entries[1]!;
    entries[1] = {
      ...e,
      disclosures: [
        e.disclosures[0]!,
        {
          ...e.disclosures[1]!,
          disclosure: makeDisclosure(Buffer.alloc(16, 9), '/action/params', { n: 99 }),
        },
      ],
    };
    const r = verify(entries);
    assert.deepEqual(kinds(r), [[1, 'payload_edited']]);
    assert.match(r.failures[0]!.detail, /\/action\/params does not match any digest/);

    const dup = log(3);
    const d = dup[1]!;
    dup[1] = { ...d, disclosures: [d.disclosures[0]!, { ...d.disclosures[0]!, pointer: '/action/params' }] };
    const r2 = verify(dup);
    assert.deepEqual(kinds(r2), [[1, 'payload_edited']]);
    assert.match(r2.failures[0]!.detail, /stored twice/);
  });

  it('payload_deleted: a row set to NULL without an erasure, or a row missing', () => {
    const entries = log(3);
    const e = entries[1]!;
    entries[1] = { ...e, disclosures: [e.disclosures[0]!, { ...e.disclosures[1]!, disclosure: null }] };
    assert.deepEqual(kinds(verify(entries)), [[1, 'payload_deleted']]);

    const gone = log(3);
    gone[2] = { ...gone[2]!, disclosures: [gone[2]!.disclosures[0]!] };
    const r = verify(gone);
    assert.deepEqual(kinds(r), [[2, 'payload_deleted']]);
    assert.match(r.failures[0]!.detail, /1 committed disclosure\(s\) are missing/);
  });

  it('an erasure by a data.erased or retention.purged entry is a redaction, not a failure', () => {
    const digest = disclosureDigest(makeDisclosure(Buffer.alloc(16, 129), '/action/params', { n: 1 }));
    const named = { erased: [{ seq: 1, pointer: '/action/params', digest }] };
    for (const body of [{ type: 'data.erased', metadata: named }, { type: 'retention.purged' }]) {
      const type = body.type;
      const entries = log(4, { 3: body });
      const e = entries[1]!;
      entries[1] = {
        ...e,
        disclosures: [e.disclosures[0]!, { ...e.disclosures[1]!, disclosure: null, erasedBySeq: 3 }],
      };
      const r = verify(entries);
      assert.deepEqual(r.failures, [], type);
      assert.deepEqual(r.redactions, [{ seq: 1, pointer: '/action/params', by_seq: 3 }]);
    }
  });

  it('payload_deleted: a data.erased event that does not name the erased disclosure (an erasure done in the database)', () => {
    const other = disclosureDigest(makeDisclosure(Buffer.alloc(16, 130), '/action/params', { n: 2 }));
    for (const metadata of [undefined, { erased: [{ seq: 2, pointer: '/action/params', digest: other }] }]) {
      const entries = log(4, { 3: { type: 'data.erased', ...(metadata ? { metadata } : {}) } });
      const e = entries[1]!;
      entries[1] = {
        ...e,
        disclosures: [e.disclosures[0]!, { ...e.disclosures[1]!, disclosure: null, erasedBySeq: 3 }],
      };
      const r = verify(entries);
      assert.deepEqual(kinds(r), [[1, 'payload_deleted']]);
      assert.match(r.failures[0]!.detail, /erased by seq 3, but that data.erased event does not name it/);
      assert.deepEqual(r.redactions, []);
    }
  });

  it('payload_deleted: an erasure naming an entry that is not an erasure event', () => {
    for (const by of [2, 40]) {
      const entries = log(4);
      const e = entries[1]!;
      entries[1] = {
        ...e,
        disclosures: [e.disclosures[0]!, { ...e.disclosures[1]!, disclosure: null, erasedBySeq: by }],
      };
      const r = verify(entries);
      assert.deepEqual(kinds(r), [[1, 'payload_deleted']]);
      assert.match(r.failures[0]!.detail, new RegExp(`erased by seq ${by}, which is not an erasure event`));
      assert.deepEqual(r.redactions, []);
    }
  });

  it('entry_deleted: a gap in the stored seqs (later checkpoints still checked from the tile)', () => {
    const entries = log(6);
    const cp = checkpoint(entries, 6);
    const stored = entries.filter((e) => e.entry.seq !== 2);
    const r = verify(stored, {
      checkpoints: [cp],
      head: { size: 6, root: rootFor(entries) },
      tileHash: (level, index) => (level === 0 ? entries[index]?.entry.leafHash : undefined),
    });
    assert.deepEqual(kinds(r), [[2, 'entry_deleted']]);
    assert.equal(r.checkpoints_verified, 1);
  });

  it('truncated: fewer entries than the head or a signed checkpoint says', () => {
    const entries = log(6);
    const r = verify(entries.slice(0, 4), {
      checkpoints: [checkpoint(entries, 6)],
      head: { size: 6, root: rootFor(entries) },
    });
    assert.deepEqual(kinds(r), [[4, 'truncated']]);
    assert.match(r.failures[0]!.detail, /entries 4\.\.5 are missing/);
  });

  it('rolled_back: a checkpoint handed out earlier is larger than the database', () => {
    const entries = log(6);
    const r = verify(entries.slice(0, 4), {
      witnessed: [checkpoint(entries, 6)],
      head: { size: 4, root: rootFor(entries, 4) },
    });
    assert.deepEqual(kinds(r), [[4, 'rolled_back']]);
  });

  it('rolled_back: history rewritten under a checkpoint handed out earlier', () => {
    const entries = log(4);
    const r = verify(entries, { witnessed: [checkpoint(entries, 3, Buffer.alloc(32, 5))] });
    assert.deepEqual(kinds(r), [[3, 'rolled_back']]);
    assert.match(r.failures[0]!.detail, /history was rewritten/);
  });

  it('forged_entry: entries beyond the log head that no checkpoint signed', () => {
    const entries = log(5);
    const r = verify(entries, { head: { size: 3, root: rootFor(entries, 3) } });
    assert.deepEqual(kinds(r), [[3, 'forged_entry']]);
    assert.match(r.failures[0]!.detail, /2 entries from seq 3 on/);
  });

  it('head_mismatch: a head behind signed checkpoints, or with another root', () => {
    const entries = log(5);
    const behind = verify(entries, {
      checkpoints: [checkpoint(entries, 5)],
      head: { size: 3, root: rootFor(entries, 3) },
    });
    assert.deepEqual(kinds(behind), [[null, 'head_mismatch']]);
    const other = verify(entries, { head: { size: 5, root: Buffer.alloc(32) } });
    assert.deepEqual(kinds(other), [[null, 'head_mismatch']]);
  });

  it('checkpoint_forged: a stored checkpoint signed by another key, reported at its size', () => {
    const entries = log(4);
    const r = verify(entries, {
      checkpoints: [checkpoint(entries, 4, undefined, generateSigner(ORIGIN).signer)],
    });
    assert.deepEqual(kinds(r), [[4, 'checkpoint_forged']]);
    assert.equal(r.checkpoints_verified, 0);
    assert.equal(r.unsigned_tail, 4);
    const junk = verify(entries, { checkpoints: ['not a note'] });
    assert.deepEqual(kinds(junk), [[null, 'checkpoint_forged']]);
  });

  it('checkpoint_mismatch: a stored checkpoint whose root is not the tree at its size', () => {
    const entries = log(4);
    const r = verify(entries, {
      checkpoints: [checkpoint(entries, 2, Buffer.alloc(32, 3)), checkpoint(entries, 4)],
    });
    assert.deepEqual(kinds(r), [[2, 'checkpoint_mismatch']]);
    assert.equal(r.checkpoints_verified, 1);
  });

  it('tile_mismatch: a stored tile hash that differs from the recomputed one', () => {
    const entries = log(3);
    const r = verify(entries, {
      tileHash: (level, index) => (level === 0 && index === 1 ? Buffer.alloc(32, 7) : undefined),
    });
    assert.deepEqual(kinds(r), [[1, 'tile_mismatch']]);
  });

  it('keeps going after the first failure and caps the list, not the verdict', () => {
    const entries = log(6).map((e) => ({ ...e, entry: { ...e.entry, eid: 'x' } }));
    const all = verify(entries);
    assert.equal(all.failures.length, 6);
    const capped = verify(entries, { maxFailures: 2 });
    assert.equal(capped.failures.length, 2);
    assert.equal(capped.ok, false);
  });
});

describe('LogVerifier: actions held for approval (unapproved_execution)', () => {
  const held = (extra: Body = {}): Body => ({
    type: 'policy.decision',
    parent_event_id: 'intent-1',
    policy: { decision: 'require_approval', ...extra },
    approval: { request_id: 'apr_1', request_digest: 'sha256:abc' },
  });
  const ran: Body = { type: 'action.succeeded', parent_event_id: 'intent-1', outcome: { status: 'success' } };

  it('reports an execution after require_approval with no grant, once per intent', () => {
    const entries = log(5, { 1: held(), 2: { ...ran, type: 'action.dispatched' }, 3: ran });
    const r = verify(entries);
    assert.deepEqual(kinds(r), [[2, 'unapproved_execution']]);
    assert.match(
      r.failures[0]!.detail,
      /intent intent-1 ran after require_approval \(decision at seq 1\) with no approval.granted for apr_1/,
    );
  });

  it('accepts an execution after a grant of the request id, or of the request digest', () => {
    const byId = log(4, {
      1: held(),
      2: { type: 'approval.granted', approval: { request_id: 'apr_1' } },
      3: ran,
    });
    assert.deepEqual(verify(byId).failures, []);
    const byDigest = log(4, {
      1: held(),
      2: { type: 'approval.granted', approval: { request_digest: 'sha256:abc' } },
      3: { ...ran, approval: { request_digest: 'sha256:abc' } },
    });
    assert.deepEqual(verify(byDigest).failures, []);
  });

  it('finds the request id in approval.requested when the decision names none', () => {
    const noId: Body = {
      type: 'policy.decision',
      parent_event_id: 'intent-1',
      policy: { decision: 'require_approval' },
    };
    const granted = log(5, {
      1: noId,
      2: { type: 'approval.requested', parent_event_id: 'intent-1', approval: { request_id: 'apr_9' } },
      3: { type: 'approval.granted', approval: { request_id: 'apr_9' } },
      4: ran,
    });
    assert.deepEqual(verify(granted).failures, []);
    const other = log(5, {
      1: noId,
      2: { type: 'approval.requested', parent_event_id: 'intent-1', approval: { request_id: 'apr_9' } },
      3: { type: 'approval.granted', approval: { request_id: 'apr_8' } },
      4: ran,
    });
    assert.deepEqual(kinds(verify(other)), [[4, 'unapproved_execution']]);
  });

  it('ignores shadow-mode decisions, blocked or denied outcomes, and other intents', () => {
    assert.deepEqual(verify(log(3, { 1: held({ mode: 'shadow' }), 2: ran })).failures, []);
    for (const status of ['blocked', 'denied']) {
      const e = log(3, { 1: held(), 2: { ...ran, type: 'action.failed', outcome: { status } } });
      assert.deepEqual(verify(e).failures, [], status);
    }
    assert.deepEqual(verify(log(3, { 1: held(), 2: { ...ran, parent_event_id: 'intent-2' } })).failures, []);
  });

  it('does not count a grant that comes after the execution', () => {
    const late = log(4, {
      1: held(),
      2: ran,
      3: { type: 'approval.granted', approval: { request_id: 'apr_1' } },
    });
    assert.deepEqual(kinds(verify(late)), [[2, 'unapproved_execution']]);
  });
});
