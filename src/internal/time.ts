/**
 * Log timestamps: RFC 3339 UTC with exactly 6 fractional digits, so that they sort as strings
 * and a log can keep them non-decreasing (`ts = max(now, last_ts)`).
 *
 * @example
 * formatTs(1763822111123.456) // '2025-11-22T14:35:11.123456Z'
 */
export function formatTs(epochMs: number): string {
  const ms = Math.floor(epochMs);
  const micros = Math.floor((epochMs - ms) * 1000);
  const iso = isoTime(ms); // 2025-11-22T14:35:11.123Z
  return `${iso.slice(0, 23)}${String(micros).padStart(3, '0')}Z`;
}

let isoMs = Number.NaN;
let isoText = '';

/**
 * `new Date(ms).toISOString()` for an integer epoch millisecond, remembered for the last one
 * asked (events recorded in the same millisecond share it; formatting a Date is not free).
 */
export function isoTime(ms: number): string {
  if (ms !== isoMs) {
    isoText = new Date(ms).toISOString();
    isoMs = ms;
  }
  return isoText;
}

const TS_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

/** True when `s` is a log timestamp in the fixed 6-digit form. */
export function isLogTs(s: unknown): s is string {
  return typeof s === 'string' && TS_RE.test(s);
}

/** A microsecond-resolution wall clock, in epoch milliseconds with a fractional part. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}
