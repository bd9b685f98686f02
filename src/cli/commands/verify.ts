import { resolve } from 'node:path';
import { AuditError, verifyArchive } from '../../index.js';
import { REBUILDABLE_KINDS, verifyReportJson } from '../../sdk/internal-api.js';
import type { RebuildReport, VerifyReport } from '../../index.js';
import {
  bool,
  CliError,
  execute,
  EXIT_FAILED,
  EXIT_OK,
  str,
  strs,
  TARGET_OPTIONS,
  UsageError,
  type CommandSpec,
} from '../args.js';
import { colors, groupDigits } from '../format.js';
import type { Io } from '../io.js';
import { readUtf8File } from '../read-text.js';
import { progress } from '../progress.js';
import { commandLine, resolveTarget, shellQuote, withTrail } from '../target.js';

export const spec: CommandSpec = {
  name: 'verify',
  usage:
    'verify [--json] [--key VKEY]... [--witness-key VKEY]... [--since-checkpoint | --from-checkpoint FILE] [--rebuild-index] [--archive DIR] [--db PATH] [--tenant ID] [--log NAME]',
  summary: 'Verify the whole log from its stored bytes and list every failure.',
  description:
    'Re-hashes every leaf and disclosure, rebuilds the Merkle tree, checks the stored tiles and every\n' +
    'signed checkpoint, and compares with the last checkpoint handed out (rollback). It does not stop\n' +
    'at the first failure. It also checks the derived rows (query index, tiles, log row, checkpoint rows)\n' +
    'against the verified data. Exit code 1 when anything fails. --key adds a trusted verifier key\n' +
    '(repeatable). --rebuild-index (writes) rebuilds the derived rows from the verified entries when\n' +
    'only derived rows failed, then verifies again.\n' +
    '--since-checkpoint checks only what was appended after the checkpoint in the witness file (the\n' +
    'last one handed out), --from-checkpoint FILE after a signed checkpoint you saved: its signature,\n' +
    'the stored tiles against its root, a consistency proof to the head, and every entry and derived\n' +
    'row after its size. Entries before it are not re-read; the report says from which seq it checked.\n' +
    'A range moved to a cold archive (`auditrail archive`) is reported as archived by the seq of its\n' +
    'archive.created event; --archive DIR checks that archive with the hot log: its manifest is the one\n' +
    'the event names, each file matches its SHA-256, its checkpoint and consistency proof verify, and\n' +
    'every archived event (leaf, disclosures, index row) is verified as if it had never left.\n' +
    '--witness-key requires a valid cosignature by that witness on the latest checkpoint (the cosigned\n' +
    'checkpoint `witness cosign` keeps in the key directory); see docs/keys.md.',
  options: {
    json: { type: 'boolean', help: 'print the report as JSON' },
    key: {
      type: 'string',
      value: 'VKEY',
      multiple: true,
      help: 'trust this C2SP verifier key (see `keys show`)',
    },
    'witness-key': {
      type: 'string',
      value: 'VKEY',
      multiple: true,
      help: "require this witness's cosignature on the latest checkpoint (see `witness init`)",
    },
    'since-checkpoint': {
      type: 'boolean',
      help: "check only entries after the witness file's checkpoint (incremental)",
    },
    'from-checkpoint': {
      type: 'string',
      value: 'FILE',
      help: 'check only entries after this saved signed checkpoint (incremental)',
    },
    archive: {
      type: 'string',
      value: 'DIR',
      help: 'also check the cold archive in DIR (from `auditrail archive`) with the hot log',
    },
    'rebuild-index': {
      type: 'boolean',
      help: 'rebuild the query index, missing tiles and the log row from verified entries (writes)',
    },
    ...TARGET_OPTIONS,
  },
  positionals: { min: 0, max: 0 },
  examples: [
    'auditrail verify',
    'auditrail verify --json --key "$(cat demo.vkey)" | jq .failures',
    'auditrail verify --rebuild-index',
    'auditrail verify --since-checkpoint',
    'auditrail verify --archive archive/2025',
    'auditrail checkpoint > last.checkpoint && auditrail verify --from-checkpoint last.checkpoint',
  ],
};

