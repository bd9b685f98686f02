import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { DatadogSinkConfig } from '../config.js';
import { post, Utf8Body, type ExportRecord, type SendResult, type Sink } from '../sink.js';

export const DATADOG_DEFAULT_URL = 'https://http-intake.logs.datadoghq.com/api/v2/logs';
/** Datadog Logs intake v2: ≤ 1,000 entries and ≤ 5 MB (uncompressed) per request, ≤ 1 MB per entry. */
export const DATADOG_LIMITS = { maxEvents: 1000, maxBytes: 5_000_000, maxRecordBytes: 1_000_000 };

const STATUS = { low: 'debug', medium: 'info', high: 'warn', critical: 'error' } as const;
const gzipAsync = promisify(gzip);

/**
 * Datadog Logs intake v2: a gzipped JSON array, `DD-API-KEY`, ddsource/service/ddtags per entry.
 * Each entry is written as JSON text around the record's JSON, which is escaped into `message`;
 * the body is compressed on libuv's thread pool, while the pipeline formats the next batch.
 */
export function datadogSink(config: DatadogSinkConfig, hostname: string): Sink {
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
  return {
    limits: DATADOG_LIMITS,
    async send(batch: readonly ExportRecord[]): Promise<SendResult> {
      // Escaping the record into `message` grows it: split again on the exact sizes.
      const bodies: Utf8Body[] = [];
      let body = new Utf8Body();
      for (const r of batch) {
        const e = r.event;
        const status = e.risk_level ? STATUS[e.risk_level] : 'info';
        const start =
          `${head},"ddtags":${JSON.stringify(`${tagsHead}seq:${e.seq},type:${e.type}`)}` +
          `,"status":"${status}","timestamp":${JSON.stringify(Date.parse(e.time ?? e.ts))},"message":`;
        const message = JSON.stringify(r.json);
        const startBytes = Buffer.byteLength(start);
        const messageBytes = Buffer.byteLength(message);
        // The entry, its closing brace, and the bracket or comma before it.
        const n = startBytes + messageBytes + 2;
        if (n > DATADOG_LIMITS.maxRecordBytes)
          return {
            kind: 'permanent',
            status: null,
            detail: `an entry of ${n} bytes is over Datadog's 1 MB limit`,
          };
        // +1: the closing bracket.
        if (body.bytes > 0 && body.bytes + n + 1 > DATADOG_LIMITS.maxBytes) {
          body.push(']', 1);
          bodies.push(body);
          body = new Utf8Body();
        }
        body.push(body.bytes === 0 ? '[' : ',', 1);
        body.push(start, startBytes);
        body.push(message, messageBytes);
        body.push('}', 1);
      }
      body.push(']', 1);
      bodies.push(body);
      for (const b of bodies) {
        let gzipped: Buffer;
        try {
          // Level 1: most of the size win of gzip for a fraction of its CPU (the intake takes any level).
          gzipped = await gzipAsync(b.toBuffer(), { level: 1 });
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
    },
    close: () => Promise.resolve(),
  };
}
