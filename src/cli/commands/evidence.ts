import { resolve } from 'node:path';
import { BODY_FIELD, fieldPointer, writeEvidence } from '../../report/evidence.js';
import { bool, execute, EXIT_OK, str, TARGET_OPTIONS, UsageError, type CommandSpec } from '../args.js';
import { groupDigits } from '../format.js';
import type { Io } from '../io.js';
import { FILTER_OPTIONS, readSelection } from '../query.js';
import { resolveTarget, withTrail } from '../target.js';

const { limit: _limit, order: _order, ...FILTERS } = FILTER_OPTIONS;

export const spec: CommandSpec = {
  name: 'evidence',
  usage: 'evidence -o FILE.tar.gz [--sign] [--fields a,b,...] [filters]',
  summary: 'Write an evidence package an auditor verifies offline (auditrail verify-evidence).',
  description:
    'The package holds every entry of the time window (--since/--until) with its leaf and disclosures,\n' +
    'the boundary entries that prove nothing in the window was left out, one range proof, the signed\n' +
    'checkpoints of the period with consistency proofs, the verifier key, the policies in force and\n' +
    'VERIFY.md. Other filters choose which entries are disclosed; the rest of the window is shipped\n' +
    'as leaves only. Proves against the latest signed checkpoint; --sign signs one of the head first.\n' +
    '--fields discloses only the named fields of each event (body = everything not stored apart);\n' +
    'the others stay salted digests in the leaves, and verify-evidence still proves every event.',
  options: {
    output: { type: 'string', short: 'o', value: 'FILE', help: 'the .tar.gz to write' },
    sign: { type: 'boolean', help: 'sign a checkpoint of the current log first' },
    fields: {
      type: 'string',
      value: 'a,b,...',
      help: 'disclose only these fields: body, action.params, outcome.result, context.reasoning, …',
    },
    ...FILTERS,
    ...TARGET_OPTIONS,
  },
  positionals: { min: 0, max: 0 },
  examples: [
    'auditrail evidence --since 2026-10-01 --until 2027-01-01 -o q4.evidence.tar.gz',
    'auditrail evidence --type policy.decision --fields body -o decisions.evidence.tar.gz',
  ],
};

export function run(args: string[], io: Io): Promise<number> {
  return execute(spec, args, io, async ({ values }) => {
    const out = str(values, 'output');
    if (out === undefined || out === '-') throw new UsageError('evidence needs -o FILE.tar.gz');
    const { filter } = readSelection(values, Date.now());
    const sign = bool(values, 'sign');
    const fieldList = str(values, 'fields');
    const fields = fieldList?.split(',').map((f) => f.trim());
    if (fields !== undefined) {
      if (fields.some((f) => f === ''))
        throw new UsageError('--fields takes a comma-separated list of field names, e.g. body,action.params');
      for (const f of fields) fieldPointer(f);
    }
    return withTrail(resolveTarget(values, io), io, { mustExist: true, readonly: !sign }, async (trail) => {
      const built = await writeEvidence(trail, resolve(io.cwd, out), {
        query: filter,
        ...(fields !== undefined ? { fields } : {}),
      });
      io.stderr.write(
        `wrote ${out}: ${groupDigits(built.events)} events, entries ${built.range.from}..${built.range.to - 1}, ` +
          `proved at tree size ${built.tree_size}\n`,
      );
      for (const f of built.fields ?? []) {
        if (f.events === 0)
          io.stderr.write(
            `note: no event of the package stores ${f.field} as a field of its own; a field of the event body is disclosed by naming ${BODY_FIELD} among the fields\n`,
          );
      }
      if (trail.size > built.tree_size)
        io.stderr.write(
          `note: ${groupDigits(trail.size - built.tree_size)} newer entries are not covered by a signed checkpoint; pass --sign to include them\n`,
        );
      return EXIT_OK;
    });
  });
}
