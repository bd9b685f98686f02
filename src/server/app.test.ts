/* eslint-disable @typescript-eslint/no-unsafe-call -- inject().json() is untyped */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { verifyProofBundle } from '../core/proof-bundle.js';
import { sampleEvent, testServer, type TestServer } from './test-helpers.js';

const servers: TestServer[] = [];
async function server(): Promise<TestServer> {
  const s = await testServer();
  servers.push(s);
  return s;
}
after(async () => {
  for (const s of servers) await s.app.close();
});

describe('POST /v1/events', () => {
  it('records one event and a batch, after commit, with receipts', async () => {
    const s = await server();
    const one = await s.call(s.keys.a!, { method: 'POST', url: '/v1/events', payload: sampleEvent(0) });
    assert.equal(one.statusCode, 201, one.body);
    const r = one.json();
    assert.equal(r.receipts.length, 1);
    assert.match(r.receipts[0].leaf_hash, /^[0-9a-f]{64}$/);
    const batch = await s.call(s.keys.a!, {
      method: 'POST',
      url: '/v1/events',
      payload: [sampleEvent(1), sampleEvent(2)],
    });
    assert.equal(batch.statusCode, 201);
    assert.deepEqual(
      batch.json().receipts.map((x: { seq: number }) => x.seq),
      [2, 3].map((n) => n + 2), // the keys' four key.created events come first
    );
  });

  it('rejects a whole batch when one event is invalid, naming index, field and rule', async () => {
    const s = await server();
    const before = await s.call(s.keys.a!, { method: 'GET', url: '/v1/events?limit=1000' });
    const bad = await s.call(s.keys.a!, {
      method: 'POST',
      url: '/v1/events',
      payload: [sampleEvent(1), { ...sampleEvent(2), actor: { type: 'robot', id: 'x' } }],
    });
    assert.equal(bad.statusCode, 422);
    assert.match(bad.headers['content-type'] as string, /^application\/problem\+json/);
    const p = bad.json();
    assert.equal(p.type, 'https://auditrail.dev/problems/invalid_event');
    assert.deepEqual(
      { index: p.errors[0].index, field: p.errors[0].field, rule: p.errors[0].rule },
      { index: 1, field: '/actor/type', rule: 'enum' },
    );
    const afterList = await s.call(s.keys.a!, { method: 'GET', url: '/v1/events?limit=1000' });
    assert.equal(afterList.json().events.length, before.json().events.length);
  });

  it('returns the original receipt for a re-sent event_id', async () => {
    const s = await server();
    const e = sampleEvent(5, { event_id: 'evt-resend-1' });
    const first = await s.call(s.keys.a!, { method: 'POST', url: '/v1/events', payload: e });
    const again = await s.call(s.keys.a!, { method: 'POST', url: '/v1/events', payload: e });
    assert.equal(first.statusCode, 201);
    assert.equal(again.statusCode, 200);
    assert.deepEqual(again.json().receipts, first.json().receipts);
  });

  it('records the types the log acts on (holds, erasures, keys, anomalies, responses) only with an admin key', async () => {
    const s = await server();
    const ingest = (
      await s.app.auditrail.createKey({ tenant: 'acme', name: 'agent-key', scopes: ['ingest', 'read'] })
    ).key;
    const count = async (): Promise<number> =>
      (await s.call(s.keys.a!, { method: 'GET', url: '/v1/events/count' })).json().count as number;
    const before = await count();
    const lift = {
      type: 'response.reverted',
      actor: { type: 'agent', id: 'support-bot' },
      metadata: { response_id: 'rsp_0123456789abcdef01234567', reason: 'let me out' },
    };
    for (const type of [
      'response.reverted',
      'hold.released',
      'data.erased',
      'anomaly.resolved',
      'key.added',
    ]) {
      const r = await s.call(ingest, {
        method: 'POST',
        url: '/v1/events',
        payload: [sampleEvent(1), { ...lift, type }],
      });
      assert.equal(r.statusCode, 403, type);
      assert.match(
        r.json().detail,
        new RegExp(
          `event 1: type ${type.replace('.', '\\.')} .*admin scope; nothing of the batch was stored`,
        ),
      );
    }
    assert.equal(await count(), before);
    // Ordinary events go through with the same key; the admin key may record the others.
    assert.equal(
      (await s.call(ingest, { method: 'POST', url: '/v1/events', payload: sampleEvent(2) })).statusCode,
      201,
    );
    const admin = await s.call(s.keys.a!, {
      method: 'POST',
      url: '/v1/events',
      payload: { ...lift, type: 'anomaly.resolved' },
    });
    assert.equal(admin.statusCode, 201, admin.body);
  });

  it('refuses more than 1000 events, non-JSON and duplicate members', async () => {
    const s = await server();
    const many = Array.from({ length: 1001 }, (_, i) => sampleEvent(i));
    assert.equal(
      (await s.call(s.keys.a!, { method: 'POST', url: '/v1/events', payload: many })).statusCode,
      400,
    );
    const text = await s.call(s.keys.a!, {
      method: 'POST',
      url: '/v1/events',
      headers: { 'content-type': 'text/plain' },
      payload: 'hello',
    });
    assert.equal(text.statusCode, 415);
    const dup = await s.call(s.keys.a!, {
      method: 'POST',
      url: '/v1/events',
      headers: { 'content-type': 'application/json' },
      payload: '{"type":"action.intent","type":"x.y","actor":{"type":"agent","id":"a"}}',
    });
    assert.equal(dup.statusCode, 400);
    assert.match(dup.json().detail, /duplicate member "type"/);
  });
});

