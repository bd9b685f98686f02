import { AuditError, describeHold, type HoldScope } from '../../index.js';
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
import type { Io } from '../io.js';
import { resolveTarget, withTrail } from '../target.js';

export const spec: CommandSpec = {
  name: 'hold',
  usage:
    'hold add (--session ID | --actor ID | --subject ID | --since TIME | --until TIME)... --reason TEXT [--by NAME] | hold list [--json] | hold release ID --reason TEXT [--by NAME]',
  summary: 'Place, list and release legal holds: what they cover cannot be erased or purged.',
  description:
    'A hold covers the events matching every criterion given (a session, an actor id, a data\n' +
    'subject, a time range on the log time). Placing and releasing a hold each record an event\n' +
    '(hold.placed, hold.released); the active holds are derived from those events, so a hold\n' +
    'cannot be lifted unseen. Erasure (auditrail erase) of anything under an active hold fails\n' +
    'and names the hold.',
  options: {
    ...TARGET_OPTIONS,
    session: { type: 'string', value: 'ID', help: 'hold the events of this session' },
    actor: { type: 'string', value: 'ID', help: 'hold the events of this actor id' },
    subject: { type: 'string', value: 'ID', help: 'hold the events concerning this data subject' },
    since: { type: 'string', value: 'TIME', help: 'hold events at or after this time (RFC 3339)' },
    until: { type: 'string', value: 'TIME', help: 'hold events before this time (RFC 3339)' },
    reason: { type: 'string', value: 'TEXT', help: 'why (recorded with the hold)' },
    by: { type: 'string', value: 'NAME', help: 'who places or releases it (default $USER)' },
    json: { type: 'boolean', help: 'print JSON (hold list)' },
  },
  positionals: { min: 1, max: 2, names: 'subcommand (add | list | release ID)' },
  examples: [
    'auditrail hold add --subject cust-8841 --reason "litigation 2026-03, counsel: J. Doe"',
    'auditrail hold add --session sess-42 --since 2026-01-01 --until 2026-04-01 --reason "SEC inquiry"',
    'auditrail hold list',
    'auditrail hold release hold-12 --reason "case closed"',
  ],
};

export function run(args: string[], io: Io): Promise<number> {
  return execute(spec, args, io, async ({ values, positionals }) => {
    const sub = positionals[0];
    if (sub !== 'add' && sub !== 'list' && sub !== 'release')
      throw new UsageError(`unknown subcommand 'hold ${sub}' (expected add, list or release)`);
    const reason = str(values, 'reason');
    const by = str(values, 'by') ?? io.env['USER'] ?? 'operator';
    if (sub !== 'list' && reason === undefined) throw new UsageError(`hold ${sub} needs --reason TEXT`);
    if (sub === 'release' && positionals[1] === undefined)
      throw new UsageError('hold release needs the hold id (hold release hold-12 --reason TEXT)');
    const scope: HoldScope = {};
    for (const [flag, key] of [
      ['session', 'session_id'],
      ['actor', 'actor_id'],
      ['subject', 'subject'],
      ['since', 'since'],
      ['until', 'until'],
    ] as const) {
      const v = str(values, flag);
      if (v !== undefined) scope[key] = v;
    }
    if (sub === 'add' && Object.keys(scope).length === 0)
      throw new UsageError('hold add needs at least one of --session, --actor, --subject, --since, --until');
    return withTrail(
      resolveTarget(values, io),
      io,
      { mustExist: true, readonly: sub === 'list' },
      async (trail) => {
        try {
          if (sub === 'list') {
            const holds = await trail.holds.list();
            if (bool(values, 'json')) io.stdout.write(`${JSON.stringify(holds, null, 2)}\n`);
            else if (holds.length === 0) io.stdout.write(`no active legal holds in ${trail.origin}\n`);
            else
              for (const h of holds)
                io.stdout.write(
                  `${h.id}  ${describeHold(h)}\n  placed ${h.placed_at} by ${h.placed_by}: ${h.reason}\n`,
                );
          } else if (sub === 'add') {
            const h = await trail.holds.place(scope, { reason: reason!, by });
            io.stdout.write(`${h.id} placed on ${trail.origin}: ${describeHold(h)}\n`);
          } else {
            await trail.holds.release(positionals[1]!, { reason: reason!, by });
            io.stdout.write(`${positionals[1]} released\n`);
          }
        } catch (e) {
          if (e instanceof AuditError && ['invalid_argument', 'not_found', 'conflict'].includes(e.code))
            throw new CliError(e.message);
          throw e;
        }
        return EXIT_OK;
      },
    );
  });
}
