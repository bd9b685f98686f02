/**
 * C2SP signed-note (c2sp.org/signed-note) with Ed25519 signatures (signature type 0x01).
 *
 * A signed note is a text ending in a newline, a blank line, then one or more lines
 * `— <key name> base64(key ID || signature)`. Notes are attacker-controlled input: openNote parses
 * strictly (well-formed Unicode, no control characters but newline, strict base64, bounded size
 * and signature count) and verifies with the keys the caller trusts, never with keys from the note.
 */
import { Buffer } from 'node:buffer';
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  hash,
  sign as cryptoSign,
  verify as cryptoVerify,
} from 'node:crypto';
import type { KeyObject } from 'node:crypto';

type NoteErrorCode = 'malformed' | 'unknown_key' | 'bad_signature' | 'no_signature' | 'name_mismatch';

/**
 * A note, key or signature that is malformed or does not verify. `unknown_key`: no signature from
 * a trusted key; `no_signature`: no signature lines at all; `bad_signature`: a trusted key's
 * signature fails; `name_mismatch`: signed by a trusted key but not for the expected name/origin.
 *
 * @example
 * try { openNote(note, verifiers) } catch (e) { if (e instanceof NoteError) e.code } // 'bad_signature'
 */
export class NoteError extends Error {
  override readonly name = 'NoteError';
  readonly code: NoteErrorCode;

  constructor(code: NoteErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/**
 * Something that signs note texts under a key name (local key, KMS, HSM …).
 *
 * @example
 * const { signer } = generateSigner('audit.example.com/t/ten_7Q2x/prod');
 * signNote('hello\n', [signer]);
 */
export interface NoteSigner {
  readonly name: string;
  readonly keyId: Buffer;
  readonly publicKey: Buffer;
  sign(message: Buffer): Buffer;
}

/**
 * A trusted key: name, 4-byte key ID and public key, and its signature check.
 *
 * @example
 * const verifier = parseVerifierKey('example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k');
 * openNote(note, [verifier]);
 */
export interface NoteVerifier {
  readonly name: string;
  readonly keyId: Buffer;
  readonly publicKey: Buffer;
  verify(message: Buffer, signature: Buffer): boolean;
}

// signed-note §Signature types: 0x01 = Ed25519.
const ED25519_TYPE = 0x01;
const ED25519_PUBLIC_KEY_SIZE = 32;
const ED25519_SIGNATURE_SIZE = 64;
// DER SubjectPublicKeyInfo header for an Ed25519 key (RFC 8410 §4); the raw key follows.
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
// Go's golang.org/x/mod/sumdb/note limit; the spec asks verifiers to accept at least 16.
const MAX_SIGNATURES = 100;
// Bounds parsing work; checkpoints are ~200 bytes, 100 post-quantum signatures ~700 KB.
// Counted in UTF-8 bytes, the unit every other implementation sees (docs/verification.md §5.4).
const MAX_NOTE_BYTES = 1 << 20;
const MAX_VKEY_LENGTH = 4096;
const SIG_PREFIX = '\u2014 '; // em dash, space

/**
 * True if `s` is well-formed Unicode without ASCII control characters (U+0000–U+001F) other than
 * `\n` (signed-note §Format, as Go's sumdb/note checks it). U+007F and C1 controls are allowed.
 */
function isCleanText(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 && c !== 0x0a) return false;
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (!(d >= 0xdc00 && d <= 0xdfff)) return false;
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) {
      return false;
    }
  }
  return true;
}

