import { resolve } from 'node:path';
import { verifyProofBundle } from '../../index.js';
import { bool, CliError, execute, EXIT_FAILED, EXIT_OK, str, type CommandSpec } from '../args.js';
import { colors } from '../format.js';
import type { Io } from '../io.js';
import { readUtf8File } from '../read-text.js';

/** A proof bundle is a few KB; refuse anything absurdly large before reading it. */
const MAX_BUNDLE_BYTES = 4 * 1024 * 1024;

export const spec: CommandSpec = {
  name: 'verify-proof',
  usage: 'verify-proof <FILE> [--key VKEY] [--json]',
  summary: 'Check a proof bundle offline: no database, only the file (and, ideally, a trusted key).',
  description:
    'Checks the checkpoint signature, that the inclusion proof leads from the leaf to the signed root,\n' +
    'and that every disclosure is committed to by the leaf; then prints the event. Without --key the\n' +
    "bundle's own key is used, which shows only internal consistency. Exit code 1 on any failure.",
  options: {
    key: { type: 'string', value: 'VKEY', help: 'the verifier key you trust (from `auditrail keys show`)' },
    json: { type: 'boolean', help: 'print the result as JSON' },
  },
  positionals: { min: 1, max: 1, names: '<FILE>' },
  examples: ['auditrail verify-proof proof.json --key "$(cat demo.vkey)"'],
};

function readBundle(path: string, shown: string): unknown {
  const text = readUtf8File(path, shown, MAX_BUNDLE_BYTES, '; not a proof bundle');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new CliError(`${shown} is not JSON`);
  }
}

export function run(args: string[], io: Io): Promise<number> {
  return execute(spec, args, io, ({ values, positionals }) => {
    const file = positionals[0]!;
    const key = str(values, 'key');
    const result = verifyProofBundle(
      readBundle(resolve(io.cwd, file), file),
      key !== undefined ? { trustedKey: key } : {},
    );
    if (bool(values, 'json')) {
      io.stdout.write(`${JSON.stringify({ ...result, trusted_key: key !== undefined }, null, 2)}\n`);
      return Promise.resolve(result.ok ? EXIT_OK : EXIT_FAILED);
    }
    const c = colors(io);
    if (result.ok) {
      io.stdout.write(
        `${c.green('OK')}: seq ${result.seq} is in ${result.log} at tree size ${result.tree_size}\n`,
      );
      if (key === undefined) {
        io.stderr.write(
          "note: checked with the bundle's own key; pass --key with your trusted copy to prove who signed it\n",
        );
      }
      io.stdout.write(`${JSON.stringify(result.event, null, 2)}\n`);
      return Promise.resolve(EXIT_OK);
    }
    io.stdout.write(
      `${c.red('FAILED')}: the proof of seq ${result.seq} in ${result.log || '(unknown log)'} does not hold\n`,
    );
    for (const f of result.failures) io.stdout.write(`  - ${f}\n`);
    return Promise.resolve(EXIT_FAILED);
  });
}
