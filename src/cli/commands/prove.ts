import { resolve } from 'node:path';
import { execute, EXIT_OK, str, TARGET_OPTIONS, UsageError, type CommandSpec } from '../args.js';
import { fileSink, type Io } from '../io.js';
import { resolveTarget, withTrail } from '../target.js';

export const spec: CommandSpec = {
  name: 'prove',
  usage: 'prove <seq> [-o FILE] [--db PATH] [--tenant ID] [--log NAME]',
  summary: 'Write a self-contained proof that one event is in the log (JSON proof bundle).',
  description:
    "The bundle holds the event's leaf and disclosures, an inclusion proof, a signed checkpoint and the\n" +
    'verifier key; `auditrail verify-proof` checks it without the database. A new checkpoint is signed\n' +
    'first when the latest one does not cover the event yet.',
  options: {
    output: { type: 'string', short: 'o', value: 'FILE', help: 'write to FILE instead of stdout' },
    ...TARGET_OPTIONS,
  },
  positionals: { min: 1, max: 1, names: '<seq>' },
  examples: ['auditrail prove 12 -o proof.json', 'auditrail prove 12 > proof.json'],
};

export function run(args: string[], io: Io): Promise<number> {
  return execute(spec, args, io, async ({ values, positionals }) => {
    const seqText = positionals[0]!;
    if (!/^\d{1,15}$/.test(seqText))
      throw new UsageError(`<seq> must be a non-negative integer, got '${seqText}'`);
    const out = str(values, 'output');
    return withTrail(resolveTarget(values, io), io, { mustExist: true }, async (trail) => {
      const bundle = await trail.prove(Number(seqText));
      const text = `${JSON.stringify(bundle, null, 2)}\n`;
      if (out === undefined || out === '-') {
        io.stdout.write(text);
      } else {
        const sink = fileSink(resolve(io.cwd, out));
        try {
          await sink.write(text);
          await sink.end();
        } catch (e) {
          sink.abort();
          throw e;
        }
        io.stderr.write(
          `wrote the proof of seq ${bundle.seq} (tree size ${bundle.inclusion.tree_size}) to ${out}\n`,
        );
      }
      return EXIT_OK;
    });
  });
}
