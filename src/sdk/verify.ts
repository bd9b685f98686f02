import { peekCheckpoint } from '../core/checkpoint.js';
import { checkpointOpener, type CheckpointOpener } from '../core/checkpoint-opener.js';
import { parseVerifierKey, trustedKeyMismatch } from '../core/note.js';
import { parseLeaf } from '../core/leaf.js';
import { CompactRange, hashLeaf, type NodeReader } from '../core/merkle.js';
import type { NoteVerifier } from '../core/note.js';
import { consistencyProof, inclusionProof, verifyConsistency, verifyInclusion } from '../core/proof.js';
import { erasureClaims, LogVerifier, type VerifyFailure, type VerifyReport } from '../core/verify-log.js';
import { disclosureDigest } from '../core/disclosure.js';
import { AuditError } from '../errors.js';
import type { AuditStore, CheckpointRow, LogHead } from '../store/store.js';
import { DerivedRowsCheck, VERIFY_CHUNK } from './verify-derived.js';
import { readIndexTagger } from './index-key.js';
import { buildKeyChain } from './key-events.js';
import { cosignatureTime, parseCosignerKey } from '../core/cosignature.js';
import type { KeyRing } from './keys.js';
import { reader, tilesFor } from './tree-reads.js';
import {
  endParallelRun,
  startParallelRun,
  verifyInParallel,
  verifyThreads,
  type ParallelRun,
} from './verify-parallel.js';
import { VerifyTiles } from './verify-segment.js';

/** Options of {@link AuditTrail.verify} and {@link verifyStoredLog}. */
export interface VerifyOptions {
  onProgress?: (done: number, total: number) => void;
  /** Trusted verifier keys (C2SP vkeys); they replace the local key file. */
  trustedKeys?: string[];
  /**
   * Incremental verification: a signed checkpoint note of this log the caller already trusts
   * (e.g. one saved after an earlier full verify), or `true` for the witness file's checkpoint.
   * Only the entries after its size are re-read; see docs/verification.md §7.3.
   */
  sinceCheckpoint?: string | true;
  /**
   * Worker threads for a file-backed log: 0 or 1 verifies on the calling thread. Default: the
   * `AUDITRAIL_VERIFY_THREADS` environment variable when set, else the available cores (at most
   * 4) for 32,768 entries or more. The report is the same whatever the count.
   */
  threads?: number;
  /**
   * Witness keys (C2SP cosignature/v1 vkeys): the latest checkpoint must carry a valid
   * cosignature by each (read from the key directory's `cosigned/` file, docs/keys.md).
   */
  witnessKeys?: string[];
}

/** The verifier keys to trust: the caller's, else the local key file's. */
export function resolveVerifiers(
  keys: KeyRing,
  origin: string,
  options: VerifyOptions,
  needed: boolean,
): NoteVerifier[] {
  // Keys given by the caller (an auditor's own copy) replace the local key file, never add to it.
  const verifiers = (options.trustedKeys ?? []).map((k) => {
    try {
      return parseVerifierKey(k);
    } catch (e) {
      throw new AuditError(
        'invalid_argument',
        `not a verifier key (name+keyid+base64): ${(e as Error).message}`,
        { cause: e },
      );
    }
  });
  // Another log's key would make every checkpoint look forged: say what is actually wrong.
  const mismatch = trustedKeyMismatch(origin, verifiers, () => {
    // Any of the log's own keys (first, rotated, retired) is this log's key.
    const own = keys.hasKey() ? keys.allVerifiers(origin) : [];
    return own.find((o) => verifiers.some((v) => v.keyId.equals(o.keyId))) ?? own[0];
  });
  if (mismatch !== undefined) throw new AuditError('key_failure', mismatch);
  if (verifiers.length === 0) {
    const local = keys.verifier(origin);
    if (local) verifiers.push(local);
    else if (needed) {
      throw new AuditError(
        'key_failure',
        `no verifier key for ${origin}: pass the log's vkey (auditrail keys show) or restore ${keys.keyPath}`,
      );
    }
  }
  return verifiers;
}

/** Verifies one stored log (see {@link AuditTrail.verify}); used by the SDK and the CLI. */
export async function verifyStoredLog(
  store: AuditStore,
  keys: KeyRing,
  origin: string,
  options: VerifyOptions = {},
): Promise<VerifyReport> {
  // The witness file first: a writer stores a checkpoint row before it hands the checkpoint out,
  // so every checkpoint the file names is already in the rows (and under the head) read next.
  const witness = keys.loadWitness(origin);
  const head = await store.getLog(origin);
  if (!head) throw new AuditError('not_found', `log ${origin} does not exist`);
  // Threads that will verify open their connections while this thread reads the rest. The
  // range is estimated from the trusted note's size, unverified: it only sizes the run.
  let run: ParallelRun | undefined;
  if (store.parallelReads && store.location) {
    const threads = verifyThreads(
      head.size - estimatedStart(options.sinceCheckpoint, witness),
      options.threads,
    );
    if (threads > 1) run = startParallelRun(store.location, threads);
  }
  try {
    return await verifyFrom(store, keys, origin, options, witness, head, run);
  } finally {
    if (run) await endParallelRun(run);
  }
}

