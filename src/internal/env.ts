/** `${NAME}`: an environment variable's name in a config value (bounded, so matching is linear). */
const ENV_REF = /\$\{([A-Za-z_][A-Za-z0-9_]{0,127})\}/g;

/**
 * Replaces each `${NAME}` in a config value by the environment's value, and notes every value
 * used in `secrets` (so it can be masked wherever the config is echoed). An unset or empty
 * variable is `missing(name)`'s error.
 *
 * @example
 * expandEnv('Splunk ${TOKEN}', { TOKEN: 't' }, [], (n) => new Error(n)) // 'Splunk t'
 */
export function expandEnv(
  value: string,
  env: NodeJS.ProcessEnv,
  secrets: string[],
  missing: (name: string) => Error,
): string {
  return value.replace(ENV_REF, (_m, name: string) => {
    const v = env[name];
    if (v === undefined || v === '') throw missing(name);
    secrets.push(v);
    return v;
  });
}