describe('reads', () => {
  it('lists with filters and a cursor + Link header, gets by seq and id, groups a timeline', async () => {
    const s = await server();
    await s.call(s.keys.a!, {
      method: 'POST',
      url: '/v1/events',
      payload: Array.from({ length: 5 }, (_, i) => sampleEvent(i, { event_id: `e-${i}` })),
    });
    const page = await s.call(s.keys.a!, { method: 'GET', url: '/v1/events?run_id=run-1&limit=2' });
    assert.equal(page.statusCode, 200);
    assert.equal(page.json().events.length, 2);
    assert.match(
      page.headers['link'] as string,
      /^<\/v1\/events\?run_id=run-1&limit=2&cursor=a\d+>; rel="next"$/,
    );
    const next = await s.call(s.keys.a!, {
      method: 'GET',
      url: `/v1/events?run_id=run-1&limit=2&cursor=${page.json().next_cursor}`,
    });
    assert.equal(next.json().events[0].event_id, 'e-2');
    const bySeq = await s.call(s.keys.a!, { method: 'GET', url: `/v1/events/${page.json().events[0].seq}` });
    assert.equal(bySeq.json().event_id, 'e-0');
    const byId = await s.call(s.keys.a!, { method: 'GET', url: '/v1/events/by-id/e-3' });
    assert.equal(byId.json().action.target, 'order/3');
    const timeline = await s.call(s.keys.a!, { method: 'GET', url: '/v1/runs/run-1/timeline' });
    assert.equal(timeline.json().events.length, 5);
    assert.equal(timeline.json().actions.length, 5);
    const unknownFilter = await s.call(s.keys.a!, { method: 'GET', url: '/v1/events?sesion_id=x' });
    assert.equal(unknownFilter.statusCode, 400);
  });
});

