import { bool, CliError, execute, EXIT_OK, TARGET_OPTIONS, type CommandSpec } from '../args.js';
import { groupDigits } from '../format.js';
import type { Io } from '../io.js';
import { commandLine, resolveTarget, withTrail } from '../target.js';

export const spec: CommandSpec = {
  name: 'checkpoint',
  usage: 'checkpoint [--sign] [--db PATH] [--tenant ID] [--log NAME]',
  summary:
    'Print the latest signed checkpoint of the log (a C2SP signed note); --sign signs a new one first.',
  description:
    'The note has the origin, the tree size and the base64 root hash, then the signature line. Publish it\n' +
    'or hand it to an auditor: a later checkpoint must be consistent with it. Without --sign the\n' +
    'database is only read (a note on stderr says when entries are not yet signed); --sign signs the\n' +
    'current tree, creating the signing key on first use.',
  options: {
    sign: { type: 'boolean', help: 'sign a checkpoint of the current tree first (writes)' },
    ...TARGET_OPTIONS,
  },
  positionals: { min: 0, max: 0 },
  examples: ['auditrail checkpoint > checkpoint.txt', 'auditrail checkpoint --sign'],
};

export function run(args: string[], io: Io): Promise<number> {
  return execute(spec, args, io, async ({ values }) => {
    const target = resolveTarget(values, io);
    const sign = bool(values, 'sign');
    return withTrail(target, io, { mustExist: true, readonly: !sign }, async (trail) => {
      const note = sign ? await trail.checkpoint() : await trail.latestCheckpoint();
      if (note === undefined) {
        throw new CliError(
          `no signed checkpoint of ${trail.origin} yet; sign one with: ${commandLine(io, target, 'checkpoint', '--sign')}`,
        );
      }
      io.stdout.write(note.endsWith('\n') ? note : `${note}\n`);
      const signed = Number(note.split('\n')[1]);
      if (!sign && signed < trail.size) {
        io.stderr.write(
          `note: ${groupDigits(trail.size - signed)} entries after size ${groupDigits(signed)} are not yet signed; sign them with: ${commandLine(io, target, 'checkpoint', '--sign')}\n`,
        );
      }
      return EXIT_OK;
    });
  });
}
