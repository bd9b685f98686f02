/**
 * Child process of approval-wait.test.ts: decides one approval request of the `acme` log from
 * another process, as the CLI or the dashboard would. Prints `ok` or `error <code> <message>`.
 * Usage: node --import tsx test/integration/approval-wait-child.ts <db> <approve|deny> <request id> <approver>
 */
import { AuditError, Approvals, openAuditTrail } from '../../src/index.js';

const [db, verdict, id, approver] = process.argv.slice(2);
if (!db || (verdict !== 'approve' && verdict !== 'deny') || !id || !approver) {
  throw new AuditError('invalid_argument', 'usage: approval-wait-child.ts <db> approve|deny <id> <approver>');
}
try {
  const trail = await openAuditTrail({ tenant: 'acme', db, checkpointIntervalMs: 0, writeThread: false });
  await new Approvals(trail)[verdict](id, { as: approver, reason: `from pid ${process.pid}` });
  await trail.close();
  process.stdout.write('ok\n');
} catch (e) {
  process.stdout.write(`error ${e instanceof AuditError ? e.code : '-'} ${(e as Error).message}\n`);
  process.exitCode = 1;
}
