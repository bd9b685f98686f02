import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { describe, it } from 'node:test';
import { openAuditTrail, type AuditTrail } from '../../src/index.js';
import { MemoryStore, fixedClock } from '../../src/testing/index.js';
import { buildEvidence, verifyEvidence } from '../../src/report/evidence.js';
import { packArchive, unpackArchive } from '../../src/report/archive.js';
import { verifyEvidenceFiles, type EvidenceReport } from '../../src/index.js';
import { rangeProof } from '../../src/core/range-proof.js';
import { MemoryNodeReader, hashLeaf } from '../../src/core/merkle.js';

type Files = Map<string, Buffer>;

interface Fixture {
  trail: AuditTrail;
  store: MemoryStore;
  ts: string[];
  vkey: string;
}

/** 30 events over 3 sessions, one second apart, with a policy load first and checkpoints along the way. */
async function fixture(): Promise<Fixture> {
  const store = new MemoryStore();
  const trail = await openAuditTrail({
    tenant: 'acme',
    store,
    now: fixedClock(Date.UTC(2026, 9, 1), 1000),
    checkpointIntervalMs: 0,
  });
  await trail.record({
    type: 'policy.updated',
    actor: { type: 'service', id: 'loader' },
    action: { type: 'policy.load', target: 'p1' },
    policy: { decision: 'allow', policy_id: 'p1', policy_snapshot: 'sha256:aaaa', policy_version: 1 },
  } as never);
  for (let i = 1; i < 30; i++) {
    await trail.record({
      type: i % 2 === 0 ? 'action.intent' : 'action.succeeded',
      session_id: `s${i % 3}`,
      actor: { type: 'agent', id: 'bot' },
      action: { type: 'write:refund', target: `order/${i}`, params: { amount: i } },
    });
    if (i % 10 === 0) await trail.checkpoint();
  }
  await trail.checkpoint();
  const ts: string[] = [];
  for await (const chunk of trail.readEntries(0, trail.size))
    for (const e of chunk) ts.push((JSON.parse(e.leaf.toString('utf8')) as { ts: string }).ts);
  return { trail, store, ts, vkey: trail.verifierKey() };
}

const kinds = (r: EvidenceReport): string[] => [...new Set(r.failures.map((f) => f.kind))].sort();

/** A forger who also fixes the manifest's digests, so the deeper checks must catch the change. */
function rehash(files: Files): Files {
  const m = JSON.parse(files.get('manifest.json')!.toString('utf8')) as { files: Record<string, string> };
  for (const name of Object.keys(m.files))
    if (files.has(name)) m.files[name] = createHash('sha256').update(files.get(name)!).digest('hex');
  files.set('manifest.json', Buffer.from(JSON.stringify(m)));
  return files;
}

function editLines(
  files: Files,
  edit: (lines: Record<string, unknown>[]) => Record<string, unknown>[],
): Files {
  const lines = files
    .get('events.jsonl')!
    .toString('utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  files.set(
    'events.jsonl',
    Buffer.from(
      edit(lines)
        .map((l) => `${JSON.stringify(l)}\n`)
        .join(''),
    ),
  );
  return rehash(files);
}

