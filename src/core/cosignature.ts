/**
 * C2SP tlog-cosignature (cosignature/v1, Ed25519) and the C2SP tlog-witness `add-checkpoint`
 * request body. A witness cosigns a checkpoint it checked to be consistent with every earlier one
 * it cosigned for that origin; its signature line is `— <name> base64(keyID || u64 time || sig)`.
 * Pure: the witness's state and clock live in the SDK (sdk/witness.ts).
 */
import { Buffer } from 'node:buffer';
import { createPublicKey, hash, verify as cryptoVerify } from 'node:crypto';
import { parseCheckpoint } from './checkpoint.js';
import type { Checkpoint } from './checkpoint.js';
import { CoreError } from './errors.js';
import { HASH_SIZE } from './merkle.js';
import { decodeBase64Strict, exceedsUtf8Bytes } from './note.js';
import type { NoteSigner } from './note.js';

// tlog-cosignature §Format: key ID algorithm byte 0x04 for Ed25519 cosignature/v1.
const COSIGNATURE_TYPE = 0x04;
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const SIG_PREFIX = '\u2014 ';
// tlog-witness §add-checkpoint: at most 63 consistency proof lines.
const MAX_PROOF_LINES = 63;
const MAX_BODY_BYTES = 1 << 16;

/** A witness's public key: name, cosignature key ID and its check. */
export interface CosignerKey {
  readonly name: string;
  readonly keyId: Buffer;
  readonly publicKey: Buffer;
  verify(message: Buffer, signature: Buffer): boolean;
}

/**
 * `SHA-256(name || "\n" || 0x04 || publicKey)[:4]` (tlog-cosignature §Format).
 *
 * @example
 * cosignerKeyId('witness.example/w1', publicKey).toString('hex') // 8 hex digits
 */
export function cosignerKeyId(name: string, publicKey: Uint8Array): Buffer {
  const digest = hash(
    'sha256',
    Buffer.concat([Buffer.from(name, 'utf8'), Buffer.of(0x0a, COSIGNATURE_TYPE), publicKey]),
    'buffer',
  );
  return Buffer.from(digest.subarray(0, 4));
}

/**
 * The witness's vkey: `<name>+<hex key ID>+<base64(0x04 || publicKey)>`.
 *
 * @example
 * formatCosignerKey('witness.example/w1', signer.publicKey) // 'witness.example/w1+1c3e…+BH…'
 */
export function formatCosignerKey(name: string, publicKey: Uint8Array): string {
  if (publicKey.length !== 32) throw new CoreError('malformed', 'an Ed25519 public key is 32 bytes');
  const encoded = Buffer.concat([Buffer.of(COSIGNATURE_TYPE), publicKey]).toString('base64');
  return `${name}+${cosignerKeyId(name, publicKey).toString('hex')}+${encoded}`;
}

/**
 * Parses a witness vkey strictly (type 0x04, 32-byte key, matching key ID); CoreError('malformed')
 * otherwise. The message never quotes the key.
 *
 * @example
 * parseCosignerKey(witnessVkey).name // 'witness.example/w1'
 */
export function parseCosignerKey(vkey: string): CosignerKey {
  if (typeof vkey !== 'string' || vkey.length > 4096)
    throw new CoreError('malformed', 'witness key must be a short string');
  const i = vkey.indexOf('+');
  const j = i < 0 ? -1 : vkey.indexOf('+', i + 1);
  if (j < 0) throw new CoreError('malformed', 'witness key must be <name>+<key id>+<key>');
  const name = vkey.slice(0, i);
  if (name.length === 0 || /[\p{White_Space}+\p{Cc}]/u.test(name)) {
    throw new CoreError('malformed', 'witness key name must be non-empty, without spaces or "+"');
  }
  const key = decodeBase64Strict(vkey.slice(j + 1));
  if (key === undefined || key.length !== 33 || key[0] !== COSIGNATURE_TYPE) {
    throw new CoreError(
      'malformed',
      'witness key is not an Ed25519 cosignature/v1 key (type 0x04, 32 bytes)',
    );
  }
  const publicKey = Buffer.from(key.subarray(1));
  const keyId = cosignerKeyId(name, publicKey);
  if (keyId.toString('hex') !== vkey.slice(i + 1, j)) {
    throw new CoreError('malformed', 'witness key ID does not match its name and key');
  }
  let keyObject;
  try {
    keyObject = createPublicKey({
      key: Buffer.concat([ED25519_SPKI_PREFIX, publicKey]),
      format: 'der',
      type: 'spki',
    });
  } catch {
    throw new CoreError('malformed', 'invalid Ed25519 public key');
  }
  return {
    name,
    keyId,
    publicKey,
    verify: (message, signature) => {
      if (signature.length !== 64) return false;
      try {
        return cryptoVerify(null, message, keyObject, signature);
      } catch {
        return false;
      }
    },
  };
}

/** tlog-cosignature §Ed25519 signed message: header, time line, then the checkpoint body. */
function cosignedMessage(checkpointText: string, timestamp: number): Buffer {
  return Buffer.from(`cosignature/v1\ntime ${timestamp}\n${checkpointText}`, 'utf8');
}

/**
 * One cosignature/v1 line (with its newline) by `signer` (an Ed25519 signer whose `name` is the
 * witness name; its key ID is recomputed for type 0x04) over `checkpointText` at `timestamp`
 * (POSIX seconds).
 *
 * @example
 * cosign('example.com/log\n3\nrt3…=\n', witnessSigner, 1_700_000_000) // '— witness.example/w1 …\n'
 */