function human(r: VerifyReport, io: Io): string {
  const c = colors(io);
  const lines = [
    `log:         ${r.log}`,
    `size:        ${groupDigits(r.size)} entries`,
    `root:        ${r.root}`,
    ...(r.verified_from !== undefined
      ? [
          `checked:     seq ${groupDigits(r.verified_from)} onward (entries before it were not re-read: the trusted checkpoint vouches for them)`,
        ]
      : []),
    `checkpoints: ${r.checkpoints_verified} verified${r.unsigned_tail > 0 ? `, ${groupDigits(r.unsigned_tail)} entries after the newest one (not yet signed)` : ''}`,
  ];
  for (const a of r.archived ?? []) {
    lines.push(
      `archived:    seq ${groupDigits(a.from)}..${groupDigits(a.to - 1)} by seq ${groupDigits(a.by_seq)} (archive.created; check the files with --archive DIR)`,
    );
  }
  if (r.redactions.length > 0) {
    // One line per erasure event: what it erased is reported as such, not as tampering.
    const by = new Map<number, Set<number>>();
    for (const x of r.redactions) by.set(x.by_seq, (by.get(x.by_seq) ?? new Set()).add(x.seq));
    lines.push(`erased:      ${r.redactions.length} fields (by data.erased / retention.purged events)`);
    const shown = [...by].sort((a, b) => a[0] - b[0]);
    for (const [seq, of] of shown.slice(0, 20)) {
      const seqs = [...of].sort((a, b) => a - b);
      const list = seqs.slice(0, 8).join(', ') + (seqs.length > 8 ? ` and ${seqs.length - 8} more` : '');
      lines.push(
        `             erased by seq ${seq}: fields of ${seqs.length === 1 ? 'entry' : 'entries'} ${list}`,
      );
    }
    if (shown.length > 20) lines.push(`             and ${shown.length - 20} more erasure events`);
  }
  if (r.ok) {
    lines.push(r.size === 0 ? c.green('OK (the log is empty: nothing recorded yet)') : c.green('OK'));
  } else {
    lines.push(c.red(`FAILED: ${r.failures.length} failure${r.failures.length === 1 ? '' : 's'}`));
    const seqWidth = Math.max(3, ...r.failures.map((f) => String(f.seq ?? '-').length));
    const kindWidth = Math.max(...r.failures.map((f) => f.kind.length));
    for (const f of r.failures) {
      lines.push(
        `  seq ${String(f.seq ?? '-').padStart(seqWidth)}  ${c.red(f.kind.padEnd(kindWidth))}  ${f.detail}`,
      );
    }
  }
  return lines.join('\n') + '\n';
}

function rebuildSummary(r: RebuildReport): string {
  const b = r.rebuilt;
  const parts = [
    `${groupDigits(b.index_rows)} index row${b.index_rows === 1 ? '' : 's'} written`,
    `${groupDigits(b.index_rows_removed)} removed`,
    `${groupDigits(b.tiles)} tile${b.tiles === 1 ? '' : 's'} written`,
  ];
  if (b.head) parts.push('log head reset');
  if (b.checkpoints > 0) parts.push(`${b.checkpoints} checkpoint restored from the witness file`);
  return `rebuilt: ${parts.join(', ')} (${r.before.failures.length} failure${r.before.failures.length === 1 ? '' : 's'} before)\n`;
}

const MAX_CHECKPOINT_BYTES = 64 * 1024;
function readCheckpoint(io: Io, file: string): string {
  return readUtf8File(resolve(io.cwd, file), file, MAX_CHECKPOINT_BYTES);
}

