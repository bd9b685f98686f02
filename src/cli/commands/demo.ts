import type { AuditTrail, VerifyReport } from '../../index.js';
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
import { DEMO_SESSION_EVENTS, DEMO_SESSION_SPAN_MS, demoSession } from '../demo-session.js';
import { colors, formatDuration, groupDigits, outputWidth, wrap } from '../format.js';
import type { Io } from '../io.js';
import { progress } from '../progress.js';
import { timelineTable } from '../render.js';
import { cliName, commandLine, displayDb, resolveTarget, withTrail, type Target } from '../target.js';

export const spec: CommandSpec = {
  name: 'demo',
  usage: 'demo [--events N] [--show] [--db PATH] [--tenant ID] [--log NAME]',
  summary: 'Record a realistic session of the fictional "Acme Support" agent, then verify the log.',
  description:
    `One session is ${DEMO_SESSION_EVENTS} events: intents, policy allows and denials, an approval, a failure and\n` +
    'a retry, a timeout, an undo, a delegation to a sub-agent, secrets that are redacted before\n' +
    'storage, PHI, token usage and trace ids. --events N repeats sessions up to N events (for\n' +
    'benchmarks). Running it again appends a new session to the same log.',
  options: {
    events: {
      type: 'string',
      value: 'N',
      help: `record N events (default ${DEMO_SESSION_EVENTS}, one session)`,
    },
    show: { type: 'boolean', help: 'print the (first) session as a timeline' },
    ...TARGET_OPTIONS,
  },
  positionals: { min: 0, max: 0 },
  examples: ['auditrail demo --show', 'auditrail demo --events 100000 --db /tmp/bench/audit.db'],
};

/** Records `total` events, session after session, with the fire-and-forget API. */
async function record(trail: AuditTrail, total: number, io: Io): Promise<string[]> {
  const sessions = Math.ceil(total / DEMO_SESSION_EVENTS);
  const start = Date.now() - sessions * DEMO_SESSION_SPAN_MS;
  const bar = progress(io, 'recording');
  const sessionIds: string[] = [];
  let recorded = 0;
  try {
    for (let i = 0; recorded < total; i++) {
      const events = demoSession(start + i * DEMO_SESSION_SPAN_MS, i);
      if (events[0]?.session_id) sessionIds.push(events[0].session_id);
      for (const event of events) {
        if (recorded >= total) break;
        // emit() returns false above the high-water mark: wait instead of piling up memory.
        if (!trail.emit(event)) await trail.drain();
        recorded++;
      }
      bar.update(recorded, total);
    }
    await trail.flush();
  } finally {
    bar.end();
  }
  return sessionIds;
}

/** The hint commands: each works when pasted as is (target flags and `npx` where needed). */
function hints(io: Io, target: Target, seq: number): string[] {
  return [
    commandLine(io, target, 'log', '--decision', 'deny'),
    commandLine(io, target, 'show', String(seq)),
    commandLine(io, target, 'prove', String(seq), '-o', 'proof.json'),
    `${cliName(io)} verify-proof proof.json`,
  ];
}

export function run(args: string[], io: Io): Promise<number> {
  return execute(spec, args, io, async ({ values }) => {
    const eventsText = str(values, 'events');
    const total =
      eventsText !== undefined ? positiveInt('--events', eventsText, 10_000_000) : DEMO_SESSION_EVENTS;
    const target = resolveTarget(values, io);
    const c = colors(io);
    return withTrail(target, io, { mustExist: false }, async (trail) => {
      const before = trail.size;
      const t0 = performance.now();
      const sessionIds = await record(trail, total, io);
      const elapsed = performance.now() - t0;
      const note = await trail.checkpoint();
      const checkpointSize = Number(note.split('\n')[1]);

      const bar = progress(io, 'verifying');
      let report: VerifyReport;
      try {
        report = await trail.verify({ onProgress: (done, all) => bar.update(done, all) });
      } finally {
        bar.end();
      }

      const first = sessionIds[0] ?? '';
      const shown = (await trail.query({ session_id: first, limit: DEMO_SESSION_EVENTS * 2 })).events;
      if (bool(values, 'show')) {
        io.stdout.write(timelineTable(shown, { width: outputWidth(io), colors: c, clock: 'time' }));
        if (sessionIds.length > 1)
          io.stdout.write(c.dim(`(first of ${groupDigits(sessionIds.length)} sessions)`) + '\n');
        io.stdout.write('\n');
      }

      const rate = total >= 1000 ? `, ${groupDigits(total / (elapsed / 1000))} events/s` : '';
      const pointers = [...new Set(shown.flatMap((e) => e.redacted ?? []))];
      const redactedFields = shown.reduce((n, e) => n + (e.redacted?.length ?? 0), 0);
      const sessions =
        sessionIds.length === 1 ? `session ${first}` : `${groupDigits(sessionIds.length)} sessions`;
      const ok = report.ok ? c.green('OK') : c.red(`FAILED (${report.failures.length} failures)`);
      const lines = [
        `${c.bold(`recorded ${groupDigits(total)} events`)} in ${displayDb(target.db, io)} (${sessions}, ${formatDuration(elapsed)}${rate})`,
        `log:        ${report.log} — ${groupDigits(report.size)} entries${before > 0 ? `, ${groupDigits(before)} from earlier runs` : ''}`,
        `verified:   ${ok} — every leaf, disclosure, tile and ${report.checkpoints_verified} signed checkpoint${report.checkpoints_verified === 1 ? '' : 's'}`,
        `root:       ${report.root}`,
        `checkpoint: size ${groupDigits(checkpointSize)}, signed by ${trail.verifierKey().split('+').slice(0, 2).join('+')}`,
      ];
      if (redactedFields > 0) {
        const where = sessionIds.length > 1 ? ' in the first session' : '';
        const text = `${redactedFields} fields${where} before storage: ${pointers.join(', ')}`;
        wrap(text, outputWidth(io) - 12).forEach((line, i) =>
          lines.push(`${i === 0 ? 'redacted:' : ''}`.padEnd(12) + line),
        );
      }
      for (const f of report.failures.slice(0, 20))
        lines.push(c.red(`  seq ${f.seq ?? '-'}  ${f.kind}  ${f.detail}`));
      io.stdout.write(lines.join('\n') + '\n');

      // Point the hints at an event with a redacted secret: the most telling one to open.
      const sample = shown.find((e) => e.redacted?.length)?.seq ?? shown[0]?.seq ?? 0;
      const tries = hints(io, target, sample).map((h) => `  ${h}`);
      io.stdout.write(`\n${c.dim('Try:')}\n${tries.join('\n')}\n`);
      return report.ok ? EXIT_OK : EXIT_FAILED;
    });
  });
}