/** signed-note §Format: key names are non-empty, without Unicode spaces or '+'. */
function isValidName(name: string): boolean {
  return name.length > 0 && !name.includes('\n') && isCleanText(name) && !/[\p{White_Space}+]/u.test(name);
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * True if `s` has a lone surrogate (a UTF-16 half without its pair): such a string has no UTF-8
 * form, so each implementation would encode, hash or show it differently. Linear time.
 *
 * @example
 * hasLoneSurrogate('a\uD800') // true;  hasLoneSurrogate('😀') // false
 */
export function hasLoneSurrogate(s: string): boolean {
  return LONE_SURROGATE.test(s);
}

/** True if `s` holds more than `max` bytes once UTF-8 encoded (checks the cheap bound first). */
export function exceedsUtf8Bytes(s: string, max: number): boolean {
  // A UTF-16 code unit is at least one UTF-8 byte, at most three.
  if (s.length > max) return true;
  if (s.length * 3 <= max) return false;
  return Buffer.byteLength(s, 'utf8') > max;
}

/**
 * Standard base64 with padding (RFC 4648 §4), canonical only: no white space, no URL-safe
 * characters, correct padding, zero trailing bits, so re-encoding gives the same string
 * (docs/verification.md §1). Returns undefined for anything else.
 *
 * @example
 * decodeBase64Strict('AQI=') // <Buffer 01 02>;  decodeBase64Strict('AQJ=') // undefined (trailing bits)
 */
export function decodeBase64Strict(s: string): Buffer | undefined {
  if (typeof s !== 'string' || s.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) return undefined;
  const bytes = Buffer.from(s, 'base64');
  return bytes.toString('base64') === s ? bytes : undefined;
}

/**
 * URL-safe base64 without padding (RFC 4648 §5), canonical only: no `=`, no `+` or `/`, no
 * white space, zero trailing bits. Returns undefined for anything else.
 *
 * @example
 * decodeBase64UrlStrict('AQI') // <Buffer 01 02>;  decodeBase64UrlStrict('AQI=') // undefined
 */
export function decodeBase64UrlStrict(s: string): Buffer | undefined {
  if (typeof s !== 'string' || s.length % 4 === 1 || !/^[A-Za-z0-9_-]*$/.test(s)) return undefined;
  const bytes = Buffer.from(s, 'base64url');
  return bytes.toString('base64url') === s ? bytes : undefined;
}

/**
 * C2SP key ID of an Ed25519 key: `SHA-256(name || 0x0A || 0x01 || publicKey)[:4]`
 * (signed-note §Ed25519 signatures).
 *
 * @example
 * keyId('example.com/foo', publicKey).toString('hex') // '530d903a' for the spec's example key
 */
export function keyId(name: string, publicKey: Uint8Array): Buffer {
  const digest = hash(
    'sha256',
    Buffer.concat([Buffer.from(name, 'utf8'), Buffer.of(0x0a, ED25519_TYPE), publicKey]),
    'buffer',
  );
  return Buffer.from(digest.subarray(0, 4));
}

function checkName(name: string): void {
  if (typeof name !== 'string' || !isValidName(name)) {
    throw new NoteError('malformed', 'key name must be non-empty, without spaces, "+" or control characters');
  }
}

function checkPublicKey(publicKey: Uint8Array): void {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== ED25519_PUBLIC_KEY_SIZE) {
    throw new NoteError('malformed', `an Ed25519 public key is ${ED25519_PUBLIC_KEY_SIZE} bytes`);
  }
}

/**
 * A signer for `name` from an Ed25519 private key in PKCS#8 DER form (as written by
 * `openssl genpkey -algorithm ed25519 -outform DER` or {@link generateSigner}).
 * Throws NoteError('malformed') for another key type or an invalid name; the key never appears
 * in messages.
 *
 * @example
 * const signer = signerFromPrivateKey('audit.example.com/t/ten_7Q2x/prod', readFileSync('log.key.der'));
 */
export function signerFromPrivateKey(name: string, privateKeyPkcs8Der: Uint8Array): NoteSigner {
  checkName(name);
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: Buffer.from(privateKeyPkcs8Der), format: 'der', type: 'pkcs8' });
  } catch {
    // No cause: the parser's message could quote key material.
    throw new NoteError('malformed', 'not a PKCS#8 DER private key');
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new NoteError('malformed', `expected an Ed25519 key, got ${String(key.asymmetricKeyType)}`);
  }
  const spki = createPublicKey(key).export({ format: 'der', type: 'spki' });
  const publicKey = Buffer.from(spki.subarray(ED25519_SPKI_PREFIX.length));
  const id = keyId(name, publicKey);
  return {
    name,
    keyId: id,
    publicKey,
    // Ed25519 takes no separate digest: algorithm null (RFC 8032 PureEdDSA).
    sign: (message: Buffer): Buffer => cryptoSign(null, message, key),
  };
}

