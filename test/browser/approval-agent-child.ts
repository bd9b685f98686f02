/**
 * Child process of dashboard-approvals.test.ts: an agent in its own process runs one guarded
 * refund through an `auditrail serve` (remote trail, decisions from the server) and waits for
 * the approval. Prints `requested <id>` when held, `ran` when the refund runs, then
 * `ok <result>` or `error <code> <message>`.
 * Usage: node --import tsx test/browser/approval-agent-child.ts <url> <api key> <order>
 */
import { AuditError, Governor, guard, openAuditTrail } from '../../src/index.js';

const [url, apiKey, order] = process.argv.slice(2);
if (!url || !apiKey || !order) {
  throw new AuditError('invalid_argument', 'usage: approval-agent-child.ts <url> <api key> <order>');
}
const say = (line: string): void => void process.stdout.write(`${line}\n`);
const trail = await openAuditTrail({ url, apiKey });
try {
  const gov = new Governor({
    trail,
    actor: { type: 'agent', id: 'refund-bot' },
    run_id: `run-${order}`,
    approvals: { onRequest: (req) => say(`requested ${req.id}`) },
  });
  const refund = guard(
    gov,
    (id: string, amount: number) => {
      say('ran');
      return Promise.resolve(`refunded ${id} ${amount}`);
    },
    (id, amount) => ({ type: 'write:refund', target: `order/${id}`, params: { amount } }),
  );
  say(`ok ${await refund(order, 120)}`);
} catch (e) {
  say(`error ${e instanceof AuditError ? e.code : '-'} ${(e as Error).message}`);
  process.exitCode = 1;
} finally {
  await trail.close();
}
