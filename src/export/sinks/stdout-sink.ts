import type { Writable } from 'node:stream';
import { pino, type Level } from 'pino';
import type { RecordedEvent } from '../../event/types.js';
import { summary } from '../format.js';
import type { ExportRecord, SendResult, Sink } from '../sink.js';

/** pino level from risk: low→debug, medium→info, high→warn, critical→error (none: info). */
export function pinoLevel(e: RecordedEvent): Level {
  switch (e.risk_level) {
    case 'low':
      return 'debug';
    case 'high':
      return 'warn';
    case 'critical':
      return 'error';
    default:
      return 'info';
  }
}

/**
 * One pino line per event on stdout: `{"level":"warn","time":"…","event":{record},"msg":"…"}`,
 * the level from the event's risk. A batch counts as delivered once the stream took every line
 * (flushed through to the pipe or file behind stdout).
 *
 * @example
 * const sink = stdoutSink(); // or stdoutSink(someWritable) in a test
 */
export function stdoutSink(stream: Writable = process.stdout): Sink {
  const state: { failed: Error | null } = { failed: null };
  const onError = (e: Error): void => {
    state.failed = e;
  };
  // A function, not a read of `state`: the stream's error arrives between two awaits.
  const failure = (): Error | null => state.failed;
  stream.on('error', onError);
  const logger = pino(
    {
      level: 'debug',
      base: null,
      nestedKey: 'event',
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    stream,
  );
  return {
    limits: {},
    async send(batch: readonly ExportRecord[]): Promise<SendResult> {
      const before = failure();
      if (before) return { kind: 'retry', status: null, detail: `cannot write to stdout: ${before.message}` };
      try {
        for (const r of batch) logger[pinoLevel(r.event)](r.record, summary(r.event));
        // An empty write's callback runs once every write before it is flushed (or failed).
        await new Promise<void>((resolve, reject) => stream.write('', (e) => (e ? reject(e) : resolve())));
        const after = failure();
        if (after) return { kind: 'retry', status: null, detail: `cannot write to stdout: ${after.message}` };
        return { kind: 'ok' };
      } catch (e) {
        return { kind: 'retry', status: null, detail: `cannot write to stdout: ${(e as Error).message}` };
      }
    },
    close(): Promise<void> {
      stream.off('error', onError);
      return Promise.resolve();
    },
  };
}
