import { groupDigits } from './format.js';
import type { Io } from './io.js';

export interface Progress {
  update(done: number, total?: number): void;
  /** Clears the progress line. */
  end(): void;
}

const QUIET: Progress = { update: () => undefined, end: () => undefined };

/**
 * A one-line progress indicator on stderr, redrawn at most every 100 ms. Only on a terminal:
 * piped or redirected stderr stays clean for logs and CI.
 */
export function progress(io: Io, label: string): Progress {
  if (!io.isTTY.stderr) return QUIET;
  let last = 0;
  let shown = false;
  return {
    update(done, total) {
      const now = Date.now();
      if (now - last < 100 && done !== total) return;
      last = now;
      shown = true;
      const pct = total !== undefined && total > 0 ? ` (${Math.floor((done / total) * 100)}%)` : '';
      const of = total !== undefined ? `/${groupDigits(total)}` : '';
      io.stderr.write(`\r\x1b[2K${label} ${groupDigits(done)}${of}${pct}`);
    },
    end() {
      if (shown) io.stderr.write('\r\x1b[2K');
      shown = false;
    },
  };
}
