import { readFileSync, statSync } from 'node:fs';
import { CliError } from './args.js';

// docs/verification.md §1: invalid UTF-8 is refused, never replaced by U+FFFD (a signature or a
// digest is over the exact bytes).
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Reads a file a user handed to a verifying command (checkpoint, proof, bundle): at most
 * `maxBytes`, strict UTF-8. Errors name the file as the user typed it (`shown`).
 *
 * @example
 * const note = readUtf8File(resolve(io.cwd, file), file, 64 * 1024);
 */
export function readUtf8File(path: string, shown: string, maxBytes: number, tooLarge = ''): string {
  let bytes: Buffer;
  try {
    if (statSync(path).size > maxBytes)
      throw new CliError(`${shown} is larger than ${maxBytes} bytes${tooLarge}`);
    bytes = readFileSync(path);
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw new CliError(`cannot read ${shown}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  try {
    return utf8.decode(bytes);
  } catch {
    throw new CliError(`${shown} is not UTF-8 text`);
  }
}
