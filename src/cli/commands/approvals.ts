import { Approvals, ApprovalError } from '../../index.js';
import {
  bool,
  CliError,
  execute,
  EXIT_OK,
  str,
  TARGET_OPTIONS,
  UsageError,
  type CommandSpec,
} from '../args.js';
import { colors, outputWidth, renderTable } from '../format.js';
import type { Io } from '../io.js';
import { commandLine, resolveTarget, withTrail } from '../target.js';

export const spec: CommandSpec = {
  name: 'approvals',
  usage:
    'approvals list [--all] [--json] | approvals approve ID --as NAME [--reason TEXT] | approvals deny ID --as NAME [--reason TEXT]',
  summary: 'List pending approval requests, and grant or deny them as a named approver.',
  description:
    'A request can be decided only by an approver its policy rule names, only while it has not\n' +
    'expired, and only once. The decision (approver, reason, time) is recorded in the log; a waiting\n' +
    'agent sees it within its poll interval.',
  options: {
    ...TARGET_OPTIONS,
    as: { type: 'string', value: 'NAME', help: 'the approver deciding (must be named by the rule)' },
    reason: { type: 'string', value: 'TEXT', help: 'why, recorded with the decision' },
    all: { type: 'boolean', help: 'list decided and expired requests too' },
    json: { type: 'boolean', help: 'print JSON' },
  },
  positionals: { min: 1, max: 2, names: 'subcommand (list | approve ID | deny ID)' },
  examples: [
    'auditrail approvals list',
    'auditrail approvals approve apr_019a… --as finance_lead --reason "refund verified with the customer"',
    'auditrail approvals deny apr_019a… --as oncall_sre --reason "matches a fraud pattern"',
  ],
};

export function run(args: string[], io: Io): Promise<number> {
  return execute(spec, args, io, async ({ values, positionals }) => {
    const sub = positionals[0];
    if (sub !== 'list' && sub !== 'approve' && sub !== 'deny') {
      throw new UsageError(`unknown subcommand 'approvals ${sub}' (expected list, approve or deny)`);
    }
    const id = positionals[1];
    if (sub !== 'list' && !id) throw new UsageError(`missing ID (approvals ${sub} ID --as NAME)`);
    const as = str(values, 'as');
    if (sub !== 'list' && !as) throw new UsageError(`approvals ${sub} needs --as NAME`);
    const target = resolveTarget(values, io);
    // Listing only reads; deciding records the decision.
    return withTrail(target, io, { mustExist: true, readonly: sub === 'list' }, async (trail) => {
      const approvals = new Approvals(trail);
      if (sub === 'list') {
        const rows = await approvals.list(bool(values, 'all') ? 'all' : 'pending');
        if (bool(values, 'json')) {
          io.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
          return EXIT_OK;
        }
        if (rows.length === 0) {
          io.stdout.write(
            `no ${bool(values, 'all') ? '' : 'pending '}approval requests in ${trail.origin} (other logs: ${commandLine(io, target, 'logs')})\n`,
          );
          return EXIT_OK;
        }
        // The id is what `approve ID` needs: never shortened. The params are what is approved.
        const idWidth = Math.max(2, ...rows.map((r) => r.id.length));
        io.stdout.write(
          renderTable(
            [
              { header: 'id', min: idWidth },
              { header: 'status', min: 7 },
              { header: 'action → target', min: 16 },
              {
                header: 'approvers',
                min: Math.min(24, Math.max(9, ...rows.map((r) => r.approvers.join(', ').length))),
              },
              { header: 'expires (UTC)', min: 19 },
            ],
            rows.map((r) => ({
              cells: [
                r.id,
                r.status,
                r.action.target ? `${r.action.type} → ${r.action.target}` : r.action.type,
                r.approvers.join(', '),
                `${r.expires_at.slice(0, 10)} ${r.expires_at.slice(11, 19)}`,
              ],
              note: [
                // Shown through the redactor: the screen is no place for a credential in a param.
                `params ${r.action.params === undefined ? '(none)' : JSON.stringify(trail.redact(r.action.params).value)}`,
                r.matched_rule ? `rule ${r.matched_rule}${r.reason ? `: ${r.reason}` : ''}` : r.reason,
                r.decided_by
                  ? `${r.status} by ${r.decided_by}${r.decision_reason ? `: ${r.decision_reason}` : ''}`
                  : '',
              ]
                .filter(Boolean)
                .join(' · '),
            })),
            { width: outputWidth(io, 160), colors: colors(io) },
          ),
        );
        return EXIT_OK;
      }
      const by = {
        as: as!,
        ...(str(values, 'reason') !== undefined ? { reason: str(values, 'reason')! } : {}),
      };
      try {
        if (sub === 'approve') await approvals.approve(id!, by);
        else await approvals.deny(id!, by);
      } catch (e) {
        if (e instanceof ApprovalError) throw new CliError(e.message);
        throw e;
      }
      io.stdout.write(`${id} ${sub === 'approve' ? 'granted' : 'denied'} by ${as}\n`);
      return EXIT_OK;
    });
  });
}
