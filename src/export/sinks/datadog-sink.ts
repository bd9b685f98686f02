import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { DatadogSinkConfig } from '../config.js';
import {
  encodingSink,
  post,
  type EncodingSink,
  type ExportRecord,
  type SendResult,
  type EncodedParts,
} from '../sink.js';

export const DATADOG_DEFAULT_URL = 'https://http-intake.logs.datadoghq.com/api/v2/logs';
/** Datadog Logs intake v2: ≤ 1,000 entries and ≤ 5 MB (uncompressed) per request, ≤ 1 MB per entry. */
export const DATADOG_LIMITS = { maxEvents: 1000, maxBytes: 5_000_000, maxRecordBytes: 1_000_000 };

const STATUS = { low: 'debug', medium: 'info', high: 'warn', critical: 'error' } as const;
const gzipAsync = promisify(gzip);
/** The largest uncompressed body kept for reuse. */
const MAX_SCRATCH = DATADOG_LIMITS.maxBytes;

/**
 * Datadog Logs intake v2: a gzipped JSON array, `DD-API-KEY`, ddsource/service/ddtags per entry.
 * Each entry is written as JSON text around the record's JSON, which is escaped into `message`,
 * as the record is read (an {@link EncodingSink}); a batch is split into bodies of at most 5 MB,
 * each compressed on libuv's thread pool while the pipeline formats the next batch.
 */
export function datadogSink(config: DatadogSinkConfig, hostname: string): EncodingSink {
  // What every entry of this sink starts with: its source, service and host.
  const head =
    `{"ddsource":${JSON.stringify(config.ddsource ?? 'auditrail')}` +
    `,"service":${JSON.stringify(config.service ?? 'auditrail')}` +
    `,"hostname":${JSON.stringify(config.hostname ?? hostname)}`;
  const tagsHead = config.ddtags !== undefined ? `${config.ddtags},` : '';
  const url = config.url ?? DATADOG_DEFAULT_URL;
  const headers = {
    'dd-api-key': config.api_key,
    'content-type': 'application/json',
    'content-encoding': 'gzip',
  };
  const encode = (r: ExportRecord): string => {
    const e = r.event;
    const status = e.risk_level ? STATUS[e.risk_level] : 'info';
    return (
      `${head},"ddtags":${JSON.stringify(`${tagsHead}seq:${e.seq},type:${e.type}`)}` +
      `,"status":"${status}","timestamp":${JSON.stringify(Date.parse(e.time ?? e.ts))}` +
      `,"message":${JSON.stringify(r.json)}}`
    );
  };
  // The uncompressed body, reused from batch to batch: gzip reads it on the thread pool, and
  // the next body is made only after that one was sent.
  let scratch: Buffer | undefined;
  const sendEncoded = async (entries: EncodedParts): Promise<SendResult> => {
    // Bodies as [from, to) ranges of entries: each with its commas and two brackets ≤ 5 MB.
    const bodies: [number, number][] = [];
    let from = 0;
    let bytes = 2;
    for (let i = 0; i < entries.length; i++) {
      const n = entries.size(i);
      if (n + 1 > DATADOG_LIMITS.maxRecordBytes)
        return {
          kind: 'permanent',
          status: null,
          detail: `an entry of ${n + 1} bytes is over Datadog's 1 MB limit`,
        };
      if (i > from && bytes + 1 + n > DATADOG_LIMITS.maxBytes) {
        bodies.push([from, i]);
        from = i;
        bytes = 2;
      }
      bytes += (i > from ? 1 : 0) + n;
    }
    bodies.push([from, entries.length]);
    for (const [start, end] of bodies) {
      let gzipped: Buffer;
      try {
        // Level 1: most of the size win of gzip for a fraction of its CPU (the intake takes any level).
        const body = entries.join('[', ',', ']', start, end, scratch);
        // Kept for the next body when it was made anew (this sink sends one body at a time).
        if (body.buffer !== scratch?.buffer) scratch = body.length <= MAX_SCRATCH ? body : scratch;
        gzipped = await gzipAsync(body, { level: 1 });
      } catch (err) {
        return {
          kind: 'permanent',
          status: null,
          detail: `cannot gzip the body: ${(err as Error).message}`,
        };
      }
      const result = await post(url, headers, gzipped, config.timeout_ms ?? 30_000);
      if (result.kind !== 'ok') return result;
    }
    return { kind: 'ok' };
  };
  return encodingSink(DATADOG_LIMITS, encode, sendEncoded);
}
