/**
 * Retention over the large log: `applyRetention` with one rule that makes every entry due (purge
 * the disclosures of everything older than a year, counted from two years after the last entry),
 * on a copy of the cached log (the cache itself is never written). Wall time (the issue's
 * target: < 60 s for 1,000,000 events) and CPU time per entry; then the pages freed, and what
 * one VACUUM (`retention vacuum --compact`) gives back.
 */
import { copyFileSync, cpSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  applyRetention,
  openAuditTrail,
  parsePrivacyConfig,
  planRetention,
  reclaimSpace,
} from '../../src/index.js';
import { LARGE_LOG_TENANT, largeLog } from '../fixtures/large-log.js';
import { addBenchmark, below, since } from '../suite.js';

addBenchmark({
  name: 'retention',
  async run(ctx) {
    const log = await largeLog(ctx);
    const db = join(ctx.tmpDir, 'retention.db');
    ctx.log(`retention: copying ${log.db}`);
    copyFileSync(log.db, db);
    if (existsSync(`${log.db}-wal`)) copyFileSync(`${log.db}-wal`, `${db}-wal`);
    cpSync(join(log.db, '..', 'keys'), join(ctx.tmpDir, 'keys'), { recursive: true });
    const policy = parsePrivacyConfig(
      'retention:\n  rules:\n    - name: all\n      keep: 1y\n      purge: disclosures\n',
    ).retention!;
    const trail = await openAuditTrail({ tenant: LARGE_LOG_TENANT, db, checkpointIntervalMs: 0 });
    try {
      const last = await trail.get(trail.size - 1);
      const now = Date.parse(last!.ts) + 2 * 365 * 86_400_000;
      const planStart = performance.now();
      const plan = await planRetention(trail, policy, { now, holds: [] });
      const planS = since(planStart) / 1000;
      const cpu0 = process.cpuUsage();
      const start = performance.now();
      const report = await applyRetention(trail, policy, { now, holds: [], reclaim: false });
      const seconds = since(start) / 1000;
      const cpu = process.cpuUsage(cpu0);
      const cpuUs = cpu.user + cpu.system;
      // Entries with nothing but a body have nothing to purge under `disclosures` (about 40%).
      if (report.total.events !== plan.total.events || report.total.events === 0)
        throw new Error(`retention purged ${report.total.events} entries, planned ${plan.total.events}`);
      const reclaim = await reclaimSpace(trail);
      // Small disclosures shrink in place (pages stay partly used): one VACUUM gives the space back.
      const compactStart = performance.now();
      const compactCpu = process.cpuUsage();
      const compact = await reclaimSpace(trail, { compact: true });
      const compactS = since(compactStart) / 1000;
      const compactUsage = process.cpuUsage(compactCpu);
      const compactCpuS = (compactUsage.user + compactUsage.system) / 1e6;
      const n = log.size;
      const purged = `${report.total.events} entries purged (${report.erased} disclosures, ${report.purge_events.length} retention.purged events)`;
      return [
        {
          name: 'retention.apply_1m_s',
          value: (seconds * 1_000_000) / n,
          unit: 's',
          target: below(60),
          note: `wall, a ${n}-entry log scaled to 1,000,000; ${purged}`,
        },
        {
          name: 'retention.apply_cpu_us_per_event',
          value: cpuUs / n,
          unit: 'µs',
          note: `CPU time of the process (all threads) per entry of the log, the load-independent figure; ${purged}`,
        },
        { name: 'retention.plan_s', value: planS, unit: 's', note: `wall, ${plan.scanned} entries read` },
        {
          name: 'retention.freed_bytes',
          value: reclaim?.freeBytes ?? 0,
          unit: 'bytes',
          note: `pages freed by the purge (${reclaim?.mode ?? 'n/a'}; file ${reclaim?.fileBytesBefore ?? 0} -> ${reclaim?.fileBytesAfter ?? 0} bytes)`,
        },
        {
          name: 'retention.compact_reclaimed_bytes',
          value: (compact?.fileBytesBefore ?? 0) - (compact?.fileBytesAfter ?? 0),
          unit: 'bytes',
          note: `retention vacuum --compact (one VACUUM) after the purge: file ${compact?.fileBytesBefore ?? 0} -> ${compact?.fileBytesAfter ?? 0} bytes`,
        },
        {
          name: 'retention.compact_s',
          value: compactS,
          unit: 's',
          note: `wall; ${compactCpuS.toFixed(1)} s CPU`,
        },
      ];
    } finally {
      await trail.close();
    }
  },
});
