import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadPolicyFile, parsePolicy, PolicyError, replayPolicy } from '../../index.js';
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
  usage:
    'policy init [FILE] [--force] | policy check FILE | policy test FILE [--since TIME] [--until TIME] [--json]',
  summary: 'Start, validate or test a policy bundle (replay recorded actions to see what would change).',
  description:
    "'init' writes a commented starter bundle (default policy.yaml; an existing file is kept unless --force).\n" +
    "'check' validates a bundle and prints every problem as file:line:column.\n" +
    "'test' re-decides the recorded actions in the window (default: the last 7 days) under the new\n" +
    'bundle and lists the decisions that would change (allow -> deny, …) with counts. It records nothing.',
  options: {
    ...TARGET_OPTIONS,
    policy: { type: 'string', value: 'FILE', help: 'the bundle to test (same as policy test FILE)' },
    force: { type: 'boolean', help: 'policy init: overwrite an existing file' },
    since: {
      type: 'string',
      value: 'TIME',
      help: 'replay decisions at or after TIME (RFC 3339 or 7d, 24h; default 7d)',
    },
    until: { type: 'string', value: 'TIME', help: 'replay decisions before TIME' },
    json: { type: 'boolean', help: 'print the report as JSON' },
  },
  positionals: { min: 1, max: 2, names: 'subcommand (init [FILE] | check FILE | test FILE)' },
  examples: [
    'auditrail policy init policy.yaml',
    'auditrail policy check policy.yaml',
    'auditrail policy test policy.yaml --since 7d',
  ],
};

async function load(file: string, io: Io) {
  try {
    return await loadPolicyFile(resolve(io.cwd, file), file);
  } catch (e) {
    if (e instanceof PolicyError) throw new CliError(e.message);
    throw new CliError(`cannot read ${file}: ${(e as Error).message}`);
  }
}

/**
 * The bundle `policy init` writes: valid as is, fail-closed, and commented so that it teaches the
 * format (docs/policy.md has the rest).
 */
export const STARTER_POLICY = `# An auditrail policy bundle. Reference: docs/policy.md
#
# Every action an agent is about to take is checked against the rules below, top to bottom;
# the first rule that matches decides: allow, deny, or require_approval (held until a person the
# rule names grants it). When no rule matches, \`default\` decides.
#
# Check it:  auditrail policy check policy.yaml
# Try it on recorded actions, without enforcing anything:  auditrail policy test policy.yaml

policy_id: my-agent # names this bundle in every decision it makes
version: 1 # raise it on every change; loading a new version records policy.updated with a diff
default: deny # fail-closed: whatever no rule allows is refused
mode: enforce # or shadow: decide and record every action, enforce nothing (a safe first rollout)

rules:
  # Reads have no side effects. Action types and targets are globs: * stays within a segment.
  - id: allow-reads
    match: { action: 'read:*' }
    effect: allow
    risk: low
    reason: reads have no side effects

  # Some things are never an agent's call, whoever asks.
  - id: block-prod-deletes
    match: { action: ['db.delete*', 'delete:*'], target: 'prod/*' }
    effect: deny
    risk: critical
    reason: deletes in production are never automatic

  # Money above a limit waits for a named person:
  #   auditrail approvals list
  #   auditrail approvals approve ID --as finance_lead --reason "checked with the customer"
  # \`when\` is a CEL condition over params, actor, context, tenant, environment, delegation.
  - id: approve-large-refunds
    match: { action: 'write:refund' }
    when: 'params.amount > 100.0'
    effect: require_approval
    approvers: [finance_lead]
    approval_ttl: 1h # the request expires (and the action is refused) after this
    risk: high
    reason: refunds above $100 need a finance lead

  - id: allow-small-refunds
    match: { action: 'write:refund' }
    effect: allow
    risk: medium
    reason: refunds up to $100 are within the agent's limit

  # Sub-agents may not hand work on to further sub-agents.
  - id: no-deep-delegation
    match: { delegation: { depth_min: 2 } }
    effect: deny
    reason: sub-agents may not delegate further
`;

function init(file: string, force: boolean, io: Io): number {
  // Never written unchecked: the starter must load as a valid bundle.
  parsePolicy(STARTER_POLICY, file);
  try {
    writeFileSync(resolve(io.cwd, file), STARTER_POLICY, { flag: force ? 'w' : 'wx' });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new CliError(`${file} exists; keep it, or overwrite it with --force`);
    throw new CliError(`cannot write ${file}: ${(e as Error).message}`);
  }
  const arg = /^[\w./-]+$/.test(file) ? file : `'${file.replace(/'/g, `'\\''`)}'`;
  io.stdout.write(
    `wrote ${file}: a starter policy (default deny, 5 rules)\n` +
      `next: edit it, then  auditrail policy check ${arg}\n`,
  );
  return EXIT_OK;
}

export function run(args: string[], io: Io): Promise<number> {
  return execute(spec, args, io, async ({ values, positionals }) => {
    const sub = positionals[0];
    if (sub === 'init') return init(positionals[1] ?? 'policy.yaml', bool(values, 'force'), io);
    if (sub === 'check') {
      const file = positionals[1];
      if (!file) throw new UsageError('missing FILE (policy check FILE)');
      const b = await load(file, io);
      io.stdout.write(
        `${file}: OK — policy ${b.policyId} version ${b.version}, ${b.rules.length} rules, default ${b.defaultEffect}, mode ${b.mode}\n` +
          `snapshot ${b.snapshot}\n`,
      );
      return EXIT_OK;
    }
    if (sub !== 'test')
      throw new UsageError(`unknown subcommand 'policy ${sub}' (expected init, check or test)`);
    const given = str(values, 'policy');
    if (positionals[1] !== undefined && given !== undefined && positionals[1] !== given)
      throw new UsageError('give the bundle once: policy test FILE (or --policy FILE)');
    const file = positionals[1] ?? given;
    if (!file) throw new UsageError('missing FILE (policy test FILE)');
    const bundle = await load(file, io);
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
