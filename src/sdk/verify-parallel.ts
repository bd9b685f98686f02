/**
 * Full verification on worker threads (DESIGN §3 "Verify", issue 11): the log is split into
 * aligned segments (planSegments); each thread verifies segments over its own read-only
 * connection (SQLite WAL lets readers run side by side) and returns their subtree roots; this
 * thread joins them in order into the whole tree (LogVerifier.absorb), which checks the signed
 * heads and the tiles of the nodes above the segments. A segment with any failure, or anything
 * the join cannot decide exactly, makes the caller verify sequentially instead, so the report,
 * its failures and their order are always those of the single-thread verification.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { ApprovalCheck, type ApprovalFact, type ArchiveClaim, type LogVerifier } from '../core/verify-log.js';
import { AuditError } from '../errors.js';
import type { SegmentJob, SegmentOutcome } from './verify-segment.js';
import { planSegments } from './verify-segment.js';

export type VerifyRequest =
  | { op: 'open'; id: number; run: number; location: string }
  | { op: 'segment'; id: number; run: number; location: string; job: SegmentJob }
  | { op: 'executions'; id: number; run: number; parents: string[] }
  | { op: 'end'; id: number; run: number };

/** A request before it is numbered. */
type Unsent = VerifyRequest extends infer R ? (R extends unknown ? Omit<R, 'id'> : never) : never;

export interface VerifyReply {
  id: number;
  ok: boolean;
  outcome?: SegmentOutcome;
  facts?: ApprovalFact[];
  error?: string;
}

/** Longest segment (a power of two): 2^16 entries, a few MB of rows at a time. */
const MAX_SEGMENT = 65_536;
/** Below this many entries a verification stays on this thread (starting threads costs more). */
export const PARALLEL_MIN_ENTRIES = 32_768;
/** At most this many verification threads. */
const MAX_THREADS = 4;

/** One verification thread; requests are answered in order. */
class VerifyThread {
  private readonly worker: Worker;
  private nextId = 1;
  private readonly waiters = new Map<
    number,
    { resolve: (r: VerifyReply) => void; reject: (e: unknown) => void }
  >();
  dead = false;

  constructor(onDeath: (t: VerifyThread) => void) {
    const self = new URL(import.meta.url);
    // From source (tests, tsx) the worker is TypeScript: register tsx inside it first.
    this.worker = self.pathname.endsWith('.ts')
      ? new Worker(
          `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(
            new URL('./verify-worker.ts', self).href,
          )}); }).catch((e) => setImmediate(() => { throw e; }));`,
          { eval: true },
        )
      : new Worker(new URL('./verify-worker.js', self));
    this.worker.unref();
    const fail = (e: unknown): void => {
      if (this.dead) return;
      this.dead = true;
      onDeath(this);
      const why = e instanceof Error ? e.message : String(e);
      for (const w of this.waiters.values())
        w.reject(new AuditError('store_failure', `verification thread stopped: ${why}`, { cause: e }));
      this.waiters.clear();
    };
    this.worker.on('message', (m: VerifyReply) => {
      const w = this.waiters.get(m.id);
      if (!w) return;
      this.waiters.delete(m.id);
      if (this.waiters.size === 0) this.worker.unref();
      if (m.ok) w.resolve(m);
      else w.reject(new AuditError('store_failure', `verification thread: ${m.error ?? 'failed'}`));
    });
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`exit code ${code}`)));
  }

  call(req: Unsent): Promise<VerifyReply> {
    if (this.dead) return Promise.reject(new AuditError('store_failure', 'verification thread stopped'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiters.set(id, { resolve, reject });
      // Keep the process alive while a request is in flight; idle threads never do.
      this.worker.ref();
      this.worker.postMessage({ ...req, id });
    });
  }
}

/** Threads kept for the process (idle ones do not keep it alive), started on first use. */
const pool: VerifyThread[] = [];
let nextRun = 1;

