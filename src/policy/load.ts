/**
 * The policy layer's one I/O edge: reading a bundle from disk.
 */
import { readFile, stat } from 'node:fs/promises';
import { MAX_POLICY_TEXT, PolicyError, parsePolicy } from './bundle.js';
import type { PolicyBundle } from './types.js';

/**
 * Reads and parses a bundle file. Problems are reported against `name` (default `path`, as
 * given), with line and column; an unreadable or oversized file is a `PolicyError` with code
 * `policy_unreadable`. A caller that resolves a user's path against its own working directory
 * passes the user's spelling as `name`.
 *
 * @example
 * const bundle = await loadPolicyFile('policies/support-agent.yaml');
 * console.log(bundle.policyId, bundle.version, bundle.snapshot);
 */
export async function loadPolicyFile(path: string, name: string = path): Promise<PolicyBundle> {
  let text: string;
  try {
    // Check the size first: an accidental multi-gigabyte path should not be read into memory.
    const info = await stat(path);
    if (info.size > MAX_POLICY_TEXT) {
      throw new PolicyError(
        [{ file: name, path: '', message: `file larger than ${MAX_POLICY_TEXT} bytes` }],
        {
          code: 'policy_unreadable',
        },
      );
    }
    text = await readFile(path, 'utf8');
  } catch (error) {
    if (error instanceof PolicyError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    const message = code === undefined ? 'cannot read file' : `cannot read file (${code})`;
    throw new PolicyError([{ file: name, path: '', message }], { code: 'policy_unreadable', cause: error });
  }
  return parsePolicy(text, name);
}
