import { execute, EXIT_OK, TARGET_OPTIONS, UsageError, type CommandSpec } from '../args.js';
import type { Io } from '../io.js';
import { resolveTarget, withTrail } from '../target.js';

export const spec: CommandSpec = {
  name: 'keys',
  usage: 'keys show [--db PATH] [--tenant ID] [--log NAME]',
  summary: "Print the log's verifier key in C2SP vkey form (<name>+<key id>+<base64 Ed25519 key>).",
  description:
    'Give this key to auditors out of band: `verify --key` and `verify-proof --key` check signatures\n' +
    'against it instead of trusting the key stored next to the database or inside a proof bundle.',
  options: { ...TARGET_OPTIONS },
  positionals: { min: 1, max: 1, names: 'subcommand (show)' },
  examples: ['auditrail keys show > demo.vkey', 'auditrail verify-proof proof.json --key "$(cat demo.vkey)"'],
};

export function run(args: string[], io: Io): Promise<number> {
  return execute(spec, args, io, async ({ values, positionals }) => {
    if (positionals[0] !== 'show')
      throw new UsageError(`unknown subcommand 'keys ${positionals[0]}' (expected 'keys show')`);
    return withTrail(resolveTarget(values, io), io, { mustExist: true }, (trail) => {
      io.stdout.write(`${trail.verifierKey()}\n`);
      return Promise.resolve(EXIT_OK);
    });
  });
}
