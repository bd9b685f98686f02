import { resolve } from 'node:path';
import { restoreArchive } from '../../index.js';
import { bool, execute, EXIT_OK, strs, TARGET_OPTIONS, type CommandSpec } from '../args.js';
import { groupDigits } from '../format.js';
import type { Io } from '../io.js';
import { resolveTarget, withTrail } from '../target.js';

export const spec: CommandSpec = {
  name: 'restore',
  usage: 'restore <DIR> [--json] [--key VKEY]... [--db PATH] [--tenant ID] [--log NAME]',
  summary: 'Bring an archived range back into the hot database (after verifying it).',
  description:
    'Verifies the archive in DIR with the hot log first (as `verify --archive DIR`) and refuses when\n' +
    'anything fails; then puts back the disclosures and index rows of its range, removes the archive\n' +
    'record and appends an archive.restored event. Verification afterwards is as before the archive.',
  options: {
    json: { type: 'boolean', help: 'print the result as JSON' },
    key: {
      type: 'string',
      value: 'VKEY',
      multiple: true,
      help: 'trust this C2SP verifier key (see `keys show`)',
    },
    ...TARGET_OPTIONS,
  },
  positionals: { min: 1, max: 1, names: '<DIR>' },
  examples: ['auditrail restore archive/2025'],
};

export function run(args: string[], io: Io): Promise<number> {
  return execute(spec, args, io, async ({ values, positionals }) => {
    const dir = resolve(io.cwd, positionals[0]!);
    const trustedKeys = strs(values, 'key');
    const target = resolveTarget(values, io);
    return withTrail(target, io, { mustExist: true, readonly: false }, async (trail) => {
      const r = await restoreArchive(trail, dir, { trustedKeys });
      if (bool(values, 'json')) {
        const { verified, ...rest } = r;
        io.stdout.write(`${JSON.stringify({ ...rest, verified_ok: verified.ok }, null, 2)}\n`);
        return EXIT_OK;
      }
      io.stdout.write(
        `restored:   seq ${groupDigits(r.from)}..${groupDigits(r.to - 1)} of ${trail.origin} ` +
          `(${groupDigits(r.disclosures)} disclosures, ${groupDigits(r.index_rows)} index rows)\n` +
          `recorded:   archive.restored at seq ${groupDigits(r.by_seq)}\n`,
      );
      return EXIT_OK;
    });
  });
}
