import Database from 'better-sqlite3';
import assert from 'node:assert/strict';
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { VerifyReport } from '../../src/core/verify-log.js';
import type { AuditEvent } from '../../src/event/types.js';
import { openAuditTrail } from '../../src/index.js';
import { parallelVerifyStats, tailedSegments } from '../../src/sdk/verify-parallel.js';
import { planSegments } from '../../src/sdk/verify-segment.js';
import { sampleEvent, tempDir } from './helpers.js';

/**
 * 700 entries: with 2 threads, segments of 64 up to 512 and of 8 after it (tailedSegments);
 * checkpoints at 200, 450 and 700.
 */
const N = 700;

/** A tool call held for approval: intent, held decision, request, grant (optional), execution. */
function heldAction(id: string, granted: boolean): AuditEvent[] {
  const actor = { type: 'agent' as const, id: 'billing-agent' };
  const action = { type: 'write:refund', target: `order/${id}` };
  return [
    { type: 'action.intent', event_id: id, actor, action },
    {
      type: 'policy.decision',
      parent_event_id: id,
      actor: { type: 'system', id: 'policy-engine' },
      action,
      policy: { decision: 'require_approval', matched_rule: 'refunds', policy_id: 'p' },
    },
    {
      type: 'approval.requested',
      parent_event_id: id,
      actor,
      action,
      approval: { required: true, request_id: `apr-${id}` },
    },
    ...(granted
      ? [
          {
            type: 'approval.granted' as const,
            parent_event_id: id,
            actor: { type: 'user' as const, id: 'maria' },
            approval: { request_id: `apr-${id}`, approver: 'maria', decision: 'granted' as const },
          },
        ]
      : []),
  ];
}

function execution(id: string): AuditEvent {
  return {
    type: 'action.succeeded',
    parent_event_id: id,
    actor: { type: 'agent', id: 'billing-agent' },
    action: { type: 'write:refund', target: `order/${id}` },
    outcome: { status: 'success' },
  };
}

/**
 * The log: sample events, with held actions whose executions land in later segments (one
 * granted, one not, when `unapproved`).
 */
async function makeLog(unapproved: boolean): Promise<string> {
  const db = join(tempDir(), 'audit.db');
  const trail = await openAuditTrail({ tenant: 'acme', db, checkpointIntervalMs: 0 });
  const events: AuditEvent[] = [];
  for (let i = 0; events.length < N; i++) {
    if (events.length === 60) events.push(...heldAction('held-granted', true));
    if (events.length === 130) events.push(...heldAction('held-open', !unapproved));
    if (events.length === 300) events.push(execution('held-granted'));
    if (events.length === 520) events.push(execution('held-open'));
    events.push(sampleEvent(i));
  }
  for (let i = 0; i < N; i++) {
    await trail.record(events[i]!);
    if (i === 199 || i === 449) await trail.checkpoint();
  }
  await trail.checkpoint();
  await trail.close();
  return db;
}

function tamper(db: string, sql: string): string {
  const copy = join(tempDir(), 'audit.db');
  cpSync(db, copy);
  cpSync(join(db, '..', 'keys'), join(copy, '..', 'keys'), { recursive: true });
  const d = new Database(copy);
  for (const t of d
    .prepare("SELECT name FROM sqlite_master WHERE type = 'trigger'")
    .pluck()
    .all() as string[])
    d.exec(`DROP TRIGGER ${t}`);
  d.exec(sql);
  d.close();
  return copy;
}

async function verify(db: string, threads: number, sinceCheckpoint?: string): Promise<VerifyReport> {
  const trail = await openAuditTrail({ tenant: 'acme', db, readonly: true });
  try {
    return await trail.verify({ threads, ...(sinceCheckpoint ? { sinceCheckpoint } : {}) });
  } finally {
    await trail.close();
  }
}

/** Verifies with 1, 2 and 3 threads and asserts the three reports are the same. */
async function sameEverywhere(db: string, sinceCheckpoint?: string): Promise<VerifyReport> {
  const one = await verify(db, 1, sinceCheckpoint);
  for (const threads of [2, 3]) assert.deepEqual(await verify(db, threads, sinceCheckpoint), one);
  return one;
}

