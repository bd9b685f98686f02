import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LOOPBACK, openModeServer } from '../test-helpers.js';
import { acknowledgeAnomaly, defaultDetectConfig, DetectRunner, resolveAnomaly } from '../../detect/index.js';

const T0 = Date.UTC(2026, 0, 5, 9);

describe('dashboard anomalies page', () => {
  it('lists the anomalies with their state, a link to the run timeline and to each triggering event', async () => {
    const app = await openModeServer();
    try {
      const empty = await app.inject({ method: 'GET', url: '/anomalies', headers: LOOPBACK });
      assert.equal(empty.statusCode, 200);
      assert.match(empty.body, /No +anomalies\./);
      const trail = await app.auditrail.trail('acme');
      const actor = { type: 'agent' as const, id: '<img/src=x>' };
      await trail.recordBatch([
        {
          type: 'action.intent',
          time: new Date(T0).toISOString(),
          actor,
          run_id: 'run-9',
          action: { type: 'read:customer', target: 'customer/1' },
          context: { data_classification: 'pii' },
        },
        {
          type: 'action.intent',
          time: new Date(T0 + 1000).toISOString(),
          actor,
          run_id: 'run-9',
          action: { type: 'net.http.post', target: 'https://x.example' },
        },
      ]);
      const r = await new DetectRunner(trail, defaultDetectConfig()).run();
      assert.equal(r.anomalies, 1);
      const page = await app.inject({ method: 'GET', url: '/anomalies', headers: LOOPBACK });
      assert.equal(page.statusCode, 200);
      assert.match(page.body, /<a href="\/anomalies">Anomalies<\/a>/, 'in the navigation');
      assert.match(page.body, /<code>exfiltration<\/code>/);
      assert.match(page.body, /href="\/runs\/run-9">timeline<\/a>/);
      assert.match(page.body, /href="\/events\/0">0<\/a>, <a href="\/events\/1">1<\/a>/);
      assert.ok(!page.body.includes('<img/src=x>'), 'the agent id is escaped');
      assert.match(page.body, /&lt;img\/src=x&gt;/);
      assert.match(page.body, /b-pending">open</);

      const id = `exfiltration:<img/src=x>:${new Date(T0).toISOString()}`;
      // The review form posts as the signed-in principal, with the page's CSRF token.
      const csrf = /name="_csrf" value="([^"]+)"/.exec(page.body)![1]!;
      const set = page.headers['set-cookie'];
      const cookie = (Array.isArray(set) ? set : set ? [set] : []).map((c) => c.split(';')[0]).join('; ');
      const post = (form: Record<string, string>) =>
        app.inject({
          method: 'POST',
          url: '/anomalies/review',
          headers: { ...LOOPBACK, cookie, 'content-type': 'application/x-www-form-urlencoded' },
          payload: new URLSearchParams(form).toString(),
        });
      const forged = await post({ _csrf: 'nope', id, step: 'ack', reason: 'x' });
      assert.equal(forged.statusCode, 403);
      const noReason = await post({ _csrf: csrf, id, step: 'ack', reason: ' ' });
      assert.equal(noReason.statusCode, 400);
      assert.match(noReason.body, /a reason is required/);
      const ok = await post({ _csrf: csrf, id, step: 'ack', reason: 'checking the upload' });
      assert.equal(ok.statusCode, 303, ok.body);
      const reviewed = await app.inject({
        method: 'GET',
        url: '/anomalies?state=acknowledged',
        headers: LOOPBACK,
      });
      assert.match(reviewed.body, /acknowledged by local-user: checking the upload/);
      await acknowledgeAnomaly(trail, id, 'alice', 'on it').then(
        () => assert.fail('a second acknowledgement is refused'),
        (e: Error) => assert.match(e.message, /already acknowledged/),
      );
      await resolveAnomaly(trail, id, 'alice', 'on it');
      const open = await app.inject({ method: 'GET', url: '/anomalies?state=open', headers: LOOPBACK });
      assert.doesNotMatch(open.body, /<code>exfiltration<\/code>/);
      const resolved = await app.inject({
        method: 'GET',
        url: '/anomalies?state=resolved',
        headers: LOOPBACK,
      });
      assert.match(resolved.body, /resolved by alice: on it/);
      assert.doesNotMatch(resolved.body, /action="\/anomalies\/review"/, 'nothing left to review');
      const bad = await app.inject({ method: 'GET', url: '/anomalies?state=closed', headers: LOOPBACK });
      assert.equal(bad.statusCode, 400);
      assert.match(bad.body, /state: must be one of open, acknowledged, resolved/);
    } finally {
      await app.close();
    }
  });
});
