import { closeSync, openSync, renameSync, writeSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import { BUILTIN_TEMPLATES, REPORT_TYPES, type ReportType } from '../../report/reports/builtin.js';
import { renderCsv } from '../../report/reports/render-csv.js';
import { renderHtmlParts } from '../../report/reports/render-html.js';
import { renderPdf } from '../../report/reports/render-pdf.js';
import { buildReport, reportJson } from '../../report/reports/report.js';
import { MAX_TEMPLATE_BYTES, parseTemplate } from '../../report/reports/template.js';
import { AuditError } from '../../index.js';
import {
  bool,
  CliError,
  execute,
  EXIT_OK,
  oneOf,
  str,
  TARGET_OPTIONS,
  UsageError,
  type CommandSpec,
  type Values,
} from '../args.js';
import { groupDigits } from '../format.js';
import type { Io } from '../io.js';
import { FILTER_OPTIONS, readSelection } from '../query.js';
import { readUtf8File } from '../read-text.js';
import { resolveTarget, withTrail } from '../target.js';

// --type names the report type here; a template's `filters.type` still selects event types.
const { limit: _limit, order: _order, type: _type, subject: _subject, ...FILTERS } = FILTER_OPTIONS;
const FORMATS = ['html', 'pdf', 'csv', 'json'] as const;

export const spec: CommandSpec = {
  name: 'report',
  usage: 'report (--type TYPE | --template FILE.yaml) [--format html|pdf|csv|json] [-o FILE] [filters]',
  summary: 'Write a compliance report (SOC 2, HIPAA, GDPR, EU AI Act, NIST AI RMF) an auditor can re-check.',
  description:
    `Types: ${REPORT_TYPES.join(', ')} (each a template: examples/reports/<type>.yaml).\n` +
    'Every report is built from the events below the latest signed checkpoint and embeds that checkpoint,\n' +
    'the exact query and the evidence proving each event; `auditrail verify-report FILE` re-checks an\n' +
    'HTML or JSON report offline. CSV holds the event table only; PDF is printed from the HTML by Chromium.\n' +
    'The format defaults to the extension of -o, else html.',
  options: {
    type: { type: 'string', value: 'TYPE', help: `the report type: ${REPORT_TYPES.join(', ')}` },
    template: { type: 'string', value: 'FILE', help: 'a report template (YAML) instead of --type' },
    format: { type: 'string', value: 'F', help: 'html, pdf, csv or json' },
    output: {
      type: 'string',
      short: 'o',
      value: 'FILE',
      help: 'the file to write (default: stdout; pdf needs -o)',
    },
    subject: { type: 'string', value: 'ID', help: 'only events concerning this data subject (gdpr-dsar)' },
    bom: { type: 'boolean', help: 'csv: start with a UTF-8 byte order mark (for spreadsheet programs)' },
    sign: { type: 'boolean', help: 'sign a checkpoint of the current log first' },
    ...FILTERS,
    ...TARGET_OPTIONS,
  },
  positionals: { min: 0, max: 0 },
  examples: [
    'auditrail report --type soc2 --since 2026-10-01 --until 2027-01-01 --format pdf -o q4.pdf',
    'auditrail report --type gdpr-dsar --subject cust-8841 -o dsar.html',
    'auditrail report --template examples/reports/summary.yaml --actor acme-support --format json -o r.json',
  ],
};

/** Consecutive text pieces in strings of about 1 MiB (a write each); bytes as they are. */
function* batches(pieces: readonly (string | Buffer)[]): Generator<string | Buffer> {
  let text = '';
  for (const p of pieces) {
    if (typeof p !== 'string') {
      if (text !== '') yield text;
      text = '';
      yield p;
      continue;
    }
    text += p;
    if (text.length >= 1 << 20) {
      yield text;
      text = '';
    }
  }
  if (text !== '') yield text;
}

function formatOf(values: Values, out: string | undefined): (typeof FORMATS)[number] {
  const given = str(values, 'format');
  if (given !== undefined) return oneOf('--format', given, FORMATS);
  const ext = out === undefined ? '' : extname(out).slice(1).toLowerCase();
  return (FORMATS as readonly string[]).includes(ext) ? (ext as (typeof FORMATS)[number]) : 'html';
}

export function run(args: string[], io: Io): Promise<number> {
  return execute(spec, args, io, async ({ values }) => {
    const type = str(values, 'type');
    const file = str(values, 'template');
    if ((type === undefined) === (file === undefined))
      throw new UsageError('report needs one of --type TYPE or --template FILE');
    const template =
      type !== undefined
        ? { type: oneOf<ReportType>('--type', type, REPORT_TYPES) }
        : { name: file!, text: readUtf8File(resolve(io.cwd, file!), file!, MAX_TEMPLATE_BYTES) };
    // The template's filters are defaults: a flag on the command line wins.
    const parsed = parseTemplate(
      'type' in template ? BUILTIN_TEMPLATES[template.type] : template.text,
      'type' in template ? `type:${template.type}` : template.name,
    );
    const merged: Values = { ...parsed.filters };
    for (const k of Object.keys(FILTERS)) if (values[k] !== undefined) merged[k] = values[k];
    const { filter } = readSelection(merged, Date.now());
    const out = str(values, 'output');
    const format = formatOf(values, out);
    if (format === 'pdf' && (out === undefined || out === '-'))
      throw new UsageError('a pdf report needs -o FILE.pdf');
    const subject = str(values, 'subject');
    const sign = bool(values, 'sign');
    return withTrail(resolveTarget(values, io), io, { mustExist: true, readonly: !sign }, async (trail) => {
      const { model, source } = await buildReport(trail, {
        template,
        query: filter,
        ...(subject !== undefined ? { subject } : {}),
        generator: 'auditrail report',
        embedEvidence: format !== 'pdf' && format !== 'csv',
      }).catch((e: unknown) => {
        if (e instanceof AuditError && e.code === 'not_found' && !sign)
          throw new CliError(`${e.message}; pass --sign to sign a checkpoint of the log first`);
        throw e;
      });
      // The HTML goes out as its pieces (tens of megabytes for a large log), never joined whole.
      const pieces: (string | Buffer)[] =
        format === 'html'
          ? renderHtmlParts(model, source)
          : format === 'json'
            ? [reportJson(model, source)]
            : format === 'csv'
              ? [renderCsv(model, { bom: bool(values, 'bom') })]
              : [await renderPdf(model, source)];
      if (out === undefined || out === '-')
        for (const b of batches(pieces)) io.stdout.write(typeof b === 'string' ? b : b.toString('utf8'));
      else {
        const path = resolve(io.cwd, out);
        const tmp = `${path}.${process.pid}.tmp`;
        const fd = openSync(tmp, 'w', 0o600);
        try {
          for (const b of batches(pieces)) {
            const bytes = typeof b === 'string' ? Buffer.from(b) : b;
            for (let at = 0; at < bytes.length;) at += writeSync(fd, bytes, at);
          }
        } finally {
          closeSync(fd);
        }
        renameSync(tmp, path);
        io.stderr.write(
          `wrote ${out}: ${model.title}, ${groupDigits(model.totals.events)} events, report ${model.id}, ` +
            `proved at tree size ${model.tree_size}\n`,
        );
      }
      if (trail.size > model.tree_size)
        io.stderr.write(
          `note: ${groupDigits(trail.size - model.tree_size)} newer entries are not covered by a signed checkpoint; pass --sign to include them\n`,
        );
      return EXIT_OK;
    });
  });
}
