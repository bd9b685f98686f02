/**
 * Secret detection and redaction, applied to every event before it is hashed or stored.
 *
 * @example
 * import { createRedactor } from './redact/index.js';
 * const redact = createRedactor();
 * redact({ env: { GITHUB_TOKEN: 'x' } }).pointers // ['/env/GITHUB_TOKEN']
 */
export { createRedactor, MAX_DEPTH, REDACTED } from './redact.js';
export type { RedactionOptions, RedactionResult, Redactor } from './redact.js';
export { isSecretKey } from './key-names.js';
export { luhnValid } from './value-patterns.js';
export type { ValuePattern } from './value-patterns.js';
