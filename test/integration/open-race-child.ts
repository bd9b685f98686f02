/**
 * Child process of open-race.test.ts. Loads everything, waits for a line on stdin (so that all
 * children start the racing step at the same instant), then:
 *   open <db>        opens the trail (creating the database and the log), records one event, closes;
 *   checkpoint <db>  opens an existing trail and signs its first checkpoint.
 * Prints `ok <verifier key>` on success, or `error <name> <code> <message>` and exits 1.
 * Usage: node --import tsx test/integration/open-race-child.ts open|checkpoint <db>
 */
import { AuditError, openAuditTrail } from '../../src/index.js';
import { sampleEvent } from './helpers.js';

const [mode, db] = process.argv.slice(2);
if ((mode !== 'open' && mode !== 'checkpoint') || !db)
  throw new Error('usage: open-race-child.ts open|checkpoint <db>');

await new Promise<void>((resolve) => {
  process.stdin.once('data', () => resolve());
  process.stdin.once('end', () => process.exit(0));
});
process.stdin.pause();

try {
  const trail = await openAuditTrail({ tenant: 'race', db, checkpointIntervalMs: 0, writeThread: false });
  if (mode === 'open') await trail.record(sampleEvent(process.pid));
  else await trail.checkpoint();
  const vkey = mode === 'checkpoint' ? trail.verifierKey() : '-';
  await trail.close();
  process.stdout.write(`ok ${vkey}\n`);
} catch (e) {
  const name = e instanceof Error ? e.constructor.name : typeof e;
  const code = e instanceof AuditError ? e.code : '-';
  process.stdout.write(`error ${name} ${code} ${(e as Error).message}\n`);
  process.exitCode = 1;
}
