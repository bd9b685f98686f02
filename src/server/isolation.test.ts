// Tenant isolation: every route of the OpenAPI document, called with tenant A's key (all scopes)
// against tenant B's identifiers, answers 403/404 (or A's own data), never shows anything of B,
// and writes nothing to B's log or approvals.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { sampleEvent, testServer, type TestServer } from './test-helpers.js';

let s: TestServer;
after(async () => {
  await s.app.close();
});

describe('tenant isolation', () => {
  it('walks every route with tenant A against tenant B: 403/404, nothing leaked, nothing written', async () => {
    s = await testServer();
    const A = s.keys.a!;
    const B = s.keys.b!;
    // Tenant B's data: many events (seqs A does not have), a run, a session, a held action.
    const secret = 'globex-secret-evt';
    const recorded = await s.call(B, {
      method: 'POST',
      url: '/v1/events',
      payload: Array.from({ length: 40 }, (_, i) =>
        sampleEvent(i, { event_id: `${secret}-${i}`, run_id: 'globex-run', session_id: 'globex-session' }),
      ),
    });
    assert.equal(recorded.statusCode, 201);
    const held = (
      await s.call(B, {
        method: 'POST',
        url: '/v1/decide',
        payload: {
          actor: { type: 'agent', id: 'globex-agent' },
          action: { type: 'write:refund', target: 'globex/1' },
        },
      })
    ).json();
    const approvalId = held.approval.id as string;
    const intentId = held.intent_event_id as string;
    await s.call(B, { method: 'GET', url: '/v1/proofs/bundle/39' }); // signs a checkpoint of B
    const bBefore = (await s.call(B, { method: 'POST', url: '/v1/verify' })).json();
    const bApprovals = JSON.stringify(
      (await s.call(B, { method: 'GET', url: '/v1/approvals?status=all' })).json(),
    );
    const hi = 40;

    const walk: Record<string, { method: string; url: string; payload?: unknown; ok: number[] }[]> = {
      'post /v1/events': [
        { method: 'POST', url: '/v1/events', payload: sampleEvent(0, { tenant: 'globex' }), ok: [422] },
      ],
      'get /v1/events': [{ method: 'GET', url: '/v1/events?run_id=globex-run', ok: [200] }],
      'get /v1/events/count': [{ method: 'GET', url: '/v1/events/count?run_id=globex-run', ok: [200] }],
      'get /v1/events/{seq}': [{ method: 'GET', url: `/v1/events/${hi}`, ok: [404] }],
      'get /v1/events/by-id/{event_id}': [{ method: 'GET', url: `/v1/events/by-id/${secret}-1`, ok: [404] }],
      'get /v1/runs/{run_id}/timeline': [{ method: 'GET', url: '/v1/runs/globex-run/timeline', ok: [404] }],
      'get /v1/sessions/{session_id}/timeline': [
        { method: 'GET', url: '/v1/sessions/globex-session/timeline', ok: [404] },
      ],
      'post /v1/decide': [
        {
          method: 'POST',
          url: '/v1/decide',
          payload: {
            actor: { type: 'agent', id: 'a' },
            action: { type: 'read:x' },
            session_id: 'globex-session',
          },
          ok: [200],
        },
      ],
      'post /v1/actions/{intent_event_id}/outcome': [
        { method: 'POST', url: `/v1/actions/${intentId}/outcome`, payload: { status: 'success' }, ok: [404] },
      ],
      'get /v1/approvals': [{ method: 'GET', url: '/v1/approvals?status=all', ok: [200] }],
      'get /v1/approvals/{id}': [{ method: 'GET', url: `/v1/approvals/${approvalId}?wait=1s`, ok: [404] }],
      'post /v1/approvals/{id}/approve': [
        { method: 'POST', url: `/v1/approvals/${approvalId}/approve`, payload: {}, ok: [404] },
      ],
      'post /v1/approvals/{id}/deny': [
        { method: 'POST', url: `/v1/approvals/${approvalId}/deny`, payload: {}, ok: [404] },
      ],
      'get /checkpoint': [{ method: 'GET', url: '/checkpoint', ok: [200, 404] }],
      'get /tile/{L}/{N}': [{ method: 'GET', url: '/tile/0/000.p/40', ok: [404] }],
      'get /tile/entries/{N}': [{ method: 'GET', url: '/tile/entries/000.p/40', ok: [404] }],
      'get /v1/proofs/inclusion': [{ method: 'GET', url: `/v1/proofs/inclusion?seq=${hi}`, ok: [404] }],
      'get /v1/proofs/consistency': [
        { method: 'GET', url: `/v1/proofs/consistency?from=1&to=${hi + 1}`, ok: [400] },
      ],
      'get /v1/proofs/bundle/{seq}': [{ method: 'GET', url: `/v1/proofs/bundle/${hi}`, ok: [404] }],
      'post /v1/verify': [{ method: 'POST', url: '/v1/verify', ok: [200] }],
      'get /healthz': [{ method: 'GET', url: '/healthz', ok: [200] }],
      'get /readyz': [{ method: 'GET', url: '/readyz', ok: [200] }],
      'get /metrics': [{ method: 'GET', url: '/metrics', ok: [200] }],
      'get /openapi.json': [{ method: 'GET', url: '/openapi.json', ok: [200] }],
    };
    const doc = (await s.call(null, { method: 'GET', url: '/openapi.json' })).json();
    const routes = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([p, ops]) =>
      Object.keys(ops).map((m) => `${m} ${p}`),
    );
    assert.deepEqual(
      routes.filter((r) => !(r in walk)),
      [],
      'every route is walked',
    );

    for (const [route, calls] of Object.entries(walk)) {
      for (const c of calls) {
        const r = await s.call(A, {
          method: c.method,
          url: c.url,
          ...(c.payload !== undefined ? { payload: c.payload as object } : {}),
        });
        assert.ok(c.ok.includes(r.statusCode), `${route}: ${r.statusCode} ${r.body.slice(0, 300)}`);
        assert.ok(r.statusCode < 500, route);
        for (const leak of [secret, 'globex', approvalId, intentId]) {
          if (route === 'get /openapi.json') continue;
          assert.ok(!r.body.includes(leak), `${route} leaked ${leak}: ${r.body.slice(0, 300)}`);
        }
      }
    }
    // Nothing of B changed.
    const bAfter = (await s.call(B, { method: 'POST', url: '/v1/verify' })).json();
    assert.equal(bAfter.size, bBefore.size);
    assert.equal(bAfter.root, bBefore.root);
    assert.equal(
      JSON.stringify((await s.call(B, { method: 'GET', url: '/v1/approvals?status=all' })).json()),
      bApprovals,
    );
  });
});
