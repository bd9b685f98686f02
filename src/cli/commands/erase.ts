import { resolve } from 'node:path';
import { ArchivedDataError, AuditError, type ArchiveSearch } from '../../index.js';
import {
  bool,
  CliError,
  strs,
  execute,
  EXIT_OK,
  str,
  TARGET_OPTIONS,
  UsageError,
  type CommandSpec,
} from '../args.js';
import type { Io } from '../io.js';
import { commandLine, resolveTarget, shellQuote, withTrail, type Target } from '../target.js';

export const spec: CommandSpec = {
  name: 'erase',
  usage: 'erase --subject ID --reason TEXT [--by NAME] [--archive DIR]... [--dry-run] [--json]',
  summary: "Erase a data subject's personal data (GDPR Art. 17) and record the erasure.",
  description:
    'Deletes the plaintext of every disclosure of the events naming the subject in\n' +
    "context.data_subject_ids, and a user actor's id and name where the subject acted, then\n" +
    'records one data.erased event naming each erased field by seq, pointer and digest (never a\n' +
    'value) with who asked and why. Leaves and the tree are untouched: every proof stays valid and\n' +
    "verify reports the fields as erased by that event's seq. Refused, with nothing written, when\n" +
    'an active legal hold covers any event concerned (auditrail hold list). --dry-run lists what\n' +
    'would be erased and writes nothing.\n' +
    "Archived ranges (auditrail archive) are out of the hot database's reach: while any exists, the\n" +
    'erasure is refused, naming each archive, unless --archive gives the directory of every one and\n' +
    'none holds data about the subject. Refused without --archive, it prints the same command with\n' +
    '--archive for each archive where `auditrail archive` wrote it (or says the directory is gone).\n' +
    'When an archive holds such data, the fix printed is: restore it, erase, then archive the range\n' +
    'again.',
  options: {
    ...TARGET_OPTIONS,
    subject: { type: 'string', value: 'ID', help: 'the data subject (or user) whose data is erased' },
    reason: { type: 'string', value: 'TEXT', help: 'why (recorded; write no personal data here)' },
    by: { type: 'string', value: 'NAME', help: 'who asked (recorded as the actor; default $USER)' },
    archive: {
      type: 'string',
      value: 'DIR',
      multiple: true,
      help: 'an archive of this log to search for the subject (one per archived range)',
    },
    'dry-run': { type: 'boolean', help: 'list what would be erased, write nothing' },
    json: { type: 'boolean', help: 'print the result as JSON' },
  },
  positionals: { min: 0, max: 0 },
  examples: [
    'auditrail erase --subject cust-8841 --reason "DSR-2026-14" --dry-run',
    'auditrail erase --subject cust-8841 --reason "DSR-2026-14" --by dpo@acme',
    'auditrail erase --subject cust-8841 --reason "DSR-2026-14" --archive archive/2025',
  ],
};

export function run(args: string[], io: Io): Promise<number> {
  return execute(spec, args, io, async ({ values }) => {
    const subject = str(values, 'subject');
    if (subject === undefined) throw new UsageError('erase needs --subject ID');
    const reason = str(values, 'reason');
    if (reason === undefined) throw new UsageError('erase needs --reason TEXT');
    const dryRun = bool(values, 'dry-run');
    const by = str(values, 'by') ?? io.env['USER'] ?? 'operator';
    const archives = strs(values, 'archive').map((d) => resolve(io.cwd, d));
    const target = resolveTarget(values, io);
    return withTrail(target, io, { mustExist: true, readonly: dryRun }, async (trail) => {
      let r;
      try {
        r = await trail.erase({ subject }, { reason, requestedBy: by, dryRun, archives });
      } catch (e) {
        if (e instanceof ArchivedDataError)
          throw new CliError(archiveHint(io, target, e, [subject, reason, by], dryRun));
        if (e instanceof AuditError && (e.code === 'conflict' || e.code === 'invalid_argument'))
          throw new CliError(e.message);
        throw e;
      }
      if (bool(values, 'json')) {
        io.stdout.write(`${JSON.stringify({ log: trail.origin, ...r }, null, 2)}\n`);
        return EXIT_OK;
      }
      const lines = r.erased.map(
        (x) => `  seq ${x.seq}  ${x.type}  ${x.pointer === '' ? '(body)' : x.pointer}`,
      );
      for (const a of r.archives_searched)
        io.stdout.write(
          `searched archive ${shown(io, a.dir)} (seq ${a.from}..${a.to - 1}, archive.created at seq ${a.by_seq}): nothing about ${subject}\n`,
        );
      if (r.erased.length === 0)
        io.stdout.write(`nothing held about ${subject} in ${trail.origin} is left to erase\n`);
      else if (dryRun)
        io.stdout.write(
          `would erase ${r.erased.length} field${r.erased.length === 1 ? '' : 's'} of ${r.events} event${r.events === 1 ? '' : 's'} in ${trail.origin} (dry run, nothing written):\n${lines.join('\n')}\n`,
        );
      else
        io.stdout.write(
          `erased ${r.erased.length} field${r.erased.length === 1 ? '' : 's'} of ${r.events} event${r.events === 1 ? '' : 's'} in ${trail.origin}, recorded as data.erased at seq ${r.seq}:\n${lines.join('\n')}\n`,
        );
      return EXIT_OK;
    });
  });
}

