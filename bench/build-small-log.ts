// Builds a small workload log for profiling: node --import tsx bench/build-small-log.ts <dir> <events>
import { join } from 'node:path';
import { openAuditTrail } from '../src/index.js';
import { AgentWorkload } from './agent-workload.js';
import { LARGE_LOG_TENANT } from './fixtures/large-log.js';

const dir = process.argv[2]!;
const size = Number(process.argv[3] ?? 50_000);
const workload = new AgentWorkload(42);
const trail = await openAuditTrail({ tenant: LARGE_LOG_TENANT, db: join(dir, 'audit.db') });
for (let i = 0; i < size; i++) {
  if (!trail.emit(workload.next())) await trail.drain();
  if (i === Math.floor(size / 2)) await trail.checkpoint();
}
await trail.flush();
await trail.checkpoint();
await trail.close();
