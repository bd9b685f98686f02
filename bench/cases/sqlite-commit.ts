/**
 * One durable SQLite commit: a single-row insert transaction in WAL mode with
 * `synchronous=FULL`, on the real schema. This is the floor under the latency of any write that
 * is acknowledged only once on disk (one WAL fsync).
 */
import { join } from 'node:path';
import { openPlainSqlite } from '../fixtures/plain-sqlite.js';
import { addBenchmark, percentile } from '../suite.js';

addBenchmark({
  name: 'sqlite-commit',
  run(ctx) {
    const n = ctx.scale(300, 1000);
    const db = openPlainSqlite(join(ctx.tmpDir, 'commit.db'));
    const insert = db.prepare(
      'INSERT INTO entries (log_id, seq, leaf, leaf_hash, eid, type, ts) VALUES (1, ?, ?, ?, ?, ?, ?)',
    );
    const leaf = Buffer.alloc(300, 0x61);
    const leafHash = Buffer.alloc(32, 0x62);
    const commit = db.transaction((seq: number) => {
      insert.run(seq, leaf, leafHash, `eid-${seq}`, 'action.intent', '2026-01-01T00:00:00.000000Z');
    });
    for (let i = 0; i < 20; i++) commit(i);
    const samples = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const t = performance.now();
      commit(20 + i);
      samples[i] = performance.now() - t;
    }
    db.close();
    const note = `${n} single-row transactions`;
    return Promise.resolve([
      { name: 'sqlite.commit_p50', value: percentile(samples, 0.5), unit: 'ms', note },
      { name: 'sqlite.commit_p99', value: percentile(samples, 0.99), unit: 'ms', note },
    ]);
  },
});
