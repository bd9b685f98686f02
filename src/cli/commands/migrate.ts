import { join, resolve } from 'node:path';
import { DEFAULT_DB, migrateToPostgres } from '../../sdk/internal-api.js';
import { bool, CliError, execute, EXIT_FAILED, EXIT_OK, str, UsageError, type CommandSpec } from '../args.js';
import { colors, groupDigits } from '../format.js';
import type { Io } from '../io.js';
import { commandLine, displayDb, resolveTarget } from '../target.js';

export const spec: CommandSpec = {
  name: 'migrate',
  usage: 'migrate --to postgres://… [--db PATH] [--key-dir DIR] [--json]',
  summary: 'Copy an SQLite audit database to PostgreSQL with its tree and checkpoints intact.',
  description:
    'Copies every log row for row (entries, disclosures, query index, tiles, checkpoints, approvals,\n' +
    "cursors, meta, API keys) in one transaction into an empty schema (the URL's ?schema=, default\n" +
    'auditrail), copies the signing key and witness state into the key directory the target is\n' +
    'opened with (default ./.auditrail/keys), then verifies every log on the target. The SQLite file\n' +
    'is only read. Exit code 1 when a log does not verify on the target. See docs/scale-out.md.',
  options: {
    to: { type: 'string', value: 'URL', help: 'the PostgreSQL database, postgres://user@host:5432/db' },
    db: {
      type: 'string',
      value: 'PATH',
      help: 'the SQLite file to copy (default: $AUDITRAIL_DB, else ./.auditrail/audit.db)',
    },
    'key-dir': {
      type: 'string',
      value: 'DIR',
      help: 'key directory for the target (default ./.auditrail/keys)',
    },
    json: { type: 'boolean', help: 'print the report as JSON' },
  },
  positionals: { min: 0, max: 0 },
  examples: [
    'auditrail migrate --to postgres://audit@db.internal:5432/audit',
    "auditrail migrate --db ./data/audit.db --to 'postgres://audit@127.0.0.1/audit?schema=acme'",
  ],
};

export function run(args: string[], io: Io): Promise<number> {
  return execute(spec, args, io, async ({ values }) => {
    const to = str(values, 'to');
    if (to === undefined) throw new UsageError('give the target with --to postgres://…');
    if (!/^postgres(ql)?:\/\//i.test(to)) throw new UsageError('--to needs a postgres:// URL');
    const db = str(values, 'db') ?? io.env['AUDITRAIL_DB'] ?? DEFAULT_DB;
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(db)) throw new UsageError('--db names the SQLite file to copy');
    const source = resolveTarget({ db }, io);
    const keyDir = str(values, 'key-dir');
    const report = await migrateToPostgres({
      db: source.db,
      to,
      keyDir: resolve(io.cwd, keyDir ?? join('.auditrail', 'keys')),
    }).catch((e: unknown) => {
      if ((e as { code?: unknown }).code === 'not_found')
        throw new CliError(`no audit database at ${displayDb(source.db, io)} (pass --db PATH)`);
      throw e;
    });
    const ok = report.logs.every((l) => l.ok);
    if (bool(values, 'json')) {
      io.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      return ok ? EXIT_OK : EXIT_FAILED;
    }
    const c = colors(io);
    const n = report.counts;
    io.stdout.write(
      `copied ${displayDb(source.db, io)} → ${displayDb(to, io)}: ${n.logs} log(s), ${groupDigits(n.entries)} entries, ` +
        `${groupDigits(n.disclosures)} disclosures, ${groupDigits(n.tiles)} tiles, ${n.checkpoints} checkpoints, ` +
        `${n.approvals} approvals, ${n.cursors} cursors, ${n.apiKeys} API keys, ${n.archives} archived range(s)\n`,
    );
    for (const l of report.logs) {
      io.stdout.write(
        `  ${l.tenant}/${l.log}: ${groupDigits(l.size)} entries, ${l.ok ? c.green('verified on the target') : c.red(`${l.failures} verify failure(s)`)}\n`,
      );
    }
    const target = { ...resolveTarget({ postgres: to }, { ...io, env: {} }) };
    io.stdout.write(`keys: ${report.keyDir}\nNext: ${commandLine(io, target, 'verify')}\n`);
    return ok ? EXIT_OK : EXIT_FAILED;
  });
}
