import {
  existsSync,
  linkSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { encryptPem, pemOf, privateKeyFromPem, SIGNING_KEY_ENV, signingKeyFromEnv } from './key-file.js';
import { formatVerifierKey, generateSigner, parseVerifierKey, signerFromPrivateKey } from '../core/note.js';
import type { NoteSigner, NoteVerifier } from '../core/note.js';
import { AuditError } from '../errors.js';

/**
 * The log's signing key and the local witness state, kept as files beside the database (never
 * inside it: whoever can rewrite the database must not also be able to rewrite what checks it).
 *
 * Layout of `<dir>` (docs/keys.md):
 *   log-signing.key         the first PKCS#8 Ed25519 private key, PEM (encrypted or not), mode 0600 (created on first use)
 *   log-signing.<n>.key     key generation n (`keys rotate`); `log-signing.<n>.retired` once it stops signing
 *   witness/<origin>.cp     the latest checkpoint handed out for each log (rollback detection)
 *   cosigned/<origin>.cp    the latest checkpoint cosigned by a witness (`verify --witness-key`)
 * With `AUDITRAIL_SIGNING_KEY` set, that key is the only one and no key file is used.
 * The directory is created with mode 0700. A read-only ring (`readonly: true`) never creates the
 * key, the directory or a witness file.
 *
 * @example
 * const keys = new KeyRing('./.auditrail/keys', 'audit.db', { readonly: true });
 * const vkey = keys.hasKey() ? keys.verifierKey('auditrail.local/t/acme/default') : undefined;
 */
/** Each loaded signer's verifier key text (the signer's name is the origin it was loaded for). */
const verifierKeys = new WeakMap<NoteSigner, string>();

export class KeyRing {
  private readonly privateKeys = new Map<number, Buffer>();
  private readonly signers = new Map<string, NoteSigner>();
  private readonly memoryWitness = new Map<string, string>();
  private readonly memoryCosigned = new Map<string, string>();
  private readonly memoryRetired = new Set<number>();
  private envKey: Buffer | null | undefined;
  private generationCache: { at: number; list: number[] } | undefined;

  /**
   * `dir` null keeps the key and witness state in memory only (tests, in-memory stores).
   * `scope` separates the witness state of databases sharing one key directory.
   */
  constructor(
    readonly dir: string | null,
    readonly scope = 'default',
    readonly options: { readonly?: boolean; env?: NodeJS.ProcessEnv } = {},
  ) {}

  /** True when this ring may not create the key nor write witness state. */
  get readonly(): boolean {
    return this.options.readonly === true;
  }

  /** The key from `AUDITRAIL_SIGNING_KEY`, when set: then it is the only key and no file is used. */
  private fromEnv(): Buffer | null {
    if (this.envKey === undefined) this.envKey = signingKeyFromEnv(this.options.env ?? process.env) ?? null;
    return this.envKey;
  }

  /** True when the signing key comes from the environment, not from files. */
  get fromEnvironment(): boolean {
    return this.fromEnv() !== null;
  }

  get keyPath(): string {
    if (this.fromEnv() !== null) return `$${SIGNING_KEY_ENV}`;
    return this.generationPath(1);
  }

  /** The file of key generation `n` (1: the first key, `log-signing.key`; n: `log-signing.<n>.key`). */
  generationPath(n: number): string {
    if (this.dir === null) return '(memory)';
    return join(this.dir, n === 1 ? 'log-signing.key' : `log-signing.${n}.key`);
  }

  private retiredPath(n: number): string {
    return join(this.dir ?? '.', `log-signing.${n}.retired`);
  }

  /** The key generations present (ascending); [1] for an environment key. */
  generations(): number[] {
    if (this.fromEnv() !== null) return [1];
    // Read at most once a second: proofs name the active key every time.
    if (this.generationCache && Date.now() - this.generationCache.at < 1000) return this.generationCache.list;
    const list = this.readGenerations();
    if (this.dir !== null && list.length > 0) this.generationCache = { at: Date.now(), list };
    return list;
  }

  private readGenerations(): number[] {
    if (this.dir === null) return [...this.privateKeys.keys()].sort((a, b) => a - b);
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return [];
    }
    const out: number[] = [];
    for (const f of names) {
      if (f === 'log-signing.key') out.push(1);
      const m = /^log-signing\.([1-9][0-9]{0,5})\.key$/.exec(f);
      if (m && m[1] !== '1') out.push(Number(m[1]));
    }
    return out.sort((a, b) => a - b);
  }

  /** Whether generation `n` was retired (it no longer signs). */
  isRetired(n: number): boolean {
    if (this.fromEnv() !== null) return false;
    if (this.dir === null) return this.memoryRetired.has(n);
    return existsSync(this.retiredPath(n));
  }

  /** The generations that sign checkpoints: every one not retired (two during a rotation's overlap). */
  activeGenerations(): number[] {
    return this.generations().filter((n) => !this.isRetired(n));
  }

  /** True when the signing key exists (without creating it). */
  hasKey(): boolean {
    return (
      this.fromEnv() !== null ||
      this.privateKeys.size > 0 ||
      (this.dir !== null && this.generations().length > 0)
    );
  }

  private loadPrivateKey(create: boolean, n = 1): Buffer {
    const env = this.fromEnv();
    if (env !== null) return env;
    const known = this.privateKeys.get(n);
    if (known) return known;
    if (this.dir === null) {
      if (this.readonly || n !== 1)
        throw new AuditError('key_failure', 'no signing key (in-memory, read-only)');
      const key = generateSigner('auditrail.local/keygen').privateKeyPkcs8Der;
      this.privateKeys.set(1, key);
      return key;
    }
    const path = this.generationPath(n);
    if (!existsSync(path)) {
      if (!create || this.readonly || n !== 1) {
        throw new AuditError(
          'key_failure',
          `no signing key at ${path} (it is created when the first checkpoint is signed)`,
        );
      }
      this.createKey(this.dir, path, generateSigner('auditrail.local/keygen').privateKeyPkcs8Der);
    }
    const mode = statSync(path).mode & 0o777;
    if ((mode & 0o077) !== 0) {
      throw new AuditError(
        'key_failure',
        `signing key ${path} is readable by others (mode ${mode.toString(8)}); chmod 600 it`,
      );
    }
    const key = privateKeyFromPem(readFileSync(path, 'utf8'), path);
    this.privateKeys.set(n, key);
    return key;
  }

  /**
   * Creates a key file once, whoever else is racing: the PEM is written whole to a private temp
   * file, then hard-linked to the key path, which fails with EEXIST when another process won.
   * Either way every process then reads the one key at the key path. Returns false when another
   * process made it first.
   */
  private readPublicKey(n: number): Buffer | undefined {
    let text: string;
    try {
      text = readFileSync(`${this.generationPath(n)}.pub`, 'utf8').trim();
    } catch {
      return undefined;
    }
    const key = Buffer.from(text, 'base64');
    return key.length === 32 && key.toString('base64') === text ? key : undefined;
  }

  private createKey(dir: string, path: string, pkcs8Der: Buffer, passphrase?: string): boolean {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (passphrase !== undefined) {
      // Written first: once the key file exists, readers may look for its public half.
      const publicKey = signerFromPrivateKey('auditrail.local/keygen', pkcs8Der).publicKey;
      writeFileSync(`${path}.pub`, `${publicKey.toString('base64')}\n`, { mode: 0o644, flush: true });
    }
    const pem = passphrase === undefined ? pemOf(pkcs8Der) : encryptPem(pkcs8Der, passphrase);
    const tmp = `${path}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
    try {
      writeFileSync(tmp, pem, { mode: 0o600, flag: 'wx', flush: true });
      linkSync(tmp, path);
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new AuditError('key_failure', `cannot create the signing key ${path}`, { cause: e });
      }
      return false;
    } finally {
      try {
        unlinkSync(tmp);
      } catch {
        // Nothing to remove when the write itself failed.
      }
    }
  }

  /**
   * A new key generation (rotation): its file is written (encrypted when `passphrase` is given)
   * but it signs nothing until the caller announced it. Returns its generation number.
   */
  addGeneration(passphrase?: string): number {
    if (this.readonly) throw new AuditError('read_only', 'the key ring is read-only: no new key');
    if (this.fromEnv() !== null) {
      throw new AuditError(
        'key_failure',
        `the signing key comes from ${SIGNING_KEY_ENV}: rotate it where it is kept, not here`,
      );
    }
    for (;;) {
      const n = Math.max(0, ...this.generations()) + 1;
      const der = generateSigner('auditrail.local/keygen').privateKeyPkcs8Der;
      if (this.dir === null) {
        this.privateKeys.set(n, der);
        return n;
      }
      this.generationCache = undefined;
      if (this.createKey(this.dir, this.generationPath(n), der, passphrase)) {
        this.privateKeys.set(n, der);
        return n;
      }
    }
  }

  /** Marks generation `n` retired: it signs no more checkpoints (its file stays, for old proofs). */
  retireGeneration(n: number): void {
    if (this.readonly) throw new AuditError('read_only', 'the key ring is read-only');
    if (this.dir === null) {
      this.memoryRetired.add(n);
      return;
    }
    writeFileSync(this.retiredPath(n), `${new Date().toISOString()}\n`, { mode: 0o600 });
    this.generationCache = undefined;
  }

  /** The signer of generation `n` for a log (key name = origin). */
  generationSigner(origin: string, n: number): NoteSigner {
    const id = `${n}\n${origin}`;
    let s = this.signers.get(id);
    if (!s) {
      try {
        s = signerFromPrivateKey(origin, this.loadPrivateKey(n === 1, n));
      } catch (e) {
        if (e instanceof AuditError) throw e;
        throw new AuditError('key_failure', `cannot load the signing key ${this.generationPath(n)}`, {
          cause: e,
        });
      }
      this.signers.set(id, s);
    }
    return s;
  }

  /**
   * Every signer of a checkpoint of `origin`: the active generations (the first key is created on
   * first use unless read-only).
   */
  activeSigners(origin: string): NoteSigner[] {
    const active = this.activeGenerations();
    return (active.length > 0 ? active : [1]).map((n) => this.generationSigner(origin, n));
  }

  /** The verifiers of every generation present (retired ones too): what the log's own checks trust. */
  allVerifiers(origin: string): NoteVerifier[] {
    return this.generations().map((n) => parseVerifierKey(this.generationVerifierKey(origin, n)));
  }

  /** The vkey of generation `n`. */
  generationVerifierKey(origin: string, n: number): string {
    // An encrypted key's public half is kept beside it, so reading needs no passphrase.
    const id = `${n}\n${origin}`;
    if (!this.signers.has(id) && this.fromEnv() === null && this.dir !== null) {
      const pub = this.readPublicKey(n);
      if (pub !== undefined) return formatVerifierKey(origin, pub);
    }
    const signer = this.generationSigner(origin, n);
    let vkey = verifierKeys.get(signer);
    if (vkey === undefined) {
      vkey = formatVerifierKey(origin, signer.publicKey);
      verifierKeys.set(signer, vkey);
    }
    return vkey;
  }

  /** The latest cosigned checkpoint of `origin` (log signature and witness cosignatures), if any. */
  loadCosigned(origin: string): string | undefined {
    if (this.dir === null) return this.memoryCosigned.get(origin);
    try {
      return readFileSync(this.cosignedPath(origin), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new AuditError('key_failure', `cannot read ${this.cosignedPath(origin)}`, { cause: e });
    }
  }

  /** Keeps a cosigned checkpoint of `origin` (outside the database: a restored copy cannot undo it). */
  saveCosigned(origin: string, note: string): void {
    if (this.readonly) throw new AuditError('read_only', 'the key ring is read-only: no cosignature write');
    if (this.dir === null) {
      this.memoryCosigned.set(origin, note);
      return;
    }
    const p = this.cosignedPath(origin);
    const tmp = `${p}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
    mkdirSync(dirname(p), { recursive: true, mode: 0o700 });
    writeFileSync(tmp, note, { mode: 0o600, flush: true });
    renameSync(tmp, p);
  }

  private cosignedPath(origin: string): string {
    return join(
      this.dir ?? '.',
      'cosigned',
      encodeURIComponent(this.scope),
      `${encodeURIComponent(origin)}.cp`,
    );
  }

  /** The signer for a log (key name = origin): the newest active key, created on first use unless read-only. */
  signer(origin: string): NoteSigner {
    const signers = this.activeSigners(origin);
    return signers[signers.length - 1]!;
  }

  /**
   * The C2SP verifier key (`name+keyid+base64`) that proof bundles name: the oldest active key,
   * so during a rotation's overlap auditors who pinned the old key keep checking new proofs (the
   * checkpoint carries both signatures); after retirement, the new key. Never creates the key.
   */
  verifierKey(origin: string): string {
    // An in-memory ring may make its key here: it lives and dies with this process.
    if (!this.hasKey() && (this.dir !== null || this.readonly)) {
      throw new AuditError(
        'key_failure',
        `no signing key at ${this.keyPath} (it is created when the first checkpoint is signed)`,
      );
    }
    const active = this.activeGenerations();
    return this.generationVerifierKey(origin, active[0] ?? 1);
  }

  /**
   * The verifier of the log's first key (the one an auditor pins; later keys are followed through
   * their announcements), or undefined when there is no key yet.
   */
  verifier(origin: string): NoteVerifier | undefined {
    if (!this.hasKey()) return undefined;
    return parseVerifierKey(this.generationVerifierKey(origin, this.generations()[0] ?? 1));
  }

  private witnessPath(origin: string): string {
    return join(
      this.dir ?? '.',
      'witness',
      encodeURIComponent(this.scope),
      `${encodeURIComponent(origin)}.cp`,
    );
  }

  /** Records the latest checkpoint handed out for `origin` (atomically, 0600). */
  saveWitness(origin: string, note: string): void {
    if (this.readonly) throw new AuditError('read_only', 'the key ring is read-only: no witness write');
    if (this.dir === null) {
      this.memoryWitness.set(origin, note);
      return;
    }
    const p = this.witnessPath(origin);
    const tmp = `${p}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
    try {
      mkdirSync(dirname(p), { recursive: true, mode: 0o700 });
      writeFileSync(tmp, note, { mode: 0o600, flush: true });
      renameSync(tmp, p);
    } catch (e) {
      // A full disk must not leave a partial temp file behind.
      try {
        unlinkSync(tmp);
      } catch {
        // Not created.
      }
      throw new AuditError('store_failure', `cannot write the witness file ${p}: ${(e as Error).message}`, {
        cause: e,
      });
    }
  }

  /** The latest checkpoint handed out for `origin`, if any. */
  loadWitness(origin: string): string | undefined {
    if (this.dir === null) return this.memoryWitness.get(origin);
    const p = this.witnessPath(origin);
    try {
      return readFileSync(p, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new AuditError('key_failure', `cannot read the witness file ${p}: ${(e as Error).message}`, {
        cause: e,
      });
    }
  }
}
