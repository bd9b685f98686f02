/**
 * Child process of archive-race.test.ts. Loads everything, waits for a line on stdin (so that all
 * children start at the same instant), then archives every closed range of the log into <dir>.
 * Prints `ok <from> <to>` on success, or `error <code> <message>` and exits 1.
 * Usage: node --import tsx test/integration/archive-race-child.ts <db> <dir>
 */
import { archiveLog, AuditError, openAuditTrail } from '../../src/index.js';

const [db, dir] = process.argv.slice(2);
if (!db || !dir) throw new Error('usage: archive-race-child.ts <db> <dir>');

await new Promise<void>((resolve) => {
  process.stdin.once('data', () => resolve());
  process.stdin.once('end', () => process.exit(0));
});
process.stdin.pause();

const trail = await openAuditTrail({ tenant: 'race', db, checkpointIntervalMs: 0 });
try {
  const r = await archiveLog(trail, { before: new Date(Date.now() + 86_400_000), dir });
  process.stdout.write(`ok ${r.from} ${r.to}\n`);
} catch (e) {
  const code = e instanceof AuditError ? e.code : 'raw';
  process.stdout.write(`error ${code} ${(e as Error).message}\n`);
  process.exitCode = 1;
} finally {
  await trail.close();
}
