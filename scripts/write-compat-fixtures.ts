// Writes the frozen compatibility fixtures of one version into test/compat/<version>/: a small
// database recorded by this version (a governed demo session and a few more events, signed
// checkpoints, one erased disclosure), its verifier keys, proof bundles, a saved checkpoint and a
// consistency proof. test/compat/compat.test.ts verifies them with the current code.
//
// Run ONCE per version, never again for an existing folder: the point of the fixtures is that
// they were written by the old code. A new version writes a new folder.
//
//   node --import tsx scripts/write-compat-fixtures.ts v0.1
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { runDemoSession } from '../src/cli/demo-session.js';
import { disclosureDigest } from '../src/core/disclosure.js';
import {
  Approvals,
  Governor,
  openAuditTrail,
  parsePolicy,
  type AuditTrail,
  type AuditEvent,
} from '../src/index.js';
import { fixedClock, sequentialIds } from '../src/testing/index.js';

const version = process.argv[2];
if (version === undefined || !/^v\d+\.\d+$/.test(version)) {
  console.error('usage: node --import tsx scripts/write-compat-fixtures.ts vMAJOR.MINOR');
  process.exit(2);
}
const out = join(import.meta.dirname, '..', 'test', 'compat', version);
if (existsSync(out)) {
  console.error(`${out} exists: frozen fixtures are never regenerated (a new version adds a new folder)`);
  process.exit(1);
}

const TENANT = 'acme';
const work = mkdtempSync(join(tmpdir(), 'auditrail-compat-'));
const db = join(work, 'audit.db');
// The log's clock is fixed (leaf timestamps from 2026-01-01T00:00:00Z, 1 ms per reading); the
// governor's own event ids are UUIDv7 from the wall clock, which the SDK does not let us inject.
const now = fixedClock(Date.UTC(2026, 0, 1), 1);
const ids = sequentialIds('compat');
const open = (log: string): Promise<AuditTrail> =>
  openAuditTrail({ tenant: TENANT, log, db, now, checkpointIntervalMs: 0, writeThread: false });

/** A policy with a rule whose approval the lead refuses (the demo only has a granted one). */
const WIRE_POLICY = parsePolicy(
  `policy_id: acme-treasury
version: 1
default: deny
rules:
  - id: wires-need-cfo
    match: { action: 'write:wire' }
    effect: require_approval
    approvers: [cfo]
    approval_ttl: 1h
    risk: critical
    reason: every wire transfer needs the CFO
`,
  'compat/treasury.yaml',
);

