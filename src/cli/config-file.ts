/**
 * The one YAML config file (`--config FILE`, else `$AUDITRAIL_CONFIG`, else `./auditrail.yaml`):
 * where it is, and a check of its top level, shared by every command that reads a section of it.
 * Each section is parsed strictly by the module that owns it; a top-level key no module reads
 * (a misspelt `exprots:`) is refused here instead of being silently ignored.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { LineCounter, parseDocument, isMap, isScalar } from 'yaml';
import { AuditError } from '../errors.js';
import type { Io } from './io.js';

export const DEFAULT_CONFIG = 'auditrail.yaml';

/** The top-level keys of the config, each read by one part of the product (docs/cli.md). */
export const CONFIG_SECTIONS = [
  'schedules',
  'exports',
  'retention',
  'sampling',
  'detect',
  'alerts',
  'responses',
] as const;

/** Largest config read for the check (the section parsers bound it too). */
const MAX_CONFIG_BYTES = 1_000_000;

/**
 * Where the config is: `--config`, else `$AUDITRAIL_CONFIG`, else `./auditrail.yaml`, resolved
 * against the command's working directory. `named`: given by the user (so it must exist).
 */
export function configLocation(
  given: string | undefined,
  io: Io,
): { path: string; arg: string; named: boolean } {
  const named = given ?? io.env['AUDITRAIL_CONFIG'];
  const arg = named ?? DEFAULT_CONFIG;
  return { path: resolve(io.cwd, arg), arg, named: named !== undefined };
}

/**
 * Refuses a config whose top level holds a key no part of the product reads, naming it, its line
 * and the known keys. A file that cannot be read or parsed is left to the section parsers, which
 * say why.
 *
 * @example
 * checkConfigSections('/srv/auditrail.yaml', 'auditrail.yaml'); // throws on `exprots:`
 */
export function checkConfigSections(path: string, arg: string): void {
  let text: string;
  try {
    const buf = readFileSync(path);
    if (buf.length > MAX_CONFIG_BYTES) return;
    text = buf.toString('utf8');
  } catch {
    return;
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true });
  if (doc.errors.length > 0 || !isMap(doc.contents)) return;
  for (const item of doc.contents.items) {
    const key = isScalar(item.key) ? item.key.value : null;
    if (typeof key === 'string' && (CONFIG_SECTIONS as readonly string[]).includes(key)) continue;
    const offset = isScalar(item.key) ? item.key.range?.[0] : undefined;
    const line = offset !== undefined ? ` line ${lines.linePos(offset).line}` : '';
    throw new AuditError(
      'invalid_argument',
      `${arg}${line}: unknown top-level key ${JSON.stringify(String(key))} ` +
        `(the config's sections are ${CONFIG_SECTIONS.join(', ')})`,
    );
  }
}
