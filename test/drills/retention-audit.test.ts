// Drill 5 of seed 001, "Retention audit: prove evidence retention matches your policy
// requirements". The requirement here: audit evidence is kept at least 183 days (EU AI Act
// Art. 19: six months), after which the operator's retention job may purge the personal fields
// of an entry (never the entry: its leaf and proofs stay) and records each purge as a
// `retention.purged` event. The auditor shows that the log reaches back past the period with
// nothing deleted, that the period's evidence is complete and verifies offline, and that no field
// was purged before its time; the job's one mistake is found.
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { describe, it } from 'node:test';
import { runDemoSession } from '../../src/cli/demo-session.js';
import { cli, logJson, openTrail, recordDrillLog } from './drill.js';

const DAY = 86_400_000;
const RETENTION_DAYS = 183;

describe('drill: retention audit', () => {
  it('the log covers the retention period unbroken, and a field purged too early is found', async () => {
    // Operator's side: a session 300 days ago, one 30 days ago, then the retention job today.
    const now = Date.now();
    const started = now;
    const clock = (at: number) => () => at + (Date.now() - started);
    const log = await recordDrillLog(1, { now: clock(now - 300 * DAY) });
    let trail = await openTrail(log.db, clock(now - 30 * DAY));
    await runDemoSession(trail, 1);
    await trail.close();
    // The job purges the customers' messages; by mistake it also takes one 30 days old.
    const messages = await logJson(log, ['--type', 'agent.lifecycle']);
    const withMessage = messages.filter((e) => e.context?.user_message !== undefined);
    assert.equal(withMessage.length, 2);
    const [old, young] = withMessage as [(typeof withMessage)[0], (typeof withMessage)[0]];
    assert.ok(Date.parse(old.ts) < now - 299 * DAY && Date.parse(young.ts) > now - 31 * DAY);
    trail = await openTrail(log.db);
    const purge = await trail.record({
      type: 'retention.purged',
      actor: { type: 'service', id: 'retention-job' },
      action: { type: 'retention.purge', target: 'context/user_message' },
      metadata: { retention_days: RETENTION_DAYS, entries: [old.seq, young.seq] },
    });
    await trail.checkpoint();
    await trail.close();
    const db = new Database(log.db);
    const erase = db.prepare(
      "UPDATE disclosures SET disclosure = NULL, erased_by_seq = ?, erased_at = ? WHERE seq = ? AND pointer = '/context/user_message'",
    );
    for (const seq of [old.seq, young.seq])
      assert.equal(erase.run(purge.seq, new Date(now).toISOString(), seq).changes, 1);
    db.close();

    // 1. Nothing was deleted or changed: the whole log verifies; the purged fields are reported
    // as erasures by the retention.purged entry, not as tampering.
    const verify = await cli(log, ['verify', '--json', '--key', log.vkey]);
    assert.equal(verify.code, 0, verify.out);
    const v = JSON.parse(verify.out) as { redactions: { seq: number; pointer: string; by_seq: number }[] };
    assert.deepEqual(
      v.redactions.map((r) => [r.seq, r.pointer, r.by_seq]),
      [
        [old.seq, '/context/user_message', purge.seq],
        [young.seq, '/context/user_message', purge.seq],
      ],
    );

    // 2. The log reaches back past the retention period: its first entry (seq 0) is older.
    const first = await logJson(log, ['--limit', '1']);
    assert.equal(first[0]!.seq, 0);
    assert.ok(Date.parse(first[0]!.ts) < now - RETENTION_DAYS * DAY);

    // 3. The evidence of the whole period is complete and verifies offline: the entry before the
    // window is older than the period, so nothing of it was left out.
    const since = `${RETENTION_DAYS}d`;
    const pkg = await cli(log, ['evidence', '--since', since, '-o', 'retention.evidence.tar.gz']);
    assert.equal(pkg.code, 0, pkg.err);
    const ev = await cli(log, ['verify-evidence', 'retention.evidence.tar.gz', '--key', log.vkey, '--json']);
    assert.equal(ev.code, 0, ev.out);
    const s = (
      JSON.parse(ev.out) as {
        summary: {
          events: number;
          range: { from: number; to: number };
          tree_size: number;
          erased: { seq: number; by_seq: number }[];
        };
      }
    ).summary;
    assert.equal(s.range.to, s.tree_size);
    // Every entry of the window is disclosed; the one more in the range is the boundary before it,
    // an entry of the session 300 days ago.
    assert.equal(s.events, s.range.to - s.range.from - 1);
    assert.ok(s.range.from > old.seq && s.range.from < young.seq);
    assert.deepEqual(
      s.erased.map((e) => [e.seq, e.by_seq]),
      [[young.seq, purge.seq]],
    );

    // 4. No field purged before its time: the check finds the job's mistake, and only it.
    const check = await cli(log, ['check', '--retention', String(RETENTION_DAYS), '--json']);
    assert.equal(check.code, 1, check.out);
    const findings = (JSON.parse(check.out) as { findings: { rule: string; seq: number }[] }).findings;
    assert.deepEqual(
      findings.map((f) => [f.rule, f.seq]),
      [['retention_purged_early', young.seq]],
    );
    // Without the retention rule, the log is complete.
    assert.equal((await cli(log, ['check'])).code, 0);
  });
});
