import { resolve } from 'node:path';
import { execute, EXIT_OK, oneOf, str, TARGET_OPTIONS, type CommandSpec } from '../args.js';
import { groupDigits } from '../format.js';
import { fileSink, writerSink, type Io, type Sink } from '../io.js';
import { progress } from '../progress.js';
import { FILTER_OPTIONS, pages, readSelection } from '../query.js';
import { CSV_COLUMNS, EventWriter } from '../render.js';
import { resolveTarget, withTrail } from '../target.js';

const FORMATS = ['jsonl', 'json', 'csv'] as const;

export const spec: CommandSpec = {
  name: 'export',
  usage: 'export [--format jsonl|json|csv] [-o FILE] [filters]',
  summary: 'Export events (all, or those matching the filters) as JSON Lines, a JSON array or CSV.',
  description:
    'Streams page by page, so memory stays flat however large the log. With -o the file appears only\n' +
    `once complete. CSV has a fixed column set: ${CSV_COLUMNS.join(', ')};\n` +
    "RFC 4180 quoting, CRLF line ends, and a ' before cells starting with = + - @ (spreadsheet formulas).",
  options: {
    format: { type: 'string', value: 'FORMAT', help: 'jsonl (default), json or csv' },
    output: { type: 'string', short: 'o', value: 'FILE', help: 'write to FILE instead of stdout' },
    ...FILTER_OPTIONS,
    ...TARGET_OPTIONS,
  },
  positionals: { min: 0, max: 0 },
  examples: [
    'auditrail export -o audit.jsonl',
    'auditrail export --format csv --since 7d --decision deny -o denials.csv',
  ],
};

export function run(args: string[], io: Io): Promise<number> {
  return execute(spec, args, io, async ({ values }) => {
    const format = oneOf('--format', str(values, 'format') ?? 'jsonl', FORMATS);
    const selection = readSelection(values, Date.now());
    const out = str(values, 'output');
    const toFile = out !== undefined && out !== '-';
    return withTrail(resolveTarget(values, io), io, { mustExist: true }, async (trail) => {
      const total = io.isTTY.stderr
        ? Math.min(await trail.count(selection.filter), selection.limit ?? Infinity)
        : undefined;
      const sink: Sink = toFile ? fileSink(resolve(io.cwd, out)) : writerSink(io.stdout);
      const bar = progress(io, 'exporting');
      try {
        const writer = new EventWriter(sink, format);
        await writer.begin();
        let done = 0;
        for await (const page of pages(trail, selection)) {
          await writer.write(page);
          done += page.length;
          bar.update(done, total);
        }
        const count = await writer.finish();
        await sink.end();
        bar.end();
        if (toFile) io.stderr.write(`exported ${groupDigits(count)} events to ${out}\n`);
      } catch (e) {
        bar.end();
        sink.abort();
        throw e;
      }
      return EXIT_OK;
    });
  });
}