describe('governance', () => {
  it('decides, holds for approval by the authenticated principal, and records the outcome', async () => {
    const s = await server();
    const allow = await s.call(s.keys.a!, {
      method: 'POST',
      url: '/v1/decide',
      payload: {
        actor: { type: 'agent', id: 'bot' },
        action: { type: 'read:order', target: 'order/1' },
        run_id: 'r-9',
      },
    });
    assert.equal(allow.statusCode, 200, allow.body);
    assert.equal(allow.json().decision, 'allow');
    const out = await s.call(s.keys.a!, {
      method: 'POST',
      url: `/v1/actions/${allow.json().intent_event_id}/outcome`,
      payload: { status: 'success', duration_ms: 4 },
    });
    assert.equal(out.statusCode, 201, out.body);

    const held = await s.call(s.keys.a!, {
      method: 'POST',
      url: '/v1/decide',
      payload: {
        actor: { type: 'agent', id: 'bot' },
        action: { type: 'write:refund', target: 'order/2', params: { amount: 5 } },
        run_id: 'r-9',
      },
    });
    assert.equal(held.json().decision, 'require_approval');
    const id = held.json().approval.id as string;
    // Not granted yet: the outcome is refused.
    const early = await s.call(s.keys.a!, {
      method: 'POST',
      url: `/v1/actions/${held.json().intent_event_id}/outcome`,
      payload: { status: 'success' },
    });
    assert.equal(early.statusCode, 409);
    const pending = await s.call(s.keys.finance!, { method: 'GET', url: '/v1/approvals?status=pending' });
    assert.deepEqual(
      pending.json().approvals.map((a: { id: string }) => a.id),
      [id],
    );
    // The acme-bot key is not a named approver; a body cannot name someone else.
    const wrong = await s.call(s.keys.a!, {
      method: 'POST',
      url: `/v1/approvals/${id}/approve`,
      payload: {},
    });
    assert.equal(wrong.statusCode, 403);
    const spoof = await s.call(s.keys.a!, {
      method: 'POST',
      url: `/v1/approvals/${id}/approve`,
      payload: { as: 'finance-lead' },
    });
    assert.equal(spoof.statusCode, 400);
    const poll = s.call(s.keys.a!, { method: 'GET', url: `/v1/approvals/${id}?wait=10s` });
    const ok = await s.call(s.keys.finance!, {
      method: 'POST',
      url: `/v1/approvals/${id}/approve`,
      payload: { reason: 'checked' },
    });
    assert.equal(ok.statusCode, 200, ok.body);
    assert.equal(ok.json().decided_by, 'finance-lead');
    const polled = await poll;
    assert.equal(polled.json().status, 'granted');
    const done = await s.call(s.keys.a!, {
      method: 'POST',
      url: `/v1/actions/${held.json().intent_event_id}/outcome`,
      payload: { status: 'success' },
    });
    assert.equal(done.statusCode, 201, done.body);
    const timeline = (await s.call(s.keys.a!, { method: 'GET', url: '/v1/runs/r-9/timeline' })).json();
    const refund = timeline.actions.find(
      (a: { action: { type: string } }) => a.action.type === 'write:refund',
    );
    assert.equal(refund.decision.policy.decision, 'require_approval');
    assert.deepEqual(
      refund.approvals.map((e: { type: string }) => e.type),
      ['approval.requested', 'approval.granted'],
    );
    assert.equal(refund.approvals[1].approval.approver, 'finance-lead');
    assert.deepEqual(
      refund.outcomes.map((e: { type: string }) => e.type),
      ['action.succeeded'],
    );
  });
});

