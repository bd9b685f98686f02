import { userInfo } from 'node:os';
import { AuditError, type AuditTrail, type VerifyReport } from '../../index.js';
import {
  bool,
  execute,
  EXIT_FAILED,
  EXIT_OK,
  positiveInt,
  str,
  TARGET_OPTIONS,
  UsageError,
  type CommandSpec,
} from '../args.js';
import { serve } from '../../server/index.js';
import { DEMO_POLICY_FILE, DEMO_SESSION_EVENTS, demoPolicy, runDemoSession } from '../demo-session.js';
import { colors, formatDuration, groupDigits, outputWidth, wrap } from '../format.js';
import type { Io } from '../io.js';
import { progress } from '../progress.js';
import { timelineTable } from '../render.js';
import { cliName, commandLine, displayDb, resolveTarget, withTrail, type Target } from '../target.js';

export const spec: CommandSpec = {
  name: 'demo',
  usage:
    'demo [--events N] [--show] [--serve [--port N] [--open-as NAME]] [--db PATH] [--tenant ID] [--log NAME]',
  summary: 'Record a realistic session of the fictional "Acme Support" agent, then verify the log.',
  description:
    `One session is ${DEMO_SESSION_EVENTS} events, every action governed by the real Governor under\n` +
    `${DEMO_POLICY_FILE}: intents, policy allows and denials, a refund held until a named approver\n` +
    'grants it, a failure and a retry, a timeout, an undo, a delegation to a sub-agent, secrets that\n' +
    'are redacted before storage, PHI, token usage and trace ids. --events N runs sessions until\n' +
    'exactly N events are recorded (for benchmarks). Running it again appends to the same log.\n' +
    'With --serve: then serves the dashboard on 127.0.0.1 in open mode (no sign-in, this machine\n' +
    'only; docs/dashboard.md) until Ctrl-C. --no-serve overrides --serve (`npm start -- --no-serve`).',
  options: {
    events: {
      type: 'string',
      value: 'N',
      help: `record N events (default ${DEMO_SESSION_EVENTS}, one session)`,
    },
    show: { type: 'boolean', help: 'print the (first) session as a timeline' },
    serve: { type: 'boolean', help: 'then serve the dashboard on 127.0.0.1 (open mode) until Ctrl-C' },
    'no-serve': { type: 'boolean', help: 'print and exit, even with --serve' },
    port: { type: 'string', value: 'N', help: 'with --serve: port (default 8700; 0 picks a free one)' },
    'open-as': {
      type: 'string',
      value: 'NAME',
      help: 'with --serve: the dashboard user, recorded as approver (default: OS user)',
    },
    ...TARGET_OPTIONS,
  },
  positionals: { min: 0, max: 0 },
  examples: [
    'auditrail demo --show',
    'auditrail demo --serve --port 8700',
    'auditrail demo --events 100000 --db /tmp/bench/audit.db',
  ],
};

/** Sessions recorded at once with --events N: their commits share transactions. */
const PARALLEL_SESSIONS = 8;

/**
 * Lets exactly `limit` more events through `trail.record` / `trail.emit`, then refuses the rest,
 * which stops the sessions still running (the governor fails closed).
 */
function limitEvents(trail: AuditTrail, limit: number): { spent: () => boolean; restore: () => void } {
  // Approval requests are recorded with their row in one transaction, through the trail's own
  // path beside record(): count those too.
  const inner = trail as unknown as { recordWith: (event: unknown, sideWrites: unknown) => Promise<unknown> };
  const record = trail.record.bind(trail);
  const emit = trail.emit.bind(trail);
  const recordWith = inner.recordWith.bind(trail);
  let left = limit;
  const refusal = () => new AuditError('closed', `the demo recorded the ${limit} events asked for`);
  trail.record = (event) => (left-- > 0 ? record(event) : Promise.reject(refusal()));
  trail.emit = (event) => {
    if (left-- <= 0) throw refusal();
    return emit(event);
  };
  inner.recordWith = (event, sideWrites) =>
    left-- > 0 ? recordWith(event, sideWrites) : Promise.reject(refusal());
  return {
    spent: () => left <= 0,
    restore: () => {
      trail.record = record;
      trail.emit = emit;
      inner.recordWith = recordWith;
    },
  };
}