/** Where an incremental run will likely start (0 when unknown or not incremental). */
function estimatedStart(since: string | true | undefined, witness: string | undefined): number {
  const note = since === true ? witness : since;
  if (note === undefined) return 0;
  try {
    return peekCheckpoint(note).size;
  } catch {
    return 0;
  }
}

async function verifyFrom(
  store: AuditStore,
  keys: KeyRing,
  origin: string,
  options: VerifyOptions,
  witness: string | undefined,
  head: LogHead,
  run: ParallelRun | undefined,
): Promise<VerifyReport> {
  const checkpointRows = await store.listCheckpoints(head.logId);
  const checkpoints = checkpointRows.map((c) => c.note);
  const verifiers = resolveVerifiers(
    keys,
    origin,
    options,
    checkpoints.length > 0 || witness !== undefined || options.sinceCheckpoint !== undefined,
  );
  // The pinned keys, then every key announced in the log under a key already trusted.
  const keyChain = await buildKeyChain(store, head.logId, origin, verifiers);
  // Each signed note is opened once per run, however many checks meet it.
  const open = keyChain.chain.opener(checkpointOpener(keyChain.chain.verifiers, origin));
  const witnessed = witness ? [witness] : [];
  const witnessFailures = witnessCheck(
    keys,
    origin,
    options.witnessKeys ?? [],
    checkpointRows,
    open,
    witnessed,
  );
  let start: CompactRange | undefined;
  const early: VerifyFailure[] = [];
  if (options.sinceCheckpoint !== undefined) {
    const trusted = await trustedStart(store, head, options.sinceCheckpoint, witness, open);
    if ('report' in trusted) return trusted.report;
    start = trusted.range;
    early.push(...trusted.failures);
  }
  early.push(...keyChain.failures, ...witnessFailures);
  const from = start?.size ?? 0;
  // Counting every stored seq costs a pass over the index: an incremental run looks for entries
  // beyond the head at the head's size only (docs/verification.md §7.3).
  const beyond =
    start === undefined || (await store.getBySeq(head.logId, head.size)) !== undefined
      ? await store.lastSeq(head.logId)
      : null;
  const end = Math.max(head.size, (beyond ?? -1) + 1);
  // Upper-level tiles are few (1/256 of the leaves); load them once, level-0 tiles per chunk.
  const levels: { level: number; index: number }[] = [];
  for (let level = 1, n = Math.floor(end / 256); n > 0; level++, n = Math.floor(n / 256)) {
    for (let i = 0; i <= Math.floor(n / 256); i++) levels.push({ level, index: i });
  }
  const tiles = new VerifyTiles(await store.getTiles(head.logId, levels));
  const tag = await readIndexTagger(store, origin);
  const archived = await store.listArchives(head.logId);
  const newVerifier = (): LogVerifier =>
    new LogVerifier({
      origin,
      verifiers,
      checkpoints,
      witnessed,
      open,
      ...(start ? { start } : {}),
      tileHash: tiles.tileHash,
      interiorHash: tiles.interiorHash,
      archived,
    });
  // A file-backed log is verified on worker threads, segment by segment; anything they cannot
  // merge exactly (any failure) is verified again here, so the report is the same either way.
  if (run) {
    // Segments joined at low levels (those right after an unaligned start) have nodes in level-0
    // tiles; further on every joined node is at level 16 or more.
    const first = Math.floor(from / 256);
    const last = Math.floor((Math.min(end, from + 65_536) - 1) / 256);
    await tiles.loadLevel0(store, head.logId, first, last, Math.floor(head.size / 256));
    const verifier = newVerifier();
    const parallel = await verifyInParallel({
      run,
      logId: head.logId,
      origin,
      from,
      end,
      headSize: head.size,
      verifier,
      onProgress: options.onProgress,
      archived,
    });
    if (parallel) {
      const derived = new DerivedRowsCheck(store, head, from, end, tag);
      derived.archived = archived;
      derived.index.last = parallel.last;
      return finishReport(
        store,
        head,
        verifier,
        derived,
        start,
        early,
        checkpointRows,
        verifiers,
        witness,
        open,
      );
    }
  }
  const verifier = newVerifier();
  const CHUNK = VERIFY_CHUNK;
  const derived = new DerivedRowsCheck(store, head, from, from, tag);
  derived.archived = archived;
  let done = 0;
  for await (const chunk of store.scan(head.logId, from, end, CHUNK)) {
    // From the next seq expected: a gap before the chunk's first entry takes its hashes from the tile.
    const first = Math.min(verifier.position, chunk[0]?.entry.seq ?? verifier.position);
    const last = chunk[chunk.length - 1]?.entry.seq ?? first;
    await tiles.loadLevel0(
      store,
      head.logId,
      Math.floor(first / 256),
      Math.floor(last / 256),
      Math.floor(head.size / 256),
    );
    await derived.beforeChunk(chunk);
    for (const e of chunk) {
      verifier.push(e);
      derived.push(e);
    }
    done += chunk.length;
    options.onProgress?.(done, end - from);
  }
  return finishReport(store, head, verifier, derived, start, early, checkpointRows, verifiers, witness, open);
}

