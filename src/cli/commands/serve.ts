import { existsSync } from 'node:fs';
import { userInfo } from 'node:os';
import { resolve } from 'node:path';
import { loadPolicyFile, loadPrivacyConfig } from '../../index.js';
import { defaultContext, loadExportConfig } from '../../export/index.js';
import { loadSchedules } from '../../report/schedule.js';
import { loadDetectSection } from '../../detect/index.js';
import { loadAlertConfig } from '../../detect/alerts/index.js';
import { loadResponseConfig } from '../../detect/responses/index.js';
import { serve } from '../../server/index.js';
import {
  bool,
  execute,
  EXIT_OK,
  positiveInt,
  str,
  UsageError,
  type CommandSpec,
  TARGET_OPTIONS,
} from '../args.js';
import type { Io } from '../io.js';
import { displayDb, resolveTarget } from '../target.js';
import { checkConfigSections } from '../config-file.js';

export const spec: CommandSpec = {
  name: 'serve',
  usage:
    'serve [--db PATH | --postgres URL] [--host 127.0.0.1] [--port 8700] [--policy FILE] [--tenant ID] [--rate-limit N] [--trust-proxy] [--open [--open-as NAME]] [--config FILE] [--witness DIR] [--nats URL --nats-stream NAME [--nats-subject-prefix P] [--nats-durable NAME] [--nats-dead-letter SUBJECT] [--nats-ack-wait MS]]',
  summary: 'Run the HTTP API: ingestion, queries, proofs, decisions and approvals (docs/server.md).',
  description:
    'Every route needs an API key (Authorization: Bearer …) except /healthz, /readyz and /openapi.json.\n' +
    'When the database holds no key, one admin key for --tenant is created and printed once.\n' +
    'SIGTERM or SIGINT: stop accepting, finish requests, flush, sign a final checkpoint, exit 0.\n' +
    'The `schedules:` of the config file write reports at cron times (docs/reports.md); its `exports:`\n' +
    'deliver every event to SIEM sinks, with lag and dead letters in /metrics (docs/siem.md); its\n' +
    '`retention:` is applied at `retention.schedule` and its `sampling:` applies to every tenant log\n' +
    '(docs/privacy.md); its `detect:` runs the anomaly detectors as events arrive, and its `alerts:`\n' +
    "channels and `responses:` rules follow the --tenant log's anomalies (docs/detection.md).\n" +
    'With --nats and --nats-stream it also consumes that JetStream stream (subjects <prefix>.<tenant>)\n' +
    'and acknowledges each event after its commit (docs/scale-out.md, NATS JetStream ingestion).',
  options: {
    db: {
      type: 'string',
      value: 'PATH',
      help: 'database file (default: $AUDITRAIL_DB, else ./.auditrail/audit.db)',
    },
    postgres: TARGET_OPTIONS['postgres']!,
    host: { type: 'string', value: 'ADDR', help: 'address to listen on (default 127.0.0.1)' },
    port: { type: 'string', value: 'N', help: 'port (default 8700; 0 picks a free one)' },
    policy: { type: 'string', value: 'FILE', help: 'policy bundle for POST /v1/decide' },
    tenant: { type: 'string', value: 'ID', help: 'tenant of the first admin key (default: default)' },
    'rate-limit': {
      type: 'string',
      value: 'N',
      help: 'requests per API key per minute before 429 (default 6000)',
    },
    'trust-proxy': { type: 'boolean', help: 'trust X-Forwarded-* from a TLS proxy in front' },
    config: {
      type: 'string',
      value: 'FILE',
      help: 'config with `schedules:`, `exports:`, `retention:`, `sampling:`, `detect:`, `alerts:`, `responses:` (default $AUDITRAIL_CONFIG, else ./auditrail.yaml when present)',
    },
    quiet: { type: 'boolean', help: 'no request log on stderr' },
    witness: {
      type: 'string',
      value: 'DIR',
      help: 'also serve C2SP POST /add-checkpoint as the witness in DIR (see `witness init`, docs/keys.md)',
    },
    open: {
      type: 'boolean',
      help: 'dashboard without sign-in for one local user (127.0.0.1 only; see docs/dashboard.md)',
    },
    nats: {
      type: 'string',
      value: 'URL',
      help: 'also consume a NATS JetStream stream at this server (nats://127.0.0.1:4222); needs --nats-stream',
    },
    'nats-stream': { type: 'string', value: 'NAME', help: 'the JetStream stream (created when missing)' },
    'nats-subject-prefix': {
      type: 'string',
      value: 'P',
      help: 'events of tenant T arrive on <P>.T (default auditrail.events)',
    },
    'nats-durable': {
      type: 'string',
      value: 'NAME',
      help: 'durable consumer shared by the collectors (default auditrail-collector)',
    },
    'nats-dead-letter': {
      type: 'string',
      value: 'SUBJECT',
      help: 'refused messages go to <SUBJECT>.<tenant> (default <prefix>_dead)',
    },
    'nats-ack-wait': {
      type: 'string',
      value: 'MS',
      help: 'redelivery delay of an unacknowledged message (default 30000)',
    },
    'open-as': {
      type: 'string',
      value: 'NAME',
      help: 'the --open user, recorded as approver (default: OS user)',
    },
  },
  positionals: { min: 0, max: 0 },
  examples: [
    'auditrail serve --policy examples/policies/support-agent.yaml',
    'auditrail apikeys create --tenant acme --name ci-bot --scope ingest,read',
  ],
};