function threadsFor(n: number): VerifyThread[] {
  while (pool.length < n) {
    pool.push(
      new VerifyThread((dead) => {
        const i = pool.indexOf(dead);
        if (i >= 0) pool.splice(i, 1);
      }),
    );
  }
  return pool.slice(0, n);
}

/**
 * Threads to verify `entries` entries with: `requested` when given (0 or 1: none), else
 * `AUDITRAIL_VERIFY_THREADS` when set, else the cores available (at most 4) for a log of at
 * least {@link PARALLEL_MIN_ENTRIES} entries (a quarter of that once threads were started). An explicit
 * count is used for any size (tests).
 */
export function verifyThreads(entries: number, requested: number | undefined): number {
  const env = process.env['AUDITRAIL_VERIFY_THREADS'];
  const explicit = requested ?? (env !== undefined && env !== '' ? Number(env) : undefined);
  if (explicit !== undefined) {
    if (!Number.isSafeInteger(explicit) || explicit < 0 || explicit > 64) {
      throw new AuditError('invalid_argument', `threads must be an integer from 0 to 64, got ${explicit}`);
    }
    return entries > 1 && explicit > 1 ? explicit : 0;
  }
  // Threads already started (an earlier verification in this process) pay off sooner.
  if (entries < (pool.length > 0 ? PARALLEL_MIN_ENTRIES / 4 : PARALLEL_MIN_ENTRIES)) return 0;
  return Math.min(MAX_THREADS, availableParallelism());
}

/**
 * A parallel run announced before its segments are known: its threads open their read-only
 * connections while this thread still reads the head, checkpoints and tiles. Always ended with
 * {@link endParallelRun}, used or not.
 */
export interface ParallelRun {
  readonly run: number;
  readonly location: string;
  readonly threads: readonly VerifyThread[];
}

/** Starts `threads` threads (or takes started ones) and has each open `location` for a new run. */
export function startParallelRun(location: string, threads: number): ParallelRun {
  const r = { run: nextRun++, location, threads: threadsFor(threads) };
  // A failed open shows again on the run's first segment, which then verifies sequentially.
  for (const t of r.threads) t.call({ op: 'open', run: r.run, location }).catch(() => undefined);
  return r;
}

/** Closes the run's connections on its threads. */
export async function endParallelRun(r: ParallelRun): Promise<void> {
  await Promise.allSettled(r.threads.map((t) => t.call({ op: 'end', run: r.run })));
}

/** Counts of parallel runs and of those verified again sequentially (tests, benchmarks). */
export const parallelVerifyStats = { runs: 0, sequentialAgain: 0 };

/** What the parallel run hands back to verifyStoredLog. */
export interface ParallelOutcome {
  /** The last entry checked (the log row's `last_ts` check). */
  last: { seq: number; ts: string } | null;
}

/**
 * Verifies [from, end) of the log on `threads` threads into `verifier` (built as for a sequential
 * run). Null when the caller must verify sequentially instead (a failure was found, or a thread
 * could not run); the caller then uses a new verifier.
 */
export async function verifyInParallel(args: {
  run: ParallelRun;
  logId: number;
  origin: string;
  from: number;
  end: number;
  /** The stored head's size (its complete tiles are read in runs). */
  headSize: number;
  verifier: LogVerifier;
  onProgress?: ((done: number, total: number) => void) | undefined;
  archived?: readonly ArchiveClaim[];
}): Promise<ParallelOutcome | null> {
  parallelVerifyStats.runs++;
  const outcome = await runSegments(args);
  if (!outcome) parallelVerifyStats.sequentialAgain++;
  return outcome;
}

/** The last long segments are cut into this many short ones (see {@link tailedSegments}). */
const TAIL_SPLIT = 8;