/**
 * Runs governed demo sessions: one, or (with `total`) as many as it takes to record exactly
 * `total` events, the last ones cut short. Returns the session ids.
 */
async function record(trail: AuditTrail, total: number | undefined, io: Io): Promise<string[]> {
  const bar = progress(io, 'recording');
  const start = trail.size;
  const sessionIds: string[] = [];
  const limit = total === undefined ? null : limitEvents(trail, total);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (limit && !limit.spent()) {
      const index = next++;
      try {
        await runDemoSession(trail, index, (id) => (sessionIds[index] = id));
      } catch (e) {
        if (!limit.spent()) throw e;
      }
      if (total !== undefined) bar.update(Math.min(total, trail.size - start), total);
    }
  };
  try {
    if (!limit) {
      await runDemoSession(trail, 0, (id) => sessionIds.push(id));
    } else {
      // One session first, alone: it records the policy load once, before the others start.
      const index = next++;
      try {
        await runDemoSession(trail, index, (id) => (sessionIds[index] = id));
      } catch (e) {
        if (!limit.spent()) throw e;
      }
      await Promise.all(Array.from({ length: PARALLEL_SESSIONS }, () => worker()));
    }
    await trail.flush();
  } finally {
    limit?.restore();
    bar.end();
  }
  return sessionIds.filter((id) => id !== undefined);
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
    const total = eventsText !== undefined ? positiveInt('--events', eventsText, 10_000_000) : undefined;
    const target = resolveTarget(values, io);
    const c = colors(io);
    const serving = bool(values, 'serve') && !bool(values, 'no-serve');
    const portText = str(values, 'port') ?? '8700';
    const port = portText === '0' ? 0 : positiveInt('--port', portText, 65535);
    const openAs = str(values, 'open-as') ?? userInfo().username;
    if (serving && !/^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/.test(openAs)) {
      throw new UsageError(`--open-as is not a principal name: '${openAs}'`);
    }
    const code = await withTrail(target, io, { mustExist: false }, async (trail) => {
      const before = trail.size;
      const t0 = performance.now();
      const sessionIds = await record(trail, total, io);
      const elapsed = performance.now() - t0;
      const recorded = trail.size - before;
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

      const rate = recorded >= 1000 ? `, ${groupDigits(recorded / (elapsed / 1000))} events/s` : '';
      const pointers = [...new Set(shown.flatMap((e) => e.redacted ?? []))];
      const redactedFields = shown.reduce((n, e) => n + (e.redacted?.length ?? 0), 0);
      const sessions =
        sessionIds.length === 1 ? `session ${first}` : `${groupDigits(sessionIds.length)} sessions`;
      const ok = report.ok ? c.green('OK') : c.red(`FAILED (${report.failures.length} failures)`);
      const lines = [
        `${c.bold(`recorded ${groupDigits(recorded)} events`)} in ${displayDb(target.db, io)} (${sessions}, ${formatDuration(elapsed)}${rate})`,
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
    if (!serving || code !== EXIT_OK) return code;
    // The log is closed above: the server opens it again, as `auditrail serve` would.
    const s = await serve({
      db: target.db,
      host: '127.0.0.1',
      port,
      policy: demoPolicy(),
      firstKeyTenant: target.tenant,
      dashboardOpen: { tenant: target.tenant, name: openAs },
      logger: false,
    });
    io.stdout.write(
      `\n${c.bold(`dashboard: ${s.url}/`)} (open mode: no sign-in, this machine only, you act as ${openAs})\n`,
    );
    if (s.firstKey) {
      io.stdout.write(
        `API key for ${s.url}/v1 (tenant ${s.firstKey.tenant}; shown once, store it now):\n${s.firstKey.key}\n`,
      );
    }
    io.stdout.write(`${c.dim('Ctrl-C stops the server.')}\n`);
    await s.closed;
    io.stdout.write('dashboard stopped (final checkpoints signed)\n');
    return EXIT_OK;
  });
}