describe('evidence packages', () => {
  it('a time window: all its entries, the two boundary entries, one range proof; verifies offline', async () => {
    const f = await fixture();
    const since = f.ts[10]!;
    const until = f.ts[20]!;
    const built = await buildEvidence(f.trail, { query: { since, until }, createdBy: 'auditor-prep' });
    assert.deepEqual(built.range, { from: 9, to: 21 });
    assert.equal(built.events, 10);
    const archive = await packArchive(built.files);
    const r = await verifyEvidence(archive, { trustedKey: f.vkey });
    assert.deepEqual(r.failures, []);
    assert.ok(r.ok);
    assert.equal(r.summary!.events, 10);
    assert.equal(r.summary!.period.first_ts, since);
    assert.equal(r.summary!.created_by, 'auditor-prep');
    assert.deepEqual(
      r.entries.filter((e) => e.role === 'boundary').map((e) => e.seq),
      [9, 20],
    );
    // The policy loaded before the window is in force: shipped as a reference entry with its proof.
    assert.deepEqual(
      r.summary!.policies.map((p) => [p.seq, p.policy_id, p.snapshot]),
      [[0, 'p1', 'sha256:aaaa']],
    );
    assert.ok(r.summary!.checkpoints.length >= 2);
    assert.deepEqual(r.summary!.keys, [f.vkey]);
    const event = r.entries.find((e) => e.seq === 12)!.event as { action: { params: unknown } };
    assert.deepEqual(event.action.params, { amount: 12 });
    await f.trail.close();
  });

  it('a session filter: other entries of the window are shipped as leaves only (withheld)', async () => {
    const f = await fixture();
    const built = await buildEvidence(f.trail, { query: { session_id: 's1' } });
    const r = verifyEvidenceFiles(built.files, { trustedKey: f.vkey });
    assert.ok(r.ok, JSON.stringify(r.failures));
    assert.equal(r.summary!.events, 10);
    // The policy.updated entry (seq 0, no session) is shown in full as a reference; 19 others are withheld.
    assert.equal(r.summary!.withheld, 19);
    assert.equal(r.entries.find((e) => e.seq === 0)!.role, 'reference');
    assert.ok(r.entries.filter((e) => e.role === 'withheld').every((e) => e.event === null));
    await f.trail.close();
  });

  it('an erased field is reported with the seq of its erasure', async () => {
    const f = await fixture();
    const receipt = await f.trail.record({
      type: 'data.erased',
      actor: { type: 'service', id: 'dpo' },
      action: { type: 'erase', target: 'seq/5' },
    } as never);
    // The erasure path of the store (no SDK API yet): the disclosure row's bytes go, its seq stays.
    const log = (
      f.store as unknown as {
        logs: Map<
          string,
          {
            disclosures: Map<
              number,
              { pointer: string; disclosure: Buffer | null; erasedBySeq: number | null }[]
            >;
          }
        >;
      }
    ).logs.get(f.trail.origin)!;
    const row = log.disclosures.get(5)!.find((d) => d.pointer === '/action/params')!;
    row.disclosure = null;
    row.erasedBySeq = receipt.seq;
    const r = verifyEvidenceFiles((await buildEvidence(f.trail, { query: { until: f.ts[8]! } })).files, {
      trustedKey: f.vkey,
    });
    assert.ok(r.ok, JSON.stringify(r.failures));
    assert.deepEqual(r.summary!.erased, [{ seq: 5, pointer: '/action/params', by_seq: receipt.seq }]);
    await f.trail.close();
  });

  describe('tampering fails with its kind', () => {
    const window = async (): Promise<{ f: Fixture; files: Files }> => {
      const f = await fixture();
      const built = await buildEvidence(f.trail, { query: { since: f.ts[10]!, until: f.ts[20]! } });
      await f.trail.close();
      return { f, files: built.files };
    };
    const check = (f: Fixture, files: Files): EvidenceReport =>
      verifyEvidenceFiles(files, { trustedKey: f.vkey });

    it('a changed event (disclosure edited)', async () => {
      const { f, files } = await window();
      const r = check(
        f,
        editLines(files, (ls) =>
          ls.map((l) =>
            l.seq === 12
              ? {
                  ...l,
                  disclosures: (l.disclosures as string[]).map((d) =>
                    d.replace('"amount":12', '"amount":1200'),
                  ),
                }
              : l,
          ),
        ),
      );
      // The edited disclosure is not committed to, so it also counts as missing.
      assert.deepEqual(kinds(r), ['payload_edited', 'payload_missing']);
      assert.ok(r.failures.every((x) => x.seq === 12));
    });

    it('a changed leaf', async () => {
      const { f, files } = await window();
      const r = check(
        f,
        editLines(files, (ls) =>
          ls.map((l) => {
            if (l.seq !== 12) return l;
            const leaf = Buffer.from(l.leaf as string, 'base64')
              .toString('utf8')
              .replace('action.intent', 'action.failed');
            return { ...l, leaf: Buffer.from(leaf).toString('base64') };
          }),
        ),
      );
      assert.ok(kinds(r).includes('range_proof_failed'));
    });

    it('a dropped event', async () => {
      const { f, files } = await window();
      const r = check(
        f,
        editLines(files, (ls) => ls.filter((l) => l.seq !== 14)),
      );
      assert.deepEqual(kinds(r), ['entry_missing']);
      assert.equal(r.failures[0]!.seq, 14);
    });

    it('an added event', async () => {
      const { f, files } = await window();
      const r = check(
        f,
        editLines(files, (ls) => {
          const copy = { ...ls.find((l) => l.seq === 14)! };
          return [
            ...ls.filter((l) => (l.seq as number) <= 14),
            copy,
            ...ls.filter((l) => (l.seq as number) > 14),
          ];
        }),
      );
      assert.ok(kinds(r).includes('entry_extra'));
    });

    it('two events swapped', async () => {
      const { f, files } = await window();
      const r = check(
        f,
        editLines(files, (ls) => {
          const a = ls.findIndex((l) => l.seq === 12);
          const out = [...ls];
          [out[a], out[a + 1]] = [out[a + 1]!, out[a]!];
          return out;
        }),
      );
      assert.ok(kinds(r).includes('reordered'));
    });

    it('two checkpoints swapped', async () => {
      const { f, files } = await window();
      const m = JSON.parse(files.get('manifest.json')!.toString('utf8')) as { checkpoints: number[] };
      const [a, b] = m.checkpoints;
      const na = files.get(`checkpoints/${a}.checkpoint`)!;
      files.set(`checkpoints/${a}.checkpoint`, files.get(`checkpoints/${b}.checkpoint`)!);
      files.set(`checkpoints/${b}.checkpoint`, na);
      const r = check(f, rehash(files));
      assert.ok(kinds(r).includes('checkpoint_mismatch'));
      assert.ok(kinds(r).includes('checkpoint_order'));
    });

    it('a checkpoint signed by another key', async () => {
      const { f, files } = await window();
      const other = await openAuditTrail({
        tenant: 'acme',
        store: new MemoryStore(),
        checkpointIntervalMs: 0,
      });
      await other.record({ type: 'action.intent', actor: { type: 'agent', id: 'x' } });
      const m = JSON.parse(files.get('manifest.json')!.toString('utf8')) as { checkpoints: number[] };
      files.set(`checkpoints/${m.checkpoints[0]}.checkpoint`, Buffer.from(await other.checkpoint()));
      await other.close();
      assert.ok(kinds(check(f, rehash(files))).includes('checkpoint_forged'));
    });

    it('the boundary entries dropped (even with a recomputed range proof)', async () => {
      const { f, files } = await window();
      const m = JSON.parse(files.get('manifest.json')!.toString('utf8')) as {
        range: { from: number; to: number };
        tree_size: number;
      };
      // The forger knows every leaf hash of the log (leaves carry no secrets): a valid range proof for [10, 20).
      const leaves: Buffer[] = [];
      const all = f.store as unknown as { logs: Map<string, { entries: { leaf: Buffer }[] }> };
      for (const e of all.logs.get(f.trail.origin)!.entries) leaves.push(hashLeaf(e.leaf));
      const reader = new MemoryNodeReader(leaves.slice(0, m.tree_size));
      const proof = rangeProof(10, 20, m.tree_size, reader).map((h) => h.toString('base64'));
      files.set(
        'proofs/range.json',
        Buffer.from(JSON.stringify({ from: 10, to: 20, tree_size: m.tree_size, proof })),
      );
      const mm = JSON.parse(files.get('manifest.json')!.toString('utf8')) as { range: unknown };
      mm.range = { from: 10, to: 20 };
      files.set('manifest.json', Buffer.from(JSON.stringify(mm)));
      const r = check(
        f,
        editLines(files, (ls) => ls.filter((l) => l.seq !== 9 && l.seq !== 20)),
      );
      assert.deepEqual(kinds(r), ['incomplete']);
      assert.deepEqual(
        r.failures.map((x) => x.seq),
        [10, 19],
      );
    });

    it('an edited manifest: a file digest, then the window', async () => {
      const { f, files } = await window();
      const m = JSON.parse(files.get('manifest.json')!.toString('utf8')) as {
        files: Record<string, string>;
        window: { since: string };
      };
      m.files['events.jsonl'] = '0'.repeat(64);
      const copy = new Map(files);
      copy.set('manifest.json', Buffer.from(JSON.stringify(m)));
      assert.deepEqual(kinds(check(f, copy)), ['manifest_mismatch']);
      // A wider window than the entries shipped: the boundary no longer proves completeness.
      const w = JSON.parse(files.get('manifest.json')!.toString('utf8')) as { window: { since: string } };
      w.window.since = f.ts[3]!;
      files.set('manifest.json', Buffer.from(JSON.stringify(w)));
      assert.ok(kinds(check(f, files)).includes('incomplete'));
    });

    it('an unlisted file, and a key other than the trusted one', async () => {
      const { f, files } = await window();
      files.set('extra.txt', Buffer.from('hi'));
      assert.deepEqual(kinds(check(f, files)), ['manifest_mismatch']);
      files.delete('extra.txt');
      const other = await openAuditTrail({ tenant: 'acme', store: new MemoryStore() });
      const r = verifyEvidenceFiles(files, { trustedKey: other.verifierKey() });
      await other.close();
      assert.ok(kinds(r).includes('key_mismatch'));
      assert.ok(kinds(r).includes('checkpoint_forged'));
    });
  });

  it('the archive round-trips, and a non-archive is refused with an AuditError', async () => {
    const files = new Map([['a/b.txt', Buffer.from('x')]]);
    assert.deepEqual(await unpackArchive(await packArchive(files)), files);
    await assert.rejects(unpackArchive(Buffer.from('nope')), { code: 'invalid_argument' });
  });
});

