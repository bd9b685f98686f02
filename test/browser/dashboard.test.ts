// The dashboard in a real browser (Debian's Chromium through playwright-core): sign in, overview,
// a run timeline checked against the log, an approval given in the page, hostile strings shown
// literally with no script run, and an axe-core scan of every page. Skips with a printed reason
// when Chromium is absent, except under CI=true, where that is a failure.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { chromium, type Browser, type Page } from 'playwright-core';
import { parsePolicy } from '../../src/policy/index.js';
import { buildServer } from '../../src/server/app.js';
import { MemoryStore } from '../../src/store/memory/memory-store.js';
import { CHROMIUM_FLAGS, chromiumPath } from '../../src/internal/chromium.js';

const CHROMIUM = chromiumPath();
const ARGS = [...CHROMIUM_FLAGS];
const missing = existsSync(CHROMIUM) ? null : `${CHROMIUM} is not installed (apt-get install -y chromium)`;
if (missing && process.env['CI'] === 'true')
  throw new Error(`browser tests need Chromium under CI: ${missing}`);
if (missing) console.log(`# skipping the dashboard browser tests: ${missing}`);

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

// Every hostile string lands in the page; none may become markup or run.
const XSS_SCRIPT = '<script>window.__pwned=1</script>';
const XSS_IMG = '"><img src=x onerror=window.__pwned=2>';
const XSS_URL = 'javascript:window.__pwned=3';
const RTL = 'invoice\u202Efdp.exe';
const HOSTILE = `${XSS_SCRIPT} ${XSS_IMG} ${XSS_URL} ${RTL}`;
// Identifiers are printable ASCII without spaces (event schema): hostile, but in that alphabet.
const HOSTILE_RUN = '<script>window.__pwned=4</script>';
const HOSTILE_AGENT = '"><img/src=x/onerror=window.__pwned=5>';

const POLICY_V2 = parsePolicy(`
policy_id: browser-test
version: 2
default: deny
rules:
  - id: allow-reads
    match: { action: 'read:*' }
    effect: allow
`);

const POLICY = parsePolicy(`
policy_id: browser-test
version: 3
default: deny
rules:
  - id: allow-reads
    match: { action: 'read:*' }
    when: "action.target != 'forbidden'"
    effect: allow
    reason: reads are fine
  - id: refunds-need-finance
    match: { action: 'write:refund' }
    effect: require_approval
    approvers: [finance-lead]
    reason: refunds need a finance approver
`);

interface PageState {
  pwned: unknown;
  scripts: string[];
  imgs: number;
  handlers: string[];
  hrefs: string[];
}

interface Timeline {
  events: { seq: number; type: string }[];
  actions: {
    intent_event_id: string;
    decision: {
      policy: {
        decision: string;
        matched_rule: string | null;
        conditions_evaluated?: { expression: string; result: unknown }[];
      };
    };
    outcomes: unknown[];
  }[];
}

