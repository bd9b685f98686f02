import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RecordedEvent } from '../event/types.js';
import { ecsRecord, nativeRecord, ocsfRecord } from './format.js';
import { classify, retryAfterMs } from './sink.js';

const CTX = { hostname: 'h1', productVersion: '9.9.9' };

function recorded(over: Partial<RecordedEvent>): RecordedEvent {
  return {
    seq: 7,
    ts: '2026-12-05T10:00:00.500Z',
    leaf_hash: 'ab'.repeat(32),
    log: 'auditrail.local/t/acme/default',
    event_id: '01JX0000000000000000000000',
    type: 'policy.decision',
    actor: { type: 'agent', id: 'bot-1', name: 'Billing bot' },
    ...over,
  };
}

describe('OCSF mapping', () => {
  const cases: [
    string,
    Partial<RecordedEvent>,
    { action_id: number; disposition_id: number; status_id: number },
  ][] = [
    ['allow', { policy: { decision: 'allow' } }, { action_id: 1, disposition_id: 1, status_id: 1 }],
    ['deny', { policy: { decision: 'deny' } }, { action_id: 2, disposition_id: 2, status_id: 2 }],
    [
      'require_approval',
      { policy: { decision: 'require_approval' } },
      { action_id: 99, disposition_id: 14, status_id: 0 },
    ],
    [
      'approval granted',
      { type: 'approval.granted', approval: { decision: 'granted' } },
      { action_id: 1, disposition_id: 8, status_id: 1 },
    ],
    [
      'approval denied',
      { type: 'approval.denied', approval: { decision: 'denied' } },
      { action_id: 2, disposition_id: 25, status_id: 2 },
    ],
    [
      'blocked',
      { type: 'action.failed', outcome: { status: 'blocked' } },
      { action_id: 2, disposition_id: 2, status_id: 2 },
    ],
    [
      'failure',
      { type: 'action.failed', outcome: { status: 'failure' } },
      { action_id: 3, disposition_id: 27, status_id: 2 },
    ],
    [
      'success',
      { type: 'action.succeeded', outcome: { status: 'success' } },
      { action_id: 3, disposition_id: 17, status_id: 1 },
    ],
    ['no verdict', { type: 'action.intent' }, { action_id: 3, disposition_id: 17, status_id: 0 }],
  ];
  for (const [name, over, want] of cases)
    it(`maps ${name} to action ${want.action_id}, disposition ${want.disposition_id}, status ${want.status_id}`, () => {
      const r = ocsfRecord(recorded(over), CTX);
      assert.deepEqual(
        { action_id: r['action_id'], disposition_id: r['disposition_id'], status_id: r['status_id'] },
        want,
      );
    });

  it('maps risk to severity_id and keeps the whole event under unmapped', () => {
    const ids = (['low', 'medium', 'high', 'critical'] as const).map(
      (risk_level) => ocsfRecord(recorded({ risk_level }), CTX)['severity_id'],
    );
    assert.deepEqual(ids, [2, 3, 4, 5]);
    assert.equal(ocsfRecord(recorded({}), CTX)['severity_id'], 1);
    const e = recorded({ action: { type: 'write:refund', target: 'order/1' }, metadata: { x: 1 } });
    const r = ocsfRecord(e, CTX);
    assert.deepEqual((r['unmapped'] as { auditrail: unknown }).auditrail, nativeRecord(e));
    assert.deepEqual(r['api'], {
      operation: 'write:refund',
      service: { name: 'order/1' },
      request: { uid: e.event_id },
    });
    assert.equal(r['time'], Date.parse(e.ts));
  });

  it('puts a user actor under actor.user and an agent under app_name/app_uid', () => {
    const u = ocsfRecord(recorded({ actor: { type: 'user', id: 'u-1', name: 'alice' } }), CTX);
    assert.deepEqual(u['actor'], { user: { uid: 'u-1', name: 'alice', type_id: 1 } });
    const a = ocsfRecord(recorded({ session_id: 's-1' }), CTX);
    assert.deepEqual(a['actor'], { app_name: 'Billing bot', app_uid: 'bot-1', session: { uid: 's-1' } });
  });
});

describe('ECS mapping', () => {
  it('maps decision and outcome to event.type/outcome and risk to log.level', () => {
    const deny = ecsRecord(
      recorded({ policy: { decision: 'deny', matched_rule: 'r1', policy_id: 'p' }, risk_level: 'critical' }),
      CTX,
    );
    assert.deepEqual((deny['event'] as { type: string[] }).type, ['denied']);
    assert.equal((deny['event'] as { outcome: string }).outcome, 'failure');
    assert.equal((deny['log'] as { level: string }).level, 'error');
    assert.deepEqual(deny['rule'], { id: 'r1', name: 'r1', ruleset: 'p' });
    const done = ecsRecord(
      recorded({ type: 'action.succeeded', outcome: { status: 'success', duration_ms: 1.5 } }),
      CTX,
    );
    assert.deepEqual((done['event'] as { type: string[] }).type, ['end']);
    assert.equal((done['event'] as { duration: number }).duration, 1_500_000);
    const intent = ecsRecord(recorded({ type: 'action.intent', risk_level: 'low' }), CTX);
    assert.deepEqual((intent['event'] as { type: string[] }).type, ['start']);
    assert.equal((intent['event'] as { outcome: string }).outcome, 'unknown');
    assert.equal((intent['log'] as { level: string }).level, 'debug');
  });

  it('uses the producer time for @timestamp and the log time for event.created', () => {
    const r = ecsRecord(recorded({ time: '2026-12-05T09:59:59.000Z' }), CTX);
    assert.equal(r['@timestamp'], '2026-12-05T09:59:59.000Z');
    assert.equal((r['event'] as { created: string }).created, '2026-12-05T10:00:00.500Z');
  });
});

describe('receiver answers', () => {
  it('classifies statuses: 2xx ok, 408/429/5xx retry, other 4xx permanent', () => {
    assert.equal(classify(202, '', undefined).kind, 'ok');
    for (const s of [408, 429, 500, 503]) assert.equal(classify(s, '', undefined).kind, 'retry', String(s));
    for (const s of [400, 401, 403, 404, 413])
      assert.equal(classify(s, '', undefined).kind, 'permanent', String(s));
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    const now = Date.parse('2026-12-05T10:00:00Z');
    assert.equal(retryAfterMs('3', now), 3000);
    assert.equal(retryAfterMs('Sat, 05 Dec 2026 10:00:10 GMT', now), 10_000);
    assert.equal(retryAfterMs('soon', now), undefined);
    assert.equal(retryAfterMs(null, now), undefined);
  });
});
