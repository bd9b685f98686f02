import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { AuditTrail } from '../../index.js';
import {
  defaultContext,
  exportStatus,
  loadExportConfig,
  openPipeline,
  type ExportConfig,
} from '../../export/index.js';
import {
  bool,
  execute,
  EXIT_FAILED,
  EXIT_OK,
  oneOf,
  str,
  TARGET_OPTIONS,
  UsageError,
  type CommandSpec,
} from '../args.js';
import { groupDigits } from '../format.js';
import { fileSink, writerSink, type Io, type Sink } from '../io.js';
import { progress } from '../progress.js';
import { FILTER_OPTIONS, pages, readSelection } from '../query.js';
import { CSV_COLUMNS, EventWriter } from '../render.js';
import { commandLine, resolveTarget, shellQuote, withTrail } from '../target.js';
import { checkConfigSections, DEFAULT_CONFIG } from '../config-file.js';

const FORMATS = ['jsonl', 'json', 'csv'] as const;

export const spec: CommandSpec = {
  name: 'export',
  usage:
    'export [--format jsonl|json|csv] [-o FILE] [filters]\n' +
    '       export --sink NAME [--follow] [--config FILE]\n' +
    '       export status [--config FILE] [--json]\n' +
    '       export replay NAME [--config FILE]',
  summary: 'Export events to a file, or deliver them to the SIEM sinks of a config file.',
  description:
    'Streams page by page, so memory stays flat however large the log. With -o the file appears only\n' +
    `once complete. CSV has a fixed column set: ${CSV_COLUMNS.join(', ')};\n` +
    "RFC 4180 quoting, CRLF line ends, and a ' before cells starting with = + - @ (spreadsheet formulas).\n" +
    '\n' +
    `--sink NAME delivers to the sink NAME of the config's exports: list (--config, default\n` +
    `$AUDITRAIL_CONFIG or ./${DEFAULT_CONFIG}) from where it stopped to the log's end; --follow keeps\n` +
    "delivering as events arrive until interrupted. status shows each sink's cursor, lag and dead\n" +
    'letters; replay NAME sends the dead letters of sink NAME again. See docs/siem.md.',
  options: {
    format: { type: 'string', value: 'FORMAT', help: 'jsonl (default), json or csv' },
    output: { type: 'string', short: 'o', value: 'FILE', help: 'write to FILE instead of stdout' },
    sink: { type: 'string', value: 'NAME', help: 'deliver to the sink NAME of the config' },
    follow: { type: 'boolean', help: 'with --sink: keep delivering new events until interrupted' },
    config: {
      type: 'string',
      value: 'FILE',
      help: `export config (default $AUDITRAIL_CONFIG or ./${DEFAULT_CONFIG})`,
    },
    json: { type: 'boolean', help: 'with status: print JSON' },
    ...FILTER_OPTIONS,
    ...TARGET_OPTIONS,
  },
  positionals: { min: 0, max: 2, names: 'status, or replay NAME' },
  examples: [
    'auditrail export -o audit.jsonl',
    'auditrail export --format csv --since 7d --decision deny -o denials.csv',
    'auditrail export --sink splunk --follow --config auditrail.yaml',
    'auditrail export status --config auditrail.yaml',
    'auditrail export replay splunk --config auditrail.yaml',
  ],
};

function configPath(values: Parameters<typeof str>[0], io: Io): { path: string; arg: string } {
  const arg = str(values, 'config') ?? io.env['AUDITRAIL_CONFIG'] ?? DEFAULT_CONFIG;
  const path = resolve(io.cwd, arg);
  checkConfigSections(path, arg);
  return { path, arg };
}

function pick(configs: readonly ExportConfig[], name: string, arg: string): ExportConfig {
  const c = configs.find((x) => x.name === name);
  if (!c)
    throw new UsageError(
      `no sink '${name}' in ${arg} (it has: ${configs.map((x) => x.name).join(', ') || 'none'})`,
    );
  return c;
}

export function run(args: string[], io: Io): Promise<number> {
  return execute(spec, args, io, async ({ values, positionals }) => {
    const sub = positionals[0];
    const sinkName = str(values, 'sink');
    if (sub !== undefined) {
      if (sub === 'status' && positionals.length === 1) return status(values, io);
      if (sub === 'replay' && positionals.length === 2) return replay(values, positionals[1]!, io);
      throw new UsageError(
        `unknown subcommand 'export ${positionals.join(' ')}' (expected 'export status' or 'export replay NAME')`,
      );
    }
    if (sinkName !== undefined) return deliver(values, sinkName, io);
    if (bool(values, 'follow')) throw new UsageError('--follow needs --sink NAME');
    return toFile(values, io);
  });
}

type Values = Parameters<typeof str>[0];

