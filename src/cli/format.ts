import type { Io } from './io.js';

export type Paint = (text: string) => string;

export interface Colors {
  enabled: boolean;
  bold: Paint;
  dim: Paint;
  red: Paint;
  green: Paint;
  yellow: Paint;
  cyan: Paint;
}

const sgr =
  (open: number, close: number): Paint =>
  (s) =>
    s.length === 0 ? s : `\x1b[${open}m${s}\x1b[${close}m`;

/**
 * Colours for one stream. Off unless that stream is a terminal, and off whenever `NO_COLOR` is
 * set to anything but the empty string (https://no-color.org); `FORCE_COLOR=1` turns it on.
 */
export function colors(io: Io, stream: 'stdout' | 'stderr' = 'stdout'): Colors {
  const noColor = (io.env['NO_COLOR'] ?? '') !== '';
  const force = (io.env['FORCE_COLOR'] ?? '') !== '' && io.env['FORCE_COLOR'] !== '0';
  const enabled = !noColor && (force || io.isTTY[stream]);
  const id: Paint = (s) => s;
  return {
    enabled,
    bold: enabled ? sgr(1, 22) : id,
    dim: enabled ? sgr(2, 22) : id,
    red: enabled ? sgr(31, 39) : id,
    green: enabled ? sgr(32, 39) : id,
    yellow: enabled ? sgr(33, 39) : id,
    cyan: enabled ? sgr(36, 39) : id,
  };
}

/** Width to lay tables out in: the terminal's (at most `cap`), or 100 when piped. */
export function outputWidth(io: Io, cap = 100): number {
  const cols = io.isTTY.stdout ? (io.columns ?? 100) : 100;
  return Math.max(60, Math.min(cols, cap));
}

// Control characters in stored data must not reach the terminal (escape-sequence injection).
// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x1f\x7f-\x9f]/g;

/** Makes stored text safe and single-line for a table cell. */
export function clean(text: string): string {
  return text.replace(CONTROL, ' ');
}

/** Shortens `text` to `width` characters with an ellipsis. */
export function truncate(text: string, width: number): string {
  if (text.length <= width) return text;
  if (width <= 1) return text.slice(0, width);
  return `${text.slice(0, width - 1)}…`;
}

/** Splits `text` into lines of at most `width`, breaking at spaces where possible. */
export function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let rest = text;
  while (rest.length > width) {
    let cut = rest.lastIndexOf(' ', width);
    if (cut <= width / 3) cut = width;
    lines.push(rest.slice(0, cut).trimEnd());
    rest = rest.slice(cut).trimStart();
  }
  if (rest.length > 0 || lines.length === 0) lines.push(rest);
  return lines;
}

export interface Column {
  header: string;
  align?: 'left' | 'right';
  /** Never narrower than this when the table has to shrink. */
  min?: number;
  /** Never wider than this: longer cells are truncated. */
  max?: number;
}

export interface Cell {
  text: string;
  paint?: Paint;
}

export interface Row {
  cells: (string | Cell)[];
  /** Printed under the row, indented, wrapped to the table width. */
  note?: string;
}

const GAP = '  ';

/**
 * Lays out rows as aligned columns within `width`: the widest columns shrink first (down to
 * their `min`) and their cells are truncated with an ellipsis. Colour is applied after padding,
 * so escape codes never disturb the alignment.
 */
export function renderTable(
  columns: Column[],
  rows: Row[],
  options: { width: number; colors: Colors },
): string {
  const { width, colors: c } = options;
  const text = (cell: string | Cell | undefined): string =>
    clean(typeof cell === 'string' ? cell : (cell?.text ?? ''));
  const widths = columns.map((col, i) =>
    Math.min(col.max ?? Infinity, Math.max(col.header.length, ...rows.map((r) => text(r.cells[i]).length))),
  );
  const total = (): number => widths.reduce((a, b) => a + b, 0) + GAP.length * (columns.length - 1);
  while (total() > width) {
    let widest = -1;
    for (let i = 0; i < widths.length; i++) {
      const min = Math.max(columns[i]!.min ?? 4, 1);
      if (widths[i]! > min && (widest < 0 || widths[i]! > widths[widest]!)) widest = i;
    }
    if (widest < 0) break;
    widths[widest]!--;
  }
  const pad = (s: string, i: number): string => {
    const w = widths[i]!;
    const t = truncate(s, w);
    return columns[i]!.align === 'right' ? t.padStart(w) : t.padEnd(w);
  };
  const out: string[] = [];
  out.push(
    c.bold(
      columns
        .map((col, i) => pad(col.header, i))
        .join(GAP)
        .trimEnd(),
    ),
  );
  // Notes start under the third column (after seq and time), where the eye already is.
  const indent = Math.min(
    widths.slice(0, 2).reduce((a, b) => a + b + GAP.length, 0),
    24,
  );
  for (const row of rows) {
    const cells = columns.map((_, i) => {
      const cell = row.cells[i];
      const padded = pad(text(cell), i);
      return typeof cell === 'object' && cell.paint ? cell.paint(padded) : padded;
    });
    out.push(cells.join(GAP).trimEnd());
    if (row.note) {
      wrap(clean(row.note), width - indent - 2).forEach((line, i) =>
        out.push(c.dim(`${' '.repeat(indent)}${i === 0 ? '↳' : ' '} ${line}`)),
      );
    }
  }
  return out.join('\n') + '\n';
}

// Control characters other than tab, CR and LF (which RFC 4180 quoting carries) must not reach a
// spreadsheet or a terminal showing the file: NUL truncates cells, ESC and BEL drive terminals.
// eslint-disable-next-line no-control-regex
const CSV_CONTROL = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]/g;

/**
 * RFC 4180 field: quoted when it holds a comma, quote, CR or LF; quotes doubled. Other control
 * characters are written as visible `\u001b` escapes.
 *
 * @example
 * csvField('a,b'); // '"a,b"'
 */
export function csvField(value: unknown): string {
  if (value === undefined || value === null) return '';
  let s = (
    typeof value === 'string' ? value : typeof value === 'number' ? String(value) : JSON.stringify(value)
  ).replace(CSV_CONTROL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  // A cell starting with = + - @ is run as a formula by spreadsheets (CSV injection); make it text.
  if (/^[=+\-@\t\r]/.test(s) && typeof value === 'string') s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** One CSV record, CRLF-terminated (RFC 4180 §2). */
export function csvRow(values: unknown[]): string {
  return values.map(csvField).join(',') + '\r\n';
}

/** `1234567` → `1,234,567`. */
export function groupDigits(n: number): string {
  return Math.round(n)
    .toString()
    .replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** A short duration: `850 ms`, `1.4 s`, `30 s`, `2 min`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 10_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 120_000) return `${Math.round(ms / 1000)} s`;
  return `${Math.round(ms / 60_000)} min`;
}