/** Where a directory is shown: relative to the cwd when inside it, quoted for the shell. */
function shown(io: Io, dir: string): string {
  return shellQuote(dir.startsWith(io.cwd + '/') ? dir.slice(io.cwd.length + 1) : dir);
}

/**
 * The refusal, with the fix as commands that work when pasted. Archives not searched: the same
 * erasure with `--archive` for each, at the directory given or the one its `archive.created`
 * event records (when it still holds the archive; else that is said). Archives holding the
 * subject's data: archiving goes on from the end of the last archived range, so every archive
 * from the first one holding such data on is restored (the latest first); then the erasure; then
 * one archive of the whole range again.
 */
function archiveHint(
  io: Io,
  target: Target,
  e: ArchivedDataError,
  [subject, reason, by]: [string, string, string],
  dryRun: boolean,
): string {
  /** The same erasure, searching the archives in `dirs`. */
  const eraseLine = (dirs: readonly string[], extra: readonly string[] = []): string =>
    commandLine(
      io,
      target,
      'erase',
      '--subject',
      shellQuote(subject),
      '--reason',
      shellQuote(reason),
      '--by',
      shellQuote(by),
      ...dirs.flatMap((d) => ['--archive', shown(io, d)]),
      ...extra,
    );
  const unsearched = e.archives.filter((a) => a.dir === null);
  if (unsearched.length > 0) {
    const lost = unsearched.filter((a) => !a.location_exists);
    if (lost.length > 0) {
      return [
        e.message,
        ...lost.map((a) =>
          a.location === null
            ? `the archive of seq ${a.from}..${a.to - 1} (archive.created at seq ${a.by_seq}) did not record its directory: give it with --archive DIR`
            : `the archive of seq ${a.from}..${a.to - 1} (archive.created at seq ${a.by_seq}) was written to ${a.location}, which no longer holds it: give where it is now with --archive DIR`,
        ),
        `(one --archive per archived range${e.archives.length > 1 ? `: ${e.archives.length} of them` : ''})`,
      ].join('\n');
    }
    const search = eraseLine(
      e.archives.map((a) => a.dir ?? a.location!),
      dryRun ? ['--dry-run'] : [],
    );
    return [
      e.message,
      `to search ${e.archives.length === 1 ? 'the archive' : 'every archive'} where it was written:`,
      `  ${search}`,
    ].join('\n');
  }
  const first = e.archives.findIndex((a) => (a.seqs?.length ?? 0) > 0);
  const kept = e.archives.slice(0, first) as (ArchiveSearch & { dir: string })[];
  const restored = e.archives.slice(first) as (ArchiveSearch & { dir: string })[];
  const last = restored[restored.length - 1]!;
  const erase = eraseLine(kept.map((a) => a.dir));
  return [
    e.message.split('\n').slice(0, -1).join('\n'),
    'to erase it: restore, erase, then archive again (into a new directory):',
    ...[...restored].reverse().map((a) => `  ${commandLine(io, target, 'restore', shown(io, a.dir))}`),
    `  ${erase}`,
    `  ${commandLine(io, target, 'archive', '--before', last.rearchive_before, '-o', shown(io, `${restored[0]!.dir}-erased`))}`,
  ].join('\n');
}
