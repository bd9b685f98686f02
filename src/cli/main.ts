/**
 * The `auditrail` command line: a thin layer over the public SDK (docs/cli.md).
 *
 * @example
 * // bin/auditrail.js
 * process.exitCode = await main(process.argv.slice(2));
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { EXIT_OK, EXIT_USAGE, reportError } from './args.js';
import { processIo, type Io } from './io.js';

export type { Io, Writer } from './io.js';

interface Command {
  name: string;
  summary: string;
  load: () => Promise<{ run: (args: string[], io: Io) => Promise<number> }>;
}

const COMMANDS: Command[] = [
  {
    name: 'demo',
    summary: 'record a realistic agent session and verify it',
    load: () => import('./commands/demo.js'),
  },
  {
    name: 'logs',
    summary: 'list the tenant logs of the database (size, checkpoint, pending approvals)',
    load: () => import('./commands/logs.js'),
  },
  { name: 'log', summary: 'list events, with filters', load: () => import('./commands/log.js') },
  {
    name: 'migrate',
    summary: 'copy an SQLite database to PostgreSQL, tree and checkpoints intact',
    load: () => import('./commands/migrate.js'),
  },
  {
    name: 'sql',
    summary: 'run one read-only SQL query over the documented views',
    load: () => import('./commands/sql.js'),
  },
  { name: 'show', summary: 'print one event as JSON', load: () => import('./commands/show.js') },
  {
    name: 'verify',
    summary: 'verify the whole log; exit 1 on any failure',
    load: () => import('./commands/verify.js'),
  },
  {
    name: 'prove',
    summary: 'write an inclusion proof bundle for one event',
    load: () => import('./commands/prove.js'),
  },
  {
    name: 'verify-proof',
    summary: 'check a proof bundle offline, without the database',
    load: () => import('./commands/verify-proof.js'),
  },
  {
    name: 'verify-consistency',
    summary: 'check that the log only appended since a saved checkpoint',
    load: () => import('./commands/verify-consistency.js'),
  },
  {
    name: 'evidence',
    summary: 'write an evidence package an auditor verifies offline',
    load: () => import('./commands/evidence.js'),
  },
  {
    name: 'verify-evidence',
    summary: 'check an evidence package offline, without the database',
    load: () => import('./commands/verify-evidence.js'),
  },
  {
    name: 'report',
    summary: 'write a compliance report (HTML, PDF, CSV, JSON) built from verified events',
    load: () => import('./commands/report.js'),
  },
  {
    name: 'verify-report',
    summary: 'check an HTML or JSON report offline against its signed checkpoint',
    load: () => import('./commands/verify-report.js'),
  },
  {
    name: 'check',
    summary: 'run the completeness rules; exit 1 on findings',
    load: () => import('./commands/check.js'),
  },
  {
    name: 'retention',
    summary: 'preview or apply the retention policy, reclaim disk',
    load: () => import('./commands/retention.js'),
  },
  {
    name: 'export',
    summary: 'export events as JSON Lines, JSON or CSV',
    load: () => import('./commands/export.js'),
  },
  {
    name: 'archive',
    summary: 'move old events to Parquet files (cold archive); proofs keep working',
    load: () => import('./commands/archive.js'),
  },
  {
    name: 'restore',
    summary: 'bring an archived range back into the hot database, after verifying it',
    load: () => import('./commands/restore.js'),
  },
  {
    name: 'alerts',
    summary: 'deliver anomaly alerts to Slack, PagerDuty, a webhook or e-mail',
    load: () => import('./commands/alerts.js'),
  },
  {
    name: 'responses',
    summary: 'list, revert or apply the automated responses to anomalies',
    load: () => import('./commands/responses.js'),
  },
  {
    name: 'checkpoint',
    summary: 'print the signed checkpoint (C2SP signed note)',
    load: () => import('./commands/checkpoint.js'),
  },
  {
    name: 'keys',
    summary: "keys show|rotate|retire: the log's verifier key, key rotation",
    load: () => import('./commands/keys.js'),
  },
  {
    name: 'witness',
    summary: 'witness init|trust|show|cosign: a C2SP witness that cosigns consistent checkpoints',
    load: () => import('./commands/witness.js'),
  },
  {
    name: 'policy',
    summary: 'check a policy bundle, or replay recorded actions under it',
    load: () => import('./commands/policy.js'),
  },
  {
    name: 'approvals',
    summary: 'list, approve or deny pending approval requests',
    load: () => import('./commands/approvals.js'),
  },
  {
    name: 'detect',
    summary: 'run the anomaly detectors over the log (once, or --follow)',
    load: () => import('./commands/detect.js'),
  },
  {
    name: 'anomalies',
    summary: 'list, acknowledge or resolve the anomalies the detectors recorded',
    load: () => import('./commands/anomalies.js'),
  },
  {
    name: 'erase',
    summary: "erase a data subject's personal data (GDPR Art. 17), proofs kept valid",
    load: () => import('./commands/erase.js'),
  },
  {
    name: 'dsar',
    summary: 'export everything held about a data subject (JSON and the GDPR report)',
    load: () => import('./commands/dsar.js'),
  },
  {
    name: 'hold',
    summary: 'place, list or release legal holds (nothing held can be erased)',
    load: () => import('./commands/hold.js'),
  },
  {
    name: 'serve',
    summary: 'run the HTTP API (ingest, queries, proofs, decide, approvals) with API keys',
    load: () => import('./commands/serve.js'),
  },
  {
    name: 'apikeys',
    summary: 'create, list or revoke the API keys of auditrail serve',
    load: () => import('./commands/apikeys.js'),
  },
  {
    name: 'spool',
    summary: "show or drain a remote SDK's local spool of events for auditrail serve",
    load: () => import('./commands/spool.js'),
  },
  {
    name: 'mcp-proxy',
    summary: 'govern and log every tools/call between an MCP client and a stdio server',
    load: () => import('./commands/mcp-proxy.js'),
  },
];

const USAGE = 'Usage: auditrail <command> [options]';

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version?: string;
    };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** The command list (`auditrail help`). */
