/**
 * The dashboard in Chromium over the large log, served by a real `auditrail serve` on 127.0.0.1
 * (open mode: no sign-in, nothing written): the overview until its load event, a run's timeline
 * (one session of 100 events, spread over thousands of seqs), and a filtered search over the whole
 * log. Each figure is a full page load in the browser: request, server-side queries, HTML, the
 * script and CSS. Then the live tail of the search page on a copy of the large log while a
 * producer records 1,000 events/s into it. Skipped, with the reason printed, when Debian's
 * Chromium is absent.
 */
import { copyFileSync, cpSync, existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { openAuditTrail } from '../../src/index.js';
import { CHROMIUM_FLAGS, chromiumPath } from '../../src/internal/chromium.js';
import { buildServer } from '../../src/server/app.js';
import { seededRandom } from '../agent-workload.js';
import { LARGE_LOG_TENANT, largeLog } from '../fixtures/large-log.js';
import { addBenchmark, below, percentile, type BenchContext, type BenchResult } from '../suite.js';

const CHROMIUM = chromiumPath();
const ARGS = [...CHROMIUM_FLAGS];

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
        ...(await liveTail(ctx, browser, log.db)),
      ];
    } finally {
      await browser.close();
      await app.close();
    }
  },
});

/** Events per second the producer records while the page tails, and for how long. */
const TAIL_RATE = 1000;

/**
 * The search page's live tail on a copy of the large log while this process records
 * {@link TAIL_RATE} events/s into it: for each event, the time from its durable commit (its
 * receipt) to its row appearing in the page (a MutationObserver on the results, same wall
 * clock). Keeping up means every event is shown and the lag does not grow.
 */
async function liveTail(ctx: BenchContext, browser: Browser, large: string): Promise<BenchResult[]> {
  const dir = join(ctx.tmpDir, 'live-tail');
  mkdirSync(dir, { recursive: true });
  const db = join(dir, 'audit.db');
  copyFileSync(large, db);
  cpSync(join(dirname(large), 'keys'), join(dir, 'keys'), { recursive: true });
  const app = await buildServer({
    db,
    checkpointIntervalMs: 0,
    dashboardOpen: { tenant: LARGE_LOG_TENANT, name: 'bench' },
  });
  const producer = await openAuditTrail({ tenant: LARGE_LOG_TENANT, db, checkpointIntervalMs: 0 });
  try {
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    await page.goto(`${base}/search?type=x.bench.tail`, { waitUntil: 'load' });
    // In the page (a string: this file is compiled without the DOM types).
    await page.evaluate(`(() => {
      const seen = (window.seen = []);
      new MutationObserver((records) => {
        const at = Date.now();
        for (const r of records)
          for (const n of r.addedNodes) if (n.dataset && n.dataset.seq) seen.push([Number(n.dataset.seq), at]);
      }).observe(document.querySelector('#results tbody'), { childList: true });
    })()`);
    await page.click('#tail-toggle');
    await page.waitForSelector('#tail-status[data-state="live"]');
    const seconds = ctx.scale(5, 15);
    const total = seconds * TAIL_RATE;
    const committed = new Map<number, number>();
    const writes: Promise<void>[] = [];
    const start = Date.now();
    for (let i = 0; i < total; i++) {
      // Paced: event i is due at start + i ms.
      const due = start + (i * 1000) / TAIL_RATE;
      if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
      writes.push(
        producer
          .record({ type: 'x.bench.tail', actor: { type: 'agent', id: 'tail-bot' }, metadata: { i } })
          .then((r) => void committed.set(r.seq, Date.now())),
      );
    }
    await Promise.all(writes);
    const rate = total / ((Date.now() - start) / 1000);
    const last = Math.max(...committed.keys());
    // Polled from here: the page's CSP (rightly) refuses the eval a waitForFunction would need.
    for (const until = Date.now() + 30_000; Date.now() < until;) {
      if (await page.evaluate(`window.seen.some(([s]) => s === ${last})`)) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const seen = await page.evaluate<[number, number][]>('window.seen');
    const lags = new Float64Array(seen.length);
    let shown = 0;
    for (const [seq, at] of seen) {
      const c = committed.get(seq);
      if (c !== undefined) lags[shown++] = Math.max(0, at - c);
    }
    if (shown !== total) throw new Error(`live tail showed ${shown} of ${total} events`);
    const note = `${total} events at ${rate.toFixed(0)}/s into a copy of the large log, commit to row in Chromium`;
    return [
      { name: 'dashboard.live_tail_lag_p50', value: percentile(lags, 0.5), unit: 'ms', note },
      {
        name: 'dashboard.live_tail_lag_p99',
        value: percentile(lags, 0.99),
        unit: 'ms',
        target: below(1000),
        note: `${note}, all ${shown} shown`,
      },
    ];
  } finally {
    await producer.close();
    await app.close();
  }
}
