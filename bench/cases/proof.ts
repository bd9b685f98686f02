/**
 * Inclusion proof of one event in the large log: `trail.prove(seq)` (event, tiles and latest
 * checkpoint read from the store, audit path computed) and `verifyProofBundle` (leaf, disclosures,
 * audit path and the checkpoint's Ed25519 signature checked), over random seqs.
 */
import { openAuditTrail, verifyProofBundle } from '../../src/index.js';
import { seededRandom } from '../agent-workload.js';
import { LARGE_LOG_TENANT, largeLog } from '../fixtures/large-log.js';
import { addBenchmark, below, percentile } from '../suite.js';

addBenchmark({
  name: 'proof',
  async run(ctx) {
    const log = await largeLog(ctx);
    const n = ctx.scale(200, 500);
    const random = seededRandom(3);
    const trail = await openAuditTrail({ tenant: LARGE_LOG_TENANT, db: log.db, checkpointIntervalMs: 0 });
    try {
      const trustedKey = trail.verifierKey();
      const prove = new Float64Array(n);
      const check = new Float64Array(n);
      const both = new Float64Array(n);
      for (let i = -20; i < n; i++) {
        const seq = Math.floor(random() * log.size);
        const t0 = performance.now();
        const bundle = await trail.prove(seq);
        const t1 = performance.now();
        const r = verifyProofBundle(bundle, { trustedKey });
        const t2 = performance.now();
        if (!r.ok) throw new Error(`proof of seq ${seq} does not verify: ${r.failures.join('; ')}`);
        if (i < 0) continue; // warm-up
        prove[i] = t1 - t0;
        check[i] = t2 - t1;
        both[i] = t2 - t0;
      }
      const note = `p50 over ${n} random seqs of ${log.size}`;
      return [
        {
          name: 'proof.p50',
          value: percentile(both, 0.5),
          unit: 'ms',
          target: below(1),
          note: 'generate + verify',
        },
        { name: 'proof.generate_p50', value: percentile(prove, 0.5), unit: 'ms', note },
        { name: 'proof.verify_p50', value: percentile(check, 0.5), unit: 'ms', note },
      ];
    } finally {
      await trail.close();
    }
  },
});
