// The anomalies page in a real browser: events recorded in an SQLite log, the detectors run over
// it, and in Debian's Chromium the on-call engineer opens /anomalies, sees the anomaly with its
// state and risk, follows the link to the run timeline and to a triggering event. Skips with a
// printed reason when Chromium is absent, except under CI=true, where that is a failure.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { chromium, type Browser } from 'playwright-core';
import { buildServer } from '../../src/server/app.js';
import { defaultDetectConfig, DetectRunner } from '../../src/detect/index.js';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
];
const missing = existsSync(CHROMIUM) ? null : `${CHROMIUM} is not installed (apt-get install -y chromium)`;
if (missing && process.env['CI'] === 'true')
  throw new Error(`browser tests need Chromium under CI: ${missing}`);
if (missing) console.log(`# skipping the dashboard anomalies browser test: ${missing}`);

const T0 = Date.UTC(2026, 0, 5, 9);

describe('dashboard anomalies page in Chromium', { skip: missing ?? false }, () => {
  let dir = '';
  let app: FastifyInstance | undefined;
  let browser: Browser | undefined;
  let base = '';

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'auditrail-browser-anomalies-'));
    app = await buildServer({
      db: join(dir, 'audit.db'),
      keyDir: join(dir, 'keys'),
      checkpointIntervalMs: 50,
      dashboardOpen: { tenant: 'acme', name: 'oncall' },
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    const trail = await app.auditrail.trail('acme');
    const actor = { type: 'agent' as const, id: 'sync-bot' };
    await trail.recordBatch([
      {
        type: 'action.intent',
        time: new Date(T0).toISOString(),
        actor,
        run_id: 'run-42',
        action: { type: 'read:patient', target: 'patient/7' },
        context: { data_classification: 'phi' },
      },
      {
        type: 'action.intent',
        time: new Date(T0 + 5000).toISOString(),
        actor,
        run_id: 'run-42',
        action: { type: 'http.post', target: 'https://upload.example/x' },
      },
    ]);
    const r = await new DetectRunner(trail, defaultDetectConfig()).run();
    assert.equal(r.anomalies, 1);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  });

  after(async () => {
    await browser?.close();
    await app?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('lists the anomaly and links to its run timeline and its triggering events', async () => {
    const page = await browser!.newPage();
    await page.goto(`${base}/`);
    await page.getByRole('link', { name: 'Anomalies' }).click();
    await page.waitForURL(`${base}/anomalies`);
    assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Anomalies');
    const row = page.locator('tr[data-anomaly^="exfiltration:sync-bot:"]');
    assert.equal(await row.count(), 1);
    const text = (await row.textContent()) ?? '';
    assert.match(text, /open/);
    assert.match(text, /critical/);
    assert.match(text, /http\.post to 'https:\/\/upload\.example\/x' after reading phi data in run run-42/);
    await row.getByRole('link', { name: 'timeline' }).click();
    await page.waitForURL(`${base}/runs/run-42`);
    assert.match((await page.locator('main').textContent()) ?? '', /read:patient/);
    await page.goBack();
    await page.locator('tr[data-anomaly] td:last-child a').first().click();
    await page.waitForURL(`${base}/events/0`);
    assert.match((await page.locator('main').textContent()) ?? '', /read:patient/);
    await page.goto(`${base}/anomalies?state=resolved`);
    assert.equal(await page.locator('tr[data-anomaly]').count(), 0);
    assert.match((await page.locator('main').textContent()) ?? '', /No resolved anomalies/);
    await page.close();
  });
});
