import type { AuditTrail, RecordedEvent } from '../../index.js';
import { bool, execute, EXIT_OK, oneOf, str, TARGET_OPTIONS, UsageError, type CommandSpec } from '../args.js';
import { colors, groupDigits, outputWidth } from '../format.js';
import { writerSink, type Io } from '../io.js';
import { FILTER_OPTIONS, PAGE_SIZE, pages, readSelection, type Selection } from '../query.js';
import { EventWriter, LIST_FORMATS, timelineTable, type ListFormat } from '../render.js';
import { resolveTarget, withTrail } from '../target.js';

export const DEFAULT_LOG_LIMIT = 100;
/** How often `--follow` looks for new events. */
export const FOLLOW_POLL_MS = 500;

export const spec: CommandSpec = {
  name: 'log',
  usage: 'log [filters] [--limit N] [--format table|json|jsonl|csv] [--follow]',
  summary: 'List events of a log, oldest first, with filters.',
  description:
    `Shows at most ${DEFAULT_LOG_LIMIT} events unless --limit says otherwise (a note on stderr says when there are more);\n` +
    'use `auditrail export` for everything. JSON output carries seq, ts, leaf_hash and log, then\n' +
    "the event's fields. Times are the log's receive time (ts), UTC. With --follow: the last N\n" +
    'matching events, then each new one as it is committed, until Ctrl-C (exit 0).\n\n' +
    "--type, --action and --target take globs: * matches any run of characters ('/', '.' and ':'\n" +
    'included), ? one character, everything else is literal; matching is case-sensitive.',
  options: {
    ...FILTER_OPTIONS,
    format: { type: 'string', value: 'FORMAT', help: 'table (default), json, jsonl or csv' },
    follow: {
      type: 'boolean',
      short: 'f',
      help: `keep printing new matching events (checks every ${FOLLOW_POLL_MS} ms) until Ctrl-C`,
    },
    ...TARGET_OPTIONS,
  },
  positionals: { min: 0, max: 0 },
  examples: [
    'auditrail log --decision deny',
    "auditrail log --type 'action.*' --since 24h",
    'auditrail log --follow --type policy.decision',
    'auditrail log --session sess-1a2b3c4d --format jsonl | jq -c "{seq, type}"',
  ],
};

/** `stop` ends `--follow` (tests); from a terminal, Ctrl-C (SIGINT) does. */
export function run(args: string[], io: Io, stop?: AbortSignal): Promise<number> {
  return execute(spec, args, io, async ({ values }) => {
    const format = oneOf('--format', str(values, 'format') ?? 'table', LIST_FORMATS);
    const selection = readSelection(values, Date.now(), DEFAULT_LOG_LIMIT);
    const follow = bool(values, 'follow');
    if (follow && format === 'json')
      throw new UsageError('--follow prints a stream: use --format jsonl, csv or table');
    if (follow && selection.order === 'desc')
      throw new UsageError('--follow prints oldest first: leave out --order desc');
    const target = resolveTarget(values, io);
    return withTrail(target, io, { mustExist: true }, async (trail) => {
      if (follow) return followLog(trail, selection, format as Exclude<ListFormat, 'json'>, io, stop);
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

/**
 * `log --follow`: prints the last `limit` matching events, then polls (read-only queries) for
 * newer ones until SIGINT or `stop`. Events from other processes appear once committed.
 */
async function followLog(
  trail: AuditTrail,
  selection: Selection,
  format: Exclude<ListFormat, 'json'>,
  io: Io,
  stop: AbortSignal | undefined,
): Promise<number> {
  const writer = format === 'table' ? null : new EventWriter(writerSink(io.stdout), format);
  await writer?.begin();
  let header = true;
  const print = async (events: RecordedEvent[]): Promise<void> => {
    if (events.length === 0) return;
    if (writer) {
      await writer.write(events);
      return;
    }
    const table = timelineTable(events, { width: outputWidth(io, 160), colors: colors(io), clock: 'ts' });
    // One header for the whole stream; later batches are rows only.
    io.stdout.write(header ? table : table.slice(table.indexOf('\n') + 1));
    header = false;
  };
  const limit = Math.min(selection.limit ?? DEFAULT_LOG_LIMIT, PAGE_SIZE);
  const latest = await trail.query({ ...selection.filter, order: 'desc', limit });
  const backlog = latest.events.reverse();
  await print(backlog);
  let after = backlog.length > 0 ? backlog[backlog.length - 1]!.seq : -1;

  let stopped = stop?.aborted ?? false;
  let wake: () => void = () => undefined;
  const onStop = (): void => {
    stopped = true;
    wake();
  };
  process.on('SIGINT', onStop);
  stop?.addEventListener('abort', onStop);
  try {
    while (!stopped) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, FOLLOW_POLL_MS);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      if (stopped) break;
      for (;;) {
        const page = await trail.query({
          ...selection.filter,
          order: 'asc',
          limit: PAGE_SIZE,
          ...(after >= 0 ? { cursor: `a${after}` } : {}),
        });
        await print(page.events);
        const last = page.events[page.events.length - 1];
        if (last) after = last.seq;
        if (!page.next_cursor) break;
      }
    }
  } finally {
    process.off('SIGINT', onStop);
    stop?.removeEventListener('abort', onStop);
  }
  await writer?.finish();
  return EXIT_OK;
}