describe('parallel verification (segments on worker threads)', () => {
  it('plans segments whose leaves form perfect subtrees of the whole tree', () => {
    assert.deepEqual(planSegments(0, 10, 4), [
      [0, 4],
      [4, 8],
      [8, 10],
    ]);
    for (const [from, end, max] of [
      [300, 1000, 64],
      [990_000, 1_000_000, 1024],
      [1, 2, 8],
    ] as const) {
      const segs = planSegments(from, end, max);
      assert.equal(segs[0]![0], from);
      assert.equal(segs[segs.length - 1]![1], end);
      for (const [a, b] of segs) {
        let width = 1;
        while (width < b - a) width *= 2;
        assert.ok(b - a <= max && a % width === 0, `${a}..${b}`);
      }
    }
  });

  it('cuts the last long segments short, so that no thread is left alone with a long one', () => {
    // The bench log: 13 segments of 65,536, then the last 148,032 entries in 19 of at most 8,192.
    const segs = tailedSegments(0, 1_000_000, 65_536, 2);
    assert.equal(segs.length, 13 + 19);
    assert.deepEqual(segs[12], [786_432, 851_968]);
    assert.deepEqual(segs[13], [851_968, 860_160]);
    assert.deepEqual(segs[31], [999_424, 1_000_000]);
    for (const [from, end, max, threads] of [
      [0, 700, 64, 2],
      [300, 1000, 64, 4],
      [0, 100, 64, 2],
      [5, 6, 1, 2],
    ] as const) {
      const got = tailedSegments(from, end, max, threads);
      // Contiguous, and aligned like planSegments.
      assert.equal(got[0]![0], from);
      assert.equal(got[got.length - 1]![1], end);
      for (let i = 0; i < got.length; i++) {
        const [a, b] = got[i]!;
        if (i > 0) assert.equal(a, got[i - 1]![1]);
        let width = 1;
        while (width < b - a) width *= 2;
        assert.ok(b - a <= max && a % width === 0, `${a}..${b}`);
      }
    }
    // Too short to have a tail of its own: planSegments unchanged.
    assert.deepEqual(tailedSegments(0, 100, 64, 2), planSegments(0, 100, 64));
  });

  it('verifies an untouched log on the threads, without verifying it again here', async () => {
    const db = await makeLog(false);
    const before = { ...parallelVerifyStats };
    const r = await sameEverywhere(db);
    assert.equal(r.ok, true, JSON.stringify(r.failures));
    assert.equal(r.size, N);
    assert.equal(r.checkpoints_verified, 3);
    assert.equal(parallelVerifyStats.runs - before.runs, 2);
    assert.equal(parallelVerifyStats.sequentialAgain, before.sequentialAgain);
  });

  it('finds an execution whose held intent (in an earlier segment) was never granted', async () => {
    const db = await makeLog(true);
    const r = await sameEverywhere(db);
    assert.deepEqual(
      r.failures.map((f) => f.kind),
      ['unapproved_execution'],
    );
  });

  it('reports every tamper exactly as the single-thread verification does', async () => {
    const db = await makeLog(false);
    const edits: [string, string][] = [
      [
        'payload at a segment start',
        "UPDATE disclosures SET disclosure = CAST(replace(CAST(disclosure AS TEXT), 'order', 'ORDER') AS BLOB) WHERE seq = 128 AND pointer = ''",
      ],
      [
        'leaf bytes at a segment end',
        'UPDATE entries SET leaf = CAST(replace(CAST(leaf AS TEXT), \'"v":1\', \'"v":2\') AS BLOB) WHERE seq = 191',
      ],
      ['entry deleted at a segment end', 'DELETE FROM entries WHERE seq = 255'],
      ['entries deleted at the tail', 'DELETE FROM entries WHERE seq >= 690'],
      ['index row deleted', 'DELETE FROM events WHERE seq = 64'],
      ['index row beyond the log', "INSERT INTO events (log_id, seq, ts, type) VALUES (1, 5000, 'x', 'x')"],
      ['index row at a negative seq', "INSERT INTO events (log_id, seq, ts, type) VALUES (1, -1, 'x', 'x')"],
      [
        'level-0 tile zeroed',
        'UPDATE tiles SET hashes = zeroblob(length(hashes)) WHERE level = 0 AND idx = 1',
      ],
      [
        'level-1 tile zeroed',
        'UPDATE tiles SET hashes = zeroblob(length(hashes)) WHERE level = 1 AND idx = 0',
      ],
      [
        'ts moved back at a segment start',
        "UPDATE entries SET ts = '2000-01-01T00:00:00.000000Z' WHERE seq = 320",
      ],
      ['checkpoint row root edited', 'UPDATE checkpoints SET root_hash = zeroblob(32) WHERE size = 450'],
    ];
    for (const [what, sql] of edits) {
      const r = await sameEverywhere(tamper(db, sql));
      assert.equal(r.ok, false, what);
    }
  });

  it('verifies incrementally on the threads with the same report', async () => {
    const db = await makeLog(false);
    const trail = await openAuditTrail({ tenant: 'acme', db, readonly: true });
    const saved = (await trail.verify()).ok;
    await trail.close();
    assert.equal(saved, true);
    const d = new Database(db, { readonly: true });
    const note = d.prepare('SELECT note FROM checkpoints WHERE size = 200').pluck().get() as string;
    d.close();
    const r = await sameEverywhere(db, note);
    assert.equal(r.ok, true, JSON.stringify(r.failures));
    assert.equal(r.verified_from, 200);
    const bad = await sameEverywhere(
      tamper(
        db,
        "UPDATE disclosures SET disclosure = CAST(replace(CAST(disclosure AS TEXT), 'order', 'ORDER') AS BLOB) WHERE seq = 333 AND pointer = ''",
      ),
      note,
    );
    assert.ok(bad.failures.some((f) => f.kind === 'payload_edited' && f.seq === 333));
  });
});
