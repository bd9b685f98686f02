/**
 * GDPR erasure of one data subject in the large log (`erase.subject_ms`, target < 1 s): the
 * subject's events are found through the index by the subject's tag, their disclosures erased
 * and one `data.erased` event appended. Works on a copy of the cached large log (never on the
 * cache itself); opening the copy for writing first gives the log its index key and re-derives
 * its index rows (`privacy.index_upgrade_s`, once per log written before index keys).
 */
import { copyFileSync, cpSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openAuditTrail } from '../../src/index.js';
import { LARGE_LOG_TENANT, largeLog } from '../fixtures/large-log.js';
import { addBenchmark, below } from '../suite.js';

/** A complete cached large log of `size` events, whatever its format key, else the fixture's. */
async function sourceLog(ctx: Parameters<typeof largeLog>[0], size: number): Promise<string> {
  if (existsSync(ctx.cacheDir)) {
    for (const name of readdirSync(ctx.cacheDir)) {
      const dir = join(ctx.cacheDir, name);
      if (
        name.startsWith(`large-log-${size}-`) &&
        existsSync(join(dir, 'complete')) &&
        readFileSync(join(dir, 'complete'), 'utf8') === name
      )
        return dir;
    }
  }
  const log = await largeLog(ctx);
  return join(log.db, '..');
}

const cpuMs = (since: NodeJS.CpuUsage): number => {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1000;
};

addBenchmark({
  name: 'privacy',
  async run(ctx) {
    const size = ctx.scale(100_000, 1_000_000);
    const from = await sourceLog(ctx, size);
    const db = join(ctx.tmpDir, 'privacy.db');
    ctx.log(`privacy: copying ${from} (the cache is never written)`);
    copyFileSync(join(from, 'audit.db'), db);
    if (existsSync(join(from, 'keys')))
      cpSync(join(from, 'keys'), join(ctx.tmpDir, 'keys'), { recursive: true });

    let cpu = process.cpuUsage();
    let t = performance.now();
    const trail = await openAuditTrail({ tenant: LARGE_LOG_TENANT, db, checkpointIntervalMs: 0 });
    const upgradeS = (performance.now() - t) / 1000;
    const upgradeCpuS = cpuMs(cpu) / 1000;
    try {
      // One subject, named by 30 events spread over the sessions of the workload's last hours.
      const subject = 'cust-bench-4711';
      for (let i = 0; i < 30; i++) {
        await trail.record({
          type: 'context.accessed',
          session_id: `privacy-${i % 5}`,
          actor: { type: 'agent', id: 'support-bot' },
          action: { type: 'read:customer', target: `customer/${subject}` },
          context: {
            data_subject_ids: [subject, `cust-other-${i}`],
            data_classification: 'pii',
            reasoning: 'looked up the order',
          },
        });
      }
      const samples: { ms: number; cpu: number }[] = [];
      cpu = process.cpuUsage();
      t = performance.now();
      const r = await trail.erase({ subject }, { reason: 'bench erasure', requestedBy: 'dpo@bench' });
      samples.push({ ms: performance.now() - t, cpu: cpuMs(cpu) });
      if (r.events !== 30) throw new Error(`erased ${r.events} events, not 30`);
      const note = `${size.toLocaleString('en')} events, 30 naming the subject, ${r.erased.length} fields`;
      return [
        { name: 'erase.subject_ms', value: samples[0]!.ms, unit: 'ms', target: below(1000), note },
        {
          name: 'erase.subject_cpu_ms',
          value: samples[0]!.cpu,
          unit: 'ms',
          note: 'CPU time of this process',
        },
        {
          name: 'privacy.index_upgrade_s',
          value: upgradeS,
          unit: 's',
          note: `CPU ${upgradeCpuS.toFixed(1)} s; once per log written before index keys`,
        },
      ];
    } finally {
      await trail.close();
    }
  },
});
