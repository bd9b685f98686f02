import { listLogs } from '../../index.js';
import { bool, CliError, execute, EXIT_OK, TARGET_OPTIONS, type CommandSpec } from '../args.js';
import { colors, groupDigits, renderTable } from '../format.js';
import type { Io } from '../io.js';
import { cliName, displayDb, resolveTarget } from '../target.js';

export const spec: CommandSpec = {
  name: 'logs',
  usage: 'logs [--json] [--db PATH]',
  summary: 'List every tenant log in the database: size, last signed checkpoint, pending approvals.',
  description:
    'The database is only read. Pass a tenant and log from this list to the other commands with\n' +
    '--tenant and --log; a command given neither on a database holding one log uses that one.',
  options: {
    json: { type: 'boolean', help: 'print JSON' },
    db: TARGET_OPTIONS['db']!,
    postgres: TARGET_OPTIONS['postgres']!,
  },
  positionals: { min: 0, max: 0 },
  examples: ['auditrail logs', 'auditrail logs --json | jq -r ".[].tenant"'],
};

export function run(args: string[], io: Io): Promise<number> {
  return execute(spec, args, io, async ({ values }) => {
    const target = resolveTarget(values, io);
    let logs;
    try {
      logs = await listLogs({ db: target.db });
    } catch (e) {
      if ((e as { code?: unknown }).code === 'not_found')
        throw new CliError(
          `no audit database at ${displayDb(target.db, io)} (create one with '${cliName(io)} demo', or pass --db / set AUDITRAIL_DB)`,
        );
      throw e;
    }
    if (bool(values, 'json')) {
      io.stdout.write(`${JSON.stringify(logs, null, 2)}\n`);
      return EXIT_OK;
    }
    if (logs.length === 0) {
      io.stdout.write(`no logs in ${displayDb(target.db, io)} yet\n`);
      return EXIT_OK;
    }
    io.stdout.write(
      renderTable(
        [
          { header: 'tenant' },
          { header: 'log' },
          { header: 'size', align: 'right' },
          { header: 'last checkpoint' },
          { header: 'pending approvals', align: 'right' },
        ],
        logs.map((l) => ({
          cells: [
            l.tenant,
            l.log,
            groupDigits(l.size),
            l.last_checkpoint
              ? `size ${groupDigits(l.last_checkpoint.size)} at ${l.last_checkpoint.created_at}`
              : '(none)',
            String(l.pending_approvals),
          ],
        })),
        { width: 120, colors: colors(io) },
      ),
    );
    return EXIT_OK;
  });
}
