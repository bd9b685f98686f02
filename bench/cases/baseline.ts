/**
 * The physical limit of this machine: the rows `record()` stores for the workload (entries,
 * disclosures and index rows, bytes computed ahead of time), inserted into plain SQLite with the
 * real schema, WAL and `synchronous=FULL`, one transaction per batch. Batch 64 matches 64
 * producers each awaiting its receipt; batch 256 matches bulk append (the writer's `maxBatch`).
 * Tiles and the log head, which the real write path also updates, are left out on purpose.
 */
import { join } from 'node:path';
import type { AppendPlan } from '../../src/store/store.js';
import { openPlainSqlite, rowInserter } from '../fixtures/plain-sqlite.js';
import { plannedBatches } from '../fixtures/planned-rows.js';
import { workloadEvents } from '../fixtures/workload-events.js';
import { addBenchmark, since, type BenchResult } from '../suite.js';

/** Regroups planned rows into batches of `size` events. */
function rebatch(plans: readonly AppendPlan[], size: number): AppendPlan[] {
  const entries = plans.flatMap((p) => p.entries);
  const index = plans.flatMap((p) => p.index);
  const disclosures = plans.flatMap((p) => p.disclosures);
  const out: AppendPlan[] = [];
  let d = 0;
  for (let i = 0; i < entries.length; i += size) {
    const batch = entries.slice(i, i + size);
    const last = batch[batch.length - 1]!.seq;
    const from = d;
    while (d < disclosures.length && disclosures[d]!.seq <= last) d++;
    out.push({
      entries: batch,
      index: index.slice(i, i + size),
      disclosures: disclosures.slice(from, d),
      tiles: [],
      head: plans[0]!.head,
    });
  }
  return out;
}

addBenchmark({
  name: 'baseline',
  async run(ctx) {
    const n = ctx.scale(10_000, 100_000);
    ctx.log(`baseline: planning the rows of ${n} events`);
    const planned = await plannedBatches(workloadEvents(n), 256);
    const results: BenchResult[] = [];
    for (const batch of [64, 256]) {
      const batches = rebatch(planned, batch);
      const db = openPlainSqlite(join(ctx.tmpDir, `baseline-${batch}.db`));
      const insert = rowInserter(db);
      const start = performance.now();
      for (const b of batches) insert(b);
      const seconds = since(start) / 1000;
      db.close();
      results.push({
        name: `baseline.batch${batch}`,
        value: n / seconds,
        unit: 'events/s',
        note: `${n} events, ${batches.length} transactions`,
      });
    }
    return results;
  },
});
