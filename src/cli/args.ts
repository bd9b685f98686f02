import { parseArgs } from 'node:util';
import { AuditError } from '../index.js';
import type { Io } from './io.js';

/** Exit codes (docs/cli.md "Exit codes"). */
export const EXIT_OK = 0;
/** Verification failed, or the operation could not be done (not found, database error). */
export const EXIT_FAILED = 1;
/** The command line itself is wrong: unknown command or flag, missing or bad value. */
export const EXIT_USAGE = 2;

/** A mistake in the command line: printed with the usage line, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  multiple?: boolean;
  /** Placeholder shown in help, e.g. `PATH`. */
  value?: string;
  help: string;
}

/** Everything `--help` prints and `parseArgs` needs for one command. */
export interface CommandSpec {
  /** As typed after `auditrail`, e.g. `keys show`. */
  name: string;
  /** The usage line after `auditrail `, e.g. `show <seq|event_id> [options]`. */
  usage: string;
  summary: string;
  description?: string;
  options: Record<string, OptionSpec>;
  positionals: { min: number; max: number; names?: string };
  examples: string[];
}

export type Values = Record<string, string | boolean | (string | boolean)[] | undefined>;

export interface Parsed {
  values: Values;
  positionals: string[];
}

/** `--db`, `--tenant`, `--log`: which log a command works on. */
export const TARGET_OPTIONS: Record<string, OptionSpec> = {
  db: {
    type: 'string',
    value: 'PATH',
    help: 'database file (default: $AUDITRAIL_DB, else ./.auditrail/audit.db)',
  },
  postgres: {
    type: 'string',
    value: 'URL',
    help: 'PostgreSQL database instead of a file, postgres://… (default: $AUDITRAIL_POSTGRES)',
  },
  tenant: { type: 'string', value: 'ID', help: 'tenant (default: $AUDITRAIL_TENANT, else demo)' },
  log: {
    type: 'string',
    value: 'NAME',
    help: 'log name within the tenant (default: $AUDITRAIL_LOG, else default)',
  },
};

const HELP: Record<string, OptionSpec> = { help: { type: 'boolean', short: 'h', help: 'show this help' } };

/** The `--help` text of a command. */
export function helpText(spec: CommandSpec): string {
  const lines = [`Usage: auditrail ${spec.usage}`, '', spec.summary];
  if (spec.description) lines.push('', spec.description);
  const opts = Object.entries({ ...spec.options, ...HELP });
  if (opts.length > 0) {
    lines.push('', 'Options:');
    const left = opts.map(([name, o]) => {
      const flag = `${o.short ? `-${o.short}, ` : '    '}--${name}${o.type === 'string' ? ` ${o.value ?? 'VALUE'}` : ''}`;
      return flag;
    });
    const width = Math.max(...left.map((l) => l.length));
    opts.forEach(([, o], i) => lines.push(`  ${left[i]!.padEnd(width)}  ${o.help}`));
  }
  lines.push('', spec.examples.length > 1 ? 'Examples:' : 'Example:');
  for (const e of spec.examples) lines.push(`  ${e}`);
  return lines.join('\n') + '\n';
}

// node:util parseArgs messages are long and suggest `--`; say what is wrong and name the flag.
function usageFromParseArgs(e: Error & { code?: unknown }): UsageError {
  const quoted = /'([^']*)'/.exec(e.message)?.[1] ?? '';
  switch (e.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return new UsageError(`unknown flag ${quoted}`);
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE': {
      const flag = /^(-\S+)/.exec(quoted)?.[1] ?? quoted;
      return /argument missing/.test(e.message)
        ? new UsageError(`flag ${flag.replace(/^-(\w), /, '')} needs a value`)
        : new UsageError(`flag ${flag} does not take a value`);
    }
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return new UsageError(`unexpected argument '${quoted}'`);
    default:
      return new UsageError(e.message);
  }
}

function wantsHelp(args: string[]): boolean {
  for (const a of args) {
    if (a === '--') return false;
    if (a === '--help' || a === '-h') return true;
  }
  return false;
}

/** An expected failure (not found, no database): `error: <message>`, exit code 1. */
export class CliError extends Error {
  override name = 'CliError';
}

