/**
 * A report's events as CSV (RFC 4180: CRLF line ends, fields with a comma, quote, CR or LF
 * quoted, quotes doubled), UTF-8 with an optional byte order mark for spreadsheet programs. Safe
 * against formula injection (OWASP "CSV Injection"): a cell starting with `=`, `+`, `-`, `@`, tab
 * or CR is prefixed with `'`, so a spreadsheet shows it as text and never evaluates it.
 */
import type { ReportModel } from './model.js';

const FORMULA = /^[=+\-@\t\r]/;

/**
 * One CSV field.
 *
 * @example
 * csvCell('=HYPERLINK("http://x")'); // '"\'=HYPERLINK(""http://x"")"'
 */
export function csvCell(value: string): string {
  const v = FORMULA.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

/**
 * The events of the report's first timeline section, one row each, with a header row.
 *
 * @example
 * writeFileSync('q4.csv', renderCsv(model, { bom: true }));
 */
export function renderCsv(model: ReportModel, options: { bom?: boolean } = {}): string {
  const timeline = model.sections.find((s) => s.kind === 'timeline');
  const header = ['seq', 'time', 'type', 'actor', 'action', 'target', 'status', 'flags', 'detail'];
  const lines = [header.join(',')];
  for (const r of timeline?.events ?? [])
    lines.push(
      [String(r.seq), r.ts, r.type, r.actor, r.action, r.target, r.status, r.flags.join('; '), r.detail]
        .map(csvCell)
        .join(','),
    );
  return `${options.bom ? '\ufeff' : ''}${lines.join('\r\n')}\r\n`;
}
