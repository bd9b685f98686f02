/**
 * The cold archive (issue 16: archive of 1,000,000 events < 60 s): `archiveLog` of the whole
 * large log (up to its last signed checkpoint), on a copy of the cached log: the cache is never
 * modified. Reports wall time and the CPU time of the process per archived event.
 */
import { copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { archiveLog, openAuditTrail } from '../../src/index.js';
import { LARGE_LOG_TENANT, largeLog } from '../fixtures/large-log.js';
import { addBenchmark, below, since, type BenchContext, type BenchResult } from '../suite.js';

/**
 * A cached large log of the run's size: the one of the current format when built, else the
 * newest complete one of an older schema (the copy is migrated when opened, as a user's database
 * is), so a new migration does not cost a rebuild of the 1,000,000-event log.
 */
async function anyLargeLog(ctx: BenchContext): Promise<{ db: string; size: number }> {
  const size = ctx.scale(100_000, 1_000_000);
  const prefix = `large-log-${size}-`;
  const cached = existsSync(ctx.cacheDir)
    ? readdirSync(ctx.cacheDir)
        .filter((d) => d.startsWith(prefix) && existsSync(join(ctx.cacheDir, d, 'complete')))
        .map((d) => join(ctx.cacheDir, d))
        .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)
    : [];
  if (ctx.rebuild || cached.length === 0) return largeLog(ctx);
  return { db: join(cached[0]!, 'audit.db'), size };
}

addBenchmark({
  name: 'archive',
  async run(ctx) {
    const log = await anyLargeLog(ctx);
    const work = join(ctx.tmpDir, 'archive-bench');
    mkdirSync(work, { recursive: true });
    const db = join(work, 'audit.db');
    ctx.log(`archive: copying the ${log.size}-event log`);
    copyFileSync(log.db, db);
    for (const side of ['-wal', '-shm'])
      if (existsSync(log.db + side)) copyFileSync(log.db + side, db + side);
    const keys = join(log.db, '..', 'keys');
    if (existsSync(keys)) cpSync(keys, join(work, 'keys'), { recursive: true });
    const trail = await openAuditTrail({ tenant: LARGE_LOG_TENANT, db, checkpointIntervalMs: 0 });
    try {
      ctx.log('archive: archiving every event up to the last signed checkpoint');
      const cpu = process.cpuUsage();
      const start = performance.now();
      const r = await archiveLog(trail, {
        before: new Date(Date.now() + 86_400_000),
        dir: join(work, 'out'),
      });
      const seconds = since(start) / 1000;
      const used = process.cpuUsage(cpu);
      const cpuSeconds = (used.user + used.system) / 1e6;
      const bytes = r.files.reduce((n, f) => n + f.bytes, 0);
      const results: BenchResult[] = [
        {
          name: ctx.scale('archive.100k_s', 'archive.1m_s'),
          value: seconds,
          unit: 's',
          ...(ctx.quick ? {} : { target: below(60) }),
          note: `${r.entries} events to ${r.files.length} Parquet files (${Math.round(bytes / 1e6)} MB, SNAPPY), ${r.dropped.disclosures} disclosures dropped`,
        },
        {
          name: 'archive.cpu_us_per_event',
          value: (cpuSeconds * 1e6) / r.entries,
          unit: 'µs',
          note: `CPU time of the process (all threads): ${cpuSeconds.toFixed(1)} s`,
        },
      ];
      return results;
    } finally {
      await trail.close();
      rmSync(work, { recursive: true, force: true });
    }
  },
});
