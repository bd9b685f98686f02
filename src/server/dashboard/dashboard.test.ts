import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { parsePolicy } from '../../policy/index.js';
import { buildServer } from '../app.js';
import { LOOPBACK, openModeServer, testServer, type TestServer } from '../test-helpers.js';
import { escapeHtml, href, html } from './html.js';
import { DASHBOARD_CSP } from './plugin.js';

const csrfOf = (body: string): string => /name="_csrf" value="([^"]+)"/.exec(body)![1]!;
const cookiesOf = (r: LightMyRequestResponse): string[] => {
  const h = r.headers['set-cookie'];
  return h === undefined ? [] : Array.isArray(h) ? h : [h];
};
const cookieValue = (r: LightMyRequestResponse, name: string): string | undefined =>
  cookiesOf(r)
    .map((c) => new RegExp(`^${name}=([^;]*)`).exec(c)?.[1])
    .find((v) => v !== undefined);

/** Signs in with `key` through the form; returns the session cookie header and the CSRF token. */
async function signIn(s: TestServer, key: string): Promise<{ cookie: string; csrf: string }> {
  const form = await s.app.inject({ method: 'GET', url: '/login' });
  const pre = cookieValue(form, 'auditrail_login')!;
  const r = await s.app.inject({
    method: 'POST',
    url: '/login',
    headers: { cookie: `auditrail_login=${pre}`, 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ _csrf: csrfOf(form.body), key }).toString(),
  });
  assert.equal(r.statusCode, 303, r.body);
  const sid = cookieValue(r, 'auditrail_session')!;
  const cookie = `auditrail_session=${sid}`;
  const page = await s.app.inject({ method: 'GET', url: '/', headers: { cookie } });
  assert.equal(page.statusCode, 200);
  return { cookie, csrf: csrfOf(page.body) };
}

describe('dashboard escaping', () => {
  it('escapes every interpolated value and shows bidi controls visibly', () => {
    assert.equal(
      escapeHtml(`<a href="x" onclick='y'>&\``),
      '&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;&#96;',
    );
    assert.equal(escapeHtml('abc\u202Etxt.exe'), 'abc⟦U+202E⟧txt.exe');
    assert.equal(
      html`<td title="${'"><img src=x onerror=alert(1)>'}">${'<script>'}</td>`.text,
      '<td title="&quot;&gt;&lt;img src=x onerror=alert(1)&gt;">&lt;script&gt;</td>',
    );
    // Nested markup made by the tag is kept; plain strings never are.
    assert.equal(
      html`<p>${html`<b>${'<i>'}</b>`}${['<', html`<br />`]}</p>`.text,
      '<p><b>&lt;i&gt;</b>&lt;<br /></p>',
    );
    assert.equal(href(['runs', 'javascript:alert(1)']), '/runs/javascript%3Aalert(1)');
    assert.equal(href(['runs'], { agent: 'a&b', risk: undefined }), '/runs?agent=a%26b');
  });
});

