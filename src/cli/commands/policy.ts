import { loadPolicyFile, PolicyError, replayPolicy } from '../../index.js';
import {
  bool,
  CliError,
  execute,
  EXIT_OK,
  str,
  TARGET_OPTIONS,
  UsageError,
  type CommandSpec,
} from '../args.js';
import { colors, renderTable } from '../format.js';
import type { Io } from '../io.js';
import { parseTimeBound } from '../query.js';
import { resolveTarget, withTrail } from '../target.js';

export const spec: CommandSpec = {
  name: 'policy',
  usage: 'policy check FILE | policy test --policy FILE [--since TIME] [--until TIME] [--json]',
  summary: 'Validate a policy bundle, or replay recorded actions under it to see what would change.',
  description:
    "'check' validates a bundle and prints every problem as file:line:column.\n" +
    "'test' re-decides the recorded actions in the window (default: the last 7 days) under the new\n" +
    'bundle and lists the decisions that would change (allow -> deny, …) with counts. It records nothing.',
  options: {
    ...TARGET_OPTIONS,
    policy: { type: 'string', value: 'FILE', help: 'the bundle to test (policy test)' },
    since: {
      type: 'string',
      value: 'TIME',
      help: 'replay decisions at or after TIME (RFC 3339 or 7d, 24h; default 7d)',
    },
    until: { type: 'string', value: 'TIME', help: 'replay decisions before TIME' },
    json: { type: 'boolean', help: 'print the report as JSON' },
  },
  positionals: { min: 1, max: 2, names: 'subcommand (check FILE | test)' },
  examples: [
    'auditrail policy check policy.yaml',
    'auditrail policy test --policy policy.v4.yaml --since 7d',
  ],
};

async function load(file: string) {
  try {
    return await loadPolicyFile(file);
  } catch (e) {
    if (e instanceof PolicyError) throw new CliError(e.message);
    throw new CliError(`cannot read ${file}: ${(e as Error).message}`);
  }
}

export function run(args: string[], io: Io): Promise<number> {
  return execute(spec, args, io, async ({ values, positionals }) => {
    const sub = positionals[0];
    if (sub === 'check') {
      const file = positionals[1];
      if (!file) throw new UsageError('missing FILE (policy check FILE)');
      const b = await load(file);
      io.stdout.write(
        `${file}: OK — policy ${b.policyId} version ${b.version}, ${b.rules.length} rules, default ${b.defaultEffect}, mode ${b.mode}\n` +
          `snapshot ${b.snapshot}\n`,
      );
      return EXIT_OK;
    }
    if (sub !== 'test') throw new UsageError(`unknown subcommand 'policy ${sub}' (expected check or test)`);
    if (positionals.length > 1) throw new UsageError(`unexpected argument '${positionals[1]}'`);
    const file = str(values, 'policy');
    if (!file) throw new UsageError('policy test needs --policy FILE');
    const bundle = await load(file);
    const now = Date.now();
    const since = parseTimeBound('--since', str(values, 'since') ?? '7d', now);
    const untilRaw = str(values, 'until');
    const until = untilRaw === undefined ? undefined : parseTimeBound('--until', untilRaw, now);
    return withTrail(resolveTarget(values, io), io, { mustExist: true }, async (trail) => {
      const report = await replayPolicy(trail, bundle, { since, ...(until ? { until } : {}) });
      if (bool(values, 'json')) {
        io.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
        return EXIT_OK;
      }
      const c = colors(io);
      io.stdout.write(
        `Replayed ${report.total} decisions since ${since} under ${bundle.policyId} v${bundle.version}: ` +
          `${report.changes.length} would change, ${report.unchanged} unchanged` +
          (report.skipped ? `, ${report.skipped} skipped (intent not found)` : '') +
          '\n',
      );
      for (const [k, n] of Object.entries(report.transitions).sort((a, b) => b[1] - a[1])) {
        io.stdout.write(`  ${k.padEnd(34)} ${n}\n`);
      }
      if (report.changes.length > 0) {
        io.stdout.write('\n');
        io.stdout.write(
          renderTable(
            [
              { header: 'seq', align: 'right' },
              { header: 'action' },
              { header: 'target' },
              { header: 'change' },
              { header: 'new rule' },
            ],
            report.changes.slice(0, 200).map((ch) => ({
              cells: [
                String(ch.seq),
                ch.action,
                ch.target ?? '',
                `${ch.from} -> ${ch.to}`,
                ch.to_rule ?? '(default)',
              ],
            })),
            { width: 100, colors: c },
          ),
        );
      }
      return EXIT_OK;
    });
  });
}
