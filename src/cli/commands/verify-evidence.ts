import { resolve } from 'node:path';
import { readFileSync, statSync } from 'node:fs';
import { verifyEvidence } from '../../report/evidence.js';
import { bool, CliError, execute, EXIT_FAILED, EXIT_OK, str, type CommandSpec } from '../args.js';
import { colors, groupDigits } from '../format.js';
import type { Io } from '../io.js';

/** Refuse archives beyond this size before reading them. */
const MAX_ARCHIVE_BYTES = 2 * 1024 * 1024 * 1024;

/** A disclosure pointer as the field name `auditrail evidence --fields` takes. */
const fieldName = (pointer: string): string =>
  pointer === ''
    ? 'body'
    : pointer
        .slice(1)
        .split('/')
        .map((t) => t.replaceAll('~1', '/').replaceAll('~0', '~'))
        .join('.');

export const spec: CommandSpec = {
  name: 'verify-evidence',
  usage: 'verify-evidence <FILE> [--key VKEY] [--json]',
  summary: 'Check an evidence package offline: no database, no network.',
  description:
    'Checks the manifest digests, every checkpoint signature and the consistency between them, that\n' +
    'the entries lead to the last signed root, every disclosure against its leaf, that the boundary\n' +
    'entries close the time window, erasures and policies. Prints a summary, or every failure with\n' +
    "its kind. Without --key the package's own key is used (internal consistency only). Exit 1 on failure.",
  options: {
    key: { type: 'string', value: 'VKEY', help: 'the verifier key you trust (from `auditrail keys show`)' },
    json: { type: 'boolean', help: 'print the report as JSON (entries left out)' },
  },
  positionals: { min: 1, max: 1, names: '<FILE>' },
  examples: ['auditrail verify-evidence q4.evidence.tar.gz --key "$(cat acme.vkey)"'],
};

export function run(args: string[], io: Io): Promise<number> {
  return execute(spec, args, io, async ({ values, positionals }) => {
    const file = positionals[0]!;
    const path = resolve(io.cwd, file);
    let bytes: Buffer;
    try {
      if (statSync(path).size > MAX_ARCHIVE_BYTES) throw new CliError(`${file} is larger than 2 GiB`);
      bytes = readFileSync(path);
    } catch (e) {
      if (e instanceof CliError) throw e;
      throw new CliError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    }
    const key = str(values, 'key');
    const r = await verifyEvidence(bytes, key !== undefined ? { trustedKey: key } : {});
    if (bool(values, 'json')) {
      const { entries: _entries, ...rest } = r;
      io.stdout.write(`${JSON.stringify({ ...rest, trusted_key: key !== undefined }, null, 2)}\n`);
      return r.ok ? EXIT_OK : EXIT_FAILED;
    }
    const c = colors(io);
    const s = r.summary;
    if (r.ok && s) {
      io.stdout.write(
        `${c.green('OK')}: ${file} verifies against ${s.log} at tree size ${s.tree_size}\n` +
          `  events       ${groupDigits(s.events)} (${groupDigits(s.withheld)} more in the window withheld by the filters)\n` +
          `  period       ${s.period.since ?? 'start of log'} .. ${s.period.until ?? `tree size ${s.tree_size}`}` +
          ` (entries ${s.range.from}..${s.range.to - 1}, complete)\n` +
          `  checkpoints  ${s.checkpoints.length}: sizes ${s.checkpoints.join(', ')}, each consistent with the one before\n` +
          `  keys         ${s.keys.join(', ')}\n` +
          `  policies     ${s.policies.length === 0 ? 'none recorded' : s.policies.map((p) => `${p.policy_id} v${String(p.version)} ${p.snapshot} (seq ${p.seq})`).join('; ')}\n` +
          (s.fields !== null
            ? `  fields       only ${s.fields.map(fieldName).join(', ')} disclosed; the others are salted digests\n`
            : '') +
          `  erased       ${s.erased.length === 0 ? 'none' : s.erased.map((e) => `seq ${e.seq} ${e.pointer} by seq ${e.by_seq}`).join('; ')}\n` +
          `  built        ${s.created_at} by ${s.created_by}\n`,
      );
      if (key === undefined)
        io.stderr.write(
          "note: checked with the package's own key; pass --key with your trusted copy to prove who signed it\n",
        );
      return EXIT_OK;
    }
    io.stdout.write(`${c.red('FAILED')}: ${file} does not verify (${r.failures.length} failures)\n`);
    for (const f of r.failures)
      io.stdout.write(`  ${f.kind}${f.seq !== null ? ` seq ${f.seq}` : ''}: ${f.message}\n`);
    return EXIT_FAILED;
  });
}