describe('governance at scale', () => {
  it('finds each decision of many concurrent actions by a point lookup, and records the policy once', async () => {
    const s = await server();
    let queries = 0;
    const query = s.store.query.bind(s.store);
    s.store.query = (...args: Parameters<typeof query>) => {
      queries++;
      return query(...args);
    };
    const decide = (i: number) =>
      s.call(s.keys.a!, {
        method: 'POST',
        url: '/v1/decide',
        payload: {
          actor: { type: 'agent', id: `bot-${i % 4}` },
          action: { type: 'read:order', target: `order/${i}` },
          run_id: `r-${i % 3}`,
        },
      });
    // Decisions interleaved with batches of other events, all at once.
    const [decisions] = await Promise.all([
      Promise.all(Array.from({ length: 60 }, (_, i) => decide(i))),
      Promise.all(
        Array.from({ length: 5 }, (_, b) =>
          s.call(s.keys.a!, {
            method: 'POST',
            url: '/v1/events',
            payload: Array.from({ length: 20 }, (_, i) => sampleEvent(b * 20 + i)),
          }),
        ),
      ),
    ]);
    const before = queries;
    for (const [i, d] of decisions.entries()) {
      assert.equal(d.statusCode, 200, d.body);
      const out = await s.call(s.keys.a!, {
        method: 'POST',
        url: `/v1/actions/${d.json().intent_event_id}/outcome`,
        payload: { status: 'success' },
      });
      assert.equal(out.statusCode, 201, out.body);
      const outcome = (
        await s.call(s.keys.a!, { method: 'GET', url: `/v1/events/by-id/${out.json().event_id}` })
      ).json();
      assert.equal(outcome.parent_event_id, d.json().intent_event_id);
      assert.equal(outcome.actor.id, `bot-${i % 4}`, "the outcome names its own request's actor");
      assert.equal(outcome.run_id, `r-${i % 3}`);
    }
    assert.equal(queries, before, 'no query scan to find a decision');
    const count = await s.call(s.keys.a!, { method: 'GET', url: '/v1/events/count?type=policy.updated' });
    assert.deepEqual(count.json(), { count: 1 }, 'one policy.updated for all requests');
    const intents = await s.call(s.keys.a!, {
      method: 'GET',
      url: '/v1/events/count?type=action.intent&actor_id=bot-1&run_id=r-1',
    });
    // i ≡ 1 (mod 4) and i ≡ 1 (mod 3): i ≡ 1 (mod 12), 5 of 0..59; no ingested event has actor bot-1.
    assert.deepEqual(intents.json(), { count: 5 });
  });

  it('refuses a whole batch that reuses an event_id for other content, in the log or within the batch', async () => {
    const s = await server();
    const first = await s.call(s.keys.a!, {
      method: 'POST',
      url: '/v1/events',
      payload: sampleEvent(1, { event_id: 'kept', time: '2026-01-01T00:00:00Z' }),
    });
    assert.equal(first.statusCode, 201, first.body);
    const size = async () =>
      (await s.call(s.keys.a!, { method: 'GET', url: '/v1/events/count' })).json<{ count: number }>().count;
    const before = await size();
    const reused = await s.call(s.keys.a!, {
      method: 'POST',
      url: '/v1/events',
      payload: [
        sampleEvent(2, { event_id: 'new-1' }),
        sampleEvent(99, { event_id: 'kept', time: '2026-01-01T00:00:00Z' }),
      ],
    });
    assert.equal(reused.statusCode, 409, reused.body);
    assert.match(
      reused.json().detail,
      /event 1: event_id kept was already recorded at seq \d+ with different content/,
    );
    const twice = await s.call(s.keys.a!, {
      method: 'POST',
      url: '/v1/events',
      payload: [sampleEvent(3, { event_id: 'twin' }), sampleEvent(4, { event_id: 'twin' })],
    });
    assert.equal(twice.statusCode, 409, twice.body);
    assert.match(twice.json().detail, /earlier in this batch/);
    assert.equal(await size(), before, 'nothing of either batch was stored');
    // The same content again is a re-send: the original receipt.
    const again = await s.call(s.keys.a!, {
      method: 'POST',
      url: '/v1/events',
      payload: [sampleEvent(1, { event_id: 'kept', time: '2026-01-01T00:00:00Z' })],
    });
    assert.equal(again.statusCode, 200, again.body);
    assert.deepEqual(again.json().receipts[0], first.json().receipts[0]);
  });

  it('refuses an outcome for an intent recorded without a decision', async () => {
    const s = await server();
    const r = await s.call(s.keys.a!, {
      method: 'POST',
      url: '/v1/events',
      payload: [sampleEvent(1, { event_id: 'lonely-intent' }), sampleEvent(2)],
    });
    assert.equal(r.statusCode, 201, r.body);
    const out = await s.call(s.keys.a!, {
      method: 'POST',
      url: '/v1/actions/lonely-intent/outcome',
      payload: { status: 'success' },
    });
    assert.equal(out.statusCode, 409, out.body);
    assert.match(out.json().detail, /no recorded decision/);
  });

  it('counts with the filters of the list route and refuses its paging parameters', async () => {
    const s = await server();
    await s.call(s.keys.a!, {
      method: 'POST',
      url: '/v1/events',
      payload: Array.from({ length: 7 }, (_, i) => sampleEvent(i, { run_id: i < 3 ? 'x' : 'y' })),
    });
    const y = await s.call(s.keys.readonly!, { method: 'GET', url: '/v1/events/count?run_id=y' });
    assert.deepEqual(y.json(), { count: 4 });
    const paged = await s.call(s.keys.a!, { method: 'GET', url: '/v1/events/count?limit=2' });
    assert.equal(paged.statusCode, 400);
    const other = await s.call(s.keys.b!, { method: 'GET', url: '/v1/events/count?run_id=y' });
    assert.deepEqual(other.json(), { count: 0 }, "another tenant's key counts its own log");
  });
});

