import { userInfo } from 'node:os';
import {
  acknowledgeAnomaly,
  ANOMALY_STATES,
  listAnomalies,
  resolveAnomaly,
  type AnomalyState,
} from '../../detect/index.js';
import { bool, execute, EXIT_OK, oneOf, str, TARGET_OPTIONS, UsageError, type CommandSpec } from '../args.js';
import { colors, outputWidth, renderTable } from '../format.js';
import type { Io } from '../io.js';
import { commandLine, resolveTarget, shellQuote, withTrail } from '../target.js';

export const spec: CommandSpec = {
  name: 'anomalies',
  usage:
    'anomalies list [--state open|acknowledged|resolved] [--agent ID] [--json]\n' +
    '       anomalies ack ID --reason TEXT [--as NAME]\n' +
    '       anomalies resolve ID --reason TEXT [--as NAME]',
  summary: 'List the anomalies the detectors recorded, and acknowledge or resolve them.',
  description:
    'Each anomaly is open until acknowledged (someone is on it) and then resolved; the state comes\n' +
    'from the log alone: ack and resolve record anomaly.acknowledged / anomaly.resolved events naming\n' +
    'the anomaly, who and why. See docs/detection.md.',
  options: {
    state: { type: 'string', value: 'STATE', help: 'list only open, acknowledged or resolved ones' },
    agent: { type: 'string', value: 'ID', help: 'list only those of agent ID' },
    reason: { type: 'string', value: 'TEXT', help: 'why (required for ack and resolve; recorded)' },
    as: { type: 'string', value: 'NAME', help: 'who acknowledges or resolves (default: OS user)' },
    json: { type: 'boolean', help: 'print JSON' },
    ...TARGET_OPTIONS,
  },
  positionals: { min: 1, max: 2, names: 'list | ack ID | resolve ID' },
  examples: [
    'auditrail anomalies list --state open',
    'auditrail anomalies ack denial_spike:support-bot:2026-01-09T10:20:00.000Z --reason "looking at the run"',
    'auditrail anomalies resolve denial_spike:support-bot:2026-01-09T10:20:00.000Z --reason "policy bug, fixed"',
  ],
};

export function run(args: string[], io: Io): Promise<number> {
  return execute(spec, args, io, async ({ values, positionals }) => {
    const sub = positionals[0];
    if (sub !== 'list' && sub !== 'ack' && sub !== 'resolve')
      throw new UsageError(`unknown subcommand 'anomalies ${sub}' (expected list, ack or resolve)`);
    const id = positionals[1];
    if (sub === 'list' && id !== undefined) throw new UsageError('anomalies list takes no ID');
    if (sub !== 'list' && id === undefined)
      throw new UsageError(`missing ID (anomalies ${sub} ID --reason TEXT)`);
    const reason = str(values, 'reason');
    if (sub !== 'list' && (reason === undefined || reason.trim() === ''))
      throw new UsageError(`anomalies ${sub} needs --reason TEXT (it is recorded)`);
    const stateText = str(values, 'state');
    const state: AnomalyState | undefined =
      stateText !== undefined ? oneOf('--state', stateText, ANOMALY_STATES) : undefined;
    const target = resolveTarget(values, io);
    // Listing only reads; ack and resolve record one event.
    return withTrail(target, io, { mustExist: true, readonly: sub === 'list' }, async (trail) => {
      if (sub !== 'list') {
        const by = str(values, 'as') ?? userInfo().username;
        const r =
          sub === 'ack'
            ? await acknowledgeAnomaly(trail, id!, by, reason!)
            : await resolveAnomaly(trail, id!, by, reason!);
        io.stdout.write(`${id} ${r.anomaly.state} by ${by} (seq ${r.seq})\n`);
        return EXIT_OK;
      }
      const agent = str(values, 'agent');
      const rows = await listAnomalies(trail, {
        ...(state !== undefined ? { state } : {}),
        ...(agent !== undefined ? { agent } : {}),
      });
      if (bool(values, 'json')) {
        io.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
        return EXIT_OK;
      }
      if (rows.length === 0) {
        io.stdout.write(
          `no ${state ?? ''}${state ? ' ' : ''}anomalies in ${trail.origin} (run the detectors: ${commandLine(io, target, 'detect')})\n`,
        );
        return EXIT_OK;
      }
      const idWidth = Math.max(2, ...rows.map((r) => r.id.length));
      io.stdout.write(
        renderTable(
          [
            { header: 'id', min: idWidth },
            { header: 'state', min: 12 },
            { header: 'risk', min: 8 },
            { header: 'summary', min: 24 },
          ],
          rows.map((r) => ({
            cells: [r.id, r.state, r.risk_level ?? '', r.summary],
            note: [
              `score ${r.score} (threshold ${r.threshold}) · events ${r.seqs.join(', ')}`,
              r.run_id !== undefined ? `run ${r.run_id}` : '',
              ...r.history.map((h) => `${h.state} by ${h.by}: ${h.reason}`),
            ]
              .filter(Boolean)
              .join(' · '),
          })),
          { width: outputWidth(io, 160), colors: colors(io) },
        ),
      );
      const first = rows.find((r) => r.state === 'open');
      if (first)
        io.stdout.write(
          `acknowledge: ${commandLine(io, target, 'anomalies', 'ack', shellQuote(first.id), '--reason', shellQuote('on it'))}\n`,
        );
      return EXIT_OK;
    });
  });
}
