// Writes docs/img/dashboard-*.png: the main dashboard pages over a freshly recorded demo session,
// in Debian's Chromium through playwright-core. Run: node --import tsx scripts/write-screenshots.ts
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { main, type Io } from '../src/cli/main.js';
import { demoPolicy } from '../src/cli/demo-session.js';
import { serve } from '../src/server/index.js';
import { CHROMIUM_FLAGS, chromiumPath } from '../src/internal/chromium.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const OUT = join(ROOT, 'docs', 'img');
const dir = mkdtempSync(join(tmpdir(), 'auditrail-screenshots-'));
const db = join(dir, 'audit.db');

const quiet: Io = {
  stdout: { write: () => undefined },
  stderr: { write: (s) => void process.stderr.write(s) },
  isTTY: { stdout: false, stderr: false },
  env: {},
  cwd: dir,
  columns: 100,
};
if ((await main(['demo', '--db', db], quiet)) !== 0) throw new Error('the demo failed');
const vkey = await new Promise<string>((resolve, reject) => {
  let out = '';
  main(['keys', 'show', '--db', db], { ...quiet, stdout: { write: (s) => void (out += s) } }).then(
    () => resolve(out.trim()),
    reject,
  );
});

const s = await serve(
  {
    db,
    host: '127.0.0.1',
    port: 0,
    policy: demoPolicy(),
    dashboardOpen: { tenant: 'demo', name: 'maria.chen' },
    logger: false,
  },
  false,
);
const browser = await chromium.launch({
  executablePath: chromiumPath(),
  args: [...CHROMIUM_FLAGS],
});
try {
  mkdirSync(OUT, { recursive: true });
  const page = await (
    await browser.newContext({
      viewport: { width: 1100, height: 760 },
      colorScheme: 'light',
      timezoneId: 'UTC',
    })
  ).newPage();
  const shot = (name: string) => page.screenshot({ path: join(OUT, `dashboard-${name}.png`) });

  await page.goto(`${s.url}/`);
  await shot('overview');
  await page.goto(`${s.url}/runs`);
  // The run with a retried action is the telling one of the demo.
  const links = await page.evaluate<string[]>(
    `[...document.querySelectorAll('tbody a')].map((a) => a.getAttribute('href'))`,
  );
  for (const link of links) {
    await page.goto(`${s.url}${link}`);
    if ((await page.locator('article:has-text("Retry")').count()) > 0) break;
  }
  await shot('run');
  await page.goto(`${s.url}/settings`);
  await page.fill('#pin-key', vkey);
  await page.click('#pin-form button[type=submit]');
  await page.waitForSelector('#pinned');
  await page.goto(`${s.url}/events/5`);
  await page.click('button[data-verify-seq]');
  await page.waitForSelector('#verify-verdict');
  await page.evaluate(`document.getElementById('h-verify').scrollIntoView()`);
  await shot('verify');
  await page.goto(`${s.url}/policies`);
  await shot('policies');
  await page.goto(`${s.url}/search?decision=deny`);
  await shot('search');
  await page.goto(`${s.url}/approvals`);
  await shot('approvals');
  console.log(`wrote ${OUT}/dashboard-*.png`);
} finally {
  await browser.close();
  await s.close();
  rmSync(dir, { recursive: true, force: true });
}
