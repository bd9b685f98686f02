import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { AuditError } from '../../index.js';
import { CliError, execute, EXIT_OK, str, TARGET_OPTIONS, UsageError, type CommandSpec } from '../args.js';
import { fileSink, type Io } from '../io.js';
import { commandLine, resolveTarget, withTrail } from '../target.js';

export const spec: CommandSpec = {
  name: 'prove',
  usage:
    'prove (<seq> | --consistency OLD.checkpoint) [-o FILE] [--key VKEY] [--db PATH] [--tenant ID] [--log NAME]',
  summary: 'Write a self-contained proof that one event is in the log (JSON proof bundle).',
  description:
    "The bundle holds the event's leaf and disclosures, an inclusion proof, a signed checkpoint and the\n" +
    'verifier key; `auditrail verify-proof` checks it without the database. It only reads: when no\n' +
    'signed checkpoint covers the event yet, it says so (sign one with `auditrail checkpoint --sign`).\n' +
    "--key gives the verifier key to include where the signing key is not readable (an auditor's copy).\n" +
    'With --consistency OLD.checkpoint it writes instead a consistency proof (auditrail-consistency/v1)\n' +
    'from that saved checkpoint to the latest one, for `auditrail verify-consistency OLD --proof FILE`.',
  options: {
    output: { type: 'string', short: 'o', value: 'FILE', help: 'write to FILE instead of stdout' },
    key: { type: 'string', value: 'VKEY', help: "the log's verifier key (see `keys show`)" },
    consistency: {
      type: 'string',
      value: 'OLD',
      help: 'prove that the log only appended since the checkpoint in file OLD',
    },
    ...TARGET_OPTIONS,
  },
  positionals: { min: 0, max: 1, names: '<seq>' },
  examples: [
    'auditrail prove 12 -o proof.json',
    'auditrail prove 12 > proof.json',
    'auditrail prove --consistency old.checkpoint -o consistency.json',
  ],
};

export function run(args: string[], io: Io): Promise<number> {
  return execute(spec, args, io, async ({ values, positionals }) => {
    const seqText = positionals[0];
    const oldFile = str(values, 'consistency');
    if ((seqText === undefined) === (oldFile === undefined))
      throw new UsageError('give either <seq> or --consistency OLD.checkpoint');
    if (seqText !== undefined && !/^\d{1,15}$/.test(seqText))
      throw new UsageError(`<seq> must be a non-negative integer, got '${seqText}'`);
    const oldNote = oldFile === undefined ? undefined : readNote(resolve(io.cwd, oldFile), oldFile);
    const out = str(values, 'output');
    const key = str(values, 'key');
    const target = resolveTarget(values, io);
    return withTrail(target, io, { mustExist: true }, async (trail) => {
      let bundle;
      try {
        bundle =
          oldNote === undefined
            ? await trail.prove(Number(seqText), key !== undefined ? { verifierKey: key } : {})
            : await trail.proveConsistencyFrom(oldNote);
      } catch (e) {
        if (!(e instanceof AuditError)) throw e;
        if (e.code === 'not_found' && /checkpoint/.test(e.message)) {
          throw new CliError(
            `${oldNote === undefined ? `no signed checkpoint of ${trail.origin} covers seq ${seqText} yet` : `${trail.origin} has no signed checkpoint yet`}; sign one with: ${commandLine(io, target, 'checkpoint', '--sign')}`,
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
          'seq' in bundle
            ? `wrote the proof of seq ${bundle.seq} (tree size ${bundle.inclusion.tree_size}) to ${out}\n`
            : `wrote the consistency proof from size ${bundle.old_size} to ${bundle.new_size} to ${out}\n`,
        );
      }
      return EXIT_OK;
    });
  });
}

/** A saved checkpoint: a signed note of at most 1 MiB. */
function readNote(path: string, shown: string): string {
  try {
    if (statSync(path).size > 1 << 20) throw new CliError(`${shown} is larger than 1 MiB; not a checkpoint`);
    return readFileSync(path, 'utf8');
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw new CliError(`cannot read ${shown}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}