export function run(args: string[], io: Io): Promise<number> {
  return execute(spec, args, io, async ({ values }) => {
    const trustedKeys = strs(values, 'key');
    const witnessKeys = strs(values, 'witness-key');
    const rebuild = bool(values, 'rebuild-index');
    const fromFile = str(values, 'from-checkpoint');
    const archiveDir = str(values, 'archive');
    if (archiveDir !== undefined && (rebuild || fromFile !== undefined || bool(values, 'since-checkpoint')))
      throw new UsageError(
        '--archive verifies the whole log with the archive: drop --rebuild-index / --since-checkpoint / --from-checkpoint',
      );
    if (fromFile !== undefined && bool(values, 'since-checkpoint'))
      throw new UsageError('--since-checkpoint and --from-checkpoint cannot be combined');
    if (rebuild && (fromFile !== undefined || bool(values, 'since-checkpoint')))
      throw new UsageError(
        '--rebuild-index verifies the whole log: drop --since-checkpoint / --from-checkpoint',
      );
    const since: string | true | undefined =
      fromFile !== undefined
        ? readCheckpoint(io, fromFile)
        : bool(values, 'since-checkpoint')
          ? true
          : undefined;
    const target = resolveTarget(values, io);
    // Verifying only reads; --rebuild-index is the one mode that writes (derived rows only).
    return withTrail(target, io, { mustExist: true, readonly: !rebuild }, async (trail) => {
      const bar = progress(io, rebuild ? 'rebuilding' : 'verifying');
      let report: VerifyReport;
      let rebuilt: RebuildReport | null = null;
      try {
        const onProgress = (done: number, total: number): void => bar.update(done, total);
        if (rebuild) {
          rebuilt = await trail.rebuildIndex({ onProgress, trustedKeys });
          report = rebuilt.after ?? rebuilt.before;
        } else if (archiveDir !== undefined) {
          report = await verifyArchive(trail, resolve(io.cwd, archiveDir), { onProgress, trustedKeys });
        } else {
          report = await trail.verify({
            onProgress,
            trustedKeys,
            ...(witnessKeys.length > 0 ? { witnessKeys } : {}),
            ...(since !== undefined ? { sinceCheckpoint: since } : {}),
          });
        }
      } catch (e) {
        // A malformed --key is the user's value that is wrong: a usage error.
        if (
          trustedKeys.length > 0 &&
          e instanceof AuditError &&
          e.code === 'invalid_argument' &&
          e.message.startsWith('not a verifier key')
        )
          throw new UsageError(`--key: ${e.message}`);
        if (e instanceof AuditError && e.message.startsWith('not a witness key'))
          throw new UsageError(`--witness-key: ${e.message}`);
        // A checkpoint that does not verify is a failed verification (exit 1), not a usage error.
        if (e instanceof AuditError && e.message.startsWith('the trusted checkpoint'))
          throw new CliError(`${fromFile ?? 'the witness file'}: ${e.message}`);
        throw e;
      } finally {
        bar.end();
      }
      if (report.size === 0 && !bool(values, 'json'))
        io.stderr.write(`note: ${report.log} is empty (check --tenant and --log)\n`);
      if (rebuilt && !bool(values, 'json')) {
        if (rebuilt.refused) io.stderr.write(`not rebuilt: ${rebuilt.refused}\n`);
        else if (rebuilt.before.ok) io.stderr.write('nothing to rebuild: every derived row verifies\n');
        else io.stderr.write(rebuildSummary(rebuilt));
      }
      const json = verifyReportJson(report);
      if (rebuilt) {
        json['rebuild'] = {
          refused: rebuilt.refused,
          rebuilt: rebuilt.rebuilt,
          failures_before: rebuilt.before.failures.map((f) => ({
            seq: f.seq,
            kind: f.kind,
            detail: f.detail,
          })),
        };
      }
      io.stdout.write(bool(values, 'json') ? `${JSON.stringify(json, null, 2)}\n` : human(report, io));
      if (!rebuild && !report.ok && report.failures.every((f) => REBUILDABLE_KINDS.has(f.kind))) {
        io.stderr.write(
          `every failure is in a derived row; rebuild them from the verified entries with:\n  ${commandLine(io, target, 'verify', '--rebuild-index', ...trustedKeys.flatMap((k) => ['--key', shellQuote(k)]))}\n`,
        );
      }
      return report.ok ? EXIT_OK : EXIT_FAILED;
    });
  });
}
