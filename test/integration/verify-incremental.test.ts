import Database from 'better-sqlite3';
import assert from 'node:assert/strict';
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { signCheckpoint } from '../../src/core/checkpoint.js';
import { generateSigner } from '../../src/core/note.js';
import type { VerifyReport } from '../../src/core/verify-log.js';
import { AuditError, openAuditTrail } from '../../src/index.js';
import { originOf } from '../../src/sdk/open.js';
import { sampleEvent, tempDir } from './helpers.js';

const OLD = 300;
const N = 600;

/** A log of N entries (tiles 0, 1 full and 2 partial) and the checkpoint signed at size OLD. */
async function makeLog(): Promise<{ db: string; saved: string }> {
  const db = join(tempDir(), 'audit.db');
  const trail = await openAuditTrail({ tenant: 'acme', db, checkpointIntervalMs: 0 });
  let saved = '';
  for (let i = 0; i < N; i++) {
    await trail.record(sampleEvent(i));
    if (i === OLD - 1) saved = await trail.checkpoint();
  }
  await trail.close();
  return { db, saved };
}

function tamper(db: string, sql: string): void {
  const d = new Database(db);
  for (const t of d
    .prepare("SELECT name FROM sqlite_master WHERE type = 'trigger'")
    .pluck()
    .all() as string[]) {
    d.exec(`DROP TRIGGER ${t}`);
  }
  d.exec(sql);
  d.close();
}

async function verify(db: string, sinceCheckpoint?: string | true): Promise<VerifyReport> {
  const trail = await openAuditTrail({ tenant: 'acme', db, checkpointIntervalMs: 0 });
  try {
    return await trail.verify(sinceCheckpoint === undefined ? {} : { sinceCheckpoint });
  } finally {
    await trail.close();
  }
}

const EDIT_PAYLOAD = (seq: number): string =>
  `UPDATE disclosures SET disclosure = CAST(replace(CAST(disclosure AS TEXT), 'order', 'ORDER') AS BLOB) WHERE seq = ${seq} AND pointer = ''`;

describe('incremental verify (sinceCheckpoint)', () => {
  it('checks only the entries after the trusted checkpoint and says so', async () => {
    const { db, saved } = await makeLog();
    const r = await verify(db, saved);
    assert.equal(r.ok, true, JSON.stringify(r.failures));
    assert.equal(r.verified_from, OLD);
    assert.equal(r.size, N);
    // The checkpoint at OLD (matched with the trusted tree) and the final one at N.
    assert.equal(r.checkpoints_verified, 2);
    assert.equal(r.unsigned_tail, 0);
    assert.equal((await verify(db)).verified_from, undefined, 'a full verify starts at 0');
  });

  it('defaults to the witness file: nothing after it, nothing re-read', async () => {
    const { db } = await makeLog();
    const r = await verify(db, true);
    assert.equal(r.ok, true, JSON.stringify(r.failures));
    assert.equal(r.verified_from, N);
  });

  it('catches tamper in the new range', async () => {
    const { db, saved } = await makeLog();
    tamper(db, EDIT_PAYLOAD(450));
    const r = await verify(db, saved);
    assert.equal(r.ok, false);
    assert.ok(
      r.failures.some((f) => f.kind === 'payload_edited' && f.seq === 450),
      JSON.stringify(r.failures),
    );
  });

  it('catches a new-range tile edited (the tree from the leaves differs)', async () => {
    const { db, saved } = await makeLog();
    // The partial tile 0/2 is read from the entries: edit the new-range hashes of the stored full
    // tile 0/1 (leaves 300…511 of 256…511; its first 44 hashes and interior nodes stay).
    tamper(
      db,
      `UPDATE tiles SET hashes = unhex(hex(substr(hashes, 1, 44 * 32)) || hex(zeroblob(212 * 32))
         || hex(substr(hashes, 256 * 32 + 1))) WHERE level = 0 AND idx = 1`,
    );
    const r = await verify(db, saved);
    assert.equal(r.ok, false);
    assert.ok(
      r.failures.some((f) => f.kind === 'tile_mismatch'),
      JSON.stringify(r.failures),
    );
  });

  it('does not claim the old range: a payload edited there is outside the checked range', async () => {
    const { db, saved } = await makeLog();
    tamper(db, EDIT_PAYLOAD(10));
    const r = await verify(db, saved);
    assert.equal(r.ok, true, JSON.stringify(r.failures));
    assert.equal(r.verified_from, OLD, 'the report names where checking began');
    const full = await verify(db);
    assert.ok(full.failures.some((f) => f.kind === 'payload_edited' && f.seq === 10));
  });

  it('refuses old tiles that do not give the trusted root (rewritten history)', async () => {
    const { db, saved } = await makeLog();
    // Tree of 300 = nodes [0,256) (level-1 tile 0), [256,288), [288,296), [296,300) (level-0 tile 1).
    for (const [level, idx] of [
      [1, 0],
      [0, 1],
    ]) {
      const copy = join(tempDir(), 'audit.db');
      cpSync(db, copy);
      cpSync(join(db, '..', 'keys'), join(copy, '..', 'keys'), { recursive: true });
      tamper(
        copy,
        `UPDATE tiles SET hashes = zeroblob(length(hashes)) WHERE level = ${level} AND idx = ${idx}`,
      );
      const r = await verify(copy, saved);
      assert.equal(r.ok, false);
      assert.deepEqual(
        r.failures.map((f) => [f.kind, f.seq]),
        [['rolled_back', OLD]],
      );
    }
  });

  it('reports a log shorter than the trusted checkpoint as rolled back', async () => {
    const { db } = await makeLog();
    const copy = join(tempDir(), 'audit.db');
    cpSync(db, copy);
    const later = await openAuditTrail({ tenant: 'acme', db, checkpointIntervalMs: 0 });
    await later.record(sampleEvent(N));
    const note = await later.checkpoint();
    await later.close();
    const trail = await openAuditTrail({ tenant: 'acme', db: copy, keyDir: join(db, '..', 'keys') });
    try {
      const r = await trail.verify({ sinceCheckpoint: note });
      assert.equal(r.ok, false);
      assert.equal(r.failures[0]?.kind, 'rolled_back');
    } finally {
      await trail.close();
    }
  });

  it('refuses a trusted checkpoint the log key did not sign', async () => {
    const { db } = await makeLog();
    const forged = signCheckpoint({ origin: originOf('acme'), size: OLD, root: Buffer.alloc(32, 1) }, [
      generateSigner(originOf('acme')).signer,
    ]);
    await assert.rejects(
      () => verify(db, forged),
      (e) => e instanceof AuditError && e.code === 'invalid_argument',
    );
  });
});
