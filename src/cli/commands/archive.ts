import { resolve } from 'node:path';
import { archiveLog } from '../../index.js';
import { bool, execute, EXIT_OK, str, TARGET_OPTIONS, UsageError, type CommandSpec } from '../args.js';
import { groupDigits } from '../format.js';
import type { Io } from '../io.js';
import { progress } from '../progress.js';
import { commandLine, resolveTarget, shellQuote, withTrail } from '../target.js';

export const spec: CommandSpec = {
  name: 'archive',
  usage: 'archive --before DATE -o DIR [--json] [--db PATH] [--tenant ID] [--log NAME]',
  summary: 'Move a closed range of old events to Parquet files (cold archive); proofs keep working.',
  description:
    'Archives every entry from the end of the last archived range up to the largest signed checkpoint\n' +
    'whose entries were all logged before DATE (YYYY-MM-DD or an RFC 3339 date-time). DIR (new or\n' +
    'empty) gets Parquet files (events-*.parquet: one row per event with its index columns, event JSON\n' +
    'and leaf; disclosures-*.parquet: the salted disclosures) and manifest.json (the range, its signed\n' +
    'checkpoint, a consistency proof to the current checkpoint, the SHA-256 of each file). An\n' +
    'archive.created event records the range and the manifest digest; the hot database then drops the\n' +
    "range's disclosures and index rows and keeps its leaves and tiles, so every proof still verifies.\n" +
    'Check with `auditrail verify --archive DIR`; bring the range back with `auditrail restore DIR`.',
  options: {
    before: { type: 'string', value: 'DATE', help: 'archive entries logged before this date' },
    output: {
      type: 'string',
      short: 'o',
      value: 'DIR',
      help: 'directory for the Parquet files and manifest',
    },
    json: { type: 'boolean', help: 'print the result as JSON' },
    ...TARGET_OPTIONS,
  },
  positionals: { min: 0, max: 0 },
  examples: [
    'auditrail archive --before 2026-01-01 -o archive/2025',
    'auditrail verify --archive archive/2025',
  ],
};

export function run(args: string[], io: Io): Promise<number> {
  return execute(spec, args, io, async ({ values }) => {
    const before = str(values, 'before');
    const out = str(values, 'output');
    if (before === undefined) throw new UsageError('--before DATE is required (e.g. --before 2026-01-01)');
    if (out === undefined)
      throw new UsageError('-o DIR is required: the directory the archive is written to');
    if (
      !/^\d{4}-\d{2}-\d{2}([T ][0-9:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(before) ||
      Number.isNaN(Date.parse(before))
    )
      throw new UsageError(`--before must be a date (YYYY-MM-DD) or an RFC 3339 date-time, got '${before}'`);
    const target = resolveTarget(values, io);
    return withTrail(target, io, { mustExist: true, readonly: false }, async (trail) => {
      const bar = progress(io, 'archiving');
      let r;
      try {
        r = await archiveLog(trail, {
          before,
          dir: resolve(io.cwd, out),
          onProgress: (done, total) => bar.update(done, total),
        });
      } finally {
        bar.end();
      }
      if (bool(values, 'json')) {
        io.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
        return EXIT_OK;
      }
      io.stdout.write(
        [
          `archived:   seq ${groupDigits(r.from)}..${groupDigits(r.to - 1)} (${groupDigits(r.entries)} events) of ${trail.origin}`,
          `recorded:   archive.created at seq ${groupDigits(r.by_seq)}`,
          `manifest:   ${r.dir}/manifest.json (SHA-256 ${r.manifest_sha256})`,
          `files:      ${r.files.length} Parquet files, ${groupDigits(r.files.reduce((n, f) => n + f.bytes, 0))} bytes`,
          `dropped:    ${groupDigits(r.dropped.disclosures)} disclosures and ${groupDigits(r.dropped.index_rows)} index rows from the hot database`,
          `check with: ${commandLine(io, target, 'verify', '--archive', shellQuote(out))}`,
          '',
        ].join('\n'),
      );
      return EXIT_OK;
    });
  });
}
