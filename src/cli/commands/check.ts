import { checkLog, sampledRanges } from '../../report/check.js';
import {
  bool,
  execute,
  EXIT_FAILED,
  EXIT_OK,
  positiveInt,
  str,
  TARGET_OPTIONS,
  type CommandSpec,
} from '../args.js';
import { colors, groupDigits } from '../format.js';
import type { Io } from '../io.js';
import { resolveTarget, withTrail } from '../target.js';

export const spec: CommandSpec = {
  name: 'check',
  usage: 'check [--timeout MINUTES] [--retention DAYS] [--json]',
  summary: 'Run the completeness rules over the log; exit 1 on findings.',
  description:
    'Rules: intents with no decision, decisions with no outcome after the timeout, approvals without a\n' +
    'policy version, held actions executed without a grant, grants used twice, missing required fields\n' +
    'per event type, gaps in a timeline (a parent event that is not in the log), actions executed\n' +
    'although denied or undecided, delegates acting outside the permissions granted to them, and with\n' +
    '--retention, fields purged by retention.purged before the retention period ended.',
  options: {
    timeout: {
      type: 'string',
      value: 'MINUTES',
      help: 'how long a decision may wait for its outcome (default 60)',
    },
    retention: {
      type: 'string',
      value: 'DAYS',
      help: 'the retention period in force: report fields purged younger than this',
    },
    json: { type: 'boolean', help: 'print the findings as JSON' },
    ...TARGET_OPTIONS,
  },
  positionals: { min: 0, max: 0 },
  examples: ['auditrail check', 'auditrail check --timeout 15 --json', 'auditrail check --retention 183'],
};

export function run(args: string[], io: Io): Promise<number> {
  return execute(spec, args, io, async ({ values }) => {
    const minutes = str(values, 'timeout');
    const timeoutMs = (minutes !== undefined ? positiveInt('--timeout', minutes) : 60) * 60_000;
    const days = str(values, 'retention');
    const retention =
      days !== undefined ? { retentionMs: positiveInt('--retention', days) * 86_400_000 } : {};
    return withTrail(resolveTarget(values, io), io, { mustExist: true }, async (trail) => {
      const findings = await checkLog(trail, { timeoutMs, ...retention });
      const sampled = await sampledRanges(trail);
      if (bool(values, 'json')) {
        io.stdout.write(`${JSON.stringify({ ok: findings.length === 0, findings, sampled }, null, 2)}\n`);
      } else if (findings.length === 0) {
        io.stdout.write(`${colors(io).green('OK')}: no findings in ${groupDigits(trail.size)} events\n`);
      } else {
        io.stdout.write(`${colors(io).red('FINDINGS')}: ${findings.length}\n`);
        for (const f of findings) io.stdout.write(`  seq ${f.seq}  ${f.rule}: ${f.message}\n`);
      }
      // Not a finding: a declared policy. Counts over these events are counts of what was kept.
      if (!bool(values, 'json'))
        for (const r of sampled)
          io.stdout.write(
            `  note: sampled (seq ${r.seq}): rule ${r.rule} kept 1 in ${r.every}, dropped ${r.dropped} of ${r.matched} events from ${r.from} to ${r.until}\n`,
          );
      return findings.length === 0 ? EXIT_OK : EXIT_FAILED;
    });
  });
}
