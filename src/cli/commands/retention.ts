import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  applyRetention,
  loadPrivacyConfig,
  planRetention,
  reclaimSpace,
  type ReclaimReport,
  type RetentionPlan,
  type RetentionPolicy,
} from '../../index.js';
import {
  bool,
  execute,
  EXIT_OK,
  str,
  TARGET_OPTIONS,
  UsageError,
  type CommandSpec,
  type Values,
} from '../args.js';
import { colors, groupDigits } from '../format.js';
import type { Io } from '../io.js';
import { resolveTarget, withTrail } from '../target.js';
import { checkConfigSections } from '../config-file.js';

export const spec: CommandSpec = {
  name: 'retention',
  usage:
    'retention plan|apply [--config FILE] [--db PATH] [--tenant ID] [--log NAME] [--reason TEXT] [--json] | retention vacuum [--compact]',
  summary:
    'Preview or apply the retention policy (`retention:` of the config), reclaim disk (docs/privacy.md).',
  description:
    'plan: what applying the policy now would purge, per rule: entries by type, oldest and newest,\n' +
    'disclosures and plaintext bytes, and what legal holds keep. Reads only.\n' +
    'apply: purges it. Each batch is recorded first as a retention.purged event (rule, range, counts;\n' +
    'never a value); the leaf, tiles and checkpoints stay, so every proof still verifies. Nothing under\n' +
    'a legal hold is purged; applying twice purges nothing the second time. Freed pages are returned\n' +
    'to the file system (incremental vacuum).\n' +
    'vacuum: returns freed pages now; --compact rewrites a database created without incremental\n' +
    'vacuum once (needs free disk about the size of the database).',
  options: {
    ...TARGET_OPTIONS,
    config: {
      type: 'string',
      value: 'FILE',
      help: 'config with `retention:` (default $AUDITRAIL_CONFIG, else ./auditrail.yaml)',
    },
    reason: { type: 'string', value: 'TEXT', help: 'why (recorded in each retention.purged event)' },
    compact: {
      type: 'boolean',
      help: 'vacuum: rewrite the database once and switch it to incremental vacuum',
    },
    json: { type: 'boolean', help: 'print JSON' },
  },
  positionals: { min: 1, max: 1, names: 'subcommand (plan | apply | vacuum)' },
  examples: [
    'auditrail retention plan --config auditrail.yaml',
    'auditrail retention apply --config auditrail.yaml --reason "monthly retention run"',
    'auditrail retention vacuum --compact',
  ],
};

function loadPolicy(values: Values, io: Io): { policy: RetentionPolicy; path: string } {
  const named = str(values, 'config') ?? io.env['AUDITRAIL_CONFIG'];
  const path = resolve(io.cwd, named ?? 'auditrail.yaml');
  if (named === undefined && !existsSync(path))
    throw new UsageError(
      'no config: pass --config FILE (a YAML file with a retention: key), or set AUDITRAIL_CONFIG',
    );
  checkConfigSections(path, named ?? 'auditrail.yaml');
  const { retention } = loadPrivacyConfig(path);
  if (retention === null)
    throw new UsageError(`${path} has no retention: key (see docs/privacy.md#retention for an example)`);
  return { policy: retention, path };
}

function mib(bytes: number): string {
  return bytes >= 1 << 20 ? `${(bytes / (1 << 20)).toFixed(1)} MiB` : `${groupDigits(bytes)} bytes`;
}

