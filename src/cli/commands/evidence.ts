import { resolve } from 'node:path';
import { writeEvidence } from '../../report/evidence.js';
import { bool, execute, EXIT_OK, str, TARGET_OPTIONS, UsageError, type CommandSpec } from '../args.js';
import { groupDigits } from '../format.js';
import type { Io } from '../io.js';
import { FILTER_OPTIONS, readSelection } from '../query.js';
import { resolveTarget, withTrail } from '../target.js';

const { limit: _limit, order: _order, ...FILTERS } = FILTER_OPTIONS;

export const spec: CommandSpec = {
  name: 'evidence',
  usage: 'evidence -o FILE.tar.gz [--sign] [filters]',
  summary: 'Write an evidence package an auditor verifies offline (auditrail verify-evidence).',
  description:
    'The package holds every entry of the time window (--since/--until) with its leaf and disclosures,\n' +
    'the boundary entries that prove nothing in the window was left out, one range proof, the signed\n' +
    'checkpoints of the period with consistency proofs, the verifier key, the policies in force and\n' +
    'VERIFY.md. Other filters choose which entries are disclosed; the rest of the window is shipped\n' +
    'as leaves only. Proves against the latest signed checkpoint; --sign signs one of the head first.',
  options: {
    output: { type: 'string', short: 'o', value: 'FILE', help: 'the .tar.gz to write' },
    sign: { type: 'boolean', help: 'sign a checkpoint of the current log first' },
    ...FILTERS,
    ...TARGET_OPTIONS,
  },
  positionals: { min: 0, max: 0 },
  examples: ['auditrail evidence --since 2026-10-01 --until 2027-01-01 -o q4.evidence.tar.gz'],
};

export function run(args: string[], io: Io): Promise<number> {
  return execute(spec, args, io, async ({ values }) => {
    const out = str(values, 'output');
    if (out === undefined || out === '-') throw new UsageError('evidence needs -o FILE.tar.gz');
    const { filter } = readSelection(values, Date.now());
    const sign = bool(values, 'sign');
    return withTrail(resolveTarget(values, io), io, { mustExist: true, readonly: !sign }, async (trail) => {
      const built = await writeEvidence(trail, resolve(io.cwd, out), { query: filter });
      io.stderr.write(
        `wrote ${out}: ${groupDigits(built.events)} events, entries ${built.range.from}..${built.range.to - 1}, ` +
          `proved at tree size ${built.tree_size}\n`,
      );
      if (trail.size > built.tree_size)
        io.stderr.write(
          `note: ${groupDigits(trail.size - built.tree_size)} newer entries are not covered by a signed checkpoint; pass --sign to include them\n`,
        );
      return EXIT_OK;
    });
  });
}
