import { execute, EXIT_OK, TARGET_OPTIONS, type CommandSpec } from '../args.js';
import type { Io } from '../io.js';
import { resolveTarget, withTrail } from '../target.js';

export const spec: CommandSpec = {
  name: 'checkpoint',
  usage: 'checkpoint [--db PATH] [--tenant ID] [--log NAME]',
  summary: 'Print the signed checkpoint of the log (a C2SP signed note), signing a new one if the log grew.',
  description:
    'The note has the origin, the tree size and the base64 root hash, then the signature line. Publish it\n' +
    'or hand it to an auditor: a later checkpoint must be consistent with it.',
  options: { ...TARGET_OPTIONS },
  positionals: { min: 0, max: 0 },
  examples: ['auditrail checkpoint > checkpoint.txt'],
};

export function run(args: string[], io: Io): Promise<number> {
  return execute(spec, args, io, async ({ values }) =>
    withTrail(resolveTarget(values, io), io, { mustExist: true }, async (trail) => {
      const note = await trail.checkpoint();
      io.stdout.write(note.endsWith('\n') ? note : `${note}\n`);
      return EXIT_OK;
    }),
  );
}