describe('dashboard in Chromium', { skip: missing ?? false }, () => {
  let app: FastifyInstance;
  let base: string;
  let browser: Browser;
  const keys: Record<string, string> = {};
  let approvalId = '';
  let keyDir = '';

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON answers, checked by the asserts
  const api = async (key: string, method: string, path: string, body?: unknown): Promise<any> => {
    const r = await fetch(`${base}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${key}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await r.text();
    assert.ok(r.ok, `${method} ${path}: ${r.status} ${text}`);
    return text ? JSON.parse(text) : null;
  };

  before(async () => {
    // An older version of the policy decided once before: the log holds two policy.updated.
    const store = new MemoryStore();
    keyDir = mkdtempSync(join(tmpdir(), 'auditrail-dashboard-keys-'));
    const older = await buildServer({ store, keyDir, policy: POLICY_V2, checkpointIntervalMs: 20 });
    const setup = await older.auditrail.createKey({ tenant: 'acme', name: 'setup', scopes: ['decide'] });
    const first = await older.inject({
      method: 'POST',
      url: '/v1/decide',
      headers: { authorization: `Bearer ${setup.key}` },
      payload: { actor: { type: 'agent', id: 'setup-bot' }, action: { type: 'read:order', target: 'o/1' } },
    });
    assert.equal(first.statusCode, 200, first.body);
    await older.close();
    app = await buildServer({
      store,
      keyDir,
      policy: POLICY,
      checkpointIntervalMs: 20,
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    keys['bot'] = (
      await app.auditrail.createKey({
        tenant: 'acme',
        name: 'acme-bot',
        scopes: ['ingest', 'read', 'decide', 'admin'],
      })
    ).key;
    keys['finance'] = (
      await app.auditrail.createKey({ tenant: 'acme', name: 'finance-lead', scopes: ['approve', 'read'] })
    ).key;

    // A run governed by the real Governor (POST /v1/decide), hostile strings in every free field.
    const decide = (type: string, target: string, agent = HOSTILE_AGENT) =>
      api(keys['bot']!, 'POST', '/v1/decide', {
        actor: { type: 'agent', id: agent, name: HOSTILE },
        action: { type, target, params: { note: HOSTILE, [XSS_IMG]: XSS_URL } },
        reasoning: HOSTILE,
        context: { purpose: HOSTILE, data_classification: 'pii', data_subject_ids: [XSS_SCRIPT] },
        run_id: HOSTILE_RUN,
        session_id: 'session-1',
      });
    const read = await decide('read:order', HOSTILE);
    await api(keys['bot'], 'POST', `/v1/actions/${read.intent_event_id}/outcome`, {
      status: 'success',
      result: { body: HOSTILE },
      duration_ms: 12,
    });
    const failing = await decide('read:customer', XSS_URL);
    await api(keys['bot'], 'POST', `/v1/actions/${failing.intent_event_id}/outcome`, {
      status: 'failure',
      error_message: HOSTILE,
      duration_ms: 40,
    });
    const denied = await decide('read:order', 'forbidden');
    assert.equal(denied.decision, 'deny');
    const held = await decide('write:refund', 'order/1042');
    assert.equal(held.decision, 'require_approval');
    approvalId = held.approval.id;
    // A raw event with hostile strings in the fields the Governor does not write.
    await api(keys['bot'], 'POST', '/v1/events', {
      type: 'x.note',
      actor: { type: 'user', id: HOSTILE_AGENT, name: HOSTILE, on_behalf_of: XSS_URL },
      run_id: HOSTILE_RUN,
      action: { type: XSS_URL, target: HOSTILE, side_effects: [XSS_IMG] },
      model: { provider: XSS_SCRIPT, name: RTL },
      metadata: { [XSS_SCRIPT]: HOSTILE, link: XSS_URL },
    });
    await new Promise((r) => setTimeout(r, 100)); // a checkpoint is signed (interval 20 ms)
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  });

  after(async () => {
    await browser?.close();
    await app?.close();
    if (keyDir) rmSync(keyDir, { recursive: true, force: true });
  });

  /** A fresh browser session watching for dialogs, CSP reports and page errors. */
  async function session(): Promise<{ page: Page; problems: string[] }> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('dialog', (d) => {
      problems.push(`dialog: ${d.message()}`);
      void d.dismiss();
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console: ${m.text()}`);
    });
    return { page, problems };
  }

  async function signIn(page: Page, key: string): Promise<void> {
    await page.goto(`${base}/`);
    assert.match(page.url(), /\/login$/);
    await page.fill('input[name=key]', key);
    await Promise.all([page.waitForURL(`${base}/`), page.click('button[type=submit]')]);
  }

  /** Polls an expression in the page until it is true (waitForFunction would need eval, which the CSP refuses). */
  async function until(page: Page, expression: string, timeoutMs = 10_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (!(await page.evaluate<boolean>(expression))) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${expression}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** No hostile string became markup or ran, and the page passes axe with 0 serious/critical. */
  async function checkPage(page: Page, problems: string[], name: string): Promise<void> {
    // In-page code is passed as text: this test compiles without the DOM library.
    const state = await page.evaluate<PageState>(`({
      pwned: window.__pwned ?? null,
      scripts: [...document.scripts].map((s) => s.src),
      imgs: document.images.length,
      handlers: [...document.querySelectorAll('*')].flatMap((el) =>
        [...el.attributes].filter((a) => a.name.startsWith('on')).map((a) => a.name)),
      hrefs: [...document.querySelectorAll('a[href]')].map((a) => a.getAttribute('href') ?? ''),
    })`);
    assert.equal(state.pwned, null, `${name}: a hostile script ran`);
    assert.deepEqual(state.scripts, [`${base}/assets/dashboard.js`], `${name}: only our script`);
    assert.equal(state.imgs, 0, `${name}: an injected <img>`);
    assert.deepEqual(state.handlers, [], `${name}: an injected event handler`);
    for (const h of state.hrefs) assert.ok(h.startsWith('/') || h.startsWith('#'), `${name}: link ${h}`);
    assert.deepEqual(problems, [], `${name}: dialogs, CSP reports or errors`);
    await page.evaluate(axeSource);
    const result = await page.evaluate<{ id: string; impact: string | null; nodes: number; help: string }[]>(
      `axe.run({ resultTypes: ['violations'] }).then((r) =>
        r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length, help: v.help })))`,
    );
    const serious = result.filter((v) => v.impact === 'serious' || v.impact === 'critical');
    assert.deepEqual(serious, [], `${name}: axe-core found serious or critical violations`);
  }

  it('signs in, shows the overview with its figures and integrity panel', async () => {
    const { page, problems } = await session();
    await signIn(page, keys['bot']!);
    assert.equal(await page.textContent('h1'), 'Overview');
    const cards = await page.locator('.card').allTextContents();
    for (const [i, c] of cards.entries()) cards[i] = c.replace(/\s+/g, ' ').trim();
    assert.ok(cards.includes('3 allowed'), cards.join(' | '));
    assert.ok(cards.includes('1 denied'), cards.join(' | '));
    assert.ok(cards.includes('1 held for approval'), cards.join(' | '));
    assert.ok(cards.includes('1 failed'), cards.join(' | '));
    assert.ok(cards.includes('1 pending approvals'), cards.join(' | '));
    const integrity = await page.textContent('#h-integrity + dl');
    assert.match(integrity ?? '', /Size\s*\d+ entries/);
    // The agent column shows the hostile id as text.
    assert.ok((await page.textContent('main'))!.includes(HOSTILE_AGENT));
    await Promise.all([page.waitForURL(/#h-integrity$/), page.click('text=Verify the whole log now')]);
    assert.match((await page.textContent('[role=status]')) ?? '', /by acme-bot:\s+OK/);
    await checkPage(page, problems, 'overview');
    await page.context().close();
  });

  it('lists the run and shows its timeline row by row as the log has it', async () => {
    const { page, problems } = await session();
    await signIn(page, keys['bot']!);
    await page.goto(`${base}/runs?agent=${encodeURIComponent(HOSTILE_AGENT)}`);
    const runLinks = await page.locator('tbody a').allTextContents();
    assert.deepEqual(runLinks, [HOSTILE_RUN]);
    await checkPage(page, problems, 'runs');
    await Promise.all([page.waitForURL(/\/runs\/%3Cscript/), page.click('tbody a')]);
    const log: Timeline = await api(
      keys['bot']!,
      'GET',
      `/v1/runs/${encodeURIComponent(HOSTILE_RUN)}/timeline`,
    );
    const rows = await page.evaluate<{ intent: string; decision: string; outcomes: number; text: string }[]>(
      `[...document.querySelectorAll('article[data-intent]')].map((a) => ({
        intent: a.getAttribute('data-intent'),
        decision: a.getAttribute('data-decision'),
        outcomes: Number(a.getAttribute('data-outcomes')),
        text: a.textContent.replace(/\\s+/g, ' '),
      }))`,
    );
    assert.equal(rows.length, log.actions.length);
    for (const [i, g] of log.actions.entries()) {
      const row = rows[i]!;
      assert.equal(row.intent, g.intent_event_id);
      assert.equal(row.decision, g.decision.policy.decision);
      assert.equal(row.outcomes, g.outcomes.length);
      assert.ok(row.text.includes(g.decision.policy.matched_rule ?? '(default)'), `rule in ${row.text}`);
      assert.ok(row.text.includes('policy browser-test v3'), `policy version in ${row.text}`);
      for (const c of g.decision.policy.conditions_evaluated ?? [])
        assert.ok(row.text.includes(`${c.expression} = ${String(c.result)}`), `condition in ${row.text}`);
    }
    assert.ok(
      rows.some((r) => r.text.includes("action.target != 'forbidden' = true")),
      'a condition with its value',
    );
    const text = (await page.textContent('main'))!;
    for (const s of [XSS_SCRIPT, XSS_IMG, XSS_URL, 'invoice⟦U+202E⟧fdp.exe']) assert.ok(text.includes(s), s);
    assert.ok(!text.includes('\u202E'), 'the RTL override is shown as a code point, not applied');
    assert.ok(text.includes(`Error: ${HOSTILE.replace('\u202E', '⟦U+202E⟧')}`), 'error message');
    assert.ok(text.includes('PII'), 'PII badge');
    await checkPage(page, problems, 'run timeline');
    // The hostile raw event, every field shown literally.
    const seq = log.events.find((e) => e.type === 'x.note')!.seq;
    await page.goto(`${base}/events/${seq}`);
    const detail = (await page.textContent('main'))!;
    for (const p of ['/actor/on_behalf_of', '/model/provider', '/action/side_effects/0', '/metadata/link'])
      assert.ok(detail.includes(p), p);
    assert.ok(detail.includes(XSS_URL) && detail.includes(XSS_SCRIPT) && detail.includes(XSS_IMG), detail);
    await checkPage(page, problems, 'event detail');
    await page.context().close();
  });

  it('pins the verifier key in Settings, verifies an event in the browser, and fails on a tampered proof', async () => {
    const { page, problems } = await session();
    await signIn(page, keys['bot']!);
    const vkey: string = (await api(keys['bot']!, 'GET', '/v1/proofs/bundle/0')).verifier_key;
    // Without a pinned key the check refuses to run.
    await page.goto(`${base}/events/0`);
    await page.click('button[data-verify-seq]');
    await page.waitForSelector('#verify-result .error');
    assert.match((await page.textContent('#verify-result'))!, /No verifier key is pinned/);
    await page.goto(`${base}/settings`);
    assert.equal(await page.textContent('#stated-key'), vkey);
    await page.fill('#pin-key', `${vkey.slice(0, -2)}AA`);
    await page.click('#pin-form button[type=submit]');
    await page.waitForSelector('#pin-status .error');
    assert.match((await page.textContent('#pin-status'))!, /Not pinned: the key/);
    await page.fill('#pin-key', vkey);
    await page.click('#pin-form button[type=submit]');
    await page.waitForSelector('#pinned');
    const pinnedText = (await page.textContent('#pinned'))!;
    assert.ok(pinnedText.includes(vkey.split('+')[1]!), 'key id shown');
    assert.match(pinnedText, /Fingerprint\s*SHA-256 ([0-9a-f]{2}:){31}[0-9a-f]{2}/);
    await checkPage(page, problems, 'settings');

    const verify = async (): Promise<{ ok: string; kinds: string; checks: string[] }> => {
      await page.evaluate(`document.getElementById('verify-result').replaceChildren()`);
      await page.click('button[data-verify-seq]');
      const verdict = await page.waitForSelector('#verify-verdict');
      return {
        ok: (await verdict.getAttribute('data-ok'))!,
        kinds: (await verdict.getAttribute('data-kinds'))!,
        checks: await page.locator('#verify-result li').allTextContents(),
      };
    };
    await page.goto(`${base}/events/0`);
    const good = await verify();
    assert.equal(good.ok, 'true', good.checks.join('\n'));
    for (const name of ['Checkpoint signature', 'Leaf record', 'Inclusion proof', 'Disclosures'])
      assert.ok(
        good.checks.some((c) => c.startsWith(`pass ${name}:`)),
        `${name} in ${good.checks.join('\n')}`,
      );
    assert.match((await page.textContent('#verify-verdict'))!, /Verified in this browser: seq 0/);
    await checkPage(page, problems, 'event verified');

    // The served proof is tampered with on its way to the page: the browser must notice.
    let tamper: (b: { disclosures: string[]; inclusion: { proof: string[] } }) => void = () => {};
    await page.route('**/events/0/proof.json', async (route) => {
      const response = await route.fetch();
      const bundle = await response.json();
      tamper(bundle);
      await route.fulfill({ response, json: bundle });
    });
    tamper = (b) => {
      const h = Buffer.from(b.inclusion.proof[0]!, 'base64');
      h[0] = h[0]! ^ 1;
      b.inclusion.proof[0] = h.toString('base64');
    };
    const badProof = await verify();
    assert.equal(badProof.ok, 'false');
    assert.equal(badProof.kinds, 'inclusion');
    assert.ok(
      badProof.checks.some((c) => c.startsWith('FAIL Inclusion proof:')),
      badProof.checks.join('\n'),
    );
    tamper = (b) => {
      b.disclosures[0] = b.disclosures[0]!.replace('acme', 'acne');
    };
    const badDisclosure = await verify();
    assert.equal(badDisclosure.ok, 'false');
    assert.equal(badDisclosure.kinds, 'disclosure');
    assert.match(
      (await page.textContent('#verify-verdict'))!,
      /disclosure: disclosure 0 is not committed to by the leaf/,
    );
    await checkPage(page, problems, 'event tampered');
    await page.context().close();
  });

  it('shows the policy in force, its versions and the diff between them', async () => {
    const { page, problems } = await session();
    await signIn(page, keys['bot']!);
    await page.click('nav >> text=Policies');
    await page.waitForURL(`${base}/policies`);
    const main = (await page.textContent('main'))!.replace(/\s+/g, ' ');
    assert.match(main, /Policy browser-test v3/);
    assert.equal(await page.locator('tr[data-version-seq]').count(), 2);
    assert.match(main, /policy browser-test: v2 \(sha256:[0-9a-f]{12}\) -> v3/);
    assert.match(main, /\+ rule refunds-need-finance \(require_approval\)/);
    assert.match(main, /~ rule allow-reads: when, reason/);
    await checkPage(page, problems, 'policies');
    await page.context().close();
  });

  it('searches with filters kept in the URL, tails new events live, pauses while scrolled, keys through rows', async () => {
    const { page, problems } = await session();
    await signIn(page, keys['bot']!);
    await page.click('nav >> text=Search');
    await page.waitForURL(`${base}/search`);
    await page.keyboard.press('/');
    assert.equal(await page.evaluate(`document.activeElement.getAttribute('name')`), 'type');
    await page.keyboard.type('x.tail*');
    await Promise.all([page.waitForURL(/type=x.tail/), page.keyboard.press('Enter')]);
    const shared = page.url();
    assert.match(shared, /\/search\?type=x\.tail\*/);
    assert.match((await page.textContent('#no-results'))!, /No event matches these filters/);
    await checkPage(page, problems, 'search empty');

    await page.click('#tail-toggle');
    assert.equal(await page.getAttribute('#tail-toggle', 'aria-pressed'), 'true');
    const record = (n: number, type = 'x.tail') =>
      api(
        keys['bot']!,
        'POST',
        '/v1/events',
        Array.from({ length: n }, () => ({
          type,
          actor: { type: 'agent', id: HOSTILE_AGENT },
          action: { type: 'read:thing', target: HOSTILE },
        })),
      );
    const rows = () => page.locator('#results tbody tr').count();
    await record(1);
    await record(1, 'x.other'); // filtered out by the search
    await page.waitForSelector('#results tbody tr');
    const first = (await page.textContent('#results tbody tr'))!;
    assert.ok(first.includes(HOSTILE_AGENT) && first.includes(XSS_SCRIPT), first);
    await record(59);
    await until(page, `document.querySelectorAll('#results tbody tr').length === 60`);
    assert.match((await page.textContent('#tail-status'))!, /Live: 60 new events/);

    // Scrolled down to read: new events are held, not inserted; back at the top they appear.
    await page.evaluate('window.scrollTo(0, document.body.scrollHeight)');
    await record(3);
    await until(page, `document.getElementById('tail-status').dataset.state === 'paused'`);
    assert.match((await page.textContent('#tail-status'))!, /Paused while you read: 3 new events waiting/);
    assert.equal(await rows(), 60);
    await page.evaluate('window.scrollTo(0, 0)');
    await until(page, `document.querySelectorAll('#results tbody tr').length === 63`);
    assert.equal(await page.getAttribute('#tail-status', 'data-state'), 'live');
    const seqs = await page.evaluate<number[]>(
      `[...document.querySelectorAll('#results tbody tr')].map((tr) => Number(tr.dataset.seq))`,
    );
    assert.deepEqual(
      seqs,
      [...seqs].sort((a, b) => b - a),
      'newest first',
    );
    await checkPage(page, problems, 'search live');
    await page.click('#tail-toggle');
    assert.equal(await page.getAttribute('#tail-status', 'data-state'), 'stopped');

    // The shared URL shows the same search, server-rendered; j moves to the first row, Enter opens it.
    await page.goto(shared);
    assert.equal(await rows(), 63);
    await page.keyboard.press('j');
    assert.equal(await page.evaluate(`document.activeElement.textContent`), String(seqs[0]));
    await Promise.all([page.waitForURL(`${base}/events/${seqs[0]}`), page.keyboard.press('Enter')]);
    await page.context().close();
  });

  it('lets the approver named by the rule approve a held action, recorded under their name', async () => {
    const { page, problems } = await session();
    await signIn(page, keys['finance']!);
    await page.goto(`${base}/approvals`);
    const card = page.locator(`article[data-approval="${approvalId}"]`);
    assert.match((await card.textContent()) ?? '', /refunds-need-finance/);
    await checkPage(page, problems, 'approvals');
    await card.locator('textarea[name=reason]').fill(`refund within limits ${XSS_IMG}`);
    await Promise.all([page.waitForURL(/done=approve/), card.locator('button[value=approve]').click()]);
    const row = await api(keys['bot']!, 'GET', `/v1/approvals/${approvalId}`);
    assert.equal(row.status, 'granted');
    assert.equal(row.decided_by, 'finance-lead');
    assert.equal(row.decision_reason, `refund within limits ${XSS_IMG}`);
    assert.ok((await page.textContent('main'))!.includes(`refund within limits ${XSS_IMG}`));
    await checkPage(page, problems, 'approvals after');
    await page.context().close();
  });
});
