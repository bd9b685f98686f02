/**
 * Profiles one archive run on a copy of a log, the way the `archive` bench group runs it:
 *   node bench/profile-archive.ts build <dir> <events>     a workload log in <dir> (once)
 *   node --cpu-prof --cpu-prof-dir=/tmp/aprof build/bench/bench/profile-archive.js run <dir>
 * `run` copies <dir>/audit.db to a scratch directory, archives every event up to its last signed
 * checkpoint and prints the CPU time per event of the process (all threads; `--cpu-prof` writes
 * one profile per thread, so the main thread's share is in its own).
 */
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { archiveLog, openAuditTrail } from '../src/index.js';
import { AgentWorkload } from './agent-workload.js';
import { LARGE_LOG_TENANT } from './fixtures/large-log.js';

const [mode, dir, count] = process.argv.slice(2);
if (!dir || (mode !== 'build' && mode !== 'run'))
  throw new Error('usage: profile-archive.ts build <dir> <events> | run <dir>');

if (mode === 'build') {
  mkdirSync(dir, { recursive: true });
  const workload = new AgentWorkload(42);
  const trail = await openAuditTrail({ tenant: LARGE_LOG_TENANT, db: join(dir, 'audit.db') });
  try {
    for (let i = 0; i < Number(count ?? 100_000); i++) {
      if (!trail.emit(workload.next())) await trail.drain();
    }
    await trail.flush();
    await trail.checkpoint();
  } finally {
    await trail.close();
  }
} else {
  const work = mkdtempSync(join(tmpdir(), 'archive-prof-'));
  const db = join(work, 'audit.db');
  copyFileSync(join(dir, 'audit.db'), db);
  for (const side of ['-wal', '-shm'])
    if (existsSync(join(dir, 'audit.db') + side)) copyFileSync(join(dir, 'audit.db') + side, db + side);
  if (existsSync(join(dir, 'keys'))) cpSync(join(dir, 'keys'), join(work, 'keys'), { recursive: true });
  const trail = await openAuditTrail({ tenant: LARGE_LOG_TENANT, db, checkpointIntervalMs: 0 });
  try {
    const cpu = process.cpuUsage();
    const start = performance.now();
    const r = await archiveLog(trail, {
      before: new Date(Date.now() + 86_400_000),
      dir: join(work, 'out'),
    });
    const ms = performance.now() - start;
    const used = process.cpuUsage(cpu);
    const per = (u: { user: number; system: number }): string => ((u.user + u.system) / r.entries).toFixed(2);
    console.log(
      `archive: ${r.entries} events in ${ms.toFixed(0)} ms wall; CPU ${per(used)} µs/event all threads` +
        `; dropped ${r.dropped.disclosures} disclosures, ${r.dropped.index_rows} index rows`,
    );
  } finally {
    await trail.close();
    rmSync(work, { recursive: true, force: true });
  }
}