/**
 * `verify --witness-key`: for each witness key, the cosigned checkpoint kept in the key directory
 * must carry its valid cosignature and be the latest stored checkpoint. The cosigned note is
 * added to the witnessed heads, so a log rolled back or rewritten below it is reported as such.
 */
function witnessCheck(
  keys: KeyRing,
  origin: string,
  witnessKeys: readonly string[],
  rows: readonly CheckpointRow[],
  open: CheckpointOpener,
  witnessed: string[],
): VerifyFailure[] {
  if (witnessKeys.length === 0) return [];
  const failures: VerifyFailure[] = [];
  const latest = rows[rows.length - 1];
  const note = keys.loadCosigned(origin);
  for (const vkey of witnessKeys) {
    let key;
    try {
      key = parseCosignerKey(vkey);
    } catch (e) {
      throw new AuditError(
        'invalid_argument',
        `not a witness key (name+keyid+base64): ${(e as Error).message}`,
        {
          cause: e,
        },
      );
    }
    const name = `${key.name}+${key.keyId.toString('hex')}`;
    if (note === undefined) {
      failures.push({
        seq: latest?.size ?? null,
        kind: 'not_witnessed',
        detail: `no checkpoint of ${origin} cosigned by ${name} is kept here (cosign with: auditrail witness cosign)`,
      });
      continue;
    }
    let time: number | undefined;
    let size: number | undefined;
    try {
      time = cosignatureTime(note, key);
      size = open(note).size;
    } catch (e) {
      failures.push({
        seq: null,
        kind: 'not_witnessed',
        detail: `the cosigned checkpoint does not verify: ${(e as Error).message}`,
      });
      continue;
    }
    if (time === undefined) {
      failures.push({
        seq: size,
        kind: 'not_witnessed',
        detail: `the kept checkpoint of size ${size} has no cosignature by ${name}`,
      });
      continue;
    }
    if (!witnessed.includes(note)) witnessed.push(note);
    if (latest !== undefined && latest.size > size) {
      failures.push({
        seq: latest.size,
        kind: 'not_witnessed',
        detail: `the latest checkpoint (size ${latest.size}) is not cosigned by ${name}: its newest cosignature is on size ${size} (${new Date(time * 1000).toISOString()})`,
      });
    }
  }
  return failures;
}

/** The report once every entry was fed: end checks, then the derived rows. */
async function finishReport(
  store: AuditStore,
  head: LogHead,
  verifier: LogVerifier,
  derived: DerivedRowsCheck,
  start: CompactRange | undefined,
  early: VerifyFailure[],
  checkpointRows: CheckpointRow[],
  verifiers: NoteVerifier[],
  witness: string | undefined,
  open: CheckpointOpener,
): Promise<VerifyReport> {
  // Erasures named in the checked range but recorded before it: proven in the trusted tree.
  if (start) {
    for (const seq of verifier.priorErasures()) {
      const trusted = await isTrustedErasure(store, head.logId, seq, start);
      if (trusted) verifier.acceptPriorErasure(seq, trusted === true ? undefined : trusted);
    }
  }
  const report = verifier.finish(head);
  if (early.length > 0) {
    report.failures.unshift(...early);
    report.ok = false;
  }
  // Derived rows (index, tiles, log row, checkpoint rows) must say what the verified data says.
  const more = await derived.finish(
    report,
    { rightEdge: verifier.rightEdge },
    checkpointRows,
    verifiers,
    witness,
    open,
  );
  if (more.length > 0) {
    report.failures.push(...more);
    report.ok = false;
  }
  return report;
}

/** Leaf-level node requests of the compact range [0, size): one perfect subtree per set bit. */
function rangeNodes(size: number, r: NodeReader): Buffer[] {
  const out: Buffer[] = [];
  let first = 0;
  for (let level = 52; level >= 0; level--) {
    const width = 2 ** level;
    if (Math.floor(size / width) % 2 === 1) {
      out.push(r.node(level, first / width));
      first += width;
    }
  }
  return out;
}