/**
 * A fresh Ed25519 signer for `name` and its private key (PKCS#8 DER) to store.
 * Uses the platform CSPRNG: call it at the edges (setup, key rotation), not in the core's logic.
 *
 * @example
 * const { signer, privateKeyPkcs8Der } = generateSigner('audit.example.com/t/ten_7Q2x/prod');
 * formatVerifierKey(signer.name, signer.publicKey); // publish this
 */
export function generateSigner(name: string): { signer: NoteSigner; privateKeyPkcs8Der: Buffer } {
  checkName(name);
  const { privateKey } = generateKeyPairSync('ed25519');
  const privateKeyPkcs8Der = privateKey.export({ format: 'der', type: 'pkcs8' });
  return { signer: signerFromPrivateKey(name, privateKeyPkcs8Der), privateKeyPkcs8Der };
}

/**
 * The verifier key string `<name>+<hex key ID>+<base64(0x01 || publicKey)>` (signed-note, as
 * used by golang.org/x/mod/sumdb/note and C2SP tools).
 *
 * @example
 * formatVerifierKey('example.com/foo', publicKey)
 * // 'example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k'
 */
export function formatVerifierKey(name: string, publicKey: Uint8Array): string {
  checkName(name);
  checkPublicKey(publicKey);
  const encoded = Buffer.concat([Buffer.of(ED25519_TYPE), publicKey]).toString('base64');
  return `${name}+${keyId(name, publicKey).toString('hex')}+${encoded}`;
}

function verifierFromPublicKey(name: string, publicKey: Buffer): NoteVerifier {
  let key: KeyObject;
  try {
    key = createPublicKey({
      key: Buffer.concat([ED25519_SPKI_PREFIX, publicKey]),
      format: 'der',
      type: 'spki',
    });
  } catch {
    throw new NoteError('malformed', 'invalid Ed25519 public key');
  }
  return {
    name,
    keyId: keyId(name, publicKey),
    publicKey,
    verify: (message: Buffer, signature: Buffer): boolean => {
      if (signature.length !== ED25519_SIGNATURE_SIZE) return false;
      try {
        return cryptoVerify(null, message, key, signature);
      } catch {
        return false;
      }
    },
  };
}

/**
 * Parses a verifier key string (see {@link formatVerifierKey}) strictly: valid name, 8 lowercase
 * hex digits, canonical base64 of 0x01 followed by a 32-byte key, and a key ID that matches the
 * name and key. Throws NoteError('malformed') otherwise.
 *
 * @example
 * const v = parseVerifierKey('example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k');
 * v.keyId.toString('hex') // '530d903a'
 */
export function parseVerifierKey(vkey: string): NoteVerifier {
  // Parsing builds a KeyObject (the costly part of checking one proof); keys repeat, so keep a few.
  const known = typeof vkey === 'string' ? parsedKeys.get(vkey) : undefined;
  if (known) return known;
  const verifier = parseVerifierKeyUncached(vkey);
  if (parsedKeys.size >= 256) parsedKeys.clear();
  parsedKeys.set(vkey, verifier);
  return verifier;
}

const parsedKeys = new Map<string, NoteVerifier>();

