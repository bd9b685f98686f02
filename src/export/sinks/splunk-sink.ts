import type { SplunkSinkConfig } from '../config.js';
import {
  encodingSink,
  post,
  type EncodedParts,
  type EncodingSink,
  type ExportRecord,
  type SendResult,
} from '../sink.js';

/**
 * Splunk HTTP Event Collector: POST /services/collector/event, one `{time, host, source,
 * sourcetype, index, event, fields}` object per event, concatenated (no array), with
 * `Authorization: Splunk <token>`. A 200 counts only with `"code":0` in the answer. Each
 * object is written as the record is read (an {@link EncodingSink}).
 */
export function splunkSink(config: SplunkSinkConfig, hostname: string): EncodingSink {
  const url = `${config.url.replace(/\/+$/, '')}/services/collector/event`;
  const encode = (r: ExportRecord): string => {
    const e = r.event;
    const envelope: Record<string, unknown> = {
      time: Date.parse(e.time ?? e.ts) / 1000,
      host: config.host ?? hostname,
      source: config.source ?? 'auditrail',
      sourcetype: config.sourcetype ?? 'auditrail:audit',
    };
    if (config.index !== undefined) envelope['index'] = config.index;
    // The record's JSON is already made (r.json): spliced in, not stringified a second time.
    const head = JSON.stringify(envelope);
    const fields = JSON.stringify({ seq: String(e.seq), event_id: e.event_id, type: e.type });
    return `${head.slice(0, -1)},"event":${r.json},"fields":${fields}}`;
  };
  const sendEncoded = (parts: EncodedParts): Promise<SendResult> =>
    post(
      url,
      { authorization: `Splunk ${config.token}`, 'content-type': 'application/json' },
      // Concatenated JSON objects, one per line (JSON text never holds a raw newline).
      parts.pieces('', '\n', ''),
      config.timeout_ms ?? 30_000,
      (status, text) => {
        if (status !== 200) return undefined;
        try {
          const ans = JSON.parse(text) as { code?: unknown };
          if (ans.code === 0) return { kind: 'ok' };
        } catch {
          // fall through: an answer that does not say code 0 is no acknowledgement
        }
        return { kind: 'retry', status, detail: `HTTP 200 without "code":0: ${text}` };
      },
    );
  // Stay well under HEC's default max_content_length (1 MB on many indexers).
  return encodingSink({ maxBytes: 900_000 }, encode, sendEncoded);
}
