import { open, rename, stat, type FileHandle } from 'node:fs/promises';
import type { FileSinkConfig } from '../config.js';
import type { ExportRecord, SendResult, Sink } from '../sink.js';

function day(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/**
 * Appends one JSON record per line to a file, fsynced before a batch counts as delivered. With
 * `max_bytes` or `daily`, the current file is renamed `<path>.<UTC time>` and a new one started.
 *
 * @example
 * const sink = fileSink({ type: 'file', path: '/var/log/auditrail.jsonl', max_bytes: 100_000_000 });
 */
export function fileSink(config: FileSinkConfig, now: () => number = Date.now): Sink {
  let fh: FileHandle | null = null;
  let size = 0;
  let openedDay = '';
  const openCurrent = async (): Promise<FileHandle> => {
    if (fh) return fh;
    fh = await open(config.path, 'a', 0o600);
    const st = await stat(config.path);
    size = st.size;
    openedDay = day(size > 0 ? st.mtimeMs : now());
    return fh;
  };
  const rotate = async (): Promise<void> => {
    await fh?.close();
    fh = null;
    const stamp = new Date(now()).toISOString().replace(/[:.]/g, '-');
    await rename(config.path, `${config.path}.${stamp}`);
  };
  return {
    limits: config.max_bytes !== undefined ? { maxBytes: config.max_bytes } : {},
    async send(batch: readonly ExportRecord[]): Promise<SendResult> {
      try {
        const text = batch.map((r) => `${r.json}\n`).join('');
        const bytes = Buffer.byteLength(text);
        await openCurrent();
        const full = config.max_bytes !== undefined && size > 0 && size + bytes > config.max_bytes;
        const newDay = config.daily === true && size > 0 && openedDay !== day(now());
        if (full || newDay) await rotate();
        const handle = await openCurrent();
        await handle.write(text);
        await handle.sync();
        size += bytes;
        return { kind: 'ok' };
      } catch (e) {
        await fh?.close().catch(() => undefined);
        fh = null;
        return {
          kind: 'retry',
          status: null,
          detail: `cannot write ${config.path}: ${(e as Error).message}`,
        };
      }
    },
    async close(): Promise<void> {
      await fh?.close();
      fh = null;
    },
  };
}
