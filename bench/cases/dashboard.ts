/**
 * The dashboard in Chromium over the large log, served by a real `auditrail serve` on 127.0.0.1
 * (open mode: no sign-in, nothing written): the overview until its load event, a run's timeline
 * (one session of 100 events, spread over thousands of seqs), and a filtered search over the whole
 * log. Each figure is a full page load in the browser: request, server-side queries, HTML, the
 * script and CSS. Skipped, with the reason printed, when Debian's Chromium is absent.
 */
import { existsSync } from 'node:fs';
import { chromium, type Page } from 'playwright-core';
import { buildServer } from '../../src/server/app.js';
import { seededRandom } from '../agent-workload.js';
import { LARGE_LOG_TENANT, largeLog } from '../fixtures/large-log.js';
import { addBenchmark, below, percentile } from '../suite.js';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Filtered searches: an agent's denials, an action's failures, an agent's high-risk intents. */
const AGENTS = ['support-bot', 'billing-agent', 'devops-copilot'];
const SEARCHES = [
  (agent: string) => `agent=${agent}&decision=deny`,
  () => `type=action.failed&action=write:*`,
  (agent: string) => `agent=${agent}&risk=high&type=action.intent`,
];

/** Milliseconds from navigation start to the page's load event, and the page's rows. */
async function load(page: Page, url: string, rows: string): Promise<{ ms: number; rows: number }> {
  const t = performance.now();
  const response = await page.goto(url, { waitUntil: 'load' });
  const ms = performance.now() - t;
  if (!response?.ok()) throw new Error(`${url}: HTTP ${response?.status() ?? 'no response'}`);
  return { ms, rows: await page.locator(rows).count() };
}

addBenchmark({
  name: 'dashboard',
  async run(ctx) {
    if (!existsSync(CHROMIUM)) {
      ctx.log(`dashboard: skipped, ${CHROMIUM} is not installed (apt-get install -y chromium)`);
      return [];
    }
    const log = await largeLog(ctx);
    const app = await buildServer({
      db: log.db,
      checkpointIntervalMs: 0,
      dashboardOpen: { tenant: LARGE_LOG_TENANT, name: 'bench' },
    });
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
    try {
      await app.listen({ host: '127.0.0.1', port: 0 });
      const address = app.server.address();
      const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
      const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
      const random = seededRandom(13);

      const overview = new Float64Array(ctx.scale(5, 10));
      for (let i = -2; i < overview.length; i++) {
        const { ms } = await load(page, `${base}/`, '.card');
        if (i >= 0) overview[i] = ms;
      }

      const timeline = new Float64Array(ctx.scale(20, 50));
      for (let i = -3; i < timeline.length; i++) {
        const session = log.sessions[Math.floor(random() * log.sessions.length)]!;
        const { ms, rows } = await load(
          page,
          `${base}/runs/run-${encodeURIComponent(session)}`,
          'article.action',
        );
        if (rows === 0) throw new Error(`run-${session}: no timeline`);
        if (i >= 0) timeline[i] = ms;
      }

      const search = new Float64Array(ctx.scale(9, 30));
      let found = 0;
      for (let i = -3; i < search.length; i++) {
        const agent = AGENTS[Math.floor(random() * AGENTS.length)]!;
        const query = SEARCHES[(i + 3) % SEARCHES.length]!(agent);
        const { ms, rows } = await load(page, `${base}/search?${query}`, '#results tbody tr');
        if (i >= 0) {
          search[i] = ms;
          found += rows;
        }
      }
      if (found === 0) throw new Error('no search found anything: the filters do not fit the workload');

      const of = `of ${log.size} events, page load in Chromium`;
      return [
        {
          name: 'dashboard.overview_p50',
          value: percentile(overview, 0.5),
          unit: 'ms',
          target: below(1000),
          note: `${overview.length} loads ${of}`,
        },
        {
          name: 'dashboard.timeline_p50',
          value: percentile(timeline, 0.5),
          unit: 'ms',
          target: below(300),
          note: `${timeline.length} random 100-event runs ${of}`,
        },
        {
          name: 'dashboard.search_p50',
          value: percentile(search, 0.5),
          unit: 'ms',
          target: below(500),
          note: `${search.length} filtered searches ${of}, ${found} rows shown`,
        },
        { name: 'dashboard.search_p99', value: percentile(search, 0.99), unit: 'ms' },
      ];
    } finally {
      await browser.close();
      await app.close();
    }
  },
});
