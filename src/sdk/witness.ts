import { randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { openCheckpoint, peekCheckpoint } from '../core/checkpoint.js';
import { cosign, formatCosignerKey, parseAddCheckpoint } from '../core/cosignature.js';
import type { AddCheckpointRequest } from '../core/cosignature.js';
import { EMPTY_ROOT } from '../core/merkle.js';
import { generateSigner, parseVerifierKey, signerFromPrivateKey } from '../core/note.js';
import type { NoteSigner, NoteVerifier } from '../core/note.js';
import { verifyConsistency } from '../core/proof.js';
import { AuditError } from '../errors.js';
import { pemOf, privateKeyFromPem } from './key-file.js';

/** What a witness answers to `add-checkpoint` (C2SP tlog-witness status codes). */
export interface WitnessResponse {
  /** 200 cosigned; 400 bad request; 403 not signed by a trusted key; 404 unknown origin; 409 conflict; 422 bad proof. */
  status: 200 | 400 | 403 | 404 | 409 | 422;
  /** 200: the cosignature lines; 409: the latest cosigned size and a newline; otherwise why. */
  body: string;
  contentType: 'text/plain; charset=utf-8' | 'text/x.tlog.size';
  /** When the witness kept evidence of a fork or rollback: the file it wrote. */
  evidence?: string;
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,127}$/;
const LOCK_WAIT_MS = 10_000;

/**
 * A C2SP tlog-witness (docs/keys.md): a key held apart from the log's operator that cosigns a
 * log's checkpoint only after checking a consistency proof from the last checkpoint it cosigned
 * for that origin, so no two inconsistent views of one log are ever both cosigned.
 *
 * Its state is its own directory, never the log's database:
 *   witness.key            PKCS#8 Ed25519 private key, PEM, mode 0600
 *   witness.vkey           its cosigner key (`name+keyid+base64(0x04||key)`): give it to verifiers
 *   logs                   the log verifier keys it trusts, one vkey a line
 *   state/<origin>.cp      the latest checkpoint it cosigned per origin (with its cosignature)
 *   evidence/<origin>/…    both checkpoints whenever a log forked or rolled back
 * Check and update happen under a lock file, so concurrent requests cannot roll its state back.
 *
 * @example
 * Witness.init('./witness', 'witness.example/w1');
 * const w = Witness.open('./witness');
 * w.trust(logVkey);
 * const res = w.addCheckpoint(body); // res.status 200, res.body '— witness.example/w1 …\n'
 */
export class Witness {
  private constructor(
    readonly dir: string,
    readonly name: string,
    private readonly signer: NoteSigner,
    private readonly now: () => number,
  ) {}

  /** Makes a witness directory with a fresh key; refuses to overwrite one. Returns its vkey. */
  static init(dir: string, name: string): string {
    if (!NAME_RE.test(name)) {
      throw new AuditError(
        'invalid_argument',
        'witness name must be 1-128 characters of letters, digits, ".", "_", "/" or "-", e.g. witness.example.com/w1',
      );
    }
    const keyPath = join(dir, 'witness.key');
    if (existsSync(keyPath))
      throw new AuditError('conflict', `${dir} already holds a witness key (${keyPath})`);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const { signer, privateKeyPkcs8Der } = generateSigner(name);
    const vkey = formatCosignerKey(name, signer.publicKey);
    const tmp = `${keyPath}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
    try {
      writeFileSync(tmp, pemOf(privateKeyPkcs8Der), { mode: 0o600, flag: 'wx', flush: true });
      linkSync(tmp, keyPath);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new AuditError(
        code === 'EEXIST' ? 'conflict' : 'key_failure',
        code === 'EEXIST'
          ? `${dir} already holds a witness key`
          : `cannot create ${keyPath}: ${code ?? 'error'}`,
        { cause: e },
      );
    } finally {
      try {
        unlinkSync(tmp);
      } catch {
        // Not created.
      }
    }
    writeFileSync(join(dir, 'witness.vkey'), `${vkey}\n`, { mode: 0o644 });
    return vkey;
  }

  /** Opens an initialised witness directory (never creates anything). */
  static open(dir: string, options: { now?: () => number } = {}): Witness {
    const keyPath = join(dir, 'witness.key');
    let vkey: string;
    let pem: string;
    try {
      vkey = readFileSync(join(dir, 'witness.vkey'), 'utf8').trim();
      const mode = statSync(keyPath).mode & 0o777;
      if ((mode & 0o077) !== 0) {
        throw new AuditError(
          'key_failure',
          `witness key ${keyPath} is readable by others (mode ${mode.toString(8)}); chmod 600 it`,
        );
      }
      pem = readFileSync(keyPath, 'utf8');
    } catch (e) {
      if (e instanceof AuditError) throw e;
      throw new AuditError(
        'not_found',
        `${dir} is not a witness directory (make one with: auditrail witness init --dir ${dir} --name NAME)`,
        { cause: e },
      );
    }
    const name = vkey.slice(0, vkey.indexOf('+'));
    let signer: NoteSigner;
    try {
      signer = signerFromPrivateKey(name, privateKeyFromPem(pem, keyPath));
    } catch (e) {
      if (e instanceof AuditError) throw e;
      throw new AuditError(
        'key_failure',
        `the witness key ${keyPath} cannot be used: ${(e as Error).message}`,
      );
    }
    if (formatCosignerKey(name, signer.publicKey) !== vkey) {
      throw new AuditError('key_failure', `${join(dir, 'witness.vkey')} does not belong to ${keyPath}`);
    }
    return new Witness(dir, name, signer, options.now ?? Date.now);
  }

  /** The witness's cosigner key: what `verify --witness-key` is given. */
  get vkey(): string {
    return formatCosignerKey(this.name, this.signer.publicKey);
  }

  /** Trusts a log's verifier key (C2SP vkey of the log, named like its origin). */
  trust(vkey: string): void {
    try {
      parseVerifierKey(vkey);
    } catch (e) {
      throw new AuditError('invalid_argument', `not a log verifier key: ${(e as Error).message}`, {
        cause: e,
      });
    }
    const known = this.trustedKeys();
    if (known.includes(vkey)) return;
    writeAtomic(join(this.dir, 'logs'), [...known, vkey].map((k) => `${k}\n`).join(''));
  }

  /** The trusted log keys, as written in `logs`. */
  trustedKeys(): string[] {
    try {
      return readFileSync(join(this.dir, 'logs'), 'utf8')
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l.length > 0 && !l.startsWith('#'));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw new AuditError('store_failure', `cannot read ${join(this.dir, 'logs')}`, { cause: e });
    }
  }

  private verifiersFor(origin: string): NoteVerifier[] {
    const out: NoteVerifier[] = [];
    for (const k of this.trustedKeys()) {
      try {
        const v = parseVerifierKey(k);
        if (v.name === origin) out.push(v);
      } catch {
        // A malformed line trusts nothing.
      }
    }
    return out;
  }

  /** The latest checkpoint this witness cosigned for `origin` (with its cosignature), if any. */
  latest(origin: string): string | undefined {
    try {
      return readFileSync(this.statePath(origin), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new AuditError('store_failure', `cannot read ${this.statePath(origin)}`, { cause: e });
    }
  }

  /** Evidence files kept for `origin` (paths), oldest first. */
  evidence(origin: string): string[] {
    const dir = join(this.dir, 'evidence', encodeURIComponent(origin));
    try {
      return readdirSync(dir)
        .sort()
        .map((f) => join(dir, f));
    } catch {
      return [];
    }
  }

  private statePath(origin: string): string {
    return join(this.dir, 'state', `${encodeURIComponent(origin)}.cp`);
  }

  /**
   * Handles one C2SP tlog-witness `add-checkpoint` request body and answers as the spec says:
   * 404 unknown origin, 403 no trusted signature, 400 old size above the checkpoint's, 409 old
   * size not the latest cosigned one (body: that size) or same size with another root, 422 bad
   * consistency proof, else 200 with the cosignature line. A log-signed checkpoint that rolls the
   * log back or forks it is kept as evidence beside the one cosigned before.
   */
  addCheckpoint(body: string): WitnessResponse {
    let req: AddCheckpointRequest;
    try {
      req = parseAddCheckpoint(body);
    } catch (e) {
      return text(400, `malformed add-checkpoint request: ${(e as Error).message}\n`);
    }
    const origin = req.checkpoint.origin;
    const verifiers = this.verifiersFor(origin);
    if (verifiers.length === 0) return text(404, `unknown log origin ${origin}\n`);
    try {
      openCheckpoint(req.note, verifiers, origin);
    } catch (e) {
      return text(
        403,
        `the checkpoint is not signed by a trusted key of ${origin}: ${(e as Error).message}\n`,
      );
    }
    return this.locked(() => {
      try {
        return this.decide(req, body);
      } catch (e) {
        if (e instanceof AuditError) throw e;
        // A damaged state file or a full disk: said plainly, never half-applied (writes are atomic).
        throw new AuditError(
          'store_failure',
          `the witness in ${this.dir} cannot decide: ${(e as Error).message}`,
          {
            cause: e,
          },
        );
      }
    });
  }

  private decide(req: AddCheckpointRequest, body: string): WitnessResponse {
    const cp = req.checkpoint;
    const latest = this.latest(cp.origin);
    const last = latest === undefined ? { size: 0, root: EMPTY_ROOT } : peekCheckpoint(latest);
    let evidence: string | undefined;
    // The log now claims a smaller tree than one it had us cosign, or another tree of that size.
    if (latest !== undefined && cp.size < last.size)
      evidence = this.keep('rolled-back', cp.origin, latest, body);
    if (latest !== undefined && cp.size === last.size && !cp.root.equals(last.root)) {
      evidence = this.keep('forked', cp.origin, latest, body);
    }
    const withEvidence = (r: WitnessResponse): WitnessResponse => (evidence ? { ...r, evidence } : r);
    if (req.oldSize > cp.size) {
      return withEvidence(text(400, `old size ${req.oldSize} is above the checkpoint size ${cp.size}\n`));
    }
    if (req.oldSize !== last.size) {
      return withEvidence({ status: 409, body: `${last.size}\n`, contentType: 'text/x.tlog.size' });
    }
    if (cp.size === last.size) {
      if (!cp.root.equals(last.root)) {
        return withEvidence({ status: 409, body: `${last.size}\n`, contentType: 'text/x.tlog.size' });
      }
    } else if (last.size === 0) {
      if (req.proof.length !== 0) return text(422, 'the proof must be empty when the old size is 0\n');
    } else if (!verifyConsistency(last.size, cp.size, req.proof, last.root, cp.root)) {
      evidence = this.keep('inconsistent', cp.origin, latest ?? '', body);
      return {
        ...text(422, `the consistency proof from size ${last.size} to ${cp.size} does not verify\n`),
        evidence,
      };
    }
    if (cp.size === 0 && !cp.root.equals(EMPTY_ROOT))
      return text(422, 'a size-0 checkpoint must have the empty root\n');
    const split = req.note.lastIndexOf('\n\n');
    const line = cosign(req.note.slice(0, split + 1), this.signer, Math.floor(this.now() / 1000));
    // Persisted before answering (tlog-witness §add-checkpoint).
    if (latest === undefined || cp.size > last.size) writeAtomic(this.statePath(cp.origin), req.note + line);
    return text(200, line);
  }

  private keep(kind: string, origin: string, cosigned: string, offered: string): string {
    const dir = join(this.dir, 'evidence', encodeURIComponent(origin));
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const at = new Date(this.now()).toISOString().replace(/[:.]/g, '-');
    const path = join(dir, `${at}-${kind}-${randomBytes(3).toString('hex')}.txt`);
    writeFileSync(
      path,
      `auditrail witness evidence: ${kind}\norigin ${origin}\n\n` +
        `--- checkpoint cosigned earlier by ${this.name}\n${cosigned}\n` +
        `--- add-checkpoint request refused\n${offered}`,
      { mode: 0o600, flag: 'wx' },
    );
    return path;
  }

  /** Runs `fn` holding the witness's lock file (cross-process); a dead holder's lock is taken over. */
  private locked<T>(fn: () => T): T {
    const lock = join(this.dir, 'lock');
    const deadline = Date.now() + LOCK_WAIT_MS;
    const sleeper = new Int32Array(new SharedArrayBuffer(4));
    for (;;) {
      try {
        const fd = openSync(lock, 'wx', 0o600);
        writeFileSync(fd, String(process.pid));
        closeSync(fd);
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') {
          throw new AuditError('store_failure', `cannot lock ${lock}`, { cause: e });
        }
        if (holderIsGone(lock)) {
          try {
            unlinkSync(lock);
          } catch {
            // Another waiter took it over first.
          }
          continue;
        }
        if (Date.now() > deadline)
          throw new AuditError('timeout', `the witness lock ${lock} is held too long`);
        Atomics.wait(sleeper, 0, 0, 5);
      }
    }
    try {
      return fn();
    } finally {
      unlinkSync(lock);
    }
  }
}

function holderIsGone(lock: string): boolean {
  let pid: number;
  try {
    pid = Number(readFileSync(lock, 'utf8'));
  } catch {
    return false;
  }
  // An empty file: the holder is between creating and writing it.
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

function text(status: WitnessResponse['status'], body: string): WitnessResponse {
  return { status, body, contentType: 'text/plain; charset=utf-8' };
}

function writeAtomic(path: string, content: string): void {
  const dir = join(path, '..');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
  try {
    writeFileSync(tmp, content, { mode: 0o600, flush: true });
    renameSync(tmp, path);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      // Not created.
    }
    throw new AuditError('store_failure', `cannot write ${path}`, { cause: e });
  }
}