/**
 * {@link planSegments} of at most `max` entries, except that the last `threads × max` entries or
 * so go in segments of `max / TAIL_SPLIT`: threads take segments as they finish, and with long
 * segments to the end one thread would still work on its last one long after the others ran out
 * (on the 1M-entry bench log, about half a second of a 7 s run with two threads).
 *
 * @example
 * tailedSegments(0, 1_000_000, 65_536, 2) // 13 segments of 65,536, then 19 of at most 8,192
 */
export function tailedSegments(from: number, end: number, max: number, threads: number): [number, number][] {
  const short = Math.max(1, max / TAIL_SPLIT);
  const tail = Math.floor((end - threads * max) / max) * max;
  if (short === max || tail <= from) return planSegments(from, end, max);
  return [...planSegments(from, tail, max), ...planSegments(tail, end, short)];
}

async function runSegments(args: Parameters<typeof verifyInParallel>[0]): Promise<ParallelOutcome | null> {
  const { from, end, verifier } = args;
  const total = end - from;
  // Several segments per thread balance the load; none longer than MAX_SEGMENT.
  const { run, location, threads } = args.run;
  let max = 1;
  while (max * 2 <= Math.max(1, Math.ceil(total / (threads.length * 4))) && max * 2 <= MAX_SEGMENT) max *= 2;
  const segments = tailedSegments(from, end, max, threads.length);
  const heads = verifier.signedSizes;
  const outcomes: (SegmentOutcome | undefined)[] = new Array<SegmentOutcome | undefined>(segments.length);
  let next = 0;
  let absorbed = 0;
  let failed = false;
  let done = 0;
  const facts: ApprovalFact[] = [];
  let executions = 0;
  let last: ParallelOutcome['last'] = null;
  // Joins finished segments in seq order, as soon as the ones before them are in.
  const absorbReady = (): void => {
    while (!failed && absorbed < segments.length && outcomes[absorbed]) {
      const o = outcomes[absorbed]!;
      const [a, b] = segments[absorbed]!;
      if (o.size !== b - a || o.indexFailures > 0 || !verifier.absorb(o)) {
        failed = true;
        return;
      }
      for (const f of o.facts) facts.push(f);
      executions += o.executions;
      if (o.last) last = o.last;
      done += o.size;
      absorbed++;
      args.onProgress?.(done, total);
    }
  };
  const drive = async (t: VerifyThread): Promise<void> => {
    try {
      await driveOn(t);
    } catch (e) {
      failed = true;
      throw e;
    }
  };
  const driveOn = async (t: VerifyThread): Promise<void> => {
    while (!failed && next < segments.length) {
      const i = next++;
      const [offset, segEnd] = segments[i]!;
      const r = await t.call({
        op: 'segment',
        run,
        location,
        job: {
          logId: args.logId,
          origin: args.origin,
          offset,
          end: segEnd,
          snapshots: heads.filter((s) => s > offset && s <= segEnd),
          completeTiles: Math.floor(args.headSize / 256),
          indexFrom: offset === 0 ? null : offset,
          ...(args.archived && args.archived.length > 0 ? { archived: [...args.archived] } : {}),
        },
      });
      outcomes[i] = r.outcome;
      absorbReady();
    }
  };
  try {
    await Promise.all(threads.map((t) => drive(t)));
    if (failed || absorbed !== segments.length) return null;
    // DESIGN §5 across segments: only executions of held intents can fail, so only theirs are fetched.
    const held = [...new Set(facts.filter((f) => f.kind === 'held').map((f) => f.parent ?? ''))];
    if (held.length > 0 && executions > 0) {
      for (const t of threads) {
        const r = await t.call({ op: 'executions', run, parents: held });
        for (const f of r.facts ?? []) facts.push(f);
      }
      facts.sort((x, y) => x.seq - y.seq);
    }
    let unapproved = 0;
    const check = new ApprovalCheck(() => unapproved++);
    for (const f of facts) check.apply(f);
    return unapproved === 0 ? { last } : null;
  } catch {
    // A thread that could not run (or died): verify on this thread instead.
    return null;
  }
}
