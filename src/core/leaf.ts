import { canonicalBytes } from './canonical-json.js';
import { decodeUtf8Strict } from './disclosure.js';
import { CoreError } from './errors.js';

/**
 * The leaf record a log commits to (RFC 8785 canonical JSON, stored and hashed byte for byte):
 * `{v, log, seq, ts, type, eid, d}`. It holds no personal data: only the event's class, its id,
 * and the sorted digests of its salted disclosures.
 */
export interface LeafRecord {
  v: 1;
  log: string;
  seq: number;
  ts: string;
  type: string;
  eid: string;
  d: string[];
  src?: { kid: string; sig: string };
}

/** Leaf records larger than this are refused (C2SP tlog-tiles entries must stay < 64 KiB). */
export const MAX_LEAF_BYTES = 16 * 1024;

/**
 * Encodes a leaf record to its canonical bytes.
 *
 * @example
 * encodeLeaf({ v: 1, log: 'auditrail.local/t/acme/default', seq: 0, ts: '2026-11-22T10:00:00.000000Z',
 *   type: 'action.intent', eid: '019a…', d: ['…'] })
 */
export function encodeLeaf(rec: LeafRecord): Buffer {
  const bytes = canonicalBytes(rec);
  if (bytes.length > MAX_LEAF_BYTES)
    throw new RangeError(`leaf record is ${bytes.length} bytes (max ${MAX_LEAF_BYTES})`);
  return bytes;
}

const KEYS = new Set(['v', 'log', 'seq', 'ts', 'type', 'eid', 'd', 'src']);
// 43 base64url characters of 32 bytes: the last one carries 4 bits and two zero bits, so only
// these 16 characters can end a canonical digest (docs/verification.md §4.1).
const DIGEST_RE = /^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/;

/**
 * Parses leaf bytes strictly (docs/verification.md §4.1). Throws an Error naming the first
 * problem (invalid UTF-8, not JSON, unknown or missing member, wrong type, a non-canonical or
 * unsorted digest). A string is taken as the leaf's already decoded text.
 *
 * @example
 * parseLeaf(Buffer.from(entry.leaf)).seq // 12
 */
export function parseLeaf(bytes: Uint8Array | string): LeafRecord {
  // Invalid UTF-8 is refused, not replaced by U+FFFD: the hash is over bytes another verifier
  // would decode differently.
  const text = typeof bytes === 'string' ? bytes : decodeLeafText(bytes);
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new CoreError('malformed', 'leaf is not JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new CoreError('malformed', 'leaf is not an object');
  const o = v as Record<string, unknown>;
  // JSON.parse gives plain own data properties: `for…in` lists exactly Object.keys without an array.
  for (const k in o)
    if (!KEYS.has(k)) throw new CoreError('malformed', `leaf has unknown member ${JSON.stringify(k)}`);
  if (o['v'] !== 1) throw new CoreError('malformed', 'leaf version must be 1');
  if (typeof o['log'] !== 'string') throw new CoreError('malformed', 'leaf log must be a string');
  if (!Number.isSafeInteger(o['seq']) || (o['seq'] as number) < 0)
    throw new CoreError('malformed', 'leaf seq must be a non-negative integer');
  if (typeof o['ts'] !== 'string') throw new CoreError('malformed', 'leaf ts must be a string');
  if (typeof o['type'] !== 'string') throw new CoreError('malformed', 'leaf type must be a string');
  if (typeof o['eid'] !== 'string') throw new CoreError('malformed', 'leaf eid must be a string');
  const d = o['d'];
  if (!Array.isArray(d)) throw new CoreError('malformed', 'leaf d must be an array');
  for (let i = 0; i < d.length; i++) {
    const x: unknown = d[i];
    if (typeof x !== 'string' || !DIGEST_RE.test(x))
      throw new CoreError('malformed', `leaf d[${i}] is not a digest`);
    if (i > 0 && (d[i - 1] as string) >= x)
      throw new CoreError('malformed', 'leaf digests are not sorted and unique');
  }
  const src = o['src'];
  if (src !== undefined) {
    if (typeof src !== 'object' || src === null || Array.isArray(src))
      throw new CoreError('malformed', 'leaf src must be an object');
    const s = src as Record<string, unknown>;
    if (typeof s['kid'] !== 'string' || typeof s['sig'] !== 'string')
      throw new CoreError('malformed', 'leaf src needs kid and sig');
  }
  return o as unknown as LeafRecord;
}

function decodeLeafText(bytes: Uint8Array): string {
  try {
    return decodeUtf8Strict(bytes);
  } catch {
    throw new CoreError('malformed', 'leaf is not valid UTF-8');
  }
}
