import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { AuditError } from '../errors.js';
import { openAuditTrail } from './open.js';
import { storeOf } from './internals.js';
import { listLogs } from './list-logs.js';

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'auditrail-ro-'));
  dirs.push(d);
  return d;
}
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const EVENT = {
  type: 'action.intent',
  actor: { type: 'agent', id: 'bot' },
  action: { type: 'read:order', target: 'order/1' },
} as const;

function isCode(code: string) {
  return (e: unknown) => e instanceof AuditError && e.code === code;
}

describe('openAuditTrail({ readonly: true })', () => {
  it('reads, verifies and proves a signed log; refuses every write; close signs nothing', async () => {
    const dir = tempDir();
    const db = join(dir, 'audit.db');
    const w = await openAuditTrail({ tenant: 'acme', db, checkpointIntervalMs: 0, writeThread: false });
    await w.record(EVENT);
    await w.record(EVENT);
    await w.checkpoint();
    await w.record(EVENT);
    await storeOf(w).close(); // without close(): the third event stays unsigned
    const bytes = readFileSync(db);

    const ro = await openAuditTrail({ tenant: 'acme', db, readonly: true });
    try {
      assert.equal(ro.readonly, true);
      assert.equal(ro.size, 3);
      assert.equal((await ro.get(1))?.seq, 1);
      assert.equal((await ro.verify()).ok, true);
      assert.equal((await ro.prove(1)).inclusion.tree_size, 2);
      await assert.rejects(
        ro.prove(2),
        (e: unknown) => isCode('not_found')(e) && /covers seq 2/.test((e as Error).message),
      );
      await assert.rejects(ro.record(EVENT), isCode('read_only'));
      assert.throws(() => ro.emit(EVENT), isCode('read_only'));
      await assert.rejects(ro.checkpoint(), isCode('read_only'));
      await assert.rejects(ro.rebuildIndex(), isCode('read_only'));
      await assert.rejects(storeOf(ro).setMeta('k', 'v'), isCode('read_only'));
    } finally {
      await ro.close();
    }
    assert.deepEqual(readFileSync(db), bytes, 'close() signed nothing');
  });

  it('an unknown log or a missing database is not_found, and nothing is created', async () => {
    const dir = tempDir();
    const db = join(dir, 'audit.db');
    const w = await openAuditTrail({ tenant: 'acme', db });
    await w.close();
    const bytes = readFileSync(db);
    await assert.rejects(
      openAuditTrail({ tenant: 'acmee', db, readonly: true }),
      (e: unknown) =>
        isCode('not_found')(e) &&
        /logs present: auditrail\.local\/t\/acme\/default/.test((e as Error).message),
    );
    assert.deepEqual(readFileSync(db), bytes);
    const none = join(dir, 'none', 'audit.db');
    await assert.rejects(openAuditTrail({ tenant: 'acme', db: none, readonly: true }), isCode('not_found'));
    assert.equal(existsSync(join(dir, 'none')), false);
    assert.deepEqual(
      readdirSync(dir).sort(),
      ['audit.db', 'audit.db-shm', 'audit.db-wal'].filter((f) => existsSync(join(dir, f))).sort(),
    );
  });
});

describe('listLogs', () => {
  it('lists every log with size, last checkpoint and pending approvals, read-only', async () => {
    const dir = tempDir();
    const db = join(dir, 'audit.db');
    const a = await openAuditTrail({ tenant: 'acme', db, checkpointIntervalMs: 0 });
    await a.record(EVENT);
    await a.close();
    const b = await openAuditTrail({ tenant: 'globex', log: 'prod', db, checkpointIntervalMs: 0 });
    await storeOf(b).putApproval({
      id: 'apr_1',
      logOrigin: b.origin,
      status: 'pending',
      requestDigest: 'd',
      approvers: ['lead'],
      expiresAt: new Date(Date.now() + 60_000).toISOString(),
      createdAt: new Date().toISOString(),
      actionType: 'deploy:api',
      target: null,
      sideEffects: null,
      matchedRule: null,
      requestReason: 'r',
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
    await b.close();
    const logs = await listLogs({ db });
    assert.deepEqual(
      logs.map((l) => [l.tenant, l.log, l.size, l.last_checkpoint?.size ?? null, l.pending_approvals]),
      [
        ['acme', 'default', 1, 1, 0],
        ['globex', 'prod', 0, null, 1],
      ],
    );
    await assert.rejects(listLogs({ db: join(dir, 'missing.db') }), isCode('not_found'));
    assert.equal(existsSync(join(dir, 'missing.db')), false);
  });
});
