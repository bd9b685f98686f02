/**
 * Child process of responses.test.ts: runs the responder once over the `acme` log with the given
 * `responses:` config, as `auditrail responses run` or `auditrail serve` would in another process.
 * Prints `applied <n>` or `error <code> <message>`.
 * Usage: node --import tsx test/integration/responses-child.ts <db> <config yaml>
 */
import { AuditError, openAuditTrail } from '../../src/index.js';
import { parseResponseConfig, runResponder } from '../../src/detect/responses/index.js';

const [db, yaml] = process.argv.slice(2);
if (!db || !yaml) throw new AuditError('invalid_argument', 'usage: responses-child.ts <db> <yaml>');
try {
  const trail = await openAuditTrail({ tenant: 'acme', db, checkpointIntervalMs: 0, writeThread: false });
  const r = await runResponder(trail, parseResponseConfig(yaml));
  await trail.close();
  process.stdout.write(`applied ${r.applied}\n`);
} catch (e) {
  process.stdout.write(`error ${e instanceof AuditError ? e.code : '-'} ${(e as Error).message}\n`);
  process.exitCode = 1;
}