describe('selective disclosure (fields)', () => {
  const USER_MESSAGE = 'please-refund-quietly-Zebra77';
  const TARGET = 'order/Okapi-5519';

  async function trailWithSecrets(): Promise<Fixture> {
    const f = await fixture();
    await f.trail.record({
      type: 'action.intent',
      session_id: 's9',
      actor: { type: 'agent', id: 'bot' },
      action: { type: 'write:refund', target: TARGET, params: { amount: 77 } },
      context: { user_message: USER_MESSAGE, reasoning: 'duplicate charge' },
    });
    await f.trail.checkpoint();
    return f;
  }

  it('ships only the chosen fields; the others stay digests, nowhere in the archive; it verifies', async () => {
    const f = await trailWithSecrets();
    const built = await buildEvidence(f.trail, { query: { session_id: 's9' }, fields: ['action.params'] });
    assert.deepEqual(built.fields, [{ field: 'action.params', pointer: '/action/params', events: 1 }]);
    const archive = await packArchive(built.files);
    const r = await verifyEvidence(archive, { trustedKey: f.vkey });
    assert.deepEqual(r.failures, []);
    assert.deepEqual(r.summary!.fields, ['/action/params']);
    const e = r.entries.find((x) => x.role === 'event')!;
    // The chosen field, reassembled and proved; nothing of the body (target, user message).
    assert.deepEqual(e.event, { action: { params: { amount: 77 } } });
    assert.equal(e.type, 'action.intent');
    const tar = gunzipSync(archive);
    assert.equal(tar.indexOf(USER_MESSAGE), -1);
    assert.equal(tar.indexOf(TARGET), -1);
    assert.notEqual(tar.indexOf('\\"amount\\":77'), -1); // inside a JSON string of events.jsonl
    // The policy in force is still shown in full, so its snapshot is checked.
    assert.deepEqual(
      r.summary!.policies.map((p) => p.snapshot),
      ['sha256:aaaa'],
    );
    // Without fields the same event ships everything.
    const full = verifyEvidenceFiles((await buildEvidence(f.trail, { query: { session_id: 's9' } })).files, {
      trustedKey: f.vkey,
    });
    const ev = full.entries.find((x) => x.role === 'event')!.event as { context: { user_message: string } };
    assert.equal(ev.context.user_message, USER_MESSAGE);
    await f.trail.close();
  });

  it('body and a split field together; a field never stored apart is reported as disclosed by no event', async () => {
    const f = await trailWithSecrets();
    const built = await buildEvidence(f.trail, {
      query: { session_id: 's9' },
      fields: ['body', 'context.reasoning', 'action.type'],
    });
    assert.deepEqual(
      built.fields!.map((x) => [x.field, x.events]),
      [
        ['body', 1],
        ['context.reasoning', 1],
        ['action.type', 0],
      ],
    );
    const r = verifyEvidenceFiles(built.files, { trustedKey: f.vkey });
    assert.ok(r.ok, JSON.stringify(r.failures));
    const ev = r.entries.find((x) => x.role === 'event')!.event as {
      action: Record<string, unknown>;
      context: Record<string, unknown>;
    };
    assert.equal(ev.action.target, TARGET);
    assert.equal(ev.action.params, undefined);
    assert.deepEqual(ev.context.reasoning, 'duplicate charge');
    assert.equal(ev.context.user_message, undefined);
    await assert.rejects(buildEvidence(f.trail, { fields: ['action..params'] }), {
      code: 'invalid_argument',
    });
    await assert.rejects(buildEvidence(f.trail, { fields: [] }), { code: 'invalid_argument' });
    await f.trail.close();
  });

  it('tampering still fails: a field slipped in, an edited chosen field, a changed event', async () => {
    const f = await trailWithSecrets();
    const scoped = (await buildEvidence(f.trail, { query: { session_id: 's9' }, fields: ['action.params'] }))
      .files;
    const full = (await buildEvidence(f.trail, { query: { session_id: 's9' } })).files;
    const fullLine = full
      .get('events.jsonl')!
      .toString('utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l.role === 'event')!;
    const seq = fullLine.seq as number;
    const check = (files: Files): EvidenceReport => verifyEvidenceFiles(files, { trustedKey: f.vkey });
    // A disclosure the manifest's fields leave out, though committed to by the leaf.
    const slipped = editLines(new Map(scoped), (ls) =>
      ls.map((l) => (l.seq === seq ? { ...l, disclosures: fullLine.disclosures } : l)),
    );
    assert.deepEqual(kinds(check(slipped)), ['field_out_of_scope']);
    const edited = editLines(new Map(scoped), (ls) =>
      ls.map((l) =>
        l.seq === seq
          ? { ...l, disclosures: (l.disclosures as string[]).map((d) => d.replace('77', '78')) }
          : l,
      ),
    );
    assert.deepEqual(kinds(check(edited)), ['payload_edited']);
    const leafEdited = editLines(new Map(scoped), (ls) =>
      ls.map((l) => {
        if (l.seq !== seq) return l;
        const leaf = Buffer.from(l.leaf as string, 'base64')
          .toString('utf8')
          .replace('action.intent', 'action.failed');
        return { ...l, leaf: Buffer.from(leaf).toString('base64') };
      }),
    );
    assert.ok(kinds(check(leafEdited)).includes('range_proof_failed'));
    const dropped = editLines(new Map(scoped), (ls) => ls.filter((l) => l.seq !== seq));
    assert.ok(kinds(check(dropped)).includes('entry_missing'));
    await f.trail.close();
  });
});

describe('auditrail-evidence/v2 (docs/verification.md §11.5)', () => {
  const V2 = 'auditrail-evidence/v2' as const;
  type Line = Record<string, unknown> & { seq: number; role: string; disclosures: string[] };
  const linesOf = (files: Files): Line[] =>
    files
      .get('events.jsonl')!
      .toString('utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Line);

  it('records as text, the digest list left out where every disclosure ships; the same entries verify', async () => {
    const f = await fixture();
    const query = { since: f.ts[10]!, until: f.ts[20]!, session_id: 's1' };
    const v1 = await buildEvidence(f.trail, { query });
    const v2 = await buildEvidence(f.trail, { query, format: V2 });
    const manifest = JSON.parse(v2.files.get('manifest.json')!.toString('utf8')) as { format: string };
    assert.equal(manifest.format, V2);
    const lines = linesOf(v2.files);
    for (const l of lines) {
      assert.equal(l.leaf, undefined);
      const record = l.record as string;
      // event and reference lines ship everything here: no digests; withheld and boundary keep them.
      if (l.role === 'event' || l.role === 'reference') assert.ok(!record.startsWith('{"d":'), record);
      else assert.ok(record.startsWith('{"d":['), record);
    }
    assert.ok(lines.some((l) => l.role === 'withheld') && lines.some((l) => l.role === 'reference'));
    assert.ok(v2.files.get('events.jsonl')!.length < v1.files.get('events.jsonl')!.length);
    assert.match(v2.files.get('VERIFY.md')!.toString('utf8'), /leaves out the digest list/);
    const r1 = verifyEvidenceFiles(v1.files, { trustedKey: f.vkey });
    const r2 = await verifyEvidence(await packArchive(v2.files), { trustedKey: f.vkey });
    assert.deepEqual(r2.failures, []);
    assert.deepEqual(r2.entries, r1.entries);
    await f.trail.close();
  });

  it('the event lines of a package of chosen fields keep their digest lists', async () => {
    const f = await fixture();
    const scoped = await buildEvidence(f.trail, { fields: ['action.params'], format: V2 });
    for (const l of linesOf(scoped.files))
      if (l.role !== 'reference') assert.ok((l.record as string).startsWith('{"d":['));
    assert.ok(verifyEvidenceFiles(scoped.files, { trustedKey: f.vkey }).ok);
    await f.trail.close();
  });

  it('tampering: an edited or dropped disclosure changes the rebuilt leaf; misplaced omissions are malformed', async () => {
    const f = await fixture();
    const built = await buildEvidence(f.trail, { query: { since: f.ts[10]!, until: f.ts[20]! }, format: V2 });
    await f.trail.close();
    const check = (files: Files): EvidenceReport => verifyEvidenceFiles(files, { trustedKey: f.vkey });
    assert.ok(check(new Map(built.files)).ok);
    const seq = 12;
    const at = (edit: (l: Line) => Line): Files =>
      editLines(new Map(built.files), (ls) => ls.map((l) => (l.seq === seq ? edit(l as Line) : l)));
    const edited = at((l) => ({ ...l, disclosures: l.disclosures.map((d) => d.replace('12', '13')) }));
    assert.deepEqual(
      check(edited).failures.map((x) => x.kind),
      ['range_proof_failed'],
    );
    const dropped = at((l) => ({ ...l, disclosures: l.disclosures.slice(1) }));
    assert.deepEqual(kinds(check(dropped)), ['range_proof_failed']);
    // The record says another type: its leaf is not the log's.
    const retyped = at((l) => ({
      ...l,
      record: (l.record as string).replace('action.intent', 'action.failed'),
    }));
    assert.ok(kinds(check(retyped)).includes('range_proof_failed'));
    // Leaving the digests out where disclosures are withheld or erased is not allowed.
    const omitted = at((l) => ({ ...l, erased: [{ pointer: '/action/params', by_seq: 29 }] }));
    assert.ok(check(omitted).failures.some((x) => x.kind === 'entry_malformed' && x.seq === seq));
    const both = at((l) => ({ ...l, leaf: Buffer.from('{}').toString('base64') }));
    assert.ok(check(both).failures.some((x) => x.kind === 'entry_malformed' && x.seq === seq));
    const notText = at((l) => ({ ...l, disclosures: [...l.disclosures, 7 as unknown as string] }));
    assert.ok(check(notText).failures.some((x) => x.kind === 'entry_malformed' && x.seq === seq));
    // A v1 package has no `record`: the member is refused there.
    const v1 = editLines(new Map(built.files), (ls) => ls);
    const m = JSON.parse(v1.get('manifest.json')!.toString('utf8')) as { format: string };
    m.format = 'auditrail-evidence/v1';
    v1.set('manifest.json', Buffer.from(JSON.stringify(m)));
    assert.ok(kinds(check(v1)).includes('entry_malformed'));
  });
});