export function overview(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'auditrail — a tamper-evident audit trail for AI agents',
    '',
    USAGE,
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    `  ${'help'.padEnd(width)}  this list, or 'help <command>' for one command`,
    '',
    'Every command takes --db PATH (default $AUDITRAIL_DB, else ./.auditrail/audit.db) or',
    '--postgres URL (default $AUDITRAIL_POSTGRES),',
    '--tenant ID (default $AUDITRAIL_TENANT, else demo), --log NAME (default $AUDITRAIL_LOG, else default)',
    'and --help. Given neither --tenant nor --log, a database holding one log uses that one.',
    'Exit codes: 0 ok, 1 verification failed or not found, 2 usage error.',
    '',
    'Examples:',
    '  auditrail demo --show',
    '  auditrail logs',
    '  auditrail log --decision deny --since 24h',
    '  auditrail prove 12 -o proof.json && auditrail verify-proof proof.json',
    '',
  ].join('\n');
}

// Plain edit distance, for "did you mean" on a mistyped command.
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length]!;
}

function unknownCommand(name: string, io: Io): number {
  const near = COMMANDS.map((c) => c.name).filter((n) => distance(n, name) <= 2 || n.startsWith(name));
  io.stderr.write(
    `error: unknown command '${name}'${near.length > 0 ? ` (did you mean ${near.map((n) => `'${n}'`).join(' or ')}?)` : ''}\n` +
      `${USAGE}\nRun 'auditrail help' for the command list.\n`,
  );
  return EXIT_USAGE;
}

/**
 * Runs one command line and resolves with the process exit code: 0 ok, 1 verification failed
 * (or not found, or the operation failed), 2 usage error.
 */
export async function main(argv: string[], io: Io = processIo()): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || (name === 'help' && rest.length === 0)) {
    io.stdout.write(overview());
    return EXIT_OK;
  }
  if (name === '--version' || name === '-V') {
    io.stdout.write(`auditrail ${version()}\n`);
    return EXIT_OK;
  }
  if (name === 'help') {
    // `help --help` (or `help help`): the command list is the help's own help.
    if (rest.length === 1 && (rest[0] === '--help' || rest[0] === '-h' || rest[0] === 'help')) {
      io.stdout.write(overview());
      return EXIT_OK;
    }
    const topic = COMMANDS.find((c) => c.name === rest[0]);
    if (!topic || rest.length > 1) return unknownCommand(rest.join(' '), io);
    return (await topic.load()).run(['--help'], io);
  }
  if (name.startsWith('-')) {
    io.stderr.write(
      `error: unknown flag ${name} (flags go after the command)\n${USAGE}\nRun 'auditrail help' for the command list.\n`,
    );
    return EXIT_USAGE;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) return unknownCommand(name, io);
  try {
    return await (await command.load()).run(rest, io);
  } catch (e) {
    return reportError(e, io);
  }
}

const entry = process.argv[1];
if (entry !== undefined && import.meta.url === pathToFileURL(entry).href) {
  process.exitCode = await main(process.argv.slice(2));
}
