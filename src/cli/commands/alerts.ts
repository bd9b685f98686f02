import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  alertStatus,
  loadAlertConfig,
  openAlertPipeline,
  runAlertChannel,
  type AlertConfig,
} from '../../detect/alerts/index.js';
import {
  bool,
  execute,
  EXIT_FAILED,
  EXIT_OK,
  str,
  TARGET_OPTIONS,
  UsageError,
  type CommandSpec,
  type Values,
} from '../args.js';
import { groupDigits } from '../format.js';
import type { Io } from '../io.js';
import { commandLine, resolveTarget, shellQuote, withTrail } from '../target.js';
import { checkConfigSections, DEFAULT_CONFIG } from '../config-file.js';

export const spec: CommandSpec = {
  name: 'alerts',
  usage:
    'alerts [--channel NAME] [--follow] [--config FILE]\n' +
    '       alerts status [--config FILE] [--json]\n' +
    '       alerts replay NAME [--config FILE]',
  summary: 'Deliver anomaly alerts to Slack, PagerDuty, a webhook or e-mail (docs/detection.md).',
  description:
    "Sends the log's anomaly.detected (and anomaly.resolved) events to the channels of the config's\n" +
    `alerts: list (--config, default $AUDITRAIL_CONFIG or ./${DEFAULT_CONFIG}) from where each stopped;\n` +
    '--follow keeps delivering as anomalies arrive until interrupted. Delivery is at least once, with\n' +
    "the SIEM export's retries and dead letters. status shows each channel's cursor, lag and dead\n" +
    'letters; replay NAME sends the dead letters of channel NAME again.',
  options: {
    channel: { type: 'string', value: 'NAME', help: 'only the channel NAME (default: all)' },
    follow: { type: 'boolean', help: 'keep delivering new anomalies until interrupted' },
    config: {
      type: 'string',
      value: 'FILE',
      help: `config with alerts: (default $AUDITRAIL_CONFIG or ./${DEFAULT_CONFIG})`,
    },
    json: { type: 'boolean', help: 'with status: print JSON' },
    ...TARGET_OPTIONS,
  },
  positionals: { min: 0, max: 2, names: 'status, or replay NAME' },
  examples: [
    'auditrail alerts --follow --config auditrail.yaml',
    'auditrail alerts status --config auditrail.yaml',
    'auditrail alerts replay oncall-slack --config auditrail.yaml',
  ],
};

function configPath(values: Values, io: Io): { path: string; arg: string } {
  const arg = str(values, 'config') ?? io.env['AUDITRAIL_CONFIG'] ?? DEFAULT_CONFIG;
  const path = resolve(io.cwd, arg);
  checkConfigSections(path, arg);
  return { path, arg };
}

function pick(configs: readonly AlertConfig[], name: string, arg: string): AlertConfig {
  const c = configs.find((x) => x.name === name);
  if (!c)
    throw new UsageError(
      `no alert channel '${name}' in ${arg} (it has: ${configs.map((x) => x.name).join(', ') || 'none'})`,
    );
  return c;
}

export function run(args: string[], io: Io): Promise<number> {
  return execute(spec, args, io, async ({ values, positionals }) => {
    const sub = positionals[0];
    if (sub !== undefined) {
      if (sub === 'status' && positionals.length === 1) return status(values, io);
      if (sub === 'replay' && positionals.length === 2) return replay(values, positionals[1]!, io);
      throw new UsageError(
        `unknown subcommand 'alerts ${positionals.join(' ')}' (expected 'alerts status' or 'alerts replay NAME')`,
      );
    }
    return deliver(values, io);
  });
}

async function deliver(values: Values, io: Io): Promise<number> {
  const { path, arg } = configPath(values, io);
  const all = await loadAlertConfig(path, io.env);
  const only = str(values, 'channel');
  const configs = only !== undefined ? [pick(all, only, arg)] : all;
  if (configs.length === 0) throw new UsageError(`${arg} has no alerts: list`);
  const follow = bool(values, 'follow');
  return withTrail(resolveTarget(values, io), io, { mustExist: true, readonly: false }, async (trail) => {
    const stop = new AbortController();
    const onSignal = (): void => stop.abort();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    try {
      if (follow)
        io.stderr.write(`delivering alerts to ${configs.map((c) => c.name).join(', ')}; Ctrl-C stops\n`);
      const reports = await Promise.all(
        configs.map((c) =>
          runAlertChannel(trail, c, {
            follow,
            signal: stop.signal,
            log: (line) => io.stderr.write(`${line}\n`),
          }).then((r) => ({ c, r })),
        ),
      );
      let dead = 0;
      for (const { c, r } of reports) {
        io.stderr.write(
          `${c.name}: ${groupDigits(r.delivered)} alerts delivered` +
            (r.dead_lettered > 0 ? `, ${groupDigits(r.dead_lettered)} refused (dead letters)` : '') +
            `; next seq ${r.cursor}\n`,
        );
        dead += r.dead_lettered;
      }
      return dead > 0 ? EXIT_FAILED : EXIT_OK;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  });
}

async function status(values: Values, io: Io): Promise<number> {
  const { path, arg } = configPath(values, io);
  const named = str(values, 'config') !== undefined || io.env['AUDITRAIL_CONFIG'] !== undefined;
  const configs = named || existsSync(path) ? await loadAlertConfig(path, io.env) : [];
  const target = resolveTarget(values, io);
  return withTrail(target, io, { mustExist: true, readonly: true }, async (trail) => {
    const all = await alertStatus(trail, configs);
    if (bool(values, 'json')) {
      io.stdout.write(`${JSON.stringify({ log: trail.origin, size: trail.size, channels: all }, null, 2)}\n`);
      return EXIT_OK;
    }
    io.stdout.write(`log ${trail.origin}: ${groupDigits(trail.size)} events\n`);
    if (all.length === 0) io.stdout.write(`no alert channels (none in ${arg}, no cursor in the log)\n`);
    for (const s of all) {
      io.stdout.write(
        `${s.name}${s.channel ? ` (${s.channel})` : ` (not in ${arg})`}: next seq ${s.cursor}, ` +
          `lag ${groupDigits(s.lag)} events, ${s.dead_letters.length} dead letters\n`,
      );
      for (const d of s.dead_letters)
        io.stdout.write(`  seq ${d.from_seq}-${d.to_seq} at ${d.at}: ${d.response}\n`);
      if (s.dead_letters.length > 0)
        io.stdout.write(
          `  replay: ${commandLine(io, target, 'alerts', 'replay', shellQuote(s.name), '--config', shellQuote(arg))}\n`,
        );
    }
    return EXIT_OK;
  });
}

async function replay(values: Values, name: string, io: Io): Promise<number> {
  const { path, arg } = configPath(values, io);
  const config = pick(await loadAlertConfig(path, io.env), name, arg);
  return withTrail(resolveTarget(values, io), io, { mustExist: true, readonly: false }, async (trail) => {
    const { pipeline, sink } = openAlertPipeline(trail, config, {
      log: (line) => io.stderr.write(`${line}\n`),
    });
    try {
      const r = await pipeline.replay();
      io.stderr.write(`${name}: ${r.replayed} dead letters delivered, ${r.still_dead} refused again\n`);
      return r.still_dead > 0 ? EXIT_FAILED : EXIT_OK;
    } finally {
      await sink.close();
    }
  });
}
