/**
 * Child process of index-key-race.test.ts: waits for a line on stdin, then opens the trail of a
 * log that has no index key yet (so every child tries to create one), records an event naming a
 * user and a data subject, and closes. Prints `ok` or `error <message>` (exit 1).
 * Usage: node --import tsx test/integration/index-key-race-child.ts <db>
 */
import { openAuditTrail } from '../../src/index.js';

const [db] = process.argv.slice(2);
if (!db) throw new Error('usage: index-key-race-child.ts <db>');
await new Promise<void>((resolve) => {
  process.stdin.once('data', () => resolve());
  process.stdin.once('end', () => process.exit(0));
});
process.stdin.pause();
try {
  const trail = await openAuditTrail({ tenant: 'race', db, checkpointIntervalMs: 0, writeThread: false });
  await trail.record({
    type: 'context.accessed',
    actor: { type: 'user', id: 'alice' },
    action: { type: 'read:customer', target: 'customer/cust-1' },
    context: { data_subject_ids: ['cust-1'] },
  });
  await trail.close();
  process.stdout.write('ok\n');
} catch (e) {
  process.stdout.write(`error ${(e as Error).message}\n`);
  process.exitCode = 1;
}