function printPlan(io: Io, plan: RetentionPlan, verb: string): void {
  io.stdout.write(`${plan.log} at ${plan.now} (${groupDigits(plan.scanned)} entries old enough to read)\n`);
  for (const r of plan.rules) {
    io.stdout.write(
      `  rule ${r.rule}: keep ${r.keep}, purge ${r.purge}, entries before ${r.cutoff}: ` +
        (r.events === 0
          ? 'nothing due\n'
          : `${groupDigits(r.events)} entries, ${groupDigits(r.disclosures)} disclosures, ${mib(r.bytes)}, ${r.oldest} .. ${r.newest}\n`),
    );
    const types = Object.entries(r.by_type).sort((a, b) => b[1] - a[1]);
    if (types.length > 0)
      io.stdout.write(`    ${types.map(([t, n]) => `${t} ${groupDigits(n)}`).join(', ')}\n`);
  }
  if (plan.held.events > 0)
    io.stdout.write(
      `  kept under legal hold: ${groupDigits(plan.held.events)} entries (${Object.entries(plan.held.by_hold)
        .map(([h, n]) => `${h}: ${groupDigits(n)}`)
        .join(', ')})\n`,
    );
  if (plan.never_purged.events > 0)
    io.stdout.write(
      `  never purged: ${groupDigits(plan.never_purged.events)} entries of the log's own records (${Object.entries(
        plan.never_purged.by_type,
      )
        .sort((a, b) => b[1] - a[1])
        .map(([t, n]) => `${t} ${groupDigits(n)}`)
        .join(', ')}): key.* events keep their disclosures for verify's chain of signing keys\n`,
    );
  io.stdout.write(
    `${verb}: ${groupDigits(plan.total.events)} entries, ${groupDigits(plan.total.disclosures)} disclosures, ${mib(plan.total.bytes)} of plaintext\n`,
  );
}

function printReclaim(io: Io, r: ReclaimReport | null): void {
  if (r === null) return;
  if (r.mode === 'incremental')
    io.stdout.write(`disk: ${mib(r.fileBytesBefore)} -> ${mib(r.fileBytesAfter)} (incremental vacuum)\n`);
  else if (r.mode === 'vacuum')
    io.stdout.write(`disk: ${mib(r.fileBytesBefore)} -> ${mib(r.fileBytesAfter)} (PostgreSQL vacuum)\n`);
  else if (r.mode === 'none')
    io.stdout.write(
      `disk: ${mib(r.freeBytes)} freed inside the file for reuse; this database was created without incremental vacuum (return it to the file system once with: auditrail retention vacuum --compact)\n`,
    );
}

export function run(args: string[], io: Io): Promise<number> {
  return execute(spec, args, io, async ({ values, positionals }) => {
    const sub = positionals[0];
    if (sub !== 'plan' && sub !== 'apply' && sub !== 'vacuum')
      throw new UsageError(`unknown subcommand 'retention ${sub}' (expected plan, apply or vacuum)`);
    const json = bool(values, 'json');
    const target = resolveTarget(values, io);
    if (sub === 'vacuum') {
      return withTrail(target, io, { mustExist: true, readonly: false }, async (trail) => {
        const r = await reclaimSpace(trail, { compact: bool(values, 'compact') });
        if (json) io.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
        else printReclaim(io, r);
        return EXIT_OK;
      });
    }
    const { policy } = loadPolicy(values, io);
    if (sub === 'plan') {
      return withTrail(target, io, { mustExist: true }, async (trail) => {
        const plan = await planRetention(trail, policy);
        if (json) io.stdout.write(`${JSON.stringify(plan, null, 2)}\n`);
        else printPlan(io, plan, 'would purge');
        return EXIT_OK;
      });
    }
    const reason = str(values, 'reason');
    return withTrail(target, io, { mustExist: true, readonly: false }, async (trail) => {
      const report = await applyRetention(trail, policy, {
        actor: { type: 'user', id: io.env['USER'] ?? 'auditrail-cli' },
        ...(reason !== undefined ? { reason } : {}),
      });
      if (json) io.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      else {
        printPlan(io, report, colors(io).green('purged'));
        if (report.purge_events.length > 0)
          io.stdout.write(`recorded as retention.purged at seq ${report.purge_events.join(', ')}\n`);
        printReclaim(io, report.reclaimed);
      }
      return EXIT_OK;
    });
  });
}
