import {
  existsSync,
  linkSync,
  mkdirSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { formatVerifierKey, generateSigner, parseVerifierKey, signerFromPrivateKey } from '../core/note.js';
import type { NoteSigner, NoteVerifier } from '../core/note.js';
import { AuditError } from '../errors.js';

/**
 * The log's signing key and the local witness state, kept as files beside the database (never
 * inside it: whoever can rewrite the database must not also be able to rewrite what checks it).
 *
 * Layout of `<dir>`:
 *   log-signing.key         PKCS#8 Ed25519 private key, PEM, mode 0600 (created on first use)
 *   witness/<origin>.cp     the latest checkpoint handed out for each log (rollback detection)
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
  private privateKey: Buffer | null = null;
  private readonly signers = new Map<string, NoteSigner>();
  private readonly memoryWitness = new Map<string, string>();

  /**
   * `dir` null keeps the key and witness state in memory only (tests, in-memory stores).
   * `scope` separates the witness state of databases sharing one key directory.
   */
  constructor(
    readonly dir: string | null,
    readonly scope = 'default',
    readonly options: { readonly?: boolean } = {},
  ) {}

  /** True when this ring may not create the key nor write witness state. */
  get readonly(): boolean {
    return this.options.readonly === true;
  }

  get keyPath(): string {
    return this.dir === null ? '(memory)' : join(this.dir, 'log-signing.key');
  }

  /** True when the signing key exists (without creating it). */
  hasKey(): boolean {
    return this.privateKey !== null || (this.dir !== null && existsSync(this.keyPath));
  }

  private loadPrivateKey(create: boolean): Buffer {
    if (this.privateKey) return this.privateKey;
    if (this.dir === null) {
      if (this.readonly) throw new AuditError('key_failure', 'no signing key (in-memory, read-only)');
      this.privateKey = generateSigner('auditrail.local/keygen').privateKeyPkcs8Der;
      return this.privateKey;
    }
    if (!existsSync(this.keyPath)) {
      if (!create || this.readonly) {
        throw new AuditError(
          'key_failure',
          `no signing key at ${this.keyPath} (it is created when the first checkpoint is signed)`,
        );
      }
      this.createKey(this.dir);
    }
    const mode = statSync(this.keyPath).mode & 0o777;
    if ((mode & 0o077) !== 0) {
      throw new AuditError(
        'key_failure',
        `signing key ${this.keyPath} is readable by others (mode ${mode.toString(8)}); chmod 600 it`,
      );
    }
    const pem = readFileSync(this.keyPath, 'utf8');
    const m = /-----BEGIN PRIVATE KEY-----\s*([A-Za-z0-9+/=\s]+?)\s*-----END PRIVATE KEY-----/.exec(pem);
    if (!m?.[1]) throw new AuditError('key_failure', `signing key ${this.keyPath} is not a PKCS#8 PEM key`);
    this.privateKey = Buffer.from(m[1].replace(/\s+/g, ''), 'base64');
    return this.privateKey;
  }

  /**
   * Creates the key once, whoever else is racing: the PEM is written whole to a private temp
   * file, then hard-linked to the key path, which fails with EEXIST when another process won.
   * Either way every process then reads the one key at the key path.
   */
  private createKey(dir: string): void {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const { privateKeyPkcs8Der } = generateSigner('auditrail.local/keygen');
    const pem = `-----BEGIN PRIVATE KEY-----\n${privateKeyPkcs8Der.toString('base64')}\n-----END PRIVATE KEY-----\n`;
    const tmp = `${this.keyPath}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
    try {
      writeFileSync(tmp, pem, { mode: 0o600, flag: 'wx', flush: true });
      linkSync(tmp, this.keyPath);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new AuditError('key_failure', `cannot create the signing key ${this.keyPath}`, { cause: e });
      }
    } finally {
      try {
        unlinkSync(tmp);
      } catch {
        // Nothing to remove when the write itself failed.
      }
    }
  }

  /** The signer for a log (key name = origin), creating the key on first use unless read-only. */
  signer(origin: string): NoteSigner {
    let s = this.signers.get(origin);
    if (!s) {
      try {
        s = signerFromPrivateKey(origin, this.loadPrivateKey(true));
      } catch (e) {
        if (e instanceof AuditError) throw e;
        throw new AuditError('key_failure', `cannot load the signing key ${this.keyPath}`, { cause: e });
      }
      this.signers.set(origin, s);
    }
    return s;
  }

  /** The C2SP verifier key (`name+keyid+base64`) for a log; never creates the key. */
  verifierKey(origin: string): string {
    // An in-memory ring may make its key here: it lives and dies with this process.
    if (!this.signers.has(origin) && !this.hasKey() && (this.dir !== null || this.readonly)) {
      throw new AuditError(
        'key_failure',
        `no signing key at ${this.keyPath} (it is created when the first checkpoint is signed)`,
      );
    }
    const signer = this.signer(origin);
    // A signer never changes once loaded: format its key once (proofs name it every time).
    let vkey = verifierKeys.get(signer);
    if (vkey === undefined) {
      vkey = formatVerifierKey(origin, signer.publicKey);
      verifierKeys.set(signer, vkey);
    }
    return vkey;
  }

  /** The verifier for a log from the local key, or undefined when there is no key yet. */
  verifier(origin: string): NoteVerifier | undefined {
    if (!this.hasKey()) return undefined;
    return parseVerifierKey(this.verifierKey(origin));
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