/** Parses a command's arguments strictly; throws {@link UsageError}. */
export function parse(spec: CommandSpec, args: string[]): Parsed {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {};
  for (const [name, o] of Object.entries({ ...spec.options, ...HELP })) {
    options[name] = {
      type: o.type,
      ...(o.short !== undefined ? { short: o.short } : {}),
      ...(o.multiple !== undefined ? { multiple: o.multiple } : {}),
    };
  }
  let parsed;
  try {
    parsed = parseArgs({ args, options, strict: true, allowPositionals: spec.positionals.max > 0 });
  } catch (e) {
    if (e instanceof TypeError && 'code' in e && String(e.code).startsWith('ERR_PARSE_ARGS')) {
      throw usageFromParseArgs(e);
    }
    throw e;
  }
  const { positionals } = parsed;
  if (positionals.length < spec.positionals.min) {
    throw new UsageError(`missing ${spec.positionals.names ?? 'argument'}`);
  }
  if (positionals.length > spec.positionals.max) {
    throw new UsageError(`unexpected argument '${positionals[spec.positionals.max]}'`);
  }
  return { values: parsed.values, positionals };
}

/** A string flag's value (the last one when repeated). */
export function str(values: Values, name: string): string | undefined {
  const v = values[name];
  if (Array.isArray(v)) return v.length > 0 ? String(v[v.length - 1]) : undefined;
  return typeof v === 'string' ? v : undefined;
}

/** All values of a repeatable string flag. */
export function strs(values: Values, name: string): string[] {
  const v = values[name];
  if (Array.isArray(v)) return v.map(String);
  return typeof v === 'string' ? [v] : [];
}

export function bool(values: Values, name: string): boolean {
  return values[name] === true;
}

/** Parses a positive integer flag value; `flag` names it in the error. */
export function positiveInt(flag: string, value: string, max = Number.MAX_SAFE_INTEGER): number {
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > max) {
    throw new UsageError(`${flag} must be an integer from 1 to ${max}, got '${value}'`);
  }
  return Number(value);
}

/** Accepts only one of `allowed`; `flag` names it in the error. */
export function oneOf<T extends string>(flag: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) {
    throw new UsageError(`${flag} must be one of ${allowed.join(', ')}, got '${value}'`);
  }
  return value as T;
}

/** Prints an error the way every command does: `error: <message>`, a stack only when debugging. */
export function reportError(e: unknown, io: Io, spec?: CommandSpec): number {
  if (e instanceof UsageError) {
    io.stderr.write(`error: ${e.message}\n`);
    if (spec)
      io.stderr.write(`Usage: auditrail ${spec.usage}\nRun 'auditrail ${spec.name} --help' for details.\n`);
    return EXIT_USAGE;
  }
  const message = e instanceof Error ? e.message : String(e);
  io.stderr.write(`error: ${message}\n`);
  if (io.env['AUDITRAIL_DEBUG'] === '1' && e instanceof Error && e.stack) io.stderr.write(`${e.stack}\n`);
  else if (!(e instanceof AuditError) && !(e instanceof CliError) && io.env['AUDITRAIL_DEBUG'] !== '1') {
    io.stderr.write('(set AUDITRAIL_DEBUG=1 for details)\n');
  }
  return EXIT_FAILED;
}

/**
 * Runs one command: `--help` prints help and exits 0, a usage mistake exits 2 with the usage
 * line, any other error prints `error: <message>` and exits 1.
 */
export async function execute(
  spec: CommandSpec,
  args: string[],
  io: Io,
  body: (parsed: Parsed) => Promise<number>,
): Promise<number> {
  if (wantsHelp(args)) {
    io.stdout.write(helpText(spec));
    return EXIT_OK;
  }
  try {
    return await body(parse(spec, args));
  } catch (e) {
    // The CLI checks its own values first; what the SDK still rejects as an argument (a tenant or
    // log name) came from the command line too.
    if (e instanceof AuditError && e.code === 'invalid_argument')
      return reportError(new UsageError(e.message), io, spec);
    return reportError(e, io, spec);
  }
}