function parseVerifierKeyUncached(vkey: string): NoteVerifier {
  if (typeof vkey !== 'string' || exceedsUtf8Bytes(vkey, MAX_VKEY_LENGTH)) {
    throw new NoteError('malformed', 'verifier key must be a string of at most 4096 bytes of UTF-8');
  }
  // The name has no '+', the hex ID neither; base64 may contain '+', so split twice only.
  const i = vkey.indexOf('+');
  const j = i < 0 ? -1 : vkey.indexOf('+', i + 1);
  if (j < 0) throw new NoteError('malformed', 'verifier key must be <name>+<key id>+<key>');
  const name = vkey.slice(0, i);
  const idHex = vkey.slice(i + 1, j);
  checkName(name);
  if (!/^[0-9a-f]{8}$/.test(idHex))
    throw new NoteError('malformed', 'verifier key ID must be 8 lowercase hex digits');
  const key = decodeBase64Strict(vkey.slice(j + 1));
  if (key === undefined) throw new NoteError('malformed', 'verifier key is not canonical base64');
  if (key.length !== 1 + ED25519_PUBLIC_KEY_SIZE || key[0] !== ED25519_TYPE) {
    throw new NoteError('malformed', 'verifier key is not an Ed25519 key (type 0x01, 32 bytes)');
  }
  const publicKey = Buffer.from(key.subarray(1));
  const verifier = verifierFromPublicKey(name, publicKey);
  if (verifier.keyId.toString('hex') !== idHex) {
    throw new NoteError('malformed', 'verifier key ID does not match its name and key');
  }
  return verifier;
}

function checkText(text: string): void {
  if (typeof text !== 'string' || text.length === 0 || !text.endsWith('\n')) {
    throw new NoteError('malformed', 'note text must be non-empty and end with a newline');
  }
  if (!isCleanText(text)) {
    throw new NoteError(
      'malformed',
      'note text must be well-formed Unicode without control characters but newline',
    );
  }
}

/**
 * Signs `text` (non-empty, ending in "\n") with each signer: returns the text, a blank line and one
 * `— <name> base64(keyID || signature)` line per signer (signed-note §Format).
 *
 * @example
 * signNote('hello\n', [signer]) // 'hello\n\n— example.com/foo Uw2QOk…=\n'
 */
export function signNote(text: string, signers: readonly NoteSigner[]): string {
  checkText(text);
  if (exceedsUtf8Bytes(text, MAX_NOTE_BYTES)) throw new NoteError('malformed', 'note text is too long');
  if (signers.length === 0) throw new NoteError('no_signature', 'signNote needs at least one signer');
  if (signers.length > MAX_SIGNATURES)
    throw new NoteError('malformed', `more than ${MAX_SIGNATURES} signers`);
  const message = Buffer.from(text, 'utf8');
  let out = text + '\n';
  for (const s of signers) {
    checkName(s.name);
    if (s.keyId.length !== 4) throw new NoteError('malformed', `key ID of ${s.name} must be 4 bytes`);
    const signature = s.sign(message);
    out += `${SIG_PREFIX}${s.name} ${Buffer.concat([s.keyId, signature]).toString('base64')}\n`;
  }
  return out;
}

/**
 * A note whose signatures were checked. `verifiedBy`: names of the trusted keys whose signature
 * verified (each once); `signatures`: every distinct signature line, `verified: null` for a key not
 * in the trusted set (ignored, as signed-note requires).
 *
 * @example
 * const { text, verifiedBy } = openNote(note, [verifier]); // verifiedBy: ['example.com/foo']
 */
export interface OpenedNote {
  text: string;
  verifiedBy: string[];
  signatures: { name: string; keyId: string; verified: boolean | null }[];
}

/**
 * Splits a signed note at its last blank line and verifies it (signed-note §Signatures): lines by
 * unknown keys are ignored; a line by a known (name, key ID) whose signature fails →
 * NoteError('bad_signature'); no verified signature → NoteError('unknown_key'), or
 * NoteError('no_signature') if the note has no signature lines; any syntax error, control
 * character, lone surrogate, non-canonical base64 or more than 100 signatures →
 * NoteError('malformed'). Repeated signatures by the same key are skipped, as in Go's sumdb/note.
 *
 * @example
 * openNote('hello\n\n— example.com/foo Uw2Q…=\n', [parseVerifierKey(vkey)]).text // 'hello\n'
 */
