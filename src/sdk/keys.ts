import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
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
 * The directory is created with mode 0700.
 */
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
  ) {}

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
      this.privateKey = generateSigner('auditrail.local/keygen').privateKeyPkcs8Der;
      return this.privateKey;
    }
    if (!existsSync(this.keyPath)) {
      if (!create) throw new AuditError('key_failure', `no signing key at ${this.keyPath}`);
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      chmodSync(this.dir, 0o700);
      const { privateKeyPkcs8Der } = generateSigner('auditrail.local/keygen');
      const pem = `-----BEGIN PRIVATE KEY-----\n${privateKeyPkcs8Der.toString('base64')}\n-----END PRIVATE KEY-----\n`;
      const tmp = `${this.keyPath}.tmp-${process.pid}`;
      writeFileSync(tmp, pem, { mode: 0o600, flag: 'wx' });
      renameSync(tmp, this.keyPath);
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

  /** The signer for a log (key name = origin), creating the key on first use. */
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

  /** The C2SP verifier key (`name+keyid+base64`) for a log. */
  verifierKey(origin: string): string {
    return formatVerifierKey(origin, this.signer(origin).publicKey);
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
    if (this.dir === null) {
      this.memoryWitness.set(origin, note);
      return;
    }
    const p = this.witnessPath(origin);
    mkdirSync(dirname(p), { recursive: true, mode: 0o700 });
    const tmp = `${p}.tmp-${process.pid}`;
    writeFileSync(tmp, note, { mode: 0o600 });
    renameSync(tmp, p);
  }

  /** The latest checkpoint handed out for `origin`, if any. */
  loadWitness(origin: string): string | undefined {
    if (this.dir === null) return this.memoryWitness.get(origin);
    const p = this.witnessPath(origin);
    return existsSync(p) ? readFileSync(p, 'utf8') : undefined;
  }
}
