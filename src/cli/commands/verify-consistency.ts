import { resolve } from 'node:path';
import { AuditError, verifyConsistency, type ConsistencyResult } from '../../index.js';
import {
  bool,
  CliError,
  execute,
  EXIT_FAILED,
  EXIT_OK,
  str,
  TARGET_OPTIONS,
  UsageError,
  type CommandSpec,
} from '../args.js';
import { colors } from '../format.js';
import type { Io } from '../io.js';
import { readUtf8File } from '../read-text.js';
import { resolveTarget, withTrail } from '../target.js';

/** A signed note is at most 1 MiB (docs/verification.md §5.4); a proof file is a few KB. */
const MAX_FILE_BYTES = 4 * 1024 * 1024;

export const spec: CommandSpec = {
  name: 'verify-consistency',
  usage:
    'verify-consistency <OLD.checkpoint> [NEW.checkpoint] [--proof FILE] [--key VKEY] [--json] [--db PATH] [--tenant ID] [--log NAME]',
  summary: 'Check that the log only appended since a checkpoint saved earlier (consistency proof).',
  description:
    'OLD is a signed checkpoint saved earlier (`auditrail checkpoint > old.checkpoint`). NEW is a later\n' +
    "one: a file, or by default the log's latest checkpoint in the database. Both signatures are checked\n" +
    'with --key (else the key beside the database), and an RFC 9162 consistency proof computed from the\n' +
    'database must lead from the old root to the new one. Without the database, pass --proof FILE, written\n' +
    'by `auditrail prove --consistency OLD.checkpoint -o FILE`; NEW then defaults to the checkpoint in it.\n' +
    'Exit code 1 when the log did not only append (rewritten, rolled back, another log or key).',
  options: {
    proof: {
      type: 'string',
      value: 'FILE',
      help: 'consistency proof file (auditrail-consistency/v1, or a JSON list of base64 hashes); no database',
    },
    key: { type: 'string', value: 'VKEY', help: 'the verifier key you trust (from `auditrail keys show`)' },
    json: { type: 'boolean', help: 'print the result as JSON' },
    ...TARGET_OPTIONS,
  },
  positionals: { min: 1, max: 2, names: '<OLD.checkpoint>' },
  examples: [
    'auditrail verify-consistency old.checkpoint --key "$(cat demo.vkey)"',
    'auditrail prove --consistency old.checkpoint -o consistency.json',
    'auditrail verify-consistency old.checkpoint --proof consistency.json --key "$(cat demo.vkey)"',
  ],
};

function readText(io: Io, file: string): string {
  return readUtf8File(resolve(io.cwd, file), file, MAX_FILE_BYTES);
}

interface ProofFile {
  proof: string[];
  checkpoint?: string;
  key?: string;
}

/** Reads `--proof`: an `auditrail-consistency/v1` object or a bare JSON list of base64 hashes. */
function readProof(io: Io, file: string): ProofFile {
  let v: unknown;
  try {
    v = JSON.parse(readText(io, file));
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw new CliError(`${file} is not JSON`);
  }
  if (Array.isArray(v) && v.every((h) => typeof h === 'string')) return { proof: v };
  const b = v as Record<string, unknown> | null;
  if (
    typeof b !== 'object' ||
    b === null ||
    b['format'] !== 'auditrail-consistency/v1' ||
    !Array.isArray(b['proof']) ||
    !b['proof'].every((h) => typeof h === 'string') ||
    typeof b['checkpoint'] !== 'string' ||
    typeof b['verifier_key'] !== 'string'
  ) {
    throw new CliError(`${file} is not an auditrail-consistency/v1 proof nor a list of base64 hashes`);
  }
  return { proof: b['proof'], checkpoint: b['checkpoint'], key: b['verifier_key'] };
}

/** When OLD names another log of this database: the flags that select it. */
function originHint(note: string, origin: string): string {
  const m = /^auditrail\.local\/t\/([A-Za-z0-9._-]+)\/([A-Za-z0-9._-]+)\n/.exec(note);
  if (!m || `auditrail.local/t/${m[1]}/${m[2]}` === origin) return '';
  return ` (pass --tenant ${m[1]} --log ${m[2]} to check that log)`;
}

