import {
  AuditError,
  listLogs,
  openAuditTrail,
  retireSigningKey,
  rotateSigningKey,
  signingKeys,
  type AuditTrail,
  type RotationStep,
} from '../../index.js';
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
import { commandLine, resolveTarget, withTrail, type Target } from '../target.js';

export const spec: CommandSpec = {
  name: 'keys',
  usage:
    'keys show [--all] | keys rotate [--by NAME] | keys retire [--by NAME] [--db PATH] [--tenant ID] [--log NAME]',
  summary: "Print the log's verifier key; rotate the signing key (docs/keys.md).",
  description:
    'show: the first key of the log in C2SP vkey form (<name>+<key id>+<base64 Ed25519 key>): give it\n' +
    'to auditors out of band; `verify --key` follows the chain of later keys from it. --all lists every\n' +
    'key with its status and the seqs of its key.added / key.retired events. It only reads.\n' +
    'rotate: makes a new key and records `key.added` in every log of the database, signed by the\n' +
    'current key and the new one; from then on both sign checkpoints (the overlap).\n' +
    'retire: records `key.retired` for the older key (signed by the newer), signs a last checkpoint\n' +
    'with both, and the older key stops signing. Proofs made under it keep verifying with its vkey.\n' +
    'With $AUDITRAIL_KEY_PASSPHRASE set, rotate writes the new key file encrypted under it.',
  options: {
    all: { type: 'boolean', help: 'show: every key, with status and announcements' },
    by: { type: 'string', value: 'NAME', help: 'rotate/retire: who does it (recorded as the actor)' },
    ...TARGET_OPTIONS,
  },
  positionals: { min: 1, max: 1, names: 'subcommand (show, rotate, retire)' },
  examples: [
    'auditrail keys show > demo.vkey',
    'auditrail verify-proof proof.json --key "$(cat demo.vkey)"',
    'auditrail keys rotate --by alice',
    'auditrail keys retire --by alice',
  ],
};

async function show(target: Target, io: Io, all: boolean): Promise<number> {
  return withTrail(target, io, { mustExist: true, readonly: true }, async (trail) => {
    try {
      if (!all) {
        const first = (await signingKeys(trail))[0];
        io.stdout.write(`${first?.vkey ?? trail.verifierKey()}\n`);
        return EXIT_OK;
      }
      const list = await signingKeys(trail);
      if (list.length === 0) trail.verifierKey(); // says there is no key yet
      for (const k of list) {
        const notes = [
          k.added_seq !== null
            ? `added at seq ${k.added_seq}`
            : k.generation === list[0]?.generation
              ? 'first key'
              : 'not announced in this log',
          ...(k.retired_seq !== null ? [`retired at seq ${k.retired_seq}`] : []),
        ];
        io.stdout.write(`${k.generation}  ${k.status.padEnd(7)}  ${k.vkey}  (${notes.join(', ')})\n`);
      }
    } catch (e) {
      if (!(e instanceof AuditError) || e.code !== 'key_failure') throw e;
      const signed = (await trail.latestCheckpoint()) !== undefined;
      throw new CliError(
        signed
          ? `${e.message}, but ${trail.origin} has signed checkpoints: restore the key file; a new key would not verify them`
          : `${e.message}; sign the first checkpoint with: ${commandLine(io, target, 'checkpoint', '--sign')}`,
      );
    }
    return EXIT_OK;
  });
}

/** Every log of the database: they share one key directory, so a rotation covers them all. */
async function allTrails(target: Target): Promise<AuditTrail[]> {
  const logs = await listLogs({ db: target.db });
  if (logs.length === 0) throw new CliError(`the database ${target.db} holds no log yet`);
  const trails: AuditTrail[] = [];
  try {
    for (const l of logs)
      trails.push(
        await openAuditTrail({
          db: target.db,
          tenant: l.tenant,
          log: l.log,
          checkpointIntervalMs: 0,
          writeThread: false,
        }),
      );
  } catch (e) {
    await Promise.all(trails.map((t) => t.close()));
    throw e;
  }
  return trails;
}

function printSteps(io: Io, what: string, steps: readonly RotationStep[]): void {
  for (const s of steps) {
    const size = /^[^\n]*\n(\d+)\n/.exec(s.checkpoint)?.[1] ?? '?';
    io.stdout.write(
      `${s.log}: ${what} key ${s.generation} ${s.seq === null ? '(already recorded)' : `at seq ${s.seq}`}; checkpoint of size ${size} signed\n`,
    );
  }
}

export function run(args: string[], io: Io): Promise<number> {
  return execute(spec, args, io, async ({ values, positionals }) => {
    const sub = positionals[0];
    const target = resolveTarget(values, io);
    if (sub === 'show') return show(target, io, bool(values, 'all'));
    if (sub !== 'rotate' && sub !== 'retire') {
      throw new UsageError(`unknown subcommand 'keys ${sub}' (expected show, rotate or retire)`);
    }
    const by = str(values, 'by');
    const trails = await allTrails(target);
    try {
      if (sub === 'rotate') {
        const passphrase = io.env['AUDITRAIL_KEY_PASSPHRASE'];
        const steps = await rotateSigningKey(trails, {
          ...(by !== undefined ? { by } : {}),
          ...(passphrase ? { passphrase } : {}),
        });
        printSteps(io, 'announced', steps);
        io.stdout.write(
          `new key: ${steps[0]?.vkey ?? ''}\nboth keys sign until: ${commandLine(io, target, 'keys', 'retire')}\n`,
        );
      } else {
        const steps = await retireSigningKey(trails, by !== undefined ? { by } : {});
        printSteps(io, 'retired', steps);
      }
    } finally {
      await Promise.all(trails.map((t) => t.close()));
    }
    return EXIT_OK;
  });
}
