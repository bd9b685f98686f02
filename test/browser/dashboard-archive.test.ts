// The event page of an archived event in a real browser: events recorded in an SQLite log, the
// range archived to Parquet (archiveLog), and in Debian's Chromium the auditor opens an archived
// event's page, reads "archived in seq A..B by seq N" with the manifest's SHA-256, and follows the
// link to the archive.created event. Skips with a printed reason when Chromium is absent, except
// under CI=true, where that is a failure.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { chromium, type Browser } from 'playwright-core';
import { archiveLog, type ArchiveResult } from '../../src/index.js';
import { buildServer } from '../../src/server/app.js';
import { CHROMIUM_FLAGS, chromiumPath } from '../../src/internal/chromium.js';

const CHROMIUM = chromiumPath();
const missing = existsSync(CHROMIUM) ? null : `${CHROMIUM} is not installed (apt-get install -y chromium)`;
if (missing && process.env['CI'] === 'true')
  throw new Error(`browser tests need Chromium under CI: ${missing}`);
if (missing) console.log(`# skipping the dashboard archive browser test: ${missing}`);

describe('dashboard event page of an archived event in Chromium', { skip: missing ?? false }, () => {
  let dir = '';
  let app: FastifyInstance | undefined;
  let browser: Browser | undefined;
  let base = '';
  let archived: ArchiveResult | undefined;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'auditrail-browser-archive-'));
    app = await buildServer({
      db: join(dir, 'audit.db'),
      keyDir: join(dir, 'keys'),
      checkpointIntervalMs: 60_000,
      dashboardOpen: { tenant: 'acme', name: 'auditor' },
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    const trail = await app.auditrail.trail('acme');
    for (let i = 0; i < 5; i++) {
      await trail.record({
        type: 'context.accessed',
        actor: { type: 'agent', id: 'support-bot' },
        action: { type: 'read:customer', target: `customer/${i}` },
      });
    }
    // Every entry up to a fresh checkpoint of the whole log was logged before tomorrow.
    archived = await archiveLog(trail, {
      before: new Date(Date.now() + 86_400_000),
      dir: join(dir, 'cold'),
    });
    assert.deepEqual([archived.from, archived.to], [0, 5]);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: [...CHROMIUM_FLAGS] });
  });

  after(async () => {
    await browser?.close();
    await app?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('labels an archived event "archived in seq A..B by seq N" and links to the archive.created event', async () => {
    const r = archived!;
    const page = await browser!.newPage();
    await page.goto(`${base}/events/2`);
    assert.equal(
      (await page.getByRole('heading', { level: 1 }).textContent())?.replace(/\s+/g, ' ').trim(),
      'Event 2 context.accessed',
    );
    const marker = page.locator('main .marker', { hasText: 'archived in' });
    assert.equal(await marker.count(), 1);
    assert.equal(await marker.textContent(), `archived in seq 0..4`);
    // `has` is relative to the paragraph: the marker alone, not from `main`.
    const paragraph = page.locator('main p', { has: page.locator('.marker', { hasText: 'archived in' }) });
    const label = (await paragraph.textContent())?.replace(/\s+/g, ' ') ?? '';
    assert.match(
      label,
      new RegExp(`archived in seq 0\\.\\.4 by seq ${r.by_seq} \\(manifest SHA-256 ${r.manifest_sha256}\\)`),
    );
    // The archived fields are not shown as missing: the event's target is in the archive, not here.
    assert.doesNotMatch((await page.locator('main').textContent()) ?? '', /customer\/2/);
    await paragraph.getByRole('link', { name: `seq ${r.by_seq}` }).click();
    await page.waitForURL(`${base}/events/${r.by_seq}`);
    const text = (await page.locator('main').textContent()) ?? '';
    assert.match(text, /archive\.created/);
    assert.ok(text.includes(r.manifest_sha256), 'the archive.created event names the manifest');
    // The archive.created event itself, after the range, is hot: no label.
    assert.equal(await page.locator('main .marker', { hasText: 'archived in' }).count(), 0);
    await page.close();
  });
});
