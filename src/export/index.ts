import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { AuditTrail } from '../index.js';
import { exportState, type DeadLetter } from '../sdk/export-state.js';
import type { ExportConfig } from './config.js';
import type { FormatContext } from './format.js';
import { ExportPipeline, type PipelineOptions } from './pipeline.js';
import type { Sink } from './sink.js';
import { datadogSink } from './sinks/datadog-sink.js';
import { fileSink } from './sinks/file-sink.js';
import { splunkSink } from './sinks/splunk-sink.js';
import { otlpSink } from './sinks/otlp-sink.js';
import { stdoutSink } from './sinks/stdout-sink.js';
import { syslogSink } from './sinks/syslog-sink.js';
import { webhookSink } from './sinks/webhook-sink.js';

export { loadExportConfig, parseExportConfig, type ExportConfig } from './config.js';
export { ExportPipeline, type RunReport } from './pipeline.js';
export { ecsRecord, nativeRecord, ocsfRecord, type FormatContext } from './format.js';
export { webhookSignature, SIGNATURE_HEADER, TIMESTAMP_HEADER } from './sinks/webhook-sink.js';
export { cefMessage, syslogMessage } from './sinks/syslog-sink.js';
export { otlpAttributes } from './sinks/otlp-sink.js';
export type { DeadLetter } from '../sdk/export-state.js';
export { ExportRunner, type RunningSinkStatus } from './runner.js';

/** auditrail's version, from its package.json ('unknown' when unreadable). */
export function productVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version?: string;
    };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** The exporter's host and version, as the formats name them. */
export function defaultContext(version: string = productVersion()): FormatContext {
  return { hostname: hostname(), productVersion: version };
}

/** The sink a config names. */
export function createSink(config: ExportConfig, context: FormatContext): Sink {
  const s = config.sink;
  switch (s.type) {
    case 'file':
      return fileSink(s);
    case 'webhook':
      return webhookSink(s);
    case 'splunk':
      return splunkSink(s, context.hostname);
    case 'datadog':
      return datadogSink(s, context.hostname);
    case 'stdout':
      return stdoutSink();
    case 'syslog':
      return syslogSink(s, context);
    case 'otlp':
      return otlpSink(s);
  }
}

/** A pipeline from `trail` to the sink of `config`. */
export function openPipeline(
  trail: AuditTrail,
  config: ExportConfig,
  options: PipelineOptions,
): { pipeline: ExportPipeline; sink: Sink } {
  const sink = createSink(config, options.context);
  return { pipeline: new ExportPipeline(trail, exportState(trail), config, sink, options), sink };
}

/** Where one sink stands. */
export interface SinkStatus {
  name: string;
  /** Whether the config file names this sink (a cursor can outlive its config). */
  configured: boolean;
  /** The next seq the sink will be sent. */
  cursor: number;
  /** Events of the log not yet past the cursor. */
  lag: number;
  /** Age of the oldest event not yet past the cursor, in seconds (0 when none). */
  lag_seconds: number;
  dead_letters: DeadLetter[];
}

/**
 * Every sink's position and dead letters on `trail`'s log: those of the config and any other
 * with a cursor. Reads only (works on a trail opened read-only).
 *
 * @example
 * for (const s of await exportStatus(trail, configs)) console.log(s.name, s.lag);
 */
export async function exportStatus(
  trail: AuditTrail,
  configs: readonly ExportConfig[],
): Promise<SinkStatus[]> {
  const state = exportState(trail);
  const cursors = new Map((await state.cursors()).map((c) => [c.name, c.seq]));
  const names = [...new Set([...configs.map((c) => c.name), ...cursors.keys()])];
  const size = trail.size;
  const now = Date.now();
  return Promise.all(
    names.map(async (name) => {
      const cursor = cursors.get(name) ?? 0;
      const lag = Math.max(0, size - cursor);
      let lagSeconds = 0;
      if (lag > 0) {
        const page = await trail.query({ limit: 1, ...(cursor > 0 ? { cursor: `a${cursor - 1}` } : {}) });
        const oldest = page.events[0];
        if (oldest) lagSeconds = Math.max(0, (now - Date.parse(oldest.ts)) / 1000);
      }
      return {
        name,
        configured: configs.some((c) => c.name === name),
        cursor,
        lag,
        lag_seconds: Math.round(lagSeconds * 1000) / 1000,
        dead_letters: await state.deadLetters(name),
      };
    }),
  );
}
