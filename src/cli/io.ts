import { createWriteStream, renameSync, rmSync } from 'node:fs';

/** Where a command writes: `process.stdout` in real use, a string collector in tests. */
export interface Writer {
  /** Returns false when the caller should wait for `drain` (Node stream backpressure). */
  write(chunk: string): boolean | void;
  once?(event: 'drain', listener: () => void): unknown;
}

/**
 * Everything a command may touch of its environment, injected so tests can run commands in
 * process and capture what they print.
 *
 * @example
 * const out: string[] = [];
 * const io: Io = { stdout: { write: (s) => void out.push(s) }, stderr: process.stderr,
 *   isTTY: { stdout: false, stderr: false }, env: {}, cwd: process.cwd() };
 * await main(['verify', '--json'], io);
 */
export interface Io {
  stdout: Writer;
  stderr: Writer;
  /** Colour follows `isTTY.stdout`; progress is shown only when `isTTY.stderr`. */
  isTTY: { stdout: boolean; stderr: boolean };
  env: Record<string, string | undefined>;
  cwd: string;
  /** Terminal width, when stdout is one. */
  columns?: number;
}

/** The real process's I/O. A closed pipe (`auditrail log | head`) ends the process quietly. */
export function processIo(): Io {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
      throw e;
    });
  }
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    isTTY: { stdout: process.stdout.isTTY === true, stderr: process.stderr.isTTY === true },
    env: process.env,
    cwd: process.cwd(),
    ...(process.stdout.isTTY ? { columns: process.stdout.columns } : {}),
  };
}

/** A destination for streamed output that honours backpressure. */
export interface Sink {
  write(chunk: string): Promise<void>;
  /** Completes the output (for a file: flush, then move it into place). */
  end(): Promise<void>;
  /** Abandons the output (for a file: removes the partial file). */
  abort(): void;
}

/** A sink over a writer such as `io.stdout`. */
export function writerSink(w: Writer): Sink {
  return {
    write(chunk) {
      const ok = w.write(chunk);
      if (ok === false && w.once) {
        const once = w.once.bind(w);
        return new Promise((resolve) => void once('drain', resolve));
      }
      return Promise.resolve();
    },
    end: () => Promise.resolve(),
    abort: () => undefined,
  };
}

/**
 * A sink to `path`, written to a temporary file beside it and renamed into place on `end()`,
 * so an interrupted export never leaves a truncated file that looks complete.
 */
export function fileSink(path: string): Sink {
  const tmp = `${path}.tmp-${process.pid}`;
  const stream = createWriteStream(tmp, { flags: 'wx', mode: 0o600 });
  let failure: Error | null = null;
  stream.on('error', (e) => {
    failure = e;
  });
  const check = (): void => {
    if (failure) throw failure;
  };
  return {
    async write(chunk) {
      check();
      if (!stream.write(chunk)) {
        await new Promise<void>((resolve, reject) => {
          stream.once('drain', resolve);
          stream.once('error', reject);
        });
      }
    },
    async end() {
      check();
      await new Promise<void>((resolve, reject) => {
        stream.once('error', reject);
        stream.end(() => resolve());
      });
      renameSync(tmp, path);
    },
    abort() {
      stream.destroy();
      rmSync(tmp, { force: true });
    },
  };
}
