// Approvals across processes, decided in a real browser: an agent in another process runs a
// guarded refund through `auditrail serve` (SQLite file) and waits; the approver signs in to the
// dashboard in Debian's Chromium and approves or denies with a reason. The waiting agent proceeds
// (or gets the denial), and the log names the signed-in principal. Skips with a printed reason when
// Chromium is absent, except under CI=true, where that is a failure.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { chromium, type Browser, type Page } from 'playwright-core';
import { parsePolicy } from '../../src/policy/index.js';
import { buildServer } from '../../src/server/app.js';
import { CHROMIUM_FLAGS, chromiumPath } from '../../src/internal/chromium.js';

const CHROMIUM = chromiumPath();
const ARGS = [...CHROMIUM_FLAGS];
const missing = existsSync(CHROMIUM) ? null : `${CHROMIUM} is not installed (apt-get install -y chromium)`;
if (missing && process.env['CI'] === 'true')
  throw new Error(`browser tests need Chromium under CI: ${missing}`);
if (missing) console.log(`# skipping the dashboard approval browser tests: ${missing}`);

const CHILD = fileURLToPath(new URL('./approval-agent-child.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

const POLICY = parsePolicy(`
policy_id: refunds
version: 1
default: deny
rules:
  - id: refunds-need-finance
    match: { action: 'write:refund' }
    effect: require_approval
    approvers: [finance-lead]
    approval_ttl: 5m
    reason: refunds need a finance approver
`);

// Agents still running when a test fails are ended (by their own pid) in after().
const agents: ChildProcess[] = [];

/** The agent process: its stdout lines as they come, and its exit. */
interface Agent {
  lines: string[];
  requested: Promise<string>;
  done: Promise<{ code: number | null; out: string }>;
}

function startAgent(url: string, apiKey: string, order: string): Agent {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', CHILD, url, apiKey, order], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  agents.push(child);
  const lines: string[] = [];
  let err = '';
  let onRequested: (id: string) => void = () => undefined;
  let onFailed: (e: Error) => void = () => undefined;
  const requested = new Promise<string>((resolve, reject) => {
    onRequested = resolve;
    onFailed = reject;
  });
  let buffer = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => {
    buffer += s;
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      lines.push(line);
      const m = /^requested (\S+)$/.exec(line);
      if (m) onRequested(m[1]!);
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (err += s));
  const done = new Promise<{ code: number | null; out: string }>((resolve) =>
    child.on('close', (code) => {
      onFailed(new Error(`the agent exited before asking for approval: ${lines.join(' | ')} ${err}`));
      resolve({ code, out: `${lines.join('\n')}${err ? `\n${err}` : ''}` });
    }),
  );
  return { lines, requested, done };
}

describe(
  'approvals decided in the dashboard reach an agent waiting in another process',
  {
    skip: missing ?? false,
    timeout: 180_000,
  },
  () => {
    let app: FastifyInstance;
    let base: string;
    let browser: Browser;
    let dir = '';
    const keys: Record<string, string> = {};

    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON answers, checked by the asserts
    const api = async (key: string, path: string): Promise<any> => {
      const r = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${key}` } });
      const text = await r.text();
      assert.ok(r.ok, `GET ${path}: ${r.status} ${text}`);
      return JSON.parse(text);
    };

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'auditrail-dashboard-approvals-'));
      app = await buildServer({
        db: join(dir, 'audit.db'),
        keyDir: join(dir, 'keys'),
        policy: POLICY,
        checkpointIntervalMs: 50,
      });
      await app.listen({ host: '127.0.0.1', port: 0 });
      const address = app.server.address();
      base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
      keys['bot'] = (
        await app.auditrail.createKey({
          tenant: 'acme',
          name: 'refund-bot',
          scopes: ['ingest', 'read', 'decide'],
        })
      ).key;
      keys['finance'] = (
        await app.auditrail.createKey({ tenant: 'acme', name: 'finance-lead', scopes: ['approve', 'read'] })
      ).key;
      browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
    });

    after(async () => {
      for (const child of agents) if (child.exitCode === null && child.signalCode === null) child.kill();
      await browser?.close();
      await app?.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    /** A signed-in page of the approver, watching for dialogs and page errors. */
    async function approverPage(): Promise<{ page: Page; problems: string[] }> {
      const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      const page = await context.newPage();
      const problems: string[] = [];
      page.on('dialog', (d) => {
        problems.push(`dialog: ${d.message()}`);
        void d.dismiss();
      });
      page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
      await page.goto(`${base}/`);
      assert.match(page.url(), /\/login$/);
      await page.fill('input[name=key]', keys['finance']!);
      await Promise.all([page.waitForURL(`${base}/`), page.click('button[type=submit]')]);
      return { page, problems };
    }

    /** Opens the inbox, checks the held request shows the agent's exact action, and decides it. */
    async function decide(
      page: Page,
      id: string,
      order: string,
      verdict: 'approve' | 'deny',
      reason: string,
    ): Promise<void> {
      await page.goto(`${base}/approvals`);
      const card = page.locator(`article[data-approval="${id}"]`);
      const text = (await card.textContent()) ?? '';
      assert.match(text, /refunds-need-finance/);
      assert.match(text, /write:refund/);
      assert.match(text, new RegExp(`order/${order}`));
      assert.match(text, /"amount": 120/);
      await card.locator('textarea[name=reason]').fill(reason);
      await Promise.all([
        page.waitForURL(new RegExp(`done=${verdict}`)),
        card.locator(`button[value=${verdict}]`).click(),
      ]);
    }

    /** The events of one run, in log order. */
    async function runEvents(order: string): Promise<{ type: string; approval?: Record<string, unknown> }[]> {
      const page: { events: { type: string; approval?: Record<string, unknown> }[] } = await api(
        keys['bot']!,
        `/v1/events?run_id=run-${order}&limit=100`,
      );
      return page.events;
    }

    it('approve: the waiting guard() proceeds, its outcome is recorded, the grant names the approver', async () => {
      const agent = startAgent(base, keys['bot']!, '1042');
      const id = await agent.requested;
      // Held, not run: the agent waits on the server while nobody has decided.
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(agent.lines, [`requested ${id}`]);

      const { page, problems } = await approverPage();
      await decide(page, id, '1042', 'approve', 'within the refund limit');
      const { code, out } = await agent.done;
      assert.equal(code, 0, out);
      assert.deepEqual(agent.lines, [`requested ${id}`, 'ran', 'ok refunded 1042 120']);

      const row = await api(keys['bot']!, `/v1/approvals/${id}`);
      assert.equal(row.status, 'used', 'the grant was used by the refund');
      assert.equal(row.decided_by, 'finance-lead');
      assert.equal(row.decision_reason, 'within the refund limit');
      const events = await runEvents('1042');
      const types = events.map((e) => e.type);
      const granted = events.find((e) => e.type === 'approval.granted');
      assert.ok(granted, `approval.granted in ${types.join(', ')}`);
      assert.equal(granted.approval?.['approver'], 'finance-lead');
      assert.equal(granted.approval?.['request_id'], id);
      const done = events.find((e) => e.type === 'action.succeeded');
      assert.ok(done, `action.succeeded in ${types.join(', ')}`);
      assert.equal(done.approval?.['request_id'], id, 'the outcome names the grant it used');
      assert.ok(types.indexOf('approval.granted') < types.indexOf('action.succeeded'));
      assert.deepEqual(problems, []);
      await page.context().close();
    });

    it('deny: the waiting guard() gets the denial and the refund never runs', async () => {
      const agent = startAgent(base, keys['bot']!, '2077');
      const id = await agent.requested;
      const { page, problems } = await approverPage();
      await decide(page, id, '2077', 'deny', 'duplicate of an earlier refund');
      const { code, out } = await agent.done;
      assert.equal(code, 1, out);
      assert.equal(agent.lines.length, 2, out);
      assert.equal(agent.lines[0], `requested ${id}`);
      assert.match(agent.lines[1]!, /^error denied .*finance-lead/);
      assert.ok(!agent.lines.includes('ran'), 'the denied refund did not run');

      const row = await api(keys['bot']!, `/v1/approvals/${id}`);
      assert.equal(row.status, 'denied');
      assert.equal(row.decided_by, 'finance-lead');
      const events = await runEvents('2077');
      const types = events.map((e) => e.type);
      const denied = events.find((e) => e.type === 'approval.denied');
      assert.ok(denied, `approval.denied in ${types.join(', ')}`);
      assert.equal(denied.approval?.['approver'], 'finance-lead');
      assert.ok(!types.includes('action.succeeded') && !types.includes('action.failed'), types.join(', '));
      assert.deepEqual(problems, []);
      await page.context().close();
    });
  },
);