export function openNote(note: string, verifiers: readonly NoteVerifier[]): OpenedNote {
  if (typeof note !== 'string' || exceedsUtf8Bytes(note, MAX_NOTE_BYTES)) {
    throw new NoteError('malformed', `note must be a string of at most ${MAX_NOTE_BYTES} bytes of UTF-8`);
  }
  if (!isCleanText(note)) {
    throw new NoteError(
      'malformed',
      'note must be well-formed Unicode without control characters but newline',
    );
  }
  if (!note.endsWith('\n')) throw new NoteError('malformed', 'note must end with a newline');
  // signed-note §Format: the text ends at the last empty line; it keeps its final newline.
  const split = note.lastIndexOf('\n\n');
  if (split < 0 || split + 2 === note.length)
    throw new NoteError('no_signature', 'note has no signature lines');
  const text = note.slice(0, split + 1);
  const lines = note.slice(split + 2, -1).split('\n');
  if (lines.length > MAX_SIGNATURES)
    throw new NoteError('malformed', `note has more than ${MAX_SIGNATURES} signatures`);

  const known = new Map<string, NoteVerifier>();
  for (const v of verifiers) known.set(`${v.name}\n${v.keyId.toString('hex')}`, v);
  const message = Buffer.from(text, 'utf8');
  const seen = new Set<string>();
  const verifiedBy: string[] = [];
  const signatures: OpenedNote['signatures'] = [];

  for (const line of lines) {
    if (!line.startsWith(SIG_PREFIX)) throw new NoteError('malformed', 'signature line must start with "— "');
    const rest = line.slice(SIG_PREFIX.length);
    const space = rest.indexOf(' ');
    const name = space < 0 ? '' : rest.slice(0, space);
    const decoded = space < 0 ? undefined : decodeBase64Strict(rest.slice(space + 1));
    if (!isValidName(name) || decoded === undefined || decoded.length < 5) {
      throw new NoteError('malformed', 'signature line must be "— <key name> <base64(key ID || signature)>"');
    }
    const id = decoded.subarray(0, 4).toString('hex');
    const key = `${name}\n${id}`;
    const verifier = known.get(key);
    if (verifier === undefined) {
      // Unknown keys are ignored, even if they share a name or an ID with a known key.
      if (!seen.has(line)) signatures.push({ name, keyId: id, verified: null });
      seen.add(line);
      continue;
    }
    if (seen.has(key)) continue;
    seen.add(key);
    if (!verifier.verify(message, Buffer.from(decoded.subarray(4)))) {
      throw new NoteError('bad_signature', `signature by ${name}+${id} does not verify`);
    }
    if (!verifiedBy.includes(name)) verifiedBy.push(name);
    signatures.push({ name, keyId: id, verified: true });
  }

  if (verifiedBy.length === 0) {
    throw new NoteError('unknown_key', 'note is not signed by any trusted key');
  }
  return { text, verifiedBy, signatures };
}

/**
 * Why the `trusted` keys cannot be the key of the log `origin`, or undefined when they may be:
 * none is named like the origin (another log's key), or, when the log's own key is known
 * (`logKey()` returns it; an error or undefined means unknown), none has its key ID. Lets a
 * verifier say "wrong key" instead of calling every checkpoint forged.
 *
 * @example
 * trustedKeyMismatch('auditrail.local/t/acme/default', [parseVerifierKey(otherLogsVkey)])
 * // 'the trusted key auditrail.local/t/beta/default+1a2b3c4d is for another log, not auditrail.local/t/acme/default'
 */
export function trustedKeyMismatch(
  origin: string,
  trusted: readonly NoteVerifier[],
  logKey?: () => NoteVerifier | undefined,
): string | undefined {
  if (trusted.length === 0) return undefined;
  const shown = trusted.map((v) => `${v.name}+${v.keyId.toString('hex')}`).join(', ');
  const named = trusted.filter((v) => v.name === origin);
  if (named.length === 0) return `the trusted key ${shown} is for another log, not ${origin}`;
  let own: NoteVerifier | undefined;
  try {
    own = logKey?.();
  } catch {
    own = undefined; // an unreadable local key is not evidence either way
  }
  if (own !== undefined && !named.some((v) => v.keyId.equals(own.keyId))) {
    return (
      `the key ID of the trusted key ${shown} does not match this log's key ` +
      `${origin}+${own.keyId.toString('hex')}: it is another log's key, or this log's key was replaced`
    );
  }
  return undefined;
}