describe('transparency reads', () => {
  it('serves the checkpoint, tiles, entry bundles and proofs that verify', async () => {
    const s = await server();
    await s.call(s.keys.a!, {
      method: 'POST',
      url: '/v1/events',
      payload: Array.from({ length: 6 }, (_, i) => sampleEvent(i)),
    });
    const bundle = await s.call(s.keys.a!, { method: 'GET', url: '/v1/proofs/bundle/5' });
    assert.equal(bundle.statusCode, 200, bundle.body);
    assert.equal(verifyProofBundle(bundle.json()).ok, true);
    const cp = await s.call(s.keys.a!, { method: 'GET', url: '/checkpoint' });
    assert.match(cp.headers['content-type'] as string, /^text\/plain/);
    const size = Number(cp.body.split('\n')[1]);
    assert.ok(size >= 6);
    const tile = await s.call(s.keys.a!, { method: 'GET', url: `/tile/0/000.p/${size}` });
    assert.equal(tile.statusCode, 200);
    assert.equal(tile.rawPayload.length, size * 32);
    // The level-0 partial tile is read from the entries (not stored): their leaf hashes, in order.
    const listed = await s.call(s.keys.a!, { method: 'GET', url: '/v1/events?limit=1000' });
    const hashes = (listed.json().events as { seq: number; leaf_hash: string }[])
      .filter((e) => e.seq < size)
      .sort((a, b) => a.seq - b.seq)
      .map((e) => Buffer.from(e.leaf_hash, 'hex'));
    assert.equal(hashes.length, size);
    assert.ok(tile.rawPayload.equals(Buffer.concat(hashes)));
    const entries = await s.call(s.keys.a!, { method: 'GET', url: `/tile/entries/000.p/${size}` });
    assert.equal(entries.statusCode, 200);
    assert.equal(entries.rawPayload.readUInt16BE(0) + 2 <= entries.rawPayload.length, true);
    // Beyond the checkpoint: not served.
    const beyond = await s.call(s.keys.a!, { method: 'GET', url: `/tile/0/000.p/${size + 1}` });
    assert.equal(beyond.statusCode, 404);
    const full = await s.call(s.keys.a!, { method: 'GET', url: '/tile/0/000' });
    assert.equal(full.statusCode, 404);
    const inc = await s.call(s.keys.a!, { method: 'GET', url: '/v1/proofs/inclusion?seq=2' });
    assert.equal(inc.json().tree_size, size);
    const cons = await s.call(s.keys.a!, { method: 'GET', url: `/v1/proofs/consistency?from=1&to=${size}` });
    assert.equal(cons.statusCode, 200);
    assert.ok(Array.isArray(cons.json().proof));
  });
});

