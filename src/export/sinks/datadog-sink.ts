import { gzipSync } from 'node:zlib';
import type { DatadogSinkConfig } from '../config.js';
import { post, type ExportRecord, type SendResult, type Sink } from '../sink.js';

export const DATADOG_DEFAULT_URL = 'https://http-intake.logs.datadoghq.com/api/v2/logs';
/** Datadog Logs intake v2: ≤ 1,000 entries and ≤ 5 MB (uncompressed) per request, ≤ 1 MB per entry. */
export const DATADOG_LIMITS = { maxEvents: 1000, maxBytes: 5_000_000, maxRecordBytes: 1_000_000 };

const STATUS = { low: 'debug', medium: 'info', high: 'warn', critical: 'error' } as const;

/** Datadog Logs intake v2: a gzipped JSON array, `DD-API-KEY`, ddsource/service/ddtags per entry. */
export function datadogSink(config: DatadogSinkConfig, hostname: string): Sink {
  return {
    limits: DATADOG_LIMITS,
    async send(batch: readonly ExportRecord[]): Promise<SendResult> {
      const items = batch.map((r) => {
        const e = r.event;
        const tags = [`seq:${e.seq}`, `type:${e.type}`];
        if (config.ddtags !== undefined) tags.unshift(config.ddtags);
        return JSON.stringify({
          ddsource: config.ddsource ?? 'auditrail',
          service: config.service ?? 'auditrail',
          hostname: config.hostname ?? hostname,
          ddtags: tags.join(','),
          status: e.risk_level ? STATUS[e.risk_level] : 'info',
          timestamp: Date.parse(e.time ?? e.ts),
          message: r.json,
        });
      });
      // Escaping the record into `message` grows it: split again on the exact sizes.
      const chunks: string[][] = [[]];
      let bytes = 2;
      for (const item of items) {
        const n = Buffer.byteLength(item) + 1;
        if (n > DATADOG_LIMITS.maxRecordBytes)
          return {
            kind: 'permanent',
            status: null,
            detail: `an entry of ${n} bytes is over Datadog's 1 MB limit`,
          };
        if (bytes + n > DATADOG_LIMITS.maxBytes) {
          chunks.push([]);
          bytes = 2;
        }
        chunks[chunks.length - 1]!.push(item);
        bytes += n;
      }
      for (const chunk of chunks) {
        const result = await post(
          config.url ?? DATADOG_DEFAULT_URL,
          { 'dd-api-key': config.api_key, 'content-type': 'application/json', 'content-encoding': 'gzip' },
          // Level 1: most of the size win of gzip for a fraction of its CPU (the intake takes any level).
          gzipSync(`[${chunk.join(',')}]`, { level: 1 }),
          config.timeout_ms ?? 30_000,
        );
        if (result.kind !== 'ok') return result;
      }
      return { kind: 'ok' };
    },
    close: () => Promise.resolve(),
  };
}
