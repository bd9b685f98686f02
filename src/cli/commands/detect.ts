import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { defaultDetectConfig, DetectRunner, loadDetectConfig } from '../../detect/index.js';
import { bool, execute, EXIT_OK, str, TARGET_OPTIONS, type CommandSpec } from '../args.js';
import { groupDigits } from '../format.js';
import type { Io } from '../io.js';
import { commandLine, resolveTarget, withTrail } from '../target.js';
import { checkConfigSections, DEFAULT_CONFIG } from '../config-file.js';

export const spec: CommandSpec = {
  name: 'detect',
  usage: 'detect [--config FILE] [--follow] [--json]',
  summary: 'Run the anomaly detectors over the log from where they stopped (docs/detection.md).',
  description:
    "Reads the log from the detectors' cursor to its end and appends an anomaly.detected event for\n" +
    'each anomaly found; --follow keeps watching new events until interrupted. The `detect:` section\n' +
    `of the config (--config, default $AUDITRAIL_CONFIG or ./${DEFAULT_CONFIG} when present; else the\n` +
    'defaults) sets the detectors and their thresholds. The cursor moves only once the anomalies are\n' +
    'stored, and the learned baselines are saved, so a restart neither loses nor repeats an alert.',
  options: {
    config: {
      type: 'string',
      value: 'FILE',
      help: `config with a detect: section (default $AUDITRAIL_CONFIG or ./${DEFAULT_CONFIG})`,
    },
    follow: { type: 'boolean', help: 'keep detecting as events arrive until interrupted' },
    json: { type: 'boolean', help: 'print the run report as JSON' },
    ...TARGET_OPTIONS,
  },
  positionals: { min: 0, max: 0 },
  examples: [
    'auditrail detect',
    'auditrail detect --follow --config auditrail.yaml',
    'auditrail anomalies list --state open',
  ],
};

export function run(args: string[], io: Io): Promise<number> {
  return execute(spec, args, io, async ({ values }) => {
    const named = str(values, 'config') ?? io.env['AUDITRAIL_CONFIG'];
    const path = resolve(io.cwd, named ?? DEFAULT_CONFIG);
    if (named !== undefined || existsSync(path)) checkConfigSections(path, named ?? DEFAULT_CONFIG);
    const config =
      named !== undefined || existsSync(path) ? await loadDetectConfig(path) : defaultDetectConfig();
    const follow = bool(values, 'follow');
    const target = resolveTarget(values, io);
    return withTrail(target, io, { mustExist: true, readonly: false }, async (trail) => {
      const runner = new DetectRunner(trail, config, {
        log: (line) => io.stderr.write(`${line}\n`),
        onAnomaly: (a, seq) =>
          io.stderr.write(`anomaly seq ${seq} [${a.risk_level}] ${a.detector}: ${a.summary}\n`),
      });
      const stop = new AbortController();
      const onSignal = (): void => stop.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      try {
        if (follow) io.stderr.write(`detecting on ${trail.origin}; Ctrl-C stops\n`);
        const r = await runner.run({ follow, signal: stop.signal });
        if (bool(values, 'json')) {
          io.stdout.write(`${JSON.stringify({ log: trail.origin, ...r }, null, 2)}\n`);
        } else {
          io.stdout.write(
            `detect ${config.name}: ${groupDigits(r.events)} events read, ${r.anomalies} anomalies recorded; next seq ${r.cursor}\n`,
          );
          if (r.anomalies > 0)
            io.stdout.write(`review: ${commandLine(io, target, 'anomalies', 'list', '--state', 'open')}\n`);
        }
        return EXIT_OK;
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
  });
}