export function cosign(checkpointText: string, signer: NoteSigner, timestamp: number): string {
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) {
    throw new CoreError('malformed', 'cosignature timestamp must be a non-negative integer');
  }
  const time = Buffer.alloc(8);
  time.writeBigUInt64BE(BigInt(timestamp));
  const signature = signer.sign(cosignedMessage(checkpointText, timestamp));
  const id = cosignerKeyId(signer.name, signer.publicKey);
  return `${SIG_PREFIX}${signer.name} ${Buffer.concat([id, time, signature]).toString('base64')}\n`;
}

/**
 * The time of the valid cosignature by `key` on the signed checkpoint `note`, or undefined when
 * the note has none. A line by that key (name and key ID) whose signature fails throws
 * CoreError('mismatch'); lines by other keys are ignored.
 *
 * @example
 * cosignatureTime(cosignedNote, parseCosignerKey(witnessVkey)) // 1700000000
 */
export function cosignatureTime(note: string, key: CosignerKey): number | undefined {
  const split = note.lastIndexOf('\n\n');
  if (split < 0) return undefined;
  const text = note.slice(0, split + 1);
  const prefix = `${SIG_PREFIX}${key.name} `;
  let found: number | undefined;
  for (const line of note.slice(split + 2).split('\n')) {
    if (!line.startsWith(prefix)) continue;
    const raw = decodeBase64Strict(line.slice(prefix.length));
    if (raw === undefined || raw.length !== 4 + 8 + 64 || !raw.subarray(0, 4).equals(key.keyId)) continue;
    const time = raw.readBigUInt64BE(4);
    if (time > BigInt(Number.MAX_SAFE_INTEGER))
      throw new CoreError('mismatch', 'cosignature time out of range');
    const timestamp = Number(time);
    if (!key.verify(cosignedMessage(text, timestamp), Buffer.from(raw.subarray(12)))) {
      throw new CoreError(
        'mismatch',
        `the cosignature by ${key.name}+${key.keyId.toString('hex')} does not verify`,
      );
    }
    found = Math.max(found ?? 0, timestamp);
  }
  return found;
}

/** A parsed `add-checkpoint` request (tlog-witness §add-checkpoint). */
export interface AddCheckpointRequest {
  oldSize: number;
  proof: Buffer[];
  /** The signed checkpoint note, as sent. */
  note: string;
  /** Its body, parsed but not yet verified. */
  checkpoint: Checkpoint;
}

/**
 * Parses an `add-checkpoint` body strictly: `old <size>`, up to 63 base64 hash lines, an empty
 * line, then a signed checkpoint. CoreError('malformed') naming what is wrong.
 *
 * @example
 * parseAddCheckpoint('old 0\n\nexample.com/log\n1\n…=\n\n— example.com/log …\n').oldSize // 0
 */
export function parseAddCheckpoint(body: string): AddCheckpointRequest {
  if (typeof body !== 'string' || exceedsUtf8Bytes(body, MAX_BODY_BYTES)) {
    throw new CoreError('malformed', `the request body must be at most ${MAX_BODY_BYTES} bytes`);
  }
  const blank = body.indexOf('\n\n');
  if (blank < 0) throw new CoreError('malformed', 'the request has no empty line before the checkpoint');
  const head = body.slice(0, blank).split('\n');
  const note = body.slice(blank + 2);
  const m = /^old (0|[1-9][0-9]{0,15})$/.exec(head[0] ?? '');
  if (!m) throw new CoreError('malformed', 'the first line must be "old <size>" (decimal, no leading zeros)');
  const oldSize = Number(m[1]);
  if (!Number.isSafeInteger(oldSize)) throw new CoreError('malformed', 'old size exceeds 2^53-1');
  const proofLines = head.slice(1);
  if (proofLines.length > MAX_PROOF_LINES) {
    throw new CoreError('malformed', `more than ${MAX_PROOF_LINES} consistency proof lines`);
  }
  const proof = proofLines.map((l, n) => {
    const h = decodeBase64Strict(l);
    if (h === undefined || h.length !== HASH_SIZE) {
      throw new CoreError(
        'malformed',
        `consistency proof line ${n + 1} is not the base64 of a ${HASH_SIZE}-byte hash`,
      );
    }
    return h;
  });
  const split = note.lastIndexOf('\n\n');
  if (split < 0) throw new CoreError('malformed', 'the checkpoint has no signature lines');
  let checkpoint: Checkpoint;
  try {
    checkpoint = parseCheckpoint(note.slice(0, split + 1));
  } catch (e) {
    throw new CoreError('malformed', `the checkpoint does not parse: ${(e as Error).message}`, { cause: e });
  }
  return { oldSize, proof, note, checkpoint };
}

/**
 * The `add-checkpoint` body for a signed checkpoint and a consistency proof from `oldSize`.
 *
 * @example
 * formatAddCheckpoint(0, [], note) // 'old 0\n\n' + note
 */
export function formatAddCheckpoint(oldSize: number, proof: readonly Uint8Array[], note: string): string {
  return `old ${oldSize}\n${proof.map((h) => `${Buffer.from(h).toString('base64')}\n`).join('')}\n${note}`;
}
