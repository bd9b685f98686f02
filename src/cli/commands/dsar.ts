import { renameSync, writeFileSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import { renderHtml } from '../../report/reports/render-html.js';
import { buildReport } from '../../report/reports/report.js';
import { AuditError } from '../../index.js';
import {
  bool,
  CliError,
  execute,
  EXIT_OK,
  str,
  TARGET_OPTIONS,
  UsageError,
  type CommandSpec,
} from '../args.js';
import type { Io } from '../io.js';
import { resolveTarget, withTrail } from '../target.js';

export const spec: CommandSpec = {
  name: 'dsar',
  usage: 'dsar --subject ID -o FILE [--sign]',
  summary: 'Export everything held about a data subject (GDPR Art. 15): JSON plus the GDPR report.',
  description:
    'Writes FILE (JSON, format auditrail-dsar/v1): every event naming the subject in\n' +
    'context.data_subject_ids or where the subject acted as a user, with their disclosed fields,\n' +
    'the approval requests the subject made, and the active legal holds covering those events.\n' +
    'Beside it, FILE with the extension .html: the gdpr-dsar report (auditrail report --type\n' +
    'gdpr-dsar), with its proofs. The report needs a signed checkpoint: --sign signs one first.\n' +
    'Run it before an erasure: what was erased is no longer held, so no longer exported.',
  options: {
    ...TARGET_OPTIONS,
    subject: { type: 'string', value: 'ID', help: 'the data subject' },
    output: {
      type: 'string',
      short: 'o',
      value: 'FILE',
      help: 'the JSON file to write (the report goes beside it as .html)',
    },
    sign: { type: 'boolean', help: 'sign a checkpoint first, so the report covers the newest events' },
  },
  positionals: { min: 0, max: 0 },
  examples: ['auditrail dsar --subject cust-8841 -o cust-8841.json'],
};

function writeAtomic(path: string, bytes: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, bytes, { mode: 0o600 });
  renameSync(tmp, path);
}

export function run(args: string[], io: Io): Promise<number> {
  return execute(spec, args, io, async ({ values }) => {
    const subject = str(values, 'subject');
    if (subject === undefined) throw new UsageError('dsar needs --subject ID');
    const out = str(values, 'output');
    if (out === undefined || out === '-')
      throw new UsageError('dsar needs -o FILE (it writes FILE and FILE.html)');
    const sign = bool(values, 'sign');
    const jsonPath = resolve(io.cwd, out);
    const ext = extname(out);
    const htmlOut = ext === '.json' ? `${out.slice(0, -ext.length)}.html` : `${out}.html`;
    return withTrail(resolveTarget(values, io), io, { mustExist: true, readonly: !sign }, async (trail) => {
      let dsar;
      try {
        dsar = await trail.subjectAccess(subject);
      } catch (e) {
        if (e instanceof AuditError && e.code === 'invalid_argument') throw new CliError(e.message);
        throw e;
      }
      const { model, source } = await buildReport(trail, {
        template: { type: 'gdpr-dsar' },
        query: {},
        subject,
        generator: 'auditrail dsar',
        embedEvidence: true,
      }).catch((e: unknown) => {
        if (e instanceof AuditError && e.code === 'not_found' && !sign)
          throw new CliError(`${e.message}; pass --sign to sign a checkpoint of the log first`);
        throw e;
      });
      writeAtomic(
        jsonPath,
        `${JSON.stringify({ ...dsar, report: { file: htmlOut, id: model.id, tree_size: model.tree_size } }, null, 2)}\n`,
      );
      writeAtomic(resolve(io.cwd, htmlOut), renderHtml(model, source));
      io.stderr.write(
        `wrote ${out}: ${dsar.events.length} events, ${dsar.approvals.length} approval requests, ${dsar.holds.length} active holds about ${subject}\n` +
          `wrote ${htmlOut}: ${model.title}, report ${model.id}, proved at tree size ${model.tree_size}\n`,
      );
      return EXIT_OK;
    });
  });
}