describe('auth', () => {
  it('asks for a key, refuses unknown, revoked and under-scoped keys', async () => {
    const s = await server();
    const none = await s.call(null, { method: 'GET', url: '/v1/events' });
    assert.equal(none.statusCode, 401);
    assert.match(none.headers['www-authenticate'] as string, /^Bearer/);
    const junk = await s.call('atr_0000000000000000_' + 'A'.repeat(43), { method: 'GET', url: '/v1/events' });
    assert.equal(junk.statusCode, 401);
    const ro = await s.call(s.keys.readonly!, { method: 'POST', url: '/v1/events', payload: sampleEvent(0) });
    assert.equal(ro.statusCode, 403);
    const keys = await s.app.auditrail.listKeys('acme');
    const auditor = keys.find((k) => k.name === 'auditor')!;
    assert.equal((await s.call(s.keys.readonly!, { method: 'GET', url: '/v1/events' })).statusCode, 200);
    await s.app.auditrail.revokeKey(auditor.id);
    assert.equal((await s.call(s.keys.readonly!, { method: 'GET', url: '/v1/events' })).statusCode, 401);
    const log = (await s.call(s.keys.a!, { method: 'GET', url: '/v1/events?type=key.*&limit=100' })).json();
    assert.deepEqual(
      log.events.map((e: { type: string }) => e.type),
      ['key.created', 'key.created', 'key.created', 'key.revoked'],
    );
    assert.ok(!JSON.stringify(log).includes(s.keys.readonly!.slice(22)), 'no secret in the log');
  });

  it('sends security headers and no CORS headers; health answers without a key', async () => {
    const s = await server();
    const h = await s.call(null, {
      method: 'GET',
      url: '/healthz',
      headers: { origin: 'https://evil.example' },
    });
    assert.equal(h.statusCode, 200);
    assert.equal(h.headers['x-content-type-options'], 'nosniff');
    assert.equal(h.headers['x-frame-options'], 'SAMEORIGIN');
    assert.equal(h.headers['strict-transport-security'], 'max-age=31536000; includeSubDomains');
    assert.match(String(h.headers['content-security-policy']), /^default-src 'self';/);
    assert.equal(h.headers['access-control-allow-origin'], undefined);
    // On an authenticated route, a problem answer and the routes' own headers alike.
    const denied = await s.call(null, { method: 'GET', url: '/v1/events' });
    assert.equal(denied.statusCode, 401);
    assert.equal(denied.headers['x-content-type-options'], 'nosniff');
    assert.equal(denied.headers['referrer-policy'], 'no-referrer');
    assert.equal((await s.call(null, { method: 'GET', url: '/readyz' })).statusCode, 200);
    const metrics = await s.call(s.keys.a!, { method: 'GET', url: '/metrics' });
    assert.match(metrics.body, /auditrail_http_requests_total/);
    assert.match(metrics.body, /auditrail_commit_duration_seconds_bucket/);
  });

  it('rate-limits per key with 429 and Retry-After', async () => {
    const s = await testServer({ rateLimit: { max: 3, timeWindowMs: 60_000 } });
    servers.push(s);
    const codes = [];
    for (let i = 0; i < 4; i++)
      codes.push((await s.call(s.keys.a!, { method: 'GET', url: '/v1/events' })).statusCode);
    assert.deepEqual(codes, [200, 200, 200, 429]);
    const limited = await s.call(s.keys.a!, { method: 'GET', url: '/v1/events' });
    assert.ok(Number(limited.headers['retry-after']) > 0);
    assert.equal(limited.json().type, 'https://auditrail.dev/problems/rate_limited');
    // Another key has its own budget.
    assert.equal((await s.call(s.keys.b!, { method: 'GET', url: '/v1/events' })).statusCode, 200);
  });
});
