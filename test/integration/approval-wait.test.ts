/**
 * An agent waiting for an approval sees a decision made by another process: the in-process
 * notification cannot reach it, so the poll of the store must (docs/sdk.md "Approvals").
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ActionDeniedError, Governor, openAuditTrail, parsePolicy } from '../../src/index.js';
import { tempDir } from './helpers.js';

const CHILD = fileURLToPath(new URL('./approval-wait-child.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

const POLICY = parsePolicy(`
policy_id: refunds
version: 1
default: deny
rules:
  - id: approve-refunds
    match: { action: "write:refund" }
    effect: require_approval
    approvers: [finance_lead]
    approval_ttl: 5m
`);

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function decideElsewhere(db: string, verdict: 'approve' | 'deny', id: string): Promise<string> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, db, verdict, id, 'finance_lead'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
  return new Promise((resolve) => child.on('close', () => resolve(`${out.trim()}${err ? ` ${err}` : ''}`)));
}

describe('approval waits across processes', { timeout: 120_000 }, () => {
  it('a grant and a denial made by other processes end the waits of this one', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const db = join(dir, 'audit.db');
    const trail = await openAuditTrail({ tenant: 'acme', db, checkpointIntervalMs: 0 });
    const children: Promise<string>[] = [];
    let verdict: 'approve' | 'deny' = 'approve';
    const gov = new Governor({
      trail,
      policy: POLICY,
      actor: { type: 'agent', id: 'support-bot' },
      approvals: {
        pollMs: 50,
        onRequest: (req) => void children.push(decideElsewhere(db, verdict, req.id)),
      },
    });
    let ran = 0;
    const { result: paid } = await gov.run({ type: 'write:refund', params: { amount: 900 } }, () =>
      Promise.resolve((ran++, 'paid')),
    );
    assert.equal(paid, 'paid');
    assert.equal(await children[0], 'ok');
    verdict = 'deny';
    await assert.rejects(
      gov.run({ type: 'write:refund', params: { amount: 901 } }, () => Promise.resolve((ran++, 'paid'))),
      (e: unknown) =>
        e instanceof ActionDeniedError && e.code === 'denied' && /denied by finance_lead/.test(e.message),
    );
    assert.equal(await children[1], 'ok');
    assert.equal(ran, 1, 'the denied refund did not run');
    await trail.flush();
    const decided = (await trail.query({ limit: 100 })).events.filter((e) =>
      ['approval.granted', 'approval.denied'].includes(e.type),
    );
    assert.deepEqual(
      decided.map((e) => [e.type, e.approval?.approver]),
      [
        ['approval.granted', 'finance_lead'],
        ['approval.denied', 'finance_lead'],
      ],
    );
    assert.equal((await trail.verify()).ok, true);
    await trail.close();
  });
});
