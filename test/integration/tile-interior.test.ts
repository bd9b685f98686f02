import Database from 'better-sqlite3';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { EXPANDED_TILE_BYTES } from '../../src/core/tiles.js';
import { openAuditTrail, verifyProofBundle } from '../../src/index.js';
import { sampleEvent, tempDir } from './helpers.js';

async function makeLog(n: number): Promise<string> {
  const db = join(tempDir(), 'audit.db');
  const trail = await openAuditTrail({ tenant: 'acme', db, checkpointIntervalMs: 0 });
  for (let i = 0; i < n; i += 50)
    await Promise.all(Array.from({ length: 50 }, (_, j) => trail.record(sampleEvent(i + j))));
  await trail.close();
  return db;
}

describe('full tiles stored with their interior heights', () => {
  it('a full tile holds 510 hashes, proofs from it verify, and verify checks the interior', async () => {
    const db = await makeLog(600);
    const raw = new Database(db);
    const full = raw
      .prepare('SELECT width, length(hashes) AS bytes FROM tiles WHERE level = 0 AND idx = 0')
      .get() as {
      width: number;
      bytes: number;
    };
    assert.deepEqual(full, { width: 256, bytes: EXPANDED_TILE_BYTES });
    raw.close();

    const trail = await openAuditTrail({ tenant: 'acme', db, checkpointIntervalMs: 0 });
    try {
      for (const seq of [0, 131, 255, 256, 599]) {
        const bundle = await trail.prove(seq);
        assert.equal(verifyProofBundle(bundle, { trustedKey: trail.verifierKey() }).ok, true, `seq ${seq}`);
      }
      assert.equal((await trail.verify()).ok, true);
    } finally {
      await trail.close();
    }

    // Edit one interior hash (height 3, the 5th node of tile 0/1), triggers dropped.
    const d = new Database(db);
    for (const t of d
      .prepare("SELECT name FROM sqlite_master WHERE type = 'trigger'")
      .pluck()
      .all() as string[])
      d.exec(`DROP TRIGGER ${t}`);
    const offset = (256 + 128 + 64 + 4) * 32;
    const tile = d.prepare('SELECT hashes FROM tiles WHERE level = 0 AND idx = 1').pluck().get() as Buffer;
    tile.fill(0, offset, offset + 32);
    d.prepare('UPDATE tiles SET hashes = ? WHERE level = 0 AND idx = 1').run(tile);
    d.close();
    const again = await openAuditTrail({ tenant: 'acme', db, checkpointIntervalMs: 0 });
    try {
      const r = await again.verify();
      assert.equal(r.ok, false);
      assert.ok(
        r.failures.some((f) => f.kind === 'tile_mismatch' && f.detail.includes('level 3 index 36')),
        JSON.stringify(r.failures),
      );
    } finally {
      await again.close();
    }
  });
});
