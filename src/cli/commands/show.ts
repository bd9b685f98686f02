import { CliError, execute, EXIT_OK, TARGET_OPTIONS, type CommandSpec } from '../args.js';
import type { Io } from '../io.js';
import { presentEvent } from '../render.js';
import { commandLine, resolveTarget, withTrail } from '../target.js';

export const spec: CommandSpec = {
  name: 'show',
  usage: 'show <seq|event_id> [--db PATH] [--tenant ID] [--log NAME]',
  summary: 'Print one event as JSON: the stored fields plus seq, ts, leaf_hash and log.',
  description:
    'A reference of digits only is a seq; anything else is an event_id. Exit code 1 when there is no such event.',
  options: { ...TARGET_OPTIONS },
  positionals: { min: 1, max: 1, names: '<seq|event_id>' },
  examples: ['auditrail show 12', 'auditrail show 0197a3f0-6a4e-7c1d-9b2e-3f4a5b6c7d8e'],
};

export function run(args: string[], io: Io): Promise<number> {
  return execute(spec, args, io, async ({ values, positionals }) => {
    const ref = positionals[0]!;
    const key = /^\d{1,15}$/.test(ref) ? Number(ref) : ref;
    const target = resolveTarget(values, io);
    return withTrail(target, io, { mustExist: true }, async (trail) => {
      const event = await trail.get(key);
      if (!event) {
        throw new CliError(
          `no event with ${typeof key === 'number' ? 'seq' : 'event_id'} ${ref} in ${trail.origin} (size ${trail.size})`,
        );
      }
      io.stdout.write(`${JSON.stringify(presentEvent(event), null, 2)}\n`);
      // stdout stays JSON; the erasures are said in words beside it, one line per erasure event.
      const by = new Map<number | null, string[]>();
      for (const x of event.erased ?? [])
        by.set(x.by_seq, [...(by.get(x.by_seq) ?? []), x.pointer === '' ? '(body)' : x.pointer]);
      for (const [seq, pointers] of by)
        io.stderr.write(
          `erased by seq ${seq ?? '?'}: ${pointers.join(', ')}` +
            (seq !== null ? ` (${commandLine(io, target, 'show', String(seq))})\n` : '\n'),
        );
      const a = event.archived;
      if (a)
        io.stderr.write(
          `archived in seq ${a.from}..${a.to - 1} by seq ${a.by_seq} (manifest SHA-256 ${a.manifest_sha256}): ` +
            `its fields are in that archive's Parquet files (${commandLine(io, target, 'show', String(a.by_seq))})\n`,
        );
      return EXIT_OK;
    });
  });
}
