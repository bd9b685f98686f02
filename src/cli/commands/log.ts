import type { RecordedEvent } from '../../index.js';
import { execute, EXIT_OK, oneOf, str, TARGET_OPTIONS, type CommandSpec } from '../args.js';
import { colors, groupDigits, outputWidth } from '../format.js';
import { writerSink, type Io } from '../io.js';
import { FILTER_OPTIONS, pages, readSelection } from '../query.js';
import { EventWriter, LIST_FORMATS, timelineTable } from '../render.js';
import { resolveTarget, withTrail } from '../target.js';

export const DEFAULT_LOG_LIMIT = 100;

export const spec: CommandSpec = {
  name: 'log',
  usage: 'log [filters] [--limit N] [--format table|json|jsonl|csv]',
  summary: 'List events of a log, oldest first, with filters.',
  description:
    `Shows at most ${DEFAULT_LOG_LIMIT} events unless --limit says otherwise (a note on stderr says when there are more);\n` +
    'use `auditrail export` for everything. JSON output carries seq, ts, leaf_hash and log, then\n' +
    "the event's fields. Times are the log's receive time (ts), UTC.",
  options: {
    ...FILTER_OPTIONS,
    format: { type: 'string', value: 'FORMAT', help: 'table (default), json, jsonl or csv' },
    ...TARGET_OPTIONS,
  },
  positionals: { min: 0, max: 0 },
  examples: [
    'auditrail log --decision deny',
    'auditrail log --type action.failed --since 24h',
    'auditrail log --session sess-1a2b3c4d --format jsonl | jq -c "{seq, type}"',
  ],
};

export function run(args: string[], io: Io): Promise<number> {
  return execute(spec, args, io, async ({ values }) => {
    const format = oneOf('--format', str(values, 'format') ?? 'table', LIST_FORMATS);
    const selection = readSelection(values, Date.now(), DEFAULT_LOG_LIMIT);
    const target = resolveTarget(values, io);
    return withTrail(target, io, { mustExist: true }, async (trail) => {
      const state = { more: false };
      let count = 0;
      if (format === 'table') {
        // A table needs column widths, so it waits for all rows; the default limit keeps that small.
        const events: RecordedEvent[] = [];
        for await (const page of pages(trail, selection, state)) events.push(...page);
        count = events.length;
        if (count > 0) {
          io.stdout.write(
            timelineTable(events, { width: outputWidth(io, 160), colors: colors(io), clock: 'ts' }),
          );
        }
      } else {
        const writer = new EventWriter(writerSink(io.stdout), format);
        await writer.begin();
        for await (const page of pages(trail, selection, state)) await writer.write(page);
        count = await writer.finish();
      }
      if (count === 0)
        io.stderr.write(
          `no events match in ${trail.origin}${trail.size === 0 ? ' (the log is empty)' : ''}\n`,
        );
      if (state.more) {
        io.stderr.write(
          `(showing ${groupDigits(count)} events; more match: raise --limit, or use auditrail export)\n`,
        );
      }
      return EXIT_OK;
    });
  });
}
