// Frozen compatibility fixtures (test/compat/<version>/README.md): a database and proof files
// written by an older version must keep verifying, and reading the same, with this one. The
// fixtures are never regenerated; a failure here means a change broke data already in the field.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { openAuditTrail, verifyConsistency, verifyProofBundle, type AuditTrail } from '../../src/index.js';
import type { ConsistencyBundle } from '../../src/core/consistency.js';
import { formatVerifierKey, generateSigner } from '../../src/core/note.js';
import { Approvals } from '../../src/sdk/governance/approvals.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MAIN = join(ROOT, 'src', 'cli', 'main.ts');
const V01 = join(ROOT, 'test', 'compat', 'v0.1');

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A private copy of the fixture database (the fixture itself is never opened). */
function copyDb(): string {
  const d = mkdtempSync(join(tmpdir(), 'auditrail-compat-'));
  dirs.push(d);
  const db = join(d, 'audit.db');
  copyFileSync(join(V01, 'audit.db'), db);
  return db;
}

const text = (name: string): string => readFileSync(join(V01, name), 'utf8');
const json = (name: string): unknown => JSON.parse(text(name)) as unknown;
const vkey = (log: string): string => text(`${log}.vkey`).trim();

function cli(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const env: Record<string, string | undefined> = { ...process.env, NO_COLOR: '1' };
  for (const k of ['AUDITRAIL_DB', 'AUDITRAIL_TENANT', 'AUDITRAIL_LOG', 'AUDITRAIL_DEBUG', 'FORCE_COLOR'])
    delete env[k];
  const r = spawnSync(process.execPath, ['--import', 'tsx', MAIN, ...args], {
    cwd: ROOT,
    env,
    encoding: 'utf8',
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** What 0.1 wrote into the default log, by type (README.md of the fixtures). */
const TYPES_V01: Record<string, number> = {
  'action.dead_lettered': 1,
  'action.dispatched': 15,
  'action.failed': 1,
  'action.intent': 18,
  'action.retried': 2,
  'action.succeeded': 12,
  'action.timed_out': 1,
  'action.undone': 1,
  'agent.lifecycle': 2,
  'anomaly.detected': 1,
  'approval.denied': 1,
  'approval.granted': 1,
  'approval.requested': 2,
  'context.accessed': 1,
  'data.erased': 1,
  'delegation.ended': 1,
  'delegation.started': 1,
  'policy.decision': 18,
  'policy.updated': 2,
  'x.compat.note': 1,
};
const DEMO_SESSION = 'sess-05c17c24';

/**
 * SHA-256 of every data file as 0.1 wrote it: a regenerated or edited fixture is refused here
 * (the README may be clarified; the data never changes).
 */
const FROZEN_V01: Record<string, string> = {
  'audit.db': 'cbbacdc4598d4ee9f67b5d0ea07e4e036d62ec9612a5af39848213ca2aae0eac',
  'consistency.json': '9a08ec73626a138745478ade4cbee853f4be56791bc9a24d5ebc7a628209a105',
  'default.vkey': '03ff989334f49b63e73c900bdd77f4af3bd75d365d052a10fa42c62e6818434c',
  'proof-erased.json': 'fbb9b9482ca143d17f703f36c99a548f2db39abee434b2fe5bf82bdbd6eec229',
  'proof-first.json': '5d86e2f0b193a0d098fa078ffdc75820553ce24e07a327d98b31e61c6f5cd9a0',
  'proof-last.json': 'd0481e1e2b65d420e07b76ef48ad833eb25b2679521eebe68b465868ac55fc7f',
  'proof-middle.json': 'f72740c9080a93182d971ee29c568a7138bd2f35a715d3752a93921a1c722bd9',
  'proof-staging.json': '91f3cb8d879bee699101b90208f33706ef5ed4981c71cbc25d64e0d87557f148',
  'saved.checkpoint': 'a78c4a653e7db9e6b412e033676e700067b3e25ac83868439a10ab9f0b590289',
  'staging.vkey': '04a6e883ea23b90025aea13a425a425a8013a653a6a28016e9af1e7ffcea9bb0',
};

describe('compat v0.1: the files', () => {
  it('are exactly the frozen ones: no WAL, no key directory, no byte changed', () => {
    assert.deepEqual(readdirSync(V01).sort(), [...Object.keys(FROZEN_V01), 'README.md'].sort());
    for (const [name, sha] of Object.entries(FROZEN_V01)) {
      const actual = createHash('sha256')
        .update(readFileSync(join(V01, name)))
        .digest('hex');
      assert.equal(actual, sha, `${name} changed: frozen fixtures are never regenerated`);
    }
  });
});

describe('compat v0.1: the database', () => {
  let trail: AuditTrail;
  let staging: AuditTrail;
  let db: string;
  before(async () => {
    db = copyDb();
    // Read-only: the current version must read an old database without migrating or signing it.
    trail = await openAuditTrail({ tenant: 'acme', db, readonly: true });
    staging = await openAuditTrail({ tenant: 'acme', log: 'staging', db, readonly: true });
  });
  after(async () => {
    await staging.close();
    await trail.close();
  });

  it('was not changed by reading (no migration, no checkpoint, no key)', async () => {
    await trail.verify({ trustedKeys: [vkey('default')] });
    await trail.query({ limit: 5 });
    const sha = createHash('sha256').update(readFileSync(db)).digest('hex');
    assert.equal(sha, FROZEN_V01['audit.db']);
    assert.equal(existsSync(join(dirname(db), 'keys')), false);
  });

  it('verifies with the published key, the erased field reported as a redaction', async () => {
    const r = await trail.verify({ trustedKeys: [vkey('default')] });
    assert.deepEqual(r.failures, []);
    assert.equal(r.ok, true);
    assert.equal(r.size, 83);
    assert.equal(r.root, 'ca355f7ced2a576a653420137f06d41e3ff297ddc2b55f6da9a12ba3bbcd4963');
    assert.equal(r.checkpoints_verified >= 3, true, `checkpoints verified: ${r.checkpoints_verified}`);
    assert.equal(r.unsigned_tail, 0);
    assert.deepEqual(r.redactions, [{ seq: 23, pointer: '/context/data_subject_ids', by_seq: 82 }]);
  });

  it('verifies the second log of the same database with its own key', async () => {
    const r = await staging.verify({ trustedKeys: [vkey('staging')] });
    assert.deepEqual(r.failures, []);
    assert.equal(r.size, 5);
    assert.equal(r.root, 'aeba4980cf10dd7487b04527b344be0fc8230e41727aea5c03f7af8d5ae2abf7');
    assert.equal(await staging.count({}), 5);
  });

  it('fails under another key of the same name (the published key is what makes it pass)', async () => {
    const origin = 'auditrail.local/t/acme/default';
    const other = formatVerifierKey(origin, generateSigner(origin).signer.publicKey);
    const r = await trail.verify({ trustedKeys: [other] });
    assert.equal(r.ok, false);
    assert.ok(r.failures.length > 0);
  });

  it('counts every event type as 0.1 wrote them', async () => {
    assert.equal(await trail.count({}), 83);
    for (const [type, n] of Object.entries(TYPES_V01)) assert.equal(await trail.count({ type }), n, type);
  });

  it('answers each filter as 0.1 indexed it', async () => {
    assert.equal(await trail.count({ session_id: DEMO_SESSION }), 74);
    assert.equal(await trail.count({ session_id: 'sess-compat-2' }), 4);
    assert.equal(await trail.count({ decision: 'deny' }), 4);
    assert.equal(await trail.count({ decision: 'require_approval' }), 2);
    assert.equal(await trail.count({ status: 'success' }), 13);
    assert.equal(await trail.count({ status: 'timeout' }), 1);
    assert.equal(await trail.count({ risk: 'critical' }), 4);
    assert.equal(await trail.count({ action_type: 'write:refund' }), 6);
    assert.equal(await trail.count({ tenant: 'acme' }), 83);
    assert.equal(await trail.count({ since: '2026-01-01T00:00:00.100000Z' }), 28);
  });

  it('reads events back by seq and by event id, with the erased field listed', async () => {
    const e23 = await trail.get(23);
    assert.equal(e23?.type, 'context.accessed');
    assert.deepEqual(e23.erased, [{ pointer: '/context/data_subject_ids', by_seq: 82 }]);
    assert.equal(e23.context?.data_subject_ids, undefined);
    assert.equal(e23.context?.data_classification, 'phi');
    const note = await trail.get('compat-000003');
    assert.equal(note?.seq, 81);
    assert.deepEqual(note.metadata, {
      unicode: 'Zürich — 東京 — 🚀',
      nested: { a: [1, 2.5, null, true], b: '' },
    });
    assert.equal(note.ts, '2026-01-01T00:00:00.150000Z');
    const erasure = await trail.get(82);
    assert.equal(erasure?.type, 'data.erased');
    // Secrets were redacted before 0.1 stored them, and still read back redacted.
    const stripe = await trail.query({ action_type: 'stripe:charges.list', type: 'action.intent' });
    assert.equal(stripe.events.length, 1);
    assert.deepEqual(stripe.events[0]?.action?.params, {
      api_key: '***REDACTED***',
      customer: 'cust-8841',
      limit: 10,
    });
    assert.deepEqual(stripe.events[0].redacted, ['/action/params/api_key']);
  });

  it('pages through the log in both orders', async () => {
    const seen: number[] = [];
    let cursor: string | null = null;
    do {
      const page = await trail.query({ limit: 30, ...(cursor ? { cursor } : {}) });
      seen.push(...page.events.map((e) => e.seq));
      cursor = page.next_cursor;
    } while (cursor !== null);
    assert.deepEqual(
      seen,
      Array.from({ length: 83 }, (_, i) => i),
    );
    const last = await trail.query({ limit: 1, order: 'desc' });
    assert.equal(last.events[0]?.seq, 82);
  });

  it('passes `auditrail verify --key` on a copy', () => {
    const r = cli(['verify', '--db', copyDb(), '--tenant', 'acme', '--key', vkey('default')]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
  });
});

describe('compat v0.1: proof files', () => {
  const bundles = readdirSync(V01).filter((f) => /^proof-.*\.json$/.test(f));
  const expected: Record<string, { log: string; seq: number }> = {
    'proof-first.json': { log: 'default', seq: 0 },
    'proof-middle.json': { log: 'default', seq: 41 },
    'proof-last.json': { log: 'default', seq: 82 },
    'proof-erased.json': { log: 'default', seq: 23 },
    'proof-staging.json': { log: 'staging', seq: 2 },
  };

  it('has every bundle the README names', () => {
    assert.deepEqual(bundles.sort(), Object.keys(expected).sort());
  });

  for (const [file, { log, seq }] of Object.entries(expected)) {
    it(`${file} verifies with verifyProofBundle and the published key`, () => {
      const r = verifyProofBundle(json(file), { trustedKey: vkey(log) });
      assert.deepEqual(r.failures, []);
      assert.equal(r.ok, true);
      assert.equal(r.seq, seq);
      assert.equal(r.log, `auditrail.local/t/acme/${log}`);
      assert.ok(r.event && typeof r.event['type'] === 'string');
    });

    it(`${file} verifies with \`auditrail verify-proof --key\``, () => {
      const r = cli(['verify-proof', join(V01, file), '--key', vkey(log), '--json']);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const out = JSON.parse(r.stdout) as { ok: boolean; seq: number };
      assert.equal(out.ok, true);
      assert.equal(out.seq, seq);
    });
  }

  it('the erased field is absent from its bundle, the rest of the event is shown', () => {
    const r = verifyProofBundle(json('proof-erased.json'), { trustedKey: vkey('default') });
    const context = r.event?.['context'] as Record<string, unknown> | undefined;
    assert.equal(r.event?.['type'], 'context.accessed');
    assert.equal(context?.['data_classification'], 'phi');
    assert.equal(context['data_subject_ids'], undefined);
  });

  it('a bundle changed by one byte fails (the check is not vacuous)', () => {
    const b = json('proof-middle.json') as { leaf: string };
    const leaf = Buffer.from(b.leaf, 'base64');
    leaf[leaf.length - 2]! ^= 1;
    const r = verifyProofBundle({ ...b, leaf: leaf.toString('base64') }, { trustedKey: vkey('default') });
    assert.equal(r.ok, false);
  });

  it('the consistency file proves the log only appended since the saved checkpoint', () => {
    const c = json('consistency.json') as ConsistencyBundle;
    assert.equal(c.old_size, 74);
    assert.equal(c.new_size, 83);
    const r = verifyConsistency(text('saved.checkpoint'), c.checkpoint, c.proof, vkey('default'));
    assert.deepEqual(r.failures, []);
    assert.equal(r.ok, true);
    assert.deepEqual([r.old?.size, r.new?.size], [74, 83]);
  });

  it('the consistency file verifies with `auditrail verify-consistency --proof --key`', () => {
    const r = cli([
      'verify-consistency',
      join(V01, 'saved.checkpoint'),
      '--proof',
      join(V01, 'consistency.json'),
      '--key',
      vkey('default'),
    ]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
  });

  // An auditor's copy of the database has no private key: the proof needs none, --key names it.
  it('the saved checkpoint is consistent with the database copy (`verify-consistency --db --key`)', () => {
    const r = cli([
      'verify-consistency',
      join(V01, 'saved.checkpoint'),
      '--db',
      copyDb(),
      '--tenant',
      'acme',
      '--key',
      vkey('default'),
    ]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
  });
});

describe('compat v0.1: approval requests', () => {
  // 0.1 stored each request as one JSON document; migration 2 splits it into columns. Read-only,
  // the document is split on read instead: both must give 0.1's requests field for field.
  const V01_APPROVALS = [
    {
      id: 'apr_01a246ce-2340-7002-b6da-d21ee687bda5',
      status: 'used',
      approvers: ['maria.chen', 'oncall_lead'],
      expires_at: '2026-12-05T16:24:04.291Z',
      request_digest: 'sha256:dbf32c3676f3a43674fa483cc2d8cf08a85440b3d8a4615a94850449449d8c17',
      action: {
        type: 'write:refund',
        target: 'order/1042',
        params: { amount: 49.99, currency: 'USD', reason: 'duplicate charge' },
      },
      matched_rule: 'refunds-need-lead-approval',
      reason: 'refunds above $25 need a team lead',
      decided_by: 'maria.chen',
      decision_reason: 'duplicate charge confirmed in the payments log',
    },
    {
      id: 'apr_01a246ce-23af-7002-959f-7642028788a9',
      status: 'denied',
      approvers: ['cfo'],
      expires_at: '2026-12-05T16:24:04.403Z',
      request_digest: 'sha256:64525823884a16e9c0730d8e3278e24d87c4dc63f82b83bc78d9406039732831',
      action: { type: 'write:wire', target: 'vendor/981', params: { amount: 12000, currency: 'EUR' } },
      matched_rule: 'wires-need-cfo',
      reason: 'every wire transfer needs the CFO',
      decided_by: 'cfo',
      decision_reason: 'vendor not on the approved list',
    },
  ];

  it('reads them read-only, without migrating, as 0.1 stored them', async () => {
    const db = copyDb();
    const trail = await openAuditTrail({ tenant: 'acme', db, readonly: true });
    try {
      const listed = await new Approvals(trail).list('all');
      assert.deepEqual(
        listed.map((r) => ({ ...r })),
        V01_APPROVALS,
      );
      const row = await new Approvals(trail).get(V01_APPROVALS[0]!.id);
      assert.equal(row?.actorId, 'acme-support');
      assert.equal(row?.sessionId, DEMO_SESSION);
      assert.equal(row?.traceId, '6d74e276fe734bcc87885dfcb3aa5d5c');
    } finally {
      await trail.close();
    }
    assert.equal(createHash('sha256').update(readFileSync(db)).digest('hex'), FROZEN_V01['audit.db']);
  });

  it('carries them over into columns when a writer migrates the file, which still verifies', async () => {
    const db = copyDb();
    const trail = await openAuditTrail({ tenant: 'acme', db, checkpointIntervalMs: 0, keyDir: null });
    try {
      assert.deepEqual(await new Approvals(trail).list('all'), V01_APPROVALS);
      const row = await new Approvals(trail).get(V01_APPROVALS[1]!.id);
      assert.deepEqual(
        [row?.actorType, row?.actorId, row?.sessionId, row?.runId, row?.parentEventId, row?.traceId],
        [
          'agent',
          'treasury-bot',
          'sess-compat-2',
          'run-compat-2',
          '01a246ce-23af-7000-8526-88c764042bf2',
          null,
        ],
      );
      const r = await trail.verify({ trustedKeys: [vkey('default')] });
      assert.deepEqual(r.failures, []);
      assert.equal(r.size, 83);
    } finally {
      await trail.close();
    }
  });
});
