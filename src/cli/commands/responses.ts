import { existsSync } from 'node:fs';
import { userInfo } from 'node:os';
import { resolve } from 'node:path';
import { responseBook, revertResponse, type ResponseState } from '../../index.js';
import { loadResponseConfig, runResponder } from '../../detect/responses/index.js';
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
import type { Io } from '../io.js';
import { commandLine, resolveTarget, shellQuote, withTrail } from '../target.js';
import { checkConfigSections, DEFAULT_CONFIG } from '../config-file.js';

export const spec: CommandSpec = {
  name: 'responses',
  usage:
    'responses list [--all] [--agent ID] [--json]\n' +
    '       responses revert ID --reason TEXT [--by NAME]\n' +
    '       responses run [--follow] [--config FILE]',
  summary: 'List, revert or apply the automated responses to anomalies (docs/detection.md).',
  description:
    'list shows the active responses (--all: reverted ones too), read from the log. revert ID records\n' +
    "response.reverted: the agent's next decision no longer sees the response. run applies the\n" +
    `responses: rules of the config (--config, default $AUDITRAIL_CONFIG or ./${DEFAULT_CONFIG}) to the\n` +
    "log's anomalies from where it stopped; --follow keeps going until interrupted.",
  options: {
    all: { type: 'boolean', help: 'with list: reverted responses too' },
    agent: { type: 'string', value: 'ID', help: 'with list: only this agent' },
    json: { type: 'boolean', help: 'with list: print JSON' },
    reason: { type: 'string', value: 'TEXT', help: 'with revert: why (required, recorded)' },
    by: { type: 'string', value: 'NAME', help: 'with revert: who reverts (default: OS user)' },
    follow: { type: 'boolean', help: 'with run: keep applying rules to new anomalies' },
    config: {
      type: 'string',
      value: 'FILE',
      help: `with run: config with responses: (default $AUDITRAIL_CONFIG or ./${DEFAULT_CONFIG})`,
    },
    ...TARGET_OPTIONS,
  },
  positionals: { min: 1, max: 2, names: 'list, revert ID, or run' },
  examples: [
    'auditrail responses list',
    "auditrail responses revert rsp_3f1c0a9e2b7d4c5e6f708192 --reason 'false positive: load test'",
    'auditrail responses run --follow --config auditrail.yaml',
  ],
};

export function run(args: string[], io: Io): Promise<number> {
  return execute(spec, args, io, async ({ values, positionals }) => {
    const [sub, id] = positionals;
    if (sub === 'list' && id === undefined) return list(values, io);
    if (sub === 'revert' && id !== undefined) return revert(values, id, io);
    if (sub === 'run' && id === undefined) return apply(values, io);
    throw new UsageError(
      `unknown subcommand 'responses ${positionals.join(' ')}' (expected list, revert ID or run)`,
    );
  });
}

function line(r: ResponseState): string {
  const what =
    r.kind === 'rate_limit'
      ? `rate_limit ${r.params.per_minute}/min`
      : r.kind === 'require_approval'
        ? `require_approval (${(r.params.approvers ?? []).join(', ')})`
        : r.kind;
  const state = r.reverted
    ? `reverted by ${r.reverted.by} at ${r.reverted.at}: ${r.reverted.reason}`
    : 'active';
  return `${r.id}  ${r.agent_id}  ${what}  anomaly ${r.anomaly_id} (${r.detector})  since ${r.applied_at}  ${state}\n`;
}

async function list(values: Values, io: Io): Promise<number> {
  const target = resolveTarget(values, io);
  return withTrail(target, io, { mustExist: true, readonly: true }, async (trail) => {
    const book = responseBook(trail);
    await book.refresh();
    const agent = str(values, 'agent');
    const rows = book
      .all()
      .filter((r) => (bool(values, 'all') || !r.reverted) && (agent === undefined || r.agent_id === agent));
    if (bool(values, 'json')) {
      io.stdout.write(`${JSON.stringify({ log: trail.origin, responses: rows }, null, 2)}\n`);
      return EXIT_OK;
    }
    if (rows.length === 0) io.stdout.write(bool(values, 'all') ? 'no responses\n' : 'no active responses\n');
    for (const r of rows) io.stdout.write(line(r));
    const first = rows.find((r) => !r.reverted);
    if (first)
      io.stdout.write(
        `revert: ${commandLine(io, target, 'responses', 'revert', first.id, '--reason', shellQuote('reviewed'))}\n`,
      );
    return EXIT_OK;
  });
}

async function revert(values: Values, id: string, io: Io): Promise<number> {
  const reason = str(values, 'reason');
  if (reason === undefined || reason.trim() === '')
    throw new UsageError('responses revert needs --reason TEXT (it is recorded with the revert)');
  const by = str(values, 'by') ?? userInfo().username;
  return withTrail(resolveTarget(values, io), io, { mustExist: true, readonly: false }, async (trail) => {
    const r = await revertResponse(trail, id, { by, reason });
    io.stdout.write(`reverted ${r.id} (${r.kind} on agent ${r.agent_id}) by ${by}\n`);
    return EXIT_OK;
  });
}

async function apply(values: Values, io: Io): Promise<number> {
  const arg = str(values, 'config') ?? io.env['AUDITRAIL_CONFIG'] ?? DEFAULT_CONFIG;
  const path = resolve(io.cwd, arg);
  if (!existsSync(path)) throw new UsageError(`no config file ${arg} (give --config FILE)`);
  checkConfigSections(path, arg);
  const rules = await loadResponseConfig(path);
  if (rules.length === 0) throw new UsageError(`${arg} has no responses: list`);
  const follow = bool(values, 'follow');
  return withTrail(resolveTarget(values, io), io, { mustExist: true, readonly: false }, async (trail) => {
    const stop = new AbortController();
    const onSignal = (): void => stop.abort();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    try {
      if (follow) io.stderr.write('applying responses to new anomalies; Ctrl-C stops\n');
      const r = await runResponder(trail, rules, {
        follow,
        signal: stop.signal,
        log: (l) => io.stdout.write(`${l}\n`),
      });
      io.stderr.write(
        `${r.anomalies} anomalies read, ${r.applied} responses applied; next seq ${r.cursor}\n`,
      );
      return EXIT_OK;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  });
}