describe('dashboard sign-in, sessions and CSRF', () => {
  let s: TestServer;
  before(async () => {
    s = await testServer();
  });
  after(() => s.app.close());

  it('sends a visitor without a session to the sign-in form', async () => {
    const r = await s.app.inject({ method: 'GET', url: '/' });
    assert.equal(r.statusCode, 303);
    assert.equal(r.headers.location, '/login');
    const form = await s.app.inject({ method: 'GET', url: '/login' });
    assert.equal(form.statusCode, 200);
    assert.match(String(form.headers['content-type']), /^text\/html/);
    assert.equal(form.headers['content-security-policy'], DASHBOARD_CSP);
    assert.doesNotMatch(DASHBOARD_CSP, /unsafe-inline|unsafe-eval/);
    assert.equal(form.headers['x-frame-options'], 'DENY');
    assert.equal(form.headers['cache-control'], 'no-store');
    assert.match(cookiesOf(form)[0]!, /HttpOnly; SameSite=Strict/);
  });

  it('signs in with a key into an HttpOnly SameSite=Strict session cookie that holds no key', async () => {
    const form = await s.app.inject({ method: 'GET', url: '/login' });
    const pre = cookieValue(form, 'auditrail_login')!;
    const r = await s.app.inject({
      method: 'POST',
      url: '/login',
      headers: { cookie: `auditrail_login=${pre}`, 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ _csrf: csrfOf(form.body), key: s.keys['a']! }).toString(),
    });
    assert.equal(r.statusCode, 303);
    const set = cookiesOf(r).find((c) => c.startsWith('auditrail_session='))!;
    assert.match(set, /; Path=\/; HttpOnly; SameSite=Strict/);
    assert.ok(!set.includes(s.keys['a']!.slice(21)), 'the cookie never carries the key');
  });

  it('refuses a sign-in without the form token, and a wrong key', async () => {
    const noToken = await s.app.inject({
      method: 'POST',
      url: '/login',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ key: s.keys['a']! }).toString(),
    });
    assert.equal(noToken.statusCode, 403);
    assert.equal(cookieValue(noToken, 'auditrail_session'), undefined);
    const form = await s.app.inject({ method: 'GET', url: '/login' });
    const bad = await s.app.inject({
      method: 'POST',
      url: '/login',
      headers: {
        cookie: `auditrail_login=${cookieValue(form, 'auditrail_login')!}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      payload: new URLSearchParams({ _csrf: csrfOf(form.body), key: 'atr_0000000000000000_x' }).toString(),
    });
    assert.equal(bad.statusCode, 401);
    assert.match(bad.body, /unknown or revoked/);
  });

  it('refuses state-changing posts without the CSRF token or from another origin', async () => {
    const { cookie, csrf } = await signIn(s, s.keys['a']!);
    const post = (payload: Record<string, string>, headers: Record<string, string> = {}) =>
      s.app.inject({
        method: 'POST',
        url: '/verify',
        headers: { cookie, 'content-type': 'application/x-www-form-urlencoded', ...headers },
        payload: new URLSearchParams(payload).toString(),
      });
    assert.equal((await post({})).statusCode, 403);
    assert.equal((await post({ _csrf: 'x'.repeat(43) })).statusCode, 403);
    assert.equal((await post({ _csrf: csrf }, { origin: 'https://evil.example' })).statusCode, 403);
    const ok = await post({ _csrf: csrf });
    assert.equal(ok.statusCode, 303);
    const page = await s.app.inject({ method: 'GET', url: '/', headers: { cookie } });
    assert.match(page.body, /Last full verify[\s\S]*by acme-bot:\s+OK/);
    // JSON posts are not accepted on the dashboard's forms (no CSRF token can ride in them).
    const json = await s.app.inject({
      method: 'POST',
      url: '/verify',
      headers: { cookie },
      payload: { _csrf: csrf },
    });
    assert.equal(json.statusCode, 403);
  });

  it('ends the session when its key is revoked, and on sign-out', async () => {
    const created = await s.app.auditrail.createKey({ tenant: 'acme', name: 'temp', scopes: ['read'] });
    const { cookie, csrf } = await signIn(s, created.key);
    await s.app.auditrail.revokeKey(created.id);
    assert.equal((await s.app.inject({ method: 'GET', url: '/', headers: { cookie } })).statusCode, 303);
    const other = await signIn(s, s.keys['readonly']!);
    const out = await s.app.inject({
      method: 'POST',
      url: '/logout',
      headers: { cookie: other.cookie, 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ _csrf: other.csrf }).toString(),
    });
    assert.equal(out.statusCode, 303);
    assert.equal(
      (await s.app.inject({ method: 'GET', url: '/', headers: { cookie: other.cookie } })).statusCode,
      303,
    );
    void csrf;
  });

  it('approves as the signed-in principal only, with a required reason', async () => {
    const d = await s.call(s.keys['a']!, {
      method: 'POST',
      url: '/v1/decide',
      payload: {
        actor: { type: 'agent', id: 'support-bot' },
        action: { type: 'write:refund', target: 'order/7', params: { amount: 5 } },
        run_id: 'r-approve',
      },
    });
    const id = d.json<{ approval: { id: string } }>().approval.id;
    const decide = (who: { cookie: string; csrf: string }, form: Record<string, string>) =>
      s.app.inject({
        method: 'POST',
        url: `/approvals/${id}/decide`,
        headers: { cookie: who.cookie, 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams({ _csrf: who.csrf, ...form }).toString(),
      });
    const bot = await signIn(s, s.keys['a']!);
    const forbidden = await decide(bot, { verdict: 'approve', reason: 'ok' });
    assert.equal(forbidden.statusCode, 403, 'acme-bot is not an approver of the rule');
    const fin = await signIn(s, s.keys['finance']!);
    assert.equal((await decide(fin, { verdict: 'approve', reason: '  ' })).statusCode, 400);
    const inbox = await s.app.inject({ method: 'GET', url: '/approvals', headers: { cookie: fin.cookie } });
    assert.match(inbox.body, new RegExp(`data-approval="${id}"`));
    const ok = await decide(fin, {
      verdict: 'approve',
      reason: 'refund within limits',
      approver: 'someone-else',
    });
    assert.equal(ok.statusCode, 303);
    const row = (await s.call(s.keys['a']!, { method: 'GET', url: `/v1/approvals/${id}` })).json<
      Record<string, unknown>
    >();
    assert.equal(row['status'], 'granted');
    assert.equal(row['decided_by'], 'finance-lead');
    assert.equal(row['decision_reason'], 'refund within limits');
    assert.equal((await decide(fin, { verdict: 'deny', reason: 'again' })).statusCode, 409);
  });

  it('leaves the dashboard out of the OpenAPI document', async () => {
    const doc = (await s.app.inject({ method: 'GET', url: '/openapi.json' })).json<{
      paths: Record<string, unknown>;
    }>();
    for (const p of Object.keys(doc.paths))
      assert.ok(
        p.startsWith('/v1/') ||
          p.startsWith('/tile') ||
          !/^\/(runs|approvals|events|login|logout|verify|assets)?$/.test(p),
        p,
      );
    assert.equal(doc.paths['/'], undefined);
    assert.equal(doc.paths['/login'], undefined);
  });
});

describe('dashboard open mode', () => {
  it('needs no sign-in on a loopback Host, labels it, and refuses any other Host', async () => {
    const app = await openModeServer();
    try {
      const r = await app.inject({ method: 'GET', url: '/', headers: LOOPBACK });
      assert.equal(r.statusCode, 200);
      assert.match(r.body, /Open mode \(serve --open\)/);
      assert.match(r.body, /local-user · tenant acme/);
      const rebound = await app.inject({ method: 'GET', url: '/', headers: { host: 'evil.example' } });
      assert.equal(rebound.statusCode, 421);
      // The API still needs a key.
      assert.equal(
        (await app.inject({ method: 'GET', url: '/v1/events', headers: { host: '127.0.0.1' } })).statusCode,
        401,
      );
    } finally {
      await app.close();
    }
  });
});

describe('dashboard policies page', () => {
  const V2 = parsePolicy(`
policy_id: server-test
version: 2
default: deny
rules:
  - id: refunds-need-finance
    match: { action: 'write:refund' }
    effect: require_approval
    approvers: [finance-lead, cfo]
    reason: refunds need a finance approver
  - id: allow-reads
    match: { action: 'read:*' }
    when: "action.target != 'secret'"
    effect: allow
  - id: allow-notes
    match: { action: 'write:note' }
    effect: allow
`);
  const V3 = parsePolicy(`
policy_id: server-test
version: 3
default: allow
rules:
  - id: allow-notes
    match: { action: 'write:note' }
    effect: allow
`);
  let s: TestServer;
  let second: FastifyInstance;
  let third: FastifyInstance;
  const seqs: number[] = [];
  before(async () => {
    // One store, three servers in turn, each deciding under its version: three policy.updated.
    s = await testServer();
    const decide = async (app: FastifyInstance): Promise<void> => {
      const r = await app.inject({
        method: 'POST',
        url: '/v1/decide',
        headers: { authorization: `Bearer ${s.keys['a']!}` },
        payload: { actor: { type: 'agent', id: 'bot' }, action: { type: 'read:order', target: 'o/1' } },
      });
      assert.equal(r.statusCode, 200, r.body);
    };
    await decide(s.app);
    second = await buildServer({ store: s.store, keyDir: null, policy: V2, checkpointIntervalMs: 0 });
    await decide(second);
    third = await buildServer({ store: s.store, keyDir: null, policy: V3, checkpointIntervalMs: 0 });
    await decide(third);
    const r = await s.call(s.keys['a']!, { method: 'GET', url: '/v1/events?type=policy.updated' });
    for (const e of (JSON.parse(r.body) as { events: { seq: number }[] }).events) seqs.push(e.seq);
    assert.equal(seqs.length, 3);
  });
  after(async () => {
    await third?.close();
    await second?.close();
    await s.app.close();
  });

  const text = (body: string): string =>
    body
      .replace(/<[^>]+>/g, '')
      .replace(/&gt;/g, '>')
      .replace(/&#39;/g, "'")
      .replace(/&quot;/g, '"')
      .replace(/\s+/g, ' ');

  it('shows the bundle in force, every version, and by default the latest change', async () => {
    const { cookie } = await signIn({ ...s, app: third }, s.keys['a']!);
    const r = await third.inject({ method: 'GET', url: '/policies', headers: { cookie } });
    assert.equal(r.statusCode, 200, r.body);
    const t = text(r.body);
    assert.match(t, /Policy server-test v3 Snapshot sha256:[0-9a-f]{64}/);
    assert.match(t, new RegExp(`recorded by seq ${seqs[2]}`));
    for (const [i, v] of ['v1', 'v2', 'v3'].entries())
      assert.ok(r.body.includes(`data-version-seq="${seqs[i]}"`), v);
    assert.match(t, /\+0 −2 ~0/, 'v3 against v2: two rules removed');
    assert.match(t, new RegExp(`Changes from seq ${seqs[1]} to seq ${seqs[2]}`));
    assert.match(t, /From the diff recorded with seq \d+, matching the digest/);
    assert.match(t, /~ default: deny -> allow/);
    assert.match(t, /- rule refunds-need-finance \(require_approval\)/);
  });

  it('diffs any two versions from their stored sources, each checked against its snapshot', async () => {
    const { cookie } = await signIn({ ...s, app: third }, s.keys['a']!);
    const r = await third.inject({
      method: 'GET',
      url: `/policies?from=${seqs[0]}&to=${seqs[2]}`,
      headers: { cookie },
    });
    const t = text(r.body);
    assert.match(t, /From the stored sources of seq \d+ and seq \d+, each matching its snapshot/);
    assert.match(t, /policy server-test: v1 \(sha256:[0-9a-f]{12}\) -> v3/);
    assert.match(t, /\+ rule allow-notes \(allow\)/);
    assert.match(t, /- rule allow-reads \(allow\)/);
    // v1 -> v2, recorded: the condition and the approvers changed, and the rules moved.
    const r2 = await third.inject({
      method: 'GET',
      url: `/policies?from=${seqs[0]}&to=${seqs[1]}`,
      headers: { cookie },
    });
    assert.match(text(r2.body), /~ rule allow-reads: when, reason/);
  });

  it('refuses to show a stored source that does not match its snapshot', async () => {
    const { cookie } = await signIn({ ...s, app: third }, s.keys['a']!);
    const versions = JSON.parse(
      (await s.call(s.keys['a']!, { method: 'GET', url: '/v1/events?type=policy.updated' })).body,
    ) as { events: { policy: { policy_snapshot: string } }[] };
    const snapshot = versions.events[0]!.policy.policy_snapshot;
    const key = `policy-source:${snapshot}`;
    const saved = (await s.store.getMeta(key))!;
    await s.store.setMeta(key, saved.replace('allow-reads', 'allow-everything'));
    try {
      const r = await third.inject({
        method: 'GET',
        url: `/policies?from=${seqs[0]}&to=${seqs[2]}`,
        headers: { cookie },
      });
      assert.match(
        text(r.body),
        new RegExp(`No diff: no stored source matching the snapshot of seq ${seqs[0]}`),
      );
      assert.ok(!r.body.includes('allow-everything'));
    } finally {
      await s.store.setMeta(key, saved);
    }
    const bad = await third.inject({ method: 'GET', url: '/policies?from=abc&to=1', headers: { cookie } });
    assert.equal(bad.statusCode, 400);
    assert.match(bad.body, /from must be the seq of a policy.updated event/);
    const unknown = await third.inject({
      method: 'GET',
      url: `/policies?from=${seqs[0]}&to=999`,
      headers: { cookie },
    });
    assert.equal(unknown.statusCode, 404);
  });
});

describe('dashboard search and live tail', () => {
  let s: TestServer;
  before(async () => {
    s = await testServer();
  });
  after(() => s.app.close());

  it('refuses bad filters with a message naming the filter, and pages results newest first', async () => {
    const { cookie } = await signIn(s, s.keys['a']!);
    for (const [url, message] of [
      ['/search?since=yesterday', /since must be a UTC date and time/],
      ['/search?risk=extreme', /risk must be one of low, medium, high, critical/],
      ['/search?before=x', /before must be the seq of an event/],
      ['/search/live?after=abc', /after must be the seq the tail starts after/],
    ] as const) {
      const r = await s.app.inject({ method: 'GET', url, headers: { cookie } });
      assert.equal(r.statusCode, 400, url);
      assert.match(r.body, message);
    }
    const batch = Array.from({ length: 150 }, (_, i) => ({
      type: 'x.searched',
      actor: { type: 'agent', id: `bot-${i % 2}` },
    }));
    const rec = await s.call(s.keys['a']!, { method: 'POST', url: '/v1/events', payload: batch });
    assert.equal(rec.statusCode, 201);
    const r = await s.app.inject({ method: 'GET', url: '/search?type=x.*&agent=bot-1', headers: { cookie } });
    const seqs = [...r.body.matchAll(/data-seq="(\d+)"/g)].map((m) => Number(m[1]));
    assert.equal(seqs.length, 75);
    assert.deepEqual(
      seqs,
      [...seqs].sort((a, b) => b - a),
    );
    assert.doesNotMatch(r.body, /Older events/);
    const all = await s.app.inject({ method: 'GET', url: '/search?type=x.searched', headers: { cookie } });
    const older = /href="(\/search\?[^"]*before=\d+)"/.exec(all.body)![1]!.replace(/&amp;/g, '&');
    const next = await s.app.inject({ method: 'GET', url: older, headers: { cookie } });
    assert.equal([...next.body.matchAll(/data-seq="/g)].length, 50);
  });

  it('streams events recorded after the tail started, as Server-Sent Events', async () => {
    const { cookie } = await signIn(s, s.keys['a']!);
    await s.app.listen({ host: '127.0.0.1', port: 0 });
    const address = s.app.server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    const stop = new AbortController();
    const r = await fetch(`http://127.0.0.1:${port}/search/live?type=x.live&after=-1`, {
      headers: { cookie },
      signal: stop.signal,
    });
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /^text\/event-stream/);
    const rec = await s.call(s.keys['a']!, {
      method: 'POST',
      url: '/v1/events',
      payload: { type: 'x.live', actor: { type: 'agent', id: '<b>bot</b>' } },
    });
    const seq = (JSON.parse(rec.body) as { receipts: { seq: number }[] }).receipts[0]!.seq;
    const reader = r.body!.getReader();
    let text = '';
    while (!text.includes('event: events')) text += new TextDecoder().decode((await reader.read()).value);
    stop.abort();
    const data = /data: (.*)\n/.exec(text.slice(text.indexOf('event: events')))![1]!;
    assert.match(text, new RegExp(`id: ${seq}\\n`));
    assert.deepEqual(
      (JSON.parse(data) as { seq: number; actor: string }[]).map((e) => [e.seq, e.actor]),
      [[seq, '<b>bot</b>']],
    );
  });
});