export function run(args: string[], io: Io): Promise<number> {
  return execute(spec, args, io, async ({ values }) => {
    const target = resolveTarget(values, io);
    const portText = str(values, 'port') ?? '8700';
    const port = portText === '0' ? 0 : positiveInt('--port', portText, 65535);
    const rateText = str(values, 'rate-limit');
    const rate = rateText !== undefined ? positiveInt('--rate-limit', rateText, 1_000_000_000) : 6000;
    const policyFile = str(values, 'policy');
    const policy =
      policyFile !== undefined ? await loadPolicyFile(resolve(io.cwd, policyFile), policyFile) : null;
    const host = str(values, 'host') ?? '127.0.0.1';
    if (!/^[A-Za-z0-9.:-]{1,255}$/.test(host)) throw new UsageError(`--host is not an address: '${host}'`);
    const openMode = bool(values, 'open');
    if (openMode && host !== '127.0.0.1' && host !== '::1' && host !== 'localhost') {
      throw new UsageError('--open serves the dashboard without sign-in: it listens on 127.0.0.1 only');
    }
    const openAs = str(values, 'open-as') ?? userInfo().username;
    if (openMode && !/^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/.test(openAs)) {
      throw new UsageError(`--open-as is not a principal name: '${openAs}'`);
    }
    const named = str(values, 'config') ?? io.env['AUDITRAIL_CONFIG'];
    const configPath = resolve(io.cwd, named ?? 'auditrail.yaml');
    const hasConfig = named !== undefined || existsSync(configPath);
    if (hasConfig) checkConfigSections(configPath, named ?? 'auditrail.yaml');
    const schedules = hasConfig ? await loadSchedules(configPath, io.env) : [];
    const exports = hasConfig ? await loadExportConfig(configPath, io.env, { optional: true }) : [];
    // The same file's `retention:` (applied at its schedule) and `sampling:` (docs/privacy.md).
    const privacy = hasConfig ? loadPrivacyConfig(configPath) : { retention: null, sampling: null };
    const detect = hasConfig ? await loadDetectSection(configPath) : null;
    const witnessDir = str(values, 'witness');
    const alerts = hasConfig ? await loadAlertConfig(configPath, io.env) : [];
    const responses = hasConfig ? await loadResponseConfig(configPath) : [];
    const natsUrl = str(values, 'nats');
    const natsStream = str(values, 'nats-stream');
    if ((natsUrl === undefined) !== (natsStream === undefined))
      throw new UsageError('--nats and --nats-stream go together: give the server URL and the stream name');
    for (const f of ['nats-subject-prefix', 'nats-durable', 'nats-dead-letter', 'nats-ack-wait'])
      if (natsUrl === undefined && str(values, f) !== undefined) throw new UsageError(`--${f} needs --nats`);
    const ackWait = str(values, 'nats-ack-wait');
    const prefix = str(values, 'nats-subject-prefix');
    const durable = str(values, 'nats-durable');
    const dead = str(values, 'nats-dead-letter');
    const nats =
      natsUrl !== undefined && natsStream !== undefined
        ? {
            servers: natsUrl,
            stream: natsStream,
            ...(prefix !== undefined ? { subjectPrefix: prefix } : {}),
            ...(durable !== undefined ? { durable } : {}),
            ...(dead !== undefined ? { deadLetterSubject: dead } : {}),
            ...(ackWait !== undefined
              ? { ackWaitMs: positiveInt('--nats-ack-wait', ackWait, 3_600_000) }
              : {}),
          }
        : undefined;
    const s = await serve({
      db: target.db,
      ...(nats ? { nats } : {}),
      // Without the request log (--quiet) a refused NATS message or a failed commit is still said.
      ...(nats && bool(values, 'quiet')
        ? { onNatsLog: (_level: string, m: string) => io.stderr.write(`nats: ${m}\n`) }
        : {}),
      ...(witnessDir !== undefined ? { witnessDir: resolve(io.cwd, witnessDir) } : {}),
      host,
      port,
      policy,
      firstKeyTenant: str(values, 'tenant') ?? 'default',
      trustProxy: bool(values, 'trust-proxy'),
      rateLimit: { max: rate, timeWindowMs: 60_000 },
      schedules,
      exports,
      exportContext: defaultContext(),
      retention: privacy.retention,
      ...(privacy.sampling ? { sampling: privacy.sampling } : {}),
      ...(bool(values, 'quiet')
        ? {
            onExportError: (name: string, e: unknown) =>
              io.stderr.write(`export ${name}: stopped (${(e as Error).message}); starting again in 5 s\n`),
            onRetentionError: (tenant: string, e: unknown) =>
              io.stderr.write(`retention of tenant ${tenant} failed: ${(e as Error).message}\n`),
          }
        : {}),
      detect,
      alerts,
      responses,
      detectTenant: str(values, 'tenant') ?? 'default',
      onDetectError: (what: string, e: unknown) => io.stderr.write(`${what}: ${(e as Error).message}\n`),
      // The request log is off with --quiet; a failed scheduled report is still said.
      ...(bool(values, 'quiet')
        ? {
            onScheduleError: (name: string, e: unknown) =>
              io.stderr.write(`schedule ${name}: report failed: ${(e as Error).message}\n`),
          }
        : {}),
      dashboardOpen: openMode ? { tenant: str(values, 'tenant') ?? 'default', name: openAs } : null,
      logger: bool(values, 'quiet') ? false : { level: 'info', stream: process.stderr },
    });
    io.stdout.write(`auditrail serve: ${s.url} (database ${displayDb(target.db, io)})\n`);
    if (nats)
      io.stdout.write(
        `nats: consuming stream ${nats.stream} (subjects ${nats.subjectPrefix ?? 'auditrail.events'}.<tenant>)\n`,
      );
    if (witnessDir !== undefined)
      io.stdout.write(`witness: ${s.url}/add-checkpoint (state in ${witnessDir})\n`);
    if (openMode) {
      io.stdout.write(
        `dashboard: ${s.url}/ OPEN MODE, no sign-in: anyone on this machine acts as ${openAs}\n`,
      );
    }
    for (const x of schedules)
      io.stdout.write(
        `schedule ${x.name}: ${x.cron} (${x.timezone}), ${'dir' in x.to ? x.to.dir : 'webhook'}\n`,
      );
    for (const x of exports)
      io.stdout.write(
        `export ${x.name}: ${x.sink.type} (${x.format}), log of tenant ${x.filter.tenant ?? str(values, 'tenant') ?? 'default'}\n`,
      );
    if (privacy.retention?.schedule)
      io.stdout.write(
        `retention: ${privacy.retention.schedule.cron} (${privacy.retention.schedule.timezone}), ${privacy.retention.rules.length} rule(s)\n`,
      );
    for (const r of privacy.sampling?.rules ?? [])
      io.stdout.write(`sampling ${r.name}: keep 1 in ${r.every}\n`);
    if (detect)
      io.stdout.write(
        `detect ${detect.name}: following ${(detect.tenants.length > 0 ? detect.tenants : [str(values, 'tenant') ?? 'default']).join(', ')}\n`,
      );
    for (const a of alerts) io.stdout.write(`alert ${a.name}: ${a.channel}\n`);
    if (responses.length > 0) io.stdout.write(`responses: ${responses.length} rules\n`);
    if (s.firstKey) {
      io.stdout.write(
        `first admin key (tenant ${s.firstKey.tenant}; shown once, store it now):\n${s.firstKey.key}\n`,
      );
    }
    await s.closed;
    io.stdout.write('auditrail serve: stopped (final checkpoints signed)\n');
    return EXIT_OK;
  });
}
