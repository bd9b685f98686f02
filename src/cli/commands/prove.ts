import { resolve } from 'node:path';
import { AuditError } from '../../index.js';
import { CliError, execute, EXIT_OK, str, TARGET_OPTIONS, UsageError, type CommandSpec } from '../args.js';
import { fileSink, type Io } from '../io.js';
import { commandLine, resolveTarget, withTrail } from '../target.js';

export const spec: CommandSpec = {
  name: 'prove',
  usage: 'prove <seq> [-o FILE] [--key VKEY] [--db PATH] [--tenant ID] [--log NAME]',
  summary: 'Write a self-contained proof that one event is in the log (JSON proof bundle).',
  description:
    "The bundle holds the event's leaf and disclosures, an inclusion proof, a signed checkpoint and the\n" +
    'verifier key; `auditrail verify-proof` checks it without the database. It only reads: when no\n' +
    'signed checkpoint covers the event yet, it says so (sign one with `auditrail checkpoint --sign`).\n' +
    "--key gives the verifier key to include where the signing key is not readable (an auditor's copy).",
  options: {
    output: { type: 'string', short: 'o', value: 'FILE', help: 'write to FILE instead of stdout' },
    key: { type: 'string', value: 'VKEY', help: "the log's verifier key (see `keys show`)" },
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
    const key = str(values, 'key');
    const target = resolveTarget(values, io);
    return withTrail(target, io, { mustExist: true }, async (trail) => {
      let bundle;
      try {
        bundle = await trail.prove(Number(seqText), key !== undefined ? { verifierKey: key } : {});
      } catch (e) {
        if (!(e instanceof AuditError)) throw e;
        if (e.code === 'not_found' && /checkpoint/.test(e.message)) {
          throw new CliError(
            `no signed checkpoint of ${trail.origin} covers seq ${seqText} yet; sign one with: ${commandLine(io, target, 'checkpoint', '--sign')}`,
          );
        }
        if (e.code === 'key_failure' && key === undefined) {
          throw new CliError(
            `${e.message}; pass the log's verifier key with --key (from 'auditrail keys show' where the key is)`,
          );
        }
        throw e;
      }
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
