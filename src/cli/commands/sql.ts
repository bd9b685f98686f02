import { readOnlySql, SQL_DEFAULT_MAX_ROWS, SQL_DEFAULT_TIMEOUT_MS } from '../../sdk/internal-api.js';
import { bool, execute, EXIT_OK, positiveInt, str, TARGET_OPTIONS, type CommandSpec } from '../args.js';
import { colors, outputWidth, renderTable } from '../format.js';
import type { Io } from '../io.js';
import { resolveTarget } from '../target.js';

export const spec: CommandSpec = {
  name: 'sql',
  usage: 'sql "<query>" [--json] [--timeout MS] [--max-rows N] [--db PATH | --postgres URL]',
  summary: 'Run one read-only SQL query over the documented views (events_v, decisions_v, approvals_v).',
  description:
    'For analysts: one SELECT (or WITH, VALUES, TABLE) on a read-only connection (SQLite) or in a\n' +
    'READ ONLY transaction (PostgreSQL); a write is refused and a query running past --timeout is\n' +
    'stopped. The views and their columns are documented in docs/sql.md. The rows are what is\n' +
    'stored: run `auditrail verify` to know they are what the log committed to.',
  options: {
    json: { type: 'boolean', help: 'print { columns, rows, truncated } as JSON' },
    timeout: {
      type: 'string',
      value: 'MS',
      help: `stop the query after this many milliseconds (default ${SQL_DEFAULT_TIMEOUT_MS})`,
    },
    'max-rows': {
      type: 'string',
      value: 'N',
      help: `print at most N rows (default ${SQL_DEFAULT_MAX_ROWS})`,
    },
    db: TARGET_OPTIONS['db']!,
    postgres: TARGET_OPTIONS['postgres']!,
  },
  positionals: { min: 1, max: 1, names: 'query' },
  examples: [
    'auditrail sql "SELECT decision, count(*) AS n FROM decisions_v GROUP BY decision"',
    'auditrail sql "SELECT seq, ts, actor_id, action_type FROM events_v WHERE risk = \'high\'" --json',
    'auditrail sql "SELECT id, status, action_type FROM approvals_v WHERE status = \'pending\'"',
  ],
};

export function run(args: string[], io: Io): Promise<number> {
  return execute(spec, args, io, async ({ values, positionals }) => {
    const target = resolveTarget(values, io);
    const timeout = str(values, 'timeout');
    const maxRows = str(values, 'max-rows');
    const r = await readOnlySql(target.db, positionals[0]!, {
      ...(timeout !== undefined ? { timeoutMs: positiveInt('--timeout', timeout, 3_600_000) } : {}),
      ...(maxRows !== undefined ? { maxRows: positiveInt('--max-rows', maxRows, 1_000_000) } : {}),
    });
    if (bool(values, 'json')) {
      io.stdout.write(`${JSON.stringify(r)}\n`);
      return EXIT_OK;
    }
    const cell = (v: string | number | boolean | null): string => (v === null ? 'NULL' : String(v));
    io.stdout.write(
      renderTable(
        r.columns.map((header) => ({ header })),
        r.rows.map((row) => ({ cells: row.map(cell) })),
        { width: outputWidth(io, 200), colors: colors(io) },
      ),
    );
    io.stdout.write(
      `(${r.rows.length} row${r.rows.length === 1 ? '' : 's'}${r.truncated ? `; more rows matched: raise --max-rows or narrow the query` : ''})\n`,
    );
    return EXIT_OK;
  });
}
