import { openAuditTrail } from '../../index.js';
import { DEFAULT_SPOOL, Spool } from '../../sdk/internal-api.js';
import { bool, CliError, execute, EXIT_OK, str, UsageError, type CommandSpec } from '../args.js';
import type { Io } from '../io.js';

export const spec: CommandSpec = {
  name: 'spool',
  usage: 'spool status|flush [--spool DIR] [--url URL] [--api-key KEY] [--json]',
  summary: "Show or drain a remote SDK's local spool (events waiting for auditrail serve).",
  description:
    'status: events and bytes waiting, the oldest, and events the server refused for good (dead).\n' +
    'flush: delivers every waiting event to the server, in order, then prints what is left.\n' +
    'The spool must not be open in another process (it is locked by its owner).\n' +
    'Prefer $AUDITRAIL_API_KEY to --api-key: a command line is visible to other users.',
  options: {
    spool: { type: 'string', value: 'DIR', help: `spool directory (default ${DEFAULT_SPOOL})` },
    url: { type: 'string', value: 'URL', help: 'server URL (default $AUDITRAIL_URL)' },
    'api-key': { type: 'string', value: 'KEY', help: 'API key (default $AUDITRAIL_API_KEY)' },
    json: { type: 'boolean', help: 'print the status as JSON' },
  },
  positionals: { min: 1, max: 1, names: 'subcommand (status or flush)' },
  examples: [
    'auditrail spool status --spool ./.auditrail/spool',
    'AUDITRAIL_API_KEY=… auditrail spool flush --url http://127.0.0.1:8700',
  ],
};

export function run(args: string[], io: Io): Promise<number> {
  return execute(spec, args, io, async ({ values, positionals }) => {
    const sub = positionals[0];
    if (sub !== 'status' && sub !== 'flush')
      throw new UsageError(`unknown subcommand 'spool ${sub}' (expected 'spool status' or 'spool flush')`);
    const dir = str(values, 'spool') ?? DEFAULT_SPOOL;
    const json = bool(values, 'json');
    if (sub === 'flush') {
      const url = str(values, 'url') ?? process.env['AUDITRAIL_URL'];
      const apiKey = str(values, 'api-key') ?? process.env['AUDITRAIL_API_KEY'];
      if (url === undefined) throw new UsageError('spool flush needs --url (or $AUDITRAIL_URL)');
      if (apiKey === undefined) throw new UsageError('spool flush needs --api-key (or $AUDITRAIL_API_KEY)');
      const errors: string[] = [];
      const trail = await openAuditTrail({
        url,
        apiKey,
        spool: dir,
        onError: (e) => errors.push((e as Error).message),
      });
      try {
        const before = trail.spoolStatus()!.events;
        if (!json) io.stdout.write(`delivering ${before} event(s) to ${trail.url}…\n`);
        // Stops at the first failure: a flush that cannot reach the server says why.
        const failed = new Promise<never>((_, reject) => {
          const t = setInterval(() => {
            if (errors.length > 0) {
              clearInterval(t);
              reject(new CliError(`delivery failed: ${errors[0]}; the events stay in ${dir}`));
            }
          }, 50);
          t.unref();
        });
        const receipts = await Promise.race([trail.flush(), failed]);
        if (!json) io.stdout.write(`delivered ${receipts.length} event(s)\n`);
      } finally {
        await trail.close();
      }
    }
    let spool: Spool;
    try {
      spool = Spool.open(dir, { readonly: true });
    } catch (e) {
      throw new CliError(`no spool in ${dir}: ${(e as Error).message}`);
    }
    try {
      const s = spool.status();
      if (json) io.stdout.write(`${JSON.stringify(s, null, 2)}\n`);
      else {
        io.stdout.write(
          `spool ${s.dir}: ${s.events} event(s) waiting, ${s.bytes} bytes` +
            (s.oldest !== null ? `, oldest spooled ${s.oldest}` : '') +
            `; ${s.dead} refused by the server (dead)\n`,
        );
      }
    } finally {
      spool.close();
    }
    return EXIT_OK;
  });
}
