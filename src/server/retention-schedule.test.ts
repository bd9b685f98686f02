import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { openAuditTrail, parsePrivacyConfig, type RetentionApplyReport } from '../index.js';
import { MemoryStore } from '../testing/index.js';
import { RetentionScheduler } from './retention-schedule.js';

describe('retention on a schedule', () => {
  it('applies the policy at its cron time to each tenant, then again without purging twice', async () => {
    const clock = { t: Date.parse('2019-01-01T00:00:00Z') };
    const trail = await openAuditTrail({
      tenant: 'acme',
      store: new MemoryStore(),
      now: () => clock.t,
      checkpointIntervalMs: 0,
    });
    for (let i = 0; i < 5; i++)
      await trail.record({
        type: 'action.succeeded',
        actor: { type: 'agent', id: 'bot' },
        outcome: { status: 'success', result: { secret: `r-${i}` } },
      });
    clock.t = Date.parse('2026-12-01T00:00:00Z');
    const policy = parsePrivacyConfig(
      'retention:\n  schedule: "* * * * * *"\n  rules:\n    - keep: 1y\n      purge: disclosures\n',
    ).retention!;
    const runs: RetentionApplyReport[] = [];
    const errors: unknown[] = [];
    const scheduler = new RetentionScheduler({
      policy: { ...policy, schedule: policy.schedule! },
      tenants: () => Promise.resolve(['acme']),
      trail: () => Promise.resolve(trail),
      onRun: (_t, r) => runs.push(r),
      onError: (_t, e) => errors.push(e),
    });
    scheduler.start();
    const deadline = Date.now() + 10_000;
    while (runs.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    await scheduler.stop();
    assert.deepEqual(errors, []);
    assert.ok(runs.length >= 2, `runs: ${runs.length}`);
    assert.equal(runs[0]!.total.events, 5);
    assert.equal(runs[0]!.purge_events.length, 1);
    assert.equal(runs[1]!.total.events, 0, 'the second run finds nothing left');
    const purge = await trail.get(runs[0]!.purge_events[0]!);
    assert.equal(purge?.actor.id, 'auditrail-serve');
    assert.equal((await trail.get(0))?.outcome?.result, undefined);
    await trail.close();
  });
});
