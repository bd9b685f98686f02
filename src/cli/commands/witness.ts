import { resolve } from 'node:path';
import { AuditError, cosignLatest, Witness } from '../../index.js';
import {
  CliError,
  execute,
  EXIT_FAILED,
  EXIT_OK,
  str,
  TARGET_OPTIONS,
  UsageError,
  type CommandSpec,
  type Values,
} from '../args.js';
import type { Io } from '../io.js';
import { readUtf8File } from '../read-text.js';
import { commandLine, resolveTarget, shellQuote, withTrail } from '../target.js';

export const spec: CommandSpec = {
  name: 'witness',
  usage:
    'witness init --dir DIR --name NAME | witness trust VKEY --dir DIR | witness show --dir DIR | ' +
    'witness cosign (--dir DIR | --url URL | --request FILE --dir DIR) [--db PATH] [--tenant ID] [--log NAME]',
  summary: 'A C2SP tlog-witness: cosign checkpoints only when consistent with the last (docs/keys.md).',
  description:
    'init: makes a witness key in DIR (its own files, never the log database) and prints its vkey,\n' +
    'for `verify --witness-key`. trust: adds a log verifier key (`auditrail keys show`) the witness\n' +
    'accepts checkpoints from. show: prints the witness vkey.\n' +
    "cosign: sends the log's latest checkpoint with a consistency proof from the size the witness last\n" +
    'cosigned, to the witness in --dir or at --url (`serve --witness`), and keeps the cosigned checkpoint\n' +
    "in the log's key directory. The witness refuses (exit 1) a log that forked or rolled back and\n" +
    'keeps both checkpoints as evidence in DIR/evidence. --request FILE hands the witness in --dir a\n' +
    'raw add-checkpoint body instead and prints its answer.',
  options: {
    dir: { type: 'string', value: 'DIR', help: 'the witness directory' },
    name: { type: 'string', value: 'NAME', help: 'init: the witness name, e.g. witness.example.com/w1' },
    url: { type: 'string', value: 'URL', help: 'cosign: a witness server (its /add-checkpoint)' },
    request: { type: 'string', value: 'FILE', help: 'cosign: a raw add-checkpoint body' },
    ...TARGET_OPTIONS,
  },
  positionals: { min: 1, max: 2, names: 'subcommand (init, trust, show, cosign)' },
  examples: [
    'auditrail witness init --dir ./witness --name witness.example.com/w1',
    'auditrail witness trust --dir ./witness "$(auditrail keys show)"',
    'auditrail witness cosign --dir ./witness',
    'auditrail verify --witness-key "$(auditrail witness show --dir ./witness)"',
  ],
};

function needDir(values: Values, io: Io, sub: string): string {
  const dir = str(values, 'dir');
  if (dir === undefined) throw new UsageError(`witness ${sub} needs --dir DIR`);
  return resolve(io.cwd, dir);
}

async function post(url: string, body: string): Promise<{ status: number; body: string }> {
  const base = url.replace(/\/+$/, '');
  let res: Response;
  try {
    res = await fetch(`${base}/add-checkpoint`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain; charset=utf-8' },
      body,
      signal: AbortSignal.timeout(30_000),
    });
  } catch (e) {
    throw new CliError(`cannot reach the witness at ${base}: ${(e as Error).message}`);
  }
  return { status: res.status, body: await res.text() };
}

export function run(args: string[], io: Io): Promise<number> {
  return execute(spec, args, io, async ({ values, positionals }) => {
    const sub = positionals[0];
    if (sub === 'init') {
      const dir = needDir(values, io, 'init');
      const name = str(values, 'name');
      if (name === undefined)
        throw new UsageError('witness init needs --name NAME (e.g. witness.example.com/w1)');
      const vkey = Witness.init(dir, name);
      io.stdout.write(`${vkey}\n`);
      io.stderr.write(
        `witness key made in ${dir}; trust a log with: auditrail witness trust --dir ${shellQuote(dir)} "$(auditrail keys show)"\n`,
      );
      return EXIT_OK;
    }
    if (sub === 'show') {
      io.stdout.write(`${Witness.open(needDir(values, io, 'show')).vkey}\n`);
      return EXIT_OK;
    }
    if (sub === 'trust') {
      const vkey = positionals[1];
      if (vkey === undefined)
        throw new UsageError('witness trust needs the log verifier key (auditrail keys show)');
      Witness.open(needDir(values, io, 'trust')).trust(vkey);
      io.stdout.write(`trusted ${vkey}\n`);
      return EXIT_OK;
    }
    if (sub !== 'cosign')
      throw new UsageError(`unknown subcommand 'witness ${sub}' (expected init, trust, show or cosign)`);
    const requestFile = str(values, 'request');
    const url = str(values, 'url');
    if (requestFile !== undefined) {
      const witness = Witness.open(needDir(values, io, 'cosign'));
      const body = readUtf8File(resolve(io.cwd, requestFile), requestFile, 64 * 1024);
      const res = witness.addCheckpoint(body);
      (res.status === 200 ? io.stdout : io.stderr).write(
        res.status === 200 ? res.body : `witness refused (${res.status}): ${res.body}`,
      );
      if (res.evidence) io.stderr.write(`evidence kept: ${res.evidence}\n`);
      return res.status === 200 ? EXIT_OK : EXIT_FAILED;
    }
    if ((url === undefined) === (str(values, 'dir') === undefined)) {
      throw new UsageError('witness cosign needs either --dir DIR (a local witness) or --url URL');
    }
    const witness = url === undefined ? Witness.open(needDir(values, io, 'cosign')) : undefined;
    const target = resolveTarget(values, io);
    // Writes only the cosigned checkpoint in the key directory, never the database.
    return withTrail(target, io, { mustExist: true, readonly: false }, async (trail) => {
      let evidence: string | undefined;
      const submit = async (body: string): Promise<{ status: number; body: string }> => {
        if (url !== undefined) return post(url, body);
        const res = witness!.addCheckpoint(body);
        evidence ??= res.evidence;
        return res;
      };
      try {
        const { note, size } = await cosignLatest(trail, submit);
        io.stdout.write(note);
        io.stderr.write(`checkpoint of size ${size} of ${trail.origin} cosigned and kept\n`);
        return EXIT_OK;
      } catch (e) {
        if (evidence) io.stderr.write(`evidence kept: ${evidence}\n`);
        if (e instanceof AuditError && e.code === 'not_found' && e.message.includes('no checkpoint')) {
          throw new CliError(`${e.message}: ${commandLine(io, target, 'checkpoint', '--sign')}`);
        }
        if (e instanceof AuditError && e.message.includes('(404)')) {
          throw new CliError(
            `${e.message}\nthe witness does not know this log; trust its key there with: auditrail witness trust --dir DIR "${trail.verifierKey()}"`,
          );
        }
        throw e;
      }
    });
  });
}
