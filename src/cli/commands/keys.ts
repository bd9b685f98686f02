import { execute, EXIT_OK, TARGET_OPTIONS, UsageError, type CommandSpec } from '../args.js';
import { AuditError } from '../../index.js';
import { CliError } from '../args.js';
import type { Io } from '../io.js';
import { commandLine, resolveTarget, withTrail } from '../target.js';

export const spec: CommandSpec = {
  name: 'keys',
  usage: 'keys show [--db PATH] [--tenant ID] [--log NAME]',
  summary: "Print the log's verifier key in C2SP vkey form (<name>+<key id>+<base64 Ed25519 key>).",
  description:
    'Give this key to auditors out of band: `verify --key` and `verify-proof --key` check signatures\n' +
    'against it instead of trusting the key stored next to the database or inside a proof bundle.\n' +
    'It only reads: with no key yet, it says so (the key is made when the first checkpoint is signed).',
  options: { ...TARGET_OPTIONS },
  positionals: { min: 1, max: 1, names: 'subcommand (show)' },
  examples: ['auditrail keys show > demo.vkey', 'auditrail verify-proof proof.json --key "$(cat demo.vkey)"'],
};

export function run(args: string[], io: Io): Promise<number> {
  return execute(spec, args, io, async ({ values, positionals }) => {
    if (positionals[0] !== 'show')
      throw new UsageError(`unknown subcommand 'keys ${positionals[0]}' (expected 'keys show')`);
    const target = resolveTarget(values, io);
    return withTrail(target, io, { mustExist: true }, async (trail) => {
      try {
        io.stdout.write(`${trail.verifierKey()}\n`);
      } catch (e) {
        if (!(e instanceof AuditError) || e.code !== 'key_failure') throw e;
        const signed = (await trail.latestCheckpoint()) !== undefined;
        throw new CliError(
          signed
            ? `${e.message}, but ${trail.origin} has signed checkpoints: restore the key file; a new key would not verify them`
            : `${e.message}; sign the first checkpoint with: ${commandLine(io, target, 'checkpoint', '--sign')}`,
        );
      }
      return EXIT_OK;
    });
  });
}
