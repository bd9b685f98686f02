import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RecordedEvent } from '../../event/types.js';
import { alertOf } from './alert.js';
import { anomalyOf, resolutionOf, MAX_SEQS } from './anomaly.js';
import { pagerDutyEvent } from './channels/pagerduty.js';
import { slackEscape, slackMessage } from './channels/slack.js';
import { emailMessage } from './channels/email.js';

function event(metadata: Record<string, unknown>, type = 'anomaly.detected'): RecordedEvent {
  return {
    type: type as RecordedEvent['type'],
    actor: { type: 'system', id: 'auditrail-detect' },
    risk_level: 'critical',
    run_id: 'run-1',
    metadata,
    event_id: 'e1',
    seq: 42,
    ts: '2026-12-05T10:00:00.000Z',
    leaf_hash: 'x',
    log: 'auditrail.local/t/acme/default',
  };
}

describe('anomaly events as alerts read them', () => {
  it('reads the fields, bounds what the log holds, and skips what lacks an id, detector or agent', () => {
    const seqs = Array.from({ length: 500 }, (_, i) => i);
    const a = anomalyOf(
      event({
        anomaly: {
          id: 'an-1',
          detector: 'd',
          agent_id: 'bot',
          score: 4,
          threshold: 2,
          seqs: [...seqs, -1, 1.5, 'x'],
          summary: 'y'.repeat(5000),
        },
      }),
    )!;
    assert.equal(a.seqs.length, MAX_SEQS);
    assert.equal(a.summary.length, 1000);
    assert.equal(a.risk_level, 'critical');
    assert.equal(a.run_id, 'run-1');
    assert.equal(anomalyOf(event({ anomaly: { id: 'an-1', detector: 'd' } })), null);
    assert.equal(anomalyOf(event({ anomaly: 'x' })), null);
    assert.equal(
      resolutionOf(event({ anomaly_id: 'an-1', by: 'alice', reason: 'ok' }, 'anomaly.resolved'))?.by,
      'alice',
    );
    assert.equal(resolutionOf(event({}, 'anomaly.resolved')), null);
  });

  it('Slack text is escaped, so an agent id cannot open a link; PagerDuty maps risk to severity', () => {
    assert.equal(slackEscape('<https://evil|click> & co'), '&lt;https://evil|click&gt; &amp; co');
    const a = anomalyOf(
      event({
        anomaly: {
          id: 'an-2',
          detector: 'd',
          agent_id: '<https://evil|x>',
          score: 1,
          threshold: 0.5,
          seqs: [7],
        },
      }),
    )!;
    const alert = alertOf(a, 'log', 'https://dash');
    const msg = slackMessage(alert);
    // Every mrkdwn text (all but the plain_text header) and the fallback text are escaped.
    const text = JSON.stringify(msg.blocks.slice(1));
    assert.ok(!text.includes('<https://evil'));
    assert.ok(!msg.text.includes('<https://evil'));
    assert.ok(text.includes('<https://dash/runs/run-1|Run timeline>'));
    const pd = pagerDutyEvent(alert, 'k'.repeat(32));
    assert.equal((pd['payload'] as Record<string, unknown>)['severity'], 'critical');
    assert.equal(pd['dedup_key'], 'an-2');
    const r = resolutionOf(event({ anomaly_id: 'an-2', by: 'bob', reason: 'fine' }, 'anomaly.resolved'))!;
    assert.deepEqual(pagerDutyEvent(alertOf(a, 'log', undefined, r), 'k'), {
      routing_key: 'k',
      event_action: 'resolve',
      dedup_key: 'an-2',
    });
  });

  it('an e-mail subject never carries a line break', () => {
    const a = anomalyOf(
      event({ anomaly: { id: 'an-3', detector: 'd\r\nBcc: x@y', agent_id: 'bot', seqs: [] } }),
    )!;
    assert.doesNotMatch(emailMessage(alertOf(a, 'log', undefined)).subject, /[\r\n]/);
  });
});