function print(io: Io, r: ConsistencyResult, json: boolean, trusted: boolean): number {
  if (json) {
    io.stdout.write(`${JSON.stringify({ ...r, trusted_key: trusted }, null, 2)}\n`);
    return r.ok ? EXIT_OK : EXIT_FAILED;
  }
  const c = colors(io);
  const line = (label: string, cp: ConsistencyResult['old']): string =>
    `${label} ${cp ? `size ${cp.size}, root ${cp.root}` : '(did not verify)'}\n`;
  io.stdout.write(line('old:', r.old) + line('new:', r.new));
  if (r.ok) {
    io.stdout.write(
      `${c.green('OK')}: ${r.log} only appended from size ${r.old?.size} to size ${r.new?.size}\n`,
    );
    if (!trusted) {
      io.stderr.write(
        'note: checked with a key that came with the data; pass --key with your trusted copy to prove who signed it\n',
      );
    }
    return EXIT_OK;
  }
  io.stdout.write(`${c.red('FAILED')}: ${r.log || 'the log'} did not only append\n`);
  for (const f of r.failures) io.stdout.write(`  - ${f}\n`);
  return EXIT_FAILED;
}

export function run(args: string[], io: Io): Promise<number> {
  return execute(spec, args, io, async ({ values, positionals }) => {
    const oldNote = readText(io, positionals[0]!);
    const newFile = positionals[1];
    const key = str(values, 'key');
    const json = bool(values, 'json');
    const proofFile = str(values, 'proof');

    if (proofFile !== undefined) {
      // No database: everything comes from files.
      const p = readProof(io, proofFile);
      const newNote = newFile !== undefined ? readText(io, newFile) : p.checkpoint;
      if (newNote === undefined) throw new UsageError('--proof holds only hashes: pass NEW.checkpoint too');
      const vkey = key ?? p.key;
      if (vkey === undefined) throw new UsageError('--proof holds only hashes: pass --key VKEY too');
      return print(io, verifyConsistency(oldNote, newNote, p.proof, vkey), json, key !== undefined);
    }

    const target = resolveTarget(values, io);
    // With no --tenant/--log, the log is the one OLD names (its origin), not a guess.
    const named = /^auditrail\.local\/t\/([A-Za-z0-9._-]+)\/([A-Za-z0-9._-]+)\n/.exec(oldNote);
    if (named && target.tenantNamed === undefined && target.logNamed === undefined) {
      Object.assign(target, {
        tenant: named[1]!,
        log: named[2]!,
        origin: `auditrail.local/t/${named[1]}/${named[2]}`,
        tenantNamed: named[1]!,
        logNamed: named[2]!,
      });
    }
    return withTrail(target, io, { mustExist: true }, async (trail) => {
      const vkey = key ?? (trail.hasSigningKey() ? trail.verifierKey() : undefined);
      if (vkey === undefined)
        throw new CliError(`no verifier key for ${trail.origin} beside the database: pass --key VKEY`);
      let newNote: string;
      if (newFile !== undefined) {
        newNote = readText(io, newFile);
      } else {
        const latest = await trail.latestCheckpoint();
        if (latest === undefined)
          throw new CliError(`${trail.origin} has no checkpoint yet: run 'auditrail checkpoint' first`);
        newNote = latest;
      }
      let proof: string[] = [];
      let problem: string | undefined;
      try {
        proof = (await trail.proveConsistencyFrom(oldNote, newNote, { verifierKey: vkey })).proof;
      } catch (e) {
        if (!(e instanceof AuditError)) throw e;
        problem = e.message + originHint(oldNote, trail.origin);
      }
      const r = verifyConsistency(oldNote, newNote, proof, vkey);
      if (problem !== undefined) {
        // Without a proof the verifier can only say "does not extend"; the reason is more useful.
        r.failures = r.failures.filter((f) => !/^the (tree of size|new checkpoint \(size)/.test(f));
        r.failures.push(problem);
        r.ok = false;
      }
      return print(io, r, json, key !== undefined);
    });
  });
}
