import { resolve } from 'node:path';
import { verifyReport } from '../../report/reports/report.js';
import { bool, execute, EXIT_FAILED, EXIT_OK, str, type CommandSpec } from '../args.js';
import { colors, groupDigits } from '../format.js';
import type { Io } from '../io.js';
import { readUtf8File } from '../read-text.js';

/** Refuse reports beyond this size before reading them. */
const MAX_REPORT_BYTES = 1024 * 1024 * 1024;

export const spec: CommandSpec = {
  name: 'verify-report',
  usage: 'verify-report <FILE> [--key VKEY] [--json]',
  summary: 'Check an HTML or JSON report offline: its events are in the log at its signed checkpoint.',
  description:
    'Checks the evidence embedded in the report (checkpoint signature, range proof, every disclosure\n' +
    'against its leaf, completeness of the window), computes the report again from the events that\n' +
    'verified, and compares: an edited row fails naming its seq. Without --key the key embedded in the\n' +
    'report is used (internal consistency only). Exit 1 on failure.',
  options: {
    key: { type: 'string', value: 'VKEY', help: 'the verifier key you trust (from `auditrail keys show`)' },
    json: { type: 'boolean', help: 'print the result as JSON' },
  },
  positionals: { min: 1, max: 1, names: '<FILE>' },
  examples: ['auditrail verify-report q4.html --key "$(cat acme.vkey)"'],
};

export function run(args: string[], io: Io): Promise<number> {
  return execute(spec, args, io, ({ values, positionals }) => {
    const file = positionals[0]!;
    const text = readUtf8File(resolve(io.cwd, file), file, MAX_REPORT_BYTES);
    const key = str(values, 'key');
    const r = verifyReport(text, key !== undefined ? { trustedKey: key } : {});
    if (bool(values, 'json')) {
      io.stdout.write(
        `${JSON.stringify({ ok: r.ok, failures: r.failures, report: r.model?.id ?? null, trusted_key: key !== undefined }, null, 2)}\n`,
      );
      return Promise.resolve(r.ok ? EXIT_OK : EXIT_FAILED);
    }
    const c = colors(io);
    const m = r.model;
    if (r.ok && m) {
      io.stdout.write(
        `${c.green('OK')}: ${file} (${m.title}, report ${m.id}) verifies against ${m.log} at tree size ${m.tree_size}\n` +
          `  events     ${groupDigits(m.totals.events)}, every one in the log at that checkpoint\n` +
          `  period     ${m.period.first_ts ?? '—'} .. ${m.period.last_ts ?? '—'}\n` +
          `  query      ${
            Object.entries(m.query)
              .map(([k, v]) => `${k}=${v}`)
              .join(' ') || 'none'
          }${m.subject !== null ? ` subject=${m.subject}` : ''}\n` +
          `  generated  ${m.generated_at} by ${m.generator}\n`,
      );
      if (key === undefined)
        io.stderr.write(
          "note: checked with the report's own key; pass --key with your trusted copy to prove who signed it\n",
        );
      return Promise.resolve(EXIT_OK);
    }
    io.stdout.write(`${c.red('FAILED')}: ${file} does not verify (${r.failures.length} failures)\n`);
    for (const f of r.failures)
      io.stdout.write(`  ${f.kind}${f.seq !== null ? ` seq ${f.seq}` : ''}: ${f.message}\n`);
    return Promise.resolve(EXIT_FAILED);
  });
}
