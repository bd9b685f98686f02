import { AuditError } from '../../index.js';
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
  name: 'erase',
  usage: 'erase --subject ID --reason TEXT [--by NAME] [--dry-run] [--json]',
  summary: "Erase a data subject's personal data (GDPR Art. 17) and record the erasure.",
  description:
    'Deletes the plaintext of every disclosure of the events naming the subject in\n' +
    "context.data_subject_ids, and a user actor's id and name where the subject acted, then\n" +
    'records one data.erased event naming each erased field by seq, pointer and digest (never a\n' +
    'value) with who asked and why. Leaves and the tree are untouched: every proof stays valid and\n' +
    "verify reports the fields as erased by that event's seq. Refused, with nothing written, when\n" +
    'an active legal hold covers any event concerned (auditrail hold list). --dry-run lists what\n' +
    'would be erased and writes nothing.',
  options: {
    ...TARGET_OPTIONS,
    subject: { type: 'string', value: 'ID', help: 'the data subject (or user) whose data is erased' },
    reason: { type: 'string', value: 'TEXT', help: 'why (recorded; write no personal data here)' },
    by: { type: 'string', value: 'NAME', help: 'who asked (recorded as the actor; default $USER)' },
    'dry-run': { type: 'boolean', help: 'list what would be erased, write nothing' },
    json: { type: 'boolean', help: 'print the result as JSON' },
  },
  positionals: { min: 0, max: 0 },
  examples: [
    'auditrail erase --subject cust-8841 --reason "DSR-2026-14" --dry-run',
    'auditrail erase --subject cust-8841 --reason "DSR-2026-14" --by dpo@acme',
  ],
};

export function run(args: string[], io: Io): Promise<number> {
  return execute(spec, args, io, async ({ values }) => {
    const subject = str(values, 'subject');
    if (subject === undefined) throw new UsageError('erase needs --subject ID');
    const reason = str(values, 'reason');
    if (reason === undefined) throw new UsageError('erase needs --reason TEXT');
    const dryRun = bool(values, 'dry-run');
    const by = str(values, 'by') ?? io.env['USER'] ?? 'operator';
    return withTrail(resolveTarget(values, io), io, { mustExist: true, readonly: dryRun }, async (trail) => {
      let r;
      try {
        r = await trail.erase({ subject }, { reason, requestedBy: by, dryRun });
      } catch (e) {
        if (e instanceof AuditError && (e.code === 'conflict' || e.code === 'invalid_argument'))
          throw new CliError(e.message);
        throw e;
      }
      if (bool(values, 'json')) {
        io.stdout.write(`${JSON.stringify({ log: trail.origin, ...r }, null, 2)}\n`);
        return EXIT_OK;
      }
      const lines = r.erased.map(
        (x) => `  seq ${x.seq}  ${x.type}  ${x.pointer === '' ? '(body)' : x.pointer}`,
      );
      if (r.erased.length === 0)
        io.stdout.write(`nothing held about ${subject} in ${trail.origin} is left to erase\n`);
      else if (dryRun)
        io.stdout.write(
          `would erase ${r.erased.length} field${r.erased.length === 1 ? '' : 's'} of ${r.events} event${r.events === 1 ? '' : 's'} in ${trail.origin} (dry run, nothing written):\n${lines.join('\n')}\n`,
        );
      else
        io.stdout.write(
          `erased ${r.erased.length} field${r.erased.length === 1 ? '' : 's'} of ${r.events} event${r.events === 1 ? '' : 's'} in ${trail.origin}, recorded as data.erased at seq ${r.seq}:\n${lines.join('\n')}\n`,
        );
      return EXIT_OK;
    });
  });
}