/**
 * The starting point of an incremental verification: the trusted checkpoint opened with the
 * trusted keys, the compact range at its size read from the stored tiles and matched with its
 * root (so the tiles of the old part are the trusted tree), and a consistency proof from it to
 * the stored head computed from the tiles. A `report` when nothing after it can be checked.
 */
async function trustedStart(
  store: AuditStore,
  head: LogHead,
  since: string | true,
  witness: string | undefined,
  open: CheckpointOpener,
): Promise<{ range: CompactRange; failures: VerifyFailure[] } | { report: VerifyReport }> {
  const origin = head.origin;
  const note = since === true ? witness : since;
  if (note === undefined) {
    throw new AuditError(
      'not_found',
      `no witness checkpoint for ${origin} to start from: verify the whole log, or pass a saved checkpoint`,
    );
  }
  let cp;
  try {
    cp = open(note);
  } catch (e) {
    throw new AuditError(
      'invalid_argument',
      `the trusted checkpoint does not verify as a checkpoint of ${origin}: ${(e as Error).message}`,
      { cause: e },
    );
  }
  const stop = (kind: VerifyFailure['kind'], detail: string): { report: VerifyReport } => ({
    report: {
      ok: false,
      log: origin,
      size: head.size,
      root: head.root.toString('hex'),
      checkpoints_verified: 0,
      unsigned_tail: 0,
      redactions: [],
      failures: [{ seq: cp.size, kind, detail }],
      verified_from: cp.size,
    },
  });
  if (cp.size > head.size) {
    return stop(
      'rolled_back',
      `the log holds ${head.size} entries but the trusted checkpoint has size ${cp.size}: an older copy was restored or the log rewritten`,
    );
  }
  const size = cp.size;
  const tiles = await store.getTiles(
    head.logId,
    tilesFor((r) => {
      rangeNodes(size, r);
      consistencyProof(size, head.size, r);
    }),
  );
  const r = reader(tiles, head.size);
  let range: CompactRange;
  let proof: Buffer[];
  try {
    range = new CompactRange(size, rangeNodes(size, r));
    proof = consistencyProof(size, head.size, r);
  } catch (e) {
    return stop('tile_missing', `the stored tiles cannot serve the trusted tree: ${(e as Error).message}`);
  }
  if (!range.root().equals(cp.root)) {
    return stop(
      'rolled_back',
      `the stored tiles of entries 0..${size - 1} do not give the trusted checkpoint's root: history was rewritten`,
    );
  }
  const failures: VerifyFailure[] = [];
  if (!verifyConsistency(size, head.size, proof, cp.root, head.root)) {
    failures.push({
      seq: size,
      kind: 'checkpoint_mismatch',
      detail: `the stored tiles give no valid consistency proof from the trusted checkpoint (size ${size}) to the log head (size ${head.size})`,
    });
  }
  return { range, failures };
}

/**
 * Whether entry `seq` is an erasure event included in the trusted tree `trusted`: false, true (a
 * `retention.purged` event), or what a `data.erased` event names (its body checked against the leaf).
 */
async function isTrustedErasure(
  store: AuditStore,
  logId: number,
  seq: number,
  trusted: CompactRange,
): Promise<boolean | string[]> {
  const stored = await store.getBySeq(logId, seq);
  if (!stored) return false;
  try {
    const leaf = parseLeaf(stored.entry.leaf);
    const type = leaf.type;
    if (type !== 'data.erased' && type !== 'retention.purged') return false;
    let claims: string[] | true = true;
    if (type === 'data.erased') {
      const body = stored.disclosures.find((d) => d.pointer === '' && d.disclosure !== null)?.disclosure;
      claims = body && leaf.d.includes(disclosureDigest(body)) ? erasureClaims(body) : [];
    }
    const size = trusted.size;
    const tiles = await store.getTiles(
      logId,
      tilesFor((r) => inclusionProof(seq, size, r)),
    );
    const proof = inclusionProof(seq, size, reader(tiles, size));
    return verifyInclusion(hashLeaf(stored.entry.leaf), seq, size, proof, trusted.root()) && claims;
  } catch {
    return false;
  }
}

/** The JSON of a report, as `auditrail verify --json` and `POST /v1/verify` give it (docs/cli.md): stable keys, in this order. */
export function verifyReportJson(r: VerifyReport): Record<string, unknown> {
  return {
    ok: r.ok,
    log: r.log,
    size: r.size,
    root: r.root,
    checkpoints_verified: r.checkpoints_verified,
    unsigned_tail: r.unsigned_tail,
    redactions: r.redactions,
    ...(r.archived ? { archived: r.archived } : {}),
    // Only for an incremental verification: where checking began.
    ...(r.verified_from !== undefined ? { verified_from: r.verified_from } : {}),
    failures: r.failures.map((f) => ({ seq: f.seq, kind: f.kind, detail: f.detail })),
  };
}
