/**
 * Child process of crash.test.ts. Loads everything, waits for a line on stdin (so the parent can
 * start it while the previous trial is still being checked), then records events from several
 * concurrent loops and prints `<event_id> <seq>` for each receipt right after `record()`
 * resolves, until it is killed.
 * Usage: node --import tsx test/integration/crash-child.ts <db> [checkpointIntervalMs]
 */
import { openAuditTrail } from '../../src/index.js';
import { sampleEvent } from './helpers.js';

const LOOPS = 8;

const db = process.argv[2];
if (!db) throw new Error('usage: crash-child.ts <db> [checkpointIntervalMs]');
const interval = process.argv[3] === undefined ? undefined : Number(process.argv[3]);

// Go on the first stdin line; leave quietly if the parent goes away first.
await new Promise<void>((resolve) => {
  process.stdin.once('data', () => resolve());
  process.stdin.once('end', () => process.exit(0));
});
process.stdin.pause();

const trail = await openAuditTrail({
  tenant: 'crash',
  db,
  ...(interval === undefined ? {} : { checkpointIntervalMs: interval }),
});

async function loop(n: number): Promise<never> {
  for (let i = 0; ; i++) {
    const receipt = await trail.record(sampleEvent(i, `crash-${process.pid}-${n}`));
    // Pipes are synchronous on Linux: once write() returns the line is in the kernel's buffer,
    // so it reaches the parent even if SIGKILL comes next.
    process.stdout.write(`${receipt.event_id} ${receipt.seq}\n`);
  }
}

await Promise.all(Array.from({ length: LOOPS }, (_, n) => loop(n)));
