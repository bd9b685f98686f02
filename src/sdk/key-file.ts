import { createPrivateKey } from 'node:crypto';
import { AuditError } from '../errors.js';

/** The environment variable holding the log's signing key for a server (PKCS#8 PEM or base64 DER). */
export const SIGNING_KEY_ENV = 'AUDITRAIL_SIGNING_KEY';
/** The environment variable holding the passphrase of an encrypted key file. */
export const PASSPHRASE_ENV = 'AUDITRAIL_KEY_PASSPHRASE';

/** PEM text of an unencrypted PKCS#8 private key. */
export function pemOf(pkcs8Der: Buffer): string {
  return `-----BEGIN PRIVATE KEY-----\n${pkcs8Der.toString('base64')}\n-----END PRIVATE KEY-----\n`;
}

/**
 * PKCS#8 encrypted PEM (EncryptedPrivateKeyInfo, PBES2 with AES-256-CBC, as node:crypto and
 * `openssl pkcs8 -topk8 -v2 aes-256-cbc` write it) of a private key: readable by OpenSSL.
 *
 * @example
 * writeFileSync('log-signing.key', encryptPem(der, process.env.AUDITRAIL_KEY_PASSPHRASE!), { mode: 0o600 });
 */
export function encryptPem(pkcs8Der: Buffer, passphrase: string): string {
  checkPassphrase(passphrase);
  const key = createPrivateKey({ key: pkcs8Der, format: 'der', type: 'pkcs8' });
  return key.export({ format: 'pem', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase }).toString();
}

function checkPassphrase(passphrase: string): void {
  if (typeof passphrase !== 'string' || passphrase.length < 8) {
    throw new AuditError('invalid_argument', 'a key passphrase must be at least 8 characters');
  }
}

/** True when `pem` is an encrypted PKCS#8 key. */
export function isEncryptedPem(pem: string): boolean {
  return pem.includes('-----BEGIN ENCRYPTED PRIVATE KEY-----');
}

/**
 * The PKCS#8 DER of a key file's text: plain PEM, or encrypted PEM opened with `passphrase`
 * (default: the `AUDITRAIL_KEY_PASSPHRASE` environment variable). `where` names the file (or
 * variable) in errors; no error ever quotes key material or the passphrase.
 *
 * @example
 * const der = privateKeyFromPem(readFileSync(path, 'utf8'), path);
 */
export function privateKeyFromPem(
  pem: string,
  where: string,
  passphrase: string | undefined = process.env[PASSPHRASE_ENV],
): Buffer {
  if (isEncryptedPem(pem)) {
    if (passphrase === undefined || passphrase === '') {
      throw new AuditError(
        'key_failure',
        `the signing key ${where} is passphrase-protected: set ${PASSPHRASE_ENV} to its passphrase`,
      );
    }
    try {
      const key = createPrivateKey({ key: pem, format: 'pem', passphrase });
      return key.export({ format: 'der', type: 'pkcs8' });
    } catch {
      // No cause: OpenSSL's message may quote the key's bytes.
      throw new AuditError(
        'key_failure',
        `cannot open the signing key ${where}: wrong passphrase or damaged file`,
      );
    }
  }
  const m = /-----BEGIN PRIVATE KEY-----\s*([A-Za-z0-9+/=\s]+?)\s*-----END PRIVATE KEY-----/.exec(pem);
  if (!m?.[1]) throw new AuditError('key_failure', `the signing key ${where} is not a PKCS#8 PEM key`);
  return Buffer.from(m[1].replace(/\s+/g, ''), 'base64');
}

/**
 * The signing key from `AUDITRAIL_SIGNING_KEY` (PKCS#8 PEM, encrypted or not, or the base64 of
 * its DER), or undefined when the variable is unset.
 *
 * @example
 * const der = signingKeyFromEnv(); // Buffer, or undefined when the variable is not set
 */
export function signingKeyFromEnv(env: NodeJS.ProcessEnv = process.env): Buffer | undefined {
  const value = env[SIGNING_KEY_ENV];
  if (value === undefined || value.trim() === '') return undefined;
  if (value.includes('-----BEGIN')) return privateKeyFromPem(value, SIGNING_KEY_ENV, env[PASSPHRASE_ENV]);
  const compact = value.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(compact)) {
    throw new AuditError('key_failure', `${SIGNING_KEY_ENV} is neither a PKCS#8 PEM key nor base64 of one`);
  }
  return Buffer.from(compact, 'base64');
}
