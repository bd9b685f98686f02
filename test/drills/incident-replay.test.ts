// Drill 3 of seed 001, "Incident replay: reconstruct all decisions leading to an undesired
// outcome". The incident: the agent cancelled the wrong order and a monitor flagged it. The
// auditor starts from the anomaly, rebuilds the run's whole timeline (intent and reasoning, the
// decision and the rule behind it, execution, detection, undo), checks the log it comes from,
// packages the run as evidence, and replays the run's decisions under a corrected policy to show
// which change would have held the action.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DEMO_POLICY_YAML } from '../../src/cli/demo-session.js';
import { cli, field, logJson, recordDrillLog } from './drill.js';

describe('drill: incident replay of one run', () => {
  it('rebuilds the run that cancelled the wrong order, proves it, and replays it under a fix', async () => {
    const log = await recordDrillLog(2);

    // 1. The incident: the anomaly names the action and the run.
    const anomalies = await logJson(log, ['--type', 'anomaly.detected']);
    assert.equal(anomalies.length, 2);
    const anomaly = anomalies[0]!;
    assert.equal(anomaly.action?.type, 'write:cancel');
    assert.equal(field(anomaly, 'metadata.detector'), 'intent-drift');

    // 2. The run's timeline, in log order, each event linked to the intent or the outcome it follows.
    const run = await logJson(log, ['--run', anomaly.run_id!]);
    assert.deepEqual(
      run.map((e) => e.type),
      [
        'action.intent',
        'policy.decision',
        'action.dispatched',
        'action.succeeded',
        'anomaly.detected',
        'action.undone',
      ],
    );
    const [intent, decision, , succeeded, , undone] = run;
    assert.equal(new Set(run.map((e) => e.trace_id)).size, 1, 'one trace for the whole run');
    assert.equal(new Set(run.map((e) => e.session_id)).size, 1);
    for (const e of [decision, succeeded]) assert.equal(e!.parent_event_id, intent!.event_id);
    assert.equal(undone!.parent_event_id, succeeded!.event_id, 'the undo names the outcome it reverses');
    assert.ok(run.every((e, i) => i === 0 || e.seq > run[i - 1]!.seq));
    // Why it happened: the agent's reasoning, and the rule that let it through.
    assert.match(String(field(intent, 'context.reasoning')), /Cancel the duplicate order/);
    assert.equal(field(decision, 'policy.decision'), 'allow');
    assert.equal(field(decision, 'policy.matched_rule'), 'allow-cancel-unshipped');
    assert.equal(field(decision, 'policy.reason'), 'unshipped orders may be cancelled');
    assert.equal(succeeded!.action?.target, anomaly.action?.target);
    assert.equal(field(undone, 'outcome.status'), 'success');
    // No other decision in the run: this one rule is the whole causal chain.
    assert.equal(run.filter((e) => e.type === 'policy.decision').length, 1);

    // 3. The log it comes from verifies, and the run's package verifies offline.
    const verify = await cli(log, ['verify', '--json', '--key', log.vkey]);
    assert.equal(verify.code, 0, verify.out + verify.err);
    const pkg = await cli(log, ['evidence', '--run', anomaly.run_id!, '-o', 'incident.evidence.tar.gz']);
    assert.equal(pkg.code, 0, pkg.err);
    const v = await cli(log, ['verify-evidence', 'incident.evidence.tar.gz', '--key', log.vkey, '--json']);
    assert.equal(v.code, 0, v.out);
    assert.equal((JSON.parse(v.out) as { summary: { events: number } }).summary.events, run.length);

    // 4. The fix: cancels need a lead's approval. Replaying the recorded decisions under it shows
    // the incident's decision would have been held, and no other decision changes.
    const fixed = DEMO_POLICY_YAML.replace('version: 7', 'version: 8').replace(
      "match: { action: 'write:cancel', target: 'order/*' }\n    effect: allow",
      "match: { action: 'write:cancel', target: 'order/*' }\n    effect: require_approval\n    approvers: [maria.chen]",
    );
    assert.notEqual(fixed, DEMO_POLICY_YAML);
    writeFileSync(join(log.dir, 'fixed.yaml'), fixed);
    const replay = await cli(log, ['policy', 'test', join(log.dir, 'fixed.yaml'), '--since', '1h', '--json']);
    assert.equal(replay.code, 0, replay.err);
    const report = JSON.parse(replay.out) as {
      transitions: Record<string, number>;
      changes: { seq: number; action: string; from: string; to: string }[];
    };
    assert.deepEqual(report.transitions, { 'allow -> require_approval': 2 });
    assert.ok(report.changes.some((c) => c.seq === decision!.seq && c.action === 'write:cancel'));
  });
});