try {
  // 1. The default log: one governed demo session (allowed, denied, approval granted, failure and
  // retry, timeout, undo, delegation, redacted secrets), then a checkpoint the auditor saves.
  let trail = await open('default');
  const session = await runDemoSession(trail, 0);
  const saved = await trail.checkpoint();

  // 2. More events after the saved checkpoint: an approval refused by name, a denied action
  // recorded with fixed ids, and (below) the erasure of a data subject's id.
  const cfo = new Approvals(trail);
  const treasury = new Governor({
    trail,
    policy: WIRE_POLICY,
    actor: { type: 'agent', id: 'treasury-bot' },
    session_id: 'sess-compat-2',
    run_id: 'run-compat-2',
    environment: 'production',
    approvals: {
      pollMs: 5,
      onRequest: (req) => cfo.deny(req.id, { as: 'cfo', reason: 'vendor not on the approved list' }),
    },
  });
  await treasury
    .run({ type: 'write:wire', target: 'vendor/981', params: { amount: 12000, currency: 'EUR' } }, () =>
      Promise.resolve('sent'),
    )
    .then(
      () => {
        throw new Error('the wire should have been refused');
      },
      () => undefined,
    );
  const manual: AuditEvent[] = [
    {
      event_id: ids(),
      type: 'action.intent',
      session_id: 'sess-compat-3',
      actor: { type: 'user', id: 'user:ops-7', name: 'Ops Seven' },
      action: { type: 'export:crm', target: 'crm/contacts', params: { rows: 5000 } },
      risk_level: 'high',
      context: { reasoning: 'quarterly export', data_classification: 'pii' },
    },
    {
      event_id: ids(),
      type: 'policy.decision',
      session_id: 'sess-compat-3',
      actor: { type: 'system', id: 'policy-engine' },
      action: { type: 'export:crm', target: 'crm/contacts' },
      policy: {
        decision: 'deny',
        matched_rule: 'no-bulk-pii',
        policy_id: 'acme-data',
        reason: 'bulk PII export',
      },
      risk_level: 'high',
    },
    {
      event_id: ids(),
      type: 'x.compat.note',
      session_id: 'sess-compat-3',
      actor: { type: 'service', id: 'fixture-writer' },
      metadata: { unicode: 'Zürich — 東京 — 🚀', nested: { a: [1, 2.5, null, true], b: '' } },
    },
  ];
  for (const e of manual) await trail.record(e);
  await trail.close();

  // The patient id of the PHI read (the context.accessed event) is erased: the SDK
  // has no erasure API yet, so the fixture uses the storage's sanctioned path (docs/storage.md,
  // `disclosures_erase_only`): a data.erased event naming the digest, then the plaintext set to
  // NULL with erased_by_seq. Verification must report it as a redaction, not as tampering.
  const raw = new Database(db);
  const target = raw
    .prepare(
      `SELECT d.seq, d.unit, d.pointer, d.disclosure FROM disclosures d JOIN entries e
         ON e.log_id = d.log_id AND e.seq = d.seq
       WHERE e.type = 'context.accessed' AND d.pointer = '/context/data_subject_ids' ORDER BY d.seq LIMIT 1`,
    )
    .get() as { seq: number; unit: number; pointer: string; disclosure: Buffer } | undefined;
  raw.close();
  if (!target) throw new Error('no data subject ids to erase');
  trail = await open('default');
  const erasure = await trail.record({
    event_id: ids(),
    type: 'data.erased',
    actor: { type: 'user', id: 'user:dpo', name: 'Data Protection Officer' },
    session_id: session,
    context: { purpose: 'GDPR Art. 17 request #2026-004' },
    metadata: {
      erased: [{ seq: target.seq, pointer: target.pointer, digest: disclosureDigest(target.disclosure) }],
    },
  });
  await trail.close();
  const rw = new Database(db);
  rw.prepare(
    'UPDATE disclosures SET disclosure = NULL, erased_by_seq = ?, erased_at = ? WHERE seq = ? AND unit = ? AND log_id = (SELECT log_id FROM logs WHERE origin = ?)',
  ).run(
    erasure.seq,
    '2026-01-01T01:00:00.000Z',
    target.seq,
    target.unit,
    `auditrail.local/t/${TENANT}/default`,
  );
  rw.close();

  // 3. A second, small log in the same database (another key name, its own tree).
  const staging = await open('staging');
  for (let i = 0; i < 5; i++) {
    await staging.record({
      event_id: ids(),
      type: i % 2 ? 'action.succeeded' : 'action.intent',
      session_id: 'sess-staging-1',
      actor: { type: 'agent', id: 'canary-bot' },
      action: { type: 'read:order', target: `order/${9000 + i}` },
      ...(i % 2 ? { outcome: { status: 'success' as const, duration_ms: 3 + i } } : {}),
    });
  }
  await staging.checkpoint();

  // 4. Proofs, from a reopened trail: the closing checkpoint covers every event.
  trail = await open('default');
  const size = trail.size;
  mkdirSync(out, { recursive: true });
  const json = (name: string, v: unknown) =>
    writeFileSync(join(out, name), `${JSON.stringify(v, null, 2)}\n`);
  const proofs: Record<string, number> = {
    'proof-first.json': 0,
    'proof-middle.json': Math.floor(size / 2),
    'proof-erased.json': target.seq,
    'proof-last.json': size - 1,
  };
  for (const [name, seq] of Object.entries(proofs)) json(name, await trail.prove(seq));
  writeFileSync(join(out, 'saved.checkpoint'), saved);
  json('consistency.json', await trail.proveConsistencyFrom(saved));
  writeFileSync(join(out, 'default.vkey'), `${trail.verifierKey()}\n`);
  writeFileSync(join(out, 'staging.vkey'), `${staging.verifierKey()}\n`);
  json('proof-staging.json', await staging.prove(2));
  await staging.close();
  await trail.close();

  // Only the database file: the WAL was truncated by the closes; keys/ (the PRIVATE key) stays out.
  const check = new Database(db);
  check.pragma('wal_checkpoint(TRUNCATE)');
  check.close();
  copyFileSync(db, join(out, 'audit.db'));
  console.log(`wrote ${out} (${size} events in the default log, erased seq ${target.seq})`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
