/**
 * Disk use: the workload recorded by 64 producers awaiting each receipt (many small commits, the
 * case that grows the SQLite WAL fastest), then the database file plus its WAL on disk right
 * after the last commit, per 10,000 events; and the WAL once appends have been idle.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { openAuditTrail } from '../../src/index.js';
import { WAL_IDLE_MS } from '../../src/store/sqlite/sqlite-store.js';
import { workloadEvents } from '../fixtures/workload-events.js';
import { addBenchmark, below } from '../suite.js';

const PRODUCERS = 64;

function size(path: string): number {
  return existsSync(path) ? statSync(path).size : 0;
}

addBenchmark({
  name: 'storage',
  async run(ctx) {
    const n = ctx.scale(10_000, 100_000);
    const events = workloadEvents(n);
    const db = join(ctx.tmpDir, 'storage.db');
    const trail = await openAuditTrail({ tenant: 'bench', db });
    try {
      let next = 0;
      const producer = async (): Promise<void> => {
        for (let i = next++; i < n; i = next++) await trail.record(events[i]!);
      };
      await Promise.all(Array.from({ length: PRODUCERS }, producer));
      const wal = size(`${db}-wal`);
      const total = size(db) + wal;
      await new Promise((r) => setTimeout(r, WAL_IDLE_MS + 1000));
      const walIdle = size(`${db}-wal`);
      const note = `${n} events, ${PRODUCERS} producers`;
      return [
        {
          name: 'storage.bytes_per_10k_events',
          value: (total * 10_000) / n,
          unit: 'bytes',
          note: `database + WAL after the last commit; ${note}`,
        },
        { name: 'storage.wal_bytes_busy', value: wal, unit: 'bytes', note: 'WAL after the last commit' },
        {
          name: 'storage.wal_bytes_idle',
          value: walIdle,
          unit: 'bytes',
          target: below(1),
          note: `WAL ${((WAL_IDLE_MS + 1000) / 1000).toFixed(0)} s after the last commit (truncated when idle)`,
        },
      ];
    } finally {
      await trail.close();
    }
  },
});