describe('dashboard run timeline: delegation tree', () => {
  let s: TestServer;
  before(async () => {
    s = await testServer();
  });
  after(() => s.app.close());

  it('shows the agents of a run as a tree of delegations, with what each link granted', async () => {
    const link = (agent_id: string, permissions_granted: string[]) => ({
      agent_id,
      delegated_at: '2026-12-01T10:00:00Z',
      permissions_granted,
    });
    const ev = (actor: string, chain: ReturnType<typeof link>[]) => ({
      type: 'action.intent',
      run_id: 'run-d',
      actor: { type: 'agent', id: actor },
      action: { type: 'read:doc', target: 'd/1' },
      ...(chain.length ? { delegation: { chain, depth: chain.length, root_agent: chain[0]!.agent_id } } : {}),
    });
    const r = await s.call(s.keys['a']!, {
      method: 'POST',
      url: '/v1/events',
      payload: [
        ev('planner', []),
        ev('researcher', [link('planner', ['search:*'])]),
        ev('fetcher', [link('planner', ['search:*']), link('researcher', ['http:get'])]),
        ev('fetcher', [link('planner', ['search:*']), link('researcher', ['http:get'])]),
        ev('writer', [link('planner', ['write:draft'])]),
      ],
    });
    assert.equal(r.statusCode, 201, r.body);
    const { cookie } = await signIn(s, s.keys['a']!);
    const page = await s.app.inject({ method: 'GET', url: '/runs/run-d', headers: { cookie } });
    const start = page.body.indexOf('<ul class="tree">');
    const tree = page.body.slice(start, page.body.indexOf('</section>', start));
    const shape = tree
      .replace(/<span class="mono">[^<]*<\/span>/g, '')
      .replace(/<li data-agent="([^"]+)">/g, '($1')
      .replace(/<\/li>/g, ')')
      .replace(/<[^>]+>|\s+/g, ' ')
      .replace(/·[^()]*/g, '')
      .replace(/\s+/g, '');
    assert.equal(shape, '(planner(researcher(fetcher))(writer))');
    const text = tree.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ');
    assert.match(text, /fetcher · 2 events · granted http:get/);
    assert.match(text, /writer · 1 events · granted write:draft/);
  });
});