async function deliver(values: Values, name: string, io: Io): Promise<number> {
  const { path, arg } = configPath(values, io);
  const config = pick(await loadExportConfig(path, io.env), name, arg);
  const follow = bool(values, 'follow');
  return withTrail(resolveTarget(values, io), io, { mustExist: true, readonly: false }, async (trail) => {
    const { pipeline, sink } = openPipeline(trail, config, {
      context: defaultContext(),
      log: (line) => io.stderr.write(`${line}\n`),
    });
    const stop = new AbortController();
    const onSignal = (): void => stop.abort();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    try {
      if (follow) io.stderr.write(`delivering to ${name}; Ctrl-C stops\n`);
      const r = await pipeline.run({ follow, signal: stop.signal });
      io.stderr.write(
        `${name}: delivered ${groupDigits(r.delivered)} events in ${groupDigits(r.batches)} batches` +
          (r.dead_lettered > 0 ? `, ${groupDigits(r.dead_lettered)} refused (dead letters)` : '') +
          `; next seq ${r.cursor}\n`,
      );
      return r.dead_lettered > 0 ? EXIT_FAILED : EXIT_OK;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      await sink.close();
    }
  });
}

async function status(values: Values, io: Io): Promise<number> {
  const { path, arg } = configPath(values, io);
  // Without a config named and none in the default place, the cursors in the database still show.
  const named = str(values, 'config') !== undefined || io.env['AUDITRAIL_CONFIG'] !== undefined;
  const configs = named || existsSync(path) ? await loadExportConfig(path, io.env) : [];
  const target = resolveTarget(values, io);
  return withTrail(target, io, { mustExist: true, readonly: true }, async (trail: AuditTrail) => {
    const all = await exportStatus(trail, configs);
    if (bool(values, 'json')) {
      io.stdout.write(`${JSON.stringify({ log: trail.origin, size: trail.size, sinks: all }, null, 2)}\n`);
      return EXIT_OK;
    }
    io.stdout.write(`log ${trail.origin}: ${groupDigits(trail.size)} events\n`);
    for (const s of all) {
      io.stdout.write(
        `${s.name}${s.configured ? '' : ` (not in ${arg})`}: next seq ${s.cursor}, lag ${groupDigits(s.lag)} events` +
          (s.lag > 0 ? ` (oldest ${s.lag_seconds} s old)` : '') +
          ', ' +
          `${s.dead_letters.length} dead letters\n`,
      );
      for (const d of s.dead_letters)
        io.stdout.write(`  seq ${d.from_seq}-${d.to_seq} (${d.events} events) at ${d.at}: ${d.response}\n`);
      if (s.dead_letters.length > 0)
        io.stdout.write(
          `  replay: ${commandLine(io, target, 'export', 'replay', shellQuote(s.name), '--config', shellQuote(arg))}\n`,
        );
    }
    return EXIT_OK;
  });
}

async function replay(values: Values, name: string, io: Io): Promise<number> {
  const { path, arg } = configPath(values, io);
  const config = pick(await loadExportConfig(path, io.env), name, arg);
  return withTrail(resolveTarget(values, io), io, { mustExist: true, readonly: false }, async (trail) => {
    const { pipeline, sink } = openPipeline(trail, config, {
      context: defaultContext(),
      log: (line) => io.stderr.write(`${line}\n`),
    });
    try {
      const r = await pipeline.replay();
      io.stderr.write(
        `${name}: ${r.replayed} dead letters delivered (${groupDigits(r.events)} events), ${r.still_dead} refused again\n`,
      );
      return r.still_dead > 0 ? EXIT_FAILED : EXIT_OK;
    } finally {
      await sink.close();
    }
  });
}

async function toFile(values: Values, io: Io): Promise<number> {
  const format = oneOf('--format', str(values, 'format') ?? 'jsonl', FORMATS);
  const selection = readSelection(values, Date.now());
  const out = str(values, 'output');
  const toFile = out !== undefined && out !== '-';
  return withTrail(resolveTarget(values, io), io, { mustExist: true }, async (trail) => {
    const total = io.isTTY.stderr
      ? Math.min(await trail.count(selection.filter), selection.limit ?? Infinity)
      : undefined;
    const sink: Sink = toFile ? fileSink(resolve(io.cwd, out)) : writerSink(io.stdout);
    const bar = progress(io, 'exporting');
    try {
      const writer = new EventWriter(sink, format);
      await writer.begin();
      let done = 0;
      for await (const page of pages(trail, selection)) {
        await writer.write(page);
        done += page.length;
        bar.update(done, total);
      }
      const count = await writer.finish();
      await sink.end();
      bar.end();
      if (toFile) io.stderr.write(`exported ${groupDigits(count)} events to ${out}\n`);
    } catch (e) {
      bar.end();
      sink.abort();
      throw e;
    }
    return EXIT_OK;
  });
}
