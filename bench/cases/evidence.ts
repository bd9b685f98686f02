/**
 * Evidence packages (issue 14 item 7): `writeEvidence` of every event of a 100,000-event log
 * (leaves, disclosures, one range proof, the checkpoints and the consistency proofs between
 * them) into a .tar.gz, then `verifyEvidence` of those bytes with the trusted key and nothing
 * else: no database, no network. The log is built once by bulk append, with a checkpoint every
 * 10,000 events, and cached in `bench/.cache/` under its own key.
 */
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { openAuditTrail } from '../../src/index.js';
import { verifyEvidence, writeEvidence } from '../../src/report/evidence.js';
import { AgentWorkload, WORKLOAD_VERSION } from '../agent-workload.js';
import { formatFingerprint, LARGE_LOG_TENANT } from '../fixtures/large-log.js';
import { addBenchmark, below, since, type BenchContext } from '../suite.js';

const SIZE = 100_000;
const CHECKPOINT_EVERY = 10_000;

/** The 100,000-event log with its checkpoints, from the cache or built now. */
async function evidenceLog(ctx: BenchContext): Promise<string> {
  const key = `evidence-log-${SIZE}-${createHash('sha256')
    .update(`workload v${WORKLOAD_VERSION}\nsize ${SIZE}\nevery ${CHECKPOINT_EVERY}\n${formatFingerprint()}`)
    .digest('hex')
    .slice(0, 12)}`;
  const dir = join(ctx.cacheDir, key);
  const complete = join(dir, 'complete');
  if (!ctx.rebuild && existsSync(complete) && readFileSync(complete, 'utf8') === key) {
    ctx.log(`evidence log: ${SIZE} events from ${dir}`);
    return join(dir, 'audit.db');
  }
  mkdirSync(ctx.cacheDir, { recursive: true });
  for (const name of readdirSync(ctx.cacheDir))
    if (name.startsWith(`evidence-log-${SIZE}-`))
      rmSync(join(ctx.cacheDir, name), { recursive: true, force: true });
  const building = `${dir}.tmp-${process.pid}`;
  mkdirSync(building, { recursive: true });
  ctx.log(`evidence log: building ${SIZE} events (cached in ${dir})`);
  const workload = new AgentWorkload(42);
  const trail = await openAuditTrail({ tenant: LARGE_LOG_TENANT, db: join(building, 'audit.db') });
  try {
    for (let i = 1; i <= SIZE; i++) {
      if (!trail.emit(workload.next())) await trail.drain();
      if (i % CHECKPOINT_EVERY === 0) {
        await trail.flush();
        await trail.checkpoint();
      }
    }
  } finally {
    await trail.close();
  }
  writeFileSync(complete.replace(dir, building), key);
  renameSync(building, dir);
  return join(dir, 'audit.db');
}

/** CPU seconds of the whole process (every thread: zlib works on the thread pool). */
function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

addBenchmark({
  name: 'evidence',
  async run(ctx) {
    const db = await evidenceLog(ctx);
    const trail = await openAuditTrail({ tenant: LARGE_LOG_TENANT, db, readonly: true });
    const out = join(ctx.tmpDir, 'all.evidence.tar.gz');
    let vkey: string;
    let buildMs: number;
    let events: number;
    let buildCpu: number;
    try {
      vkey = trail.verifierKey();
      const start = performance.now();
      const cpu = cpuSeconds();
      events = (await writeEvidence(trail, out, {})).events;
      buildMs = since(start);
      buildCpu = cpuSeconds() - cpu;
    } finally {
      await trail.close();
    }
    const bytes = statSync(out).size;
    const start = performance.now();
    const cpu = cpuSeconds();
    const report = await verifyEvidence(readFileSync(out), { trustedKey: vkey });
    const verifyMs = since(start);
    const verifyCpu = cpuSeconds() - cpu;
    if (!report.ok || report.summary?.events !== SIZE)
      throw new Error(
        `the benchmark package does not verify: ${JSON.stringify(report.failures.slice(0, 3))}`,
      );
    const note = `${events} events, ${report.summary.checkpoints.length} checkpoints, ${(bytes / 1e6).toFixed(1)} MB`;
    return [
      { name: 'evidence.build_s', value: buildMs / 1000, unit: 's', target: below(10), note },
      {
        name: 'evidence.verify_s',
        value: verifyMs / 1000,
        unit: 's',
        target: below(10),
        note: `${note}, from the archive's bytes with the trusted key only`,
      },
      // CPU time: what the figures above would be on an idle machine, near enough.
      {
        name: 'evidence.build_cpu_s',
        value: buildCpu,
        unit: 's',
        note: 'CPU time of the build, all threads',
      },
      {
        name: 'evidence.verify_cpu_s',
        value: verifyCpu,
        unit: 's',
        note: 'CPU time of the verification, all threads',
      },
    ];
  },
});
