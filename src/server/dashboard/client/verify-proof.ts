// An independent checker of `auditrail-proof/v1` bundles (docs/verification.md §6) for the browser:
// WebCrypto only (SHA-256, Ed25519), no code shared with src/core, so a page that trusts nothing
// the server says can still check one event. It also runs in Node (the same WebCrypto API), where
// its unit test checks it against bundles made by `auditrail prove`.

/** What a failed check was about; the page shows it beside the detail. */
export type ProofFailureKind =
  'format' | 'key' | 'key_mismatch' | 'checkpoint' | 'signature' | 'leaf' | 'inclusion' | 'disclosure';

export interface ProofFailure {
  kind: ProofFailureKind;
  detail: string;
}

/** One check that ran, and what it found. */
export interface ProofCheck {
  name: string;
  ok: boolean;
  detail: string;
}

export interface ProofCheckResult {
  ok: boolean;
  checks: ProofCheck[];
  failures: ProofFailure[];
  /** The event reassembled from the disclosures that verified (null when none did). */
  event: Record<string, unknown> | null;
  /** The key name and id the checkpoint signature was checked against. */
  key: { name: string; id: string } | null;
}

/** A parsed C2SP verifier key (§5.3). */
export interface PinnedKey {
  name: string;
  /** 8 lowercase hex digits. */
  id: string;
  /** The 32-byte Ed25519 public key. */
  publicKey: Uint8Array;
}

const MAX_DISCLOSURES = 64;
const MAX_PROOF = 64;
const MAX_NOTE_BYTES = 1 << 20;
const DISCLOSURE_PREFIX = 'auditrail/disclosure/v1\n';
const LEAF_MEMBERS = new Set(['v', 'log', 'seq', 'ts', 'type', 'eid', 'd', 'src']);
const DIGEST = /^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/;
const FORBIDDEN_TOKENS = new Set(['__proto__', 'constructor', 'prototype']);

const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function subtle(): typeof globalThis.crypto.subtle {
  const s = globalThis.crypto?.subtle;
  if (!s) throw new Error('this browser has no WebCrypto (a secure context is needed: https or localhost)');
  return s;
}

async function sha256(...parts: Uint8Array[]): Promise<Uint8Array> {
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  return new Uint8Array(await subtle().digest('SHA-256', all));
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

function hex(b: Uint8Array): string {
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
}

function toBase64(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += String.fromCharCode(x);
  return btoa(s);
}

/** §1: canonical base64 only (decode, re-encode, compare). */
function fromBase64Strict(s: unknown): Uint8Array | null {
  if (typeof s !== 'string' || s.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) return null;
  let bin: string;
  try {
    bin = atob(s);
  } catch {
    return null;
  }
  const out = Uint8Array.from(bin, (c) => c.charCodeAt(0));
  return toBase64(out) === s ? out : null;
}

function toBase64Url(b: Uint8Array): string {
  return toBase64(b).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** §1: canonical base64url only. */
function fromBase64UrlStrict(s: unknown): Uint8Array | null {
  if (typeof s !== 'string' || s.length % 4 === 1 || !/^[A-Za-z0-9_-]*$/.test(s)) return null;
  const padded = s.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (s.length % 4)) % 4);
  const out = fromBase64Strict(padded);
  return out && toBase64Url(out) === s ? out : null;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
// §1: control characters are U+0000–U+001F.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u001f]/;

function validKeyName(name: string): boolean {
  return (
    name.length > 0 && !CONTROL.test(name) && !LONE_SURROGATE.test(name) && !/[\p{White_Space}+]/u.test(name)
  );
}

/** `SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)[0:4]` (§5.2). */
async function keyIdOf(name: string, publicKey: Uint8Array): Promise<string> {
  return hex((await sha256(utf8.encode(name), new Uint8Array([0x0a, 0x01]), publicKey)).subarray(0, 4));
}

/**
 * Parses and checks a C2SP verifier key (§5.3): `name+keyid+base64(0x01 ‖ key)`, its id
 * recomputed from the name and key. Throws an Error naming what is wrong.
 *
 * @example
 * const k = await parsePinnedKey('auditrail.local/t/acme/default+f8a33d5b+AXH9…');
 */
export async function parsePinnedKey(vkey: string): Promise<PinnedKey> {
  const text = vkey.trim();
  if (utf8.encode(text).length > 4096) throw new Error('a verifier key is at most 4096 bytes');
  const a = text.indexOf('+');
  const b = a < 0 ? -1 : text.indexOf('+', a + 1);
  if (a < 0 || b < 0) throw new Error('a verifier key reads NAME+KEYID+KEY');
  const name = text.slice(0, a);
  const id = text.slice(a + 1, b);
  if (!validKeyName(name))
    throw new Error('the key name is empty or holds spaces, "+" or control characters');
  if (!/^[0-9a-f]{8}$/.test(id)) throw new Error('the key id is not 8 lowercase hex digits');
  const raw = fromBase64Strict(text.slice(b + 1));
  if (!raw || raw.length !== 33 || raw[0] !== 0x01) {
    throw new Error('the key is not canonical base64 of an Ed25519 key (33 bytes starting 0x01)');
  }
  const publicKey = raw.slice(1);
  if ((await keyIdOf(name, publicKey)) !== id) throw new Error('the key id does not match the name and key');
  return { name, id, publicKey };
}

/**
 * The SHA-256 fingerprint of a pinned key's public key, as colon-separated hex pairs: what a
 * person compares with the key published out of band.
 *
 * @example
 * await keyFingerprint(await parsePinnedKey(vkey)); // '3f:9a:…'
 */
export async function keyFingerprint(key: PinnedKey): Promise<string> {
  return hex(await sha256(key.publicKey)).replace(/(..)(?!$)/g, '$1:');
}

/** RFC 9162 §2.1.3.2 (docs/verification.md §4.3). */
async function inclusionRoot(
  leafHash: Uint8Array,
  index: number,
  size: number,
  proof: Uint8Array[],
): Promise<Uint8Array | null> {
  if (!(index >= 0 && index < size) || proof.length > MAX_PROOF) return null;
  const node = (l: Uint8Array, r: Uint8Array): Promise<Uint8Array> => sha256(new Uint8Array([1]), l, r);
  // Sizes go up to 2^53-1: halve with Math.floor, never with bit shifts (32-bit in JavaScript).
  let fn = index;
  let sn = size - 1;
  let r = leafHash;
  for (const p of proof) {
    if (p.length !== 32 || sn === 0) return null;
    if (fn % 2 === 1 || fn === sn) {
      r = await node(p, r);
      while (fn % 2 === 0 && fn !== 0) {
        fn /= 2;
        sn = Math.floor(sn / 2);
      }
    } else {
      r = await node(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 ? r : null;
}

interface OpenedCheckpoint {
  origin: string;
  size: number;
  root: Uint8Array;
}

/** §5.4 for one trusted key: throws with the failure kind in `cause`. */
async function openCheckpoint(note: string, key: PinnedKey, origin: string): Promise<OpenedCheckpoint> {
  const fail = (kind: ProofFailureKind, detail: string): never => {
    throw new Error(detail, { cause: kind });
  };
  if (utf8.encode(note).length > MAX_NOTE_BYTES) fail('checkpoint', 'the note is longer than 1 MiB');
  if (!note.endsWith('\n')) fail('checkpoint', 'the note does not end with a newline');
  // eslint-disable-next-line no-control-regex -- control characters other than \n are refused
  if (LONE_SURROGATE.test(note) || /[\u0000-\u0009\u000b-\u001f]/.test(note)) {
    fail('checkpoint', 'the note holds a control character or a lone surrogate');
  }
  const split = note.lastIndexOf('\n\n');
  if (split < 0) fail('checkpoint', 'the note has no signature lines');
  const body = note.slice(0, split + 1);
  const lines = note.slice(split + 2, -1).split('\n');
  if (lines.length > 100) fail('checkpoint', 'the note has more than 100 signatures');
  let verified = false;
  const seen = new Set<string>();
  for (const line of lines) {
    const m = /^\u2014 (\S+) (\S+)$/.exec(line);
    const sig = m ? fromBase64Strict(m[2]) : null;
    if (!m || !validKeyName(m[1]!) || !sig || sig.length < 5)
      fail('checkpoint', 'a signature line is malformed');
    const name = m![1]!;
    const id = hex(sig!.subarray(0, 4));
    if (name !== key.name || id !== key.id || seen.has(id)) continue;
    seen.add(id);
    const pub = await subtle().importKey('raw', new Uint8Array(key.publicKey), { name: 'Ed25519' }, false, [
      'verify',
    ]);
    const ok = await subtle().verify(
      { name: 'Ed25519' },
      pub,
      new Uint8Array(sig!.subarray(4)),
      new Uint8Array(utf8.encode(body)),
    );
    if (!ok) fail('signature', `the Ed25519 signature by ${name} (key id ${id}) does not verify`);
    verified = true;
  }
  if (!verified)
    fail('signature', `the checkpoint carries no signature by the pinned key ${key.name} (${key.id})`);
  const [o, sizeText, rootText] = body.split('\n');
  if (o === undefined || o === '' || sizeText === undefined || rootText === undefined) {
    fail('checkpoint', 'the checkpoint body has fewer than three lines');
  }
  const size = Number(sizeText);
  if (!/^(0|[1-9][0-9]*)$/.test(sizeText!) || !Number.isSafeInteger(size)) {
    fail('checkpoint', 'the checkpoint size is not an integer');
  }
  const root = /^[A-Za-z0-9+/]{43}=$/.test(rootText!) ? fromBase64Strict(rootText) : null;
  if (!root || root.length !== 32) fail('checkpoint', 'the checkpoint root is not base64 of 32 bytes');
  if (o !== origin) fail('checkpoint', `the checkpoint is of log ${o!}, the bundle names ${origin}`);
  if (key.name !== origin) fail('key_mismatch', `the pinned key is named ${key.name}, the log is ${origin}`);
  return { origin: o!, size, root: root! };
}

interface Leaf {
  log: string;
  seq: number;
  d: string[];
  eid: string;
  type: string;
}

/** §4.1: the reference parser's checks. */
function parseLeaf(bytes: Uint8Array): Leaf {
  let v: unknown;
  try {
    v = JSON.parse(strictUtf8.decode(bytes));
  } catch {
    throw new Error('the leaf is not UTF-8 JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new Error('the leaf is not a JSON object');
  const l = v as Record<string, unknown>;
  for (const k of Object.keys(l))
    if (!LEAF_MEMBERS.has(k)) throw new Error(`the leaf has an unknown member ${k}`);
  if (l['v'] !== 1) throw new Error('the leaf is not version 1');
  for (const k of ['log', 'ts', 'type', 'eid']) {
    if (typeof l[k] !== 'string') throw new Error(`the leaf member ${k} is not a string`);
  }
  if (!Number.isSafeInteger(l['seq']) || (l['seq'] as number) < 0)
    throw new Error('the leaf seq is not an integer');
  const d = l['d'];
  if (!Array.isArray(d)) throw new Error('the leaf digests are not a list');
  for (const [i, x] of d.entries()) {
    if (typeof x !== 'string' || !DIGEST.test(x)) throw new Error(`leaf digest ${i} is malformed`);
    // Strictly ascending by byte: these are ASCII, so UTF-16 comparison is byte order.
    if (i > 0 && !((d[i - 1] as string) < x)) throw new Error('the leaf digests are not strictly ascending');
  }
  const src = l['src'];
  if (
    src !== undefined &&
    (typeof src !== 'object' ||
      src === null ||
      Array.isArray(src) ||
      typeof (src as Record<string, unknown>)['kid'] !== 'string' ||
      typeof (src as Record<string, unknown>)['sig'] !== 'string')
  ) {
    throw new Error('the leaf src is malformed');
  }
  return {
    log: l['log'] as string,
    seq: l['seq'] as number,
    d: d as string[],
    eid: l['eid'] as string,
    type: l['type'] as string,
  };
}

/** §3.2: returns the pointer's tokens and the value, or throws. */
function parseDisclosure(text: string): { tokens: string[] | null; value: unknown } {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new Error('is not JSON');
  }
  if (!Array.isArray(v) || v.length !== 3) throw new Error('is not a 3-element array');
  const salt = fromBase64UrlStrict(v[0]);
  if (!salt || salt.length !== 16) throw new Error('has a salt that is not 16 bytes of base64url');
  const pointer: unknown = v[1];
  if (typeof pointer !== 'string' || (pointer !== '' && !pointer.startsWith('/'))) {
    throw new Error('has a pointer that is not a JSON pointer');
  }
  if (pointer === '') return { tokens: null, value: v[2] };
  if (/~(?![01])/.test(pointer)) throw new Error('has a pointer with a bad ~ escape');
  const tokens = pointer
    .slice(1)
    .split('/')
    .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (tokens.some((t) => FORBIDDEN_TOKENS.has(t))) throw new Error('has a pointer into a prototype');
  return { tokens, value: v[2] };
}

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** §3.3, with own members only (no prototype is ever reached). */
function assemble(parts: { tokens: string[] | null; value: unknown }[]): Json {
  const define = (o: Json, k: string, value: unknown): void => {
    Object.defineProperty(o, k, { value, enumerable: true, writable: true, configurable: true });
  };
  const body = parts.find((p) => p.tokens === null);
  const event: Json = isObject(body?.value) ? (JSON.parse(JSON.stringify(body.value)) as Json) : {};
  for (const p of parts) {
    if (p.tokens === null) continue;
    let node = event;
    for (const t of p.tokens.slice(0, -1)) {
      if (!Object.hasOwn(node, t) || !isObject(node[t])) define(node, t, {});
      node = node[t] as Json;
    }
    define(node, p.tokens[p.tokens.length - 1]!, p.value);
  }
  return event;
}

/**
 * Checks a proof bundle against a pinned verifier key, as docs/verification.md §6 says, listing
 * every check it ran. Never throws for a bad bundle: the failures say what is wrong.
 *
 * @example
 * const r = await checkProofBundle(await (await fetch('/events/7/proof.json')).json(), pinnedVkey);
 * if (!r.ok) console.log(r.failures);
 */
export async function checkProofBundle(bundle: unknown, pinnedKey: string): Promise<ProofCheckResult> {
  const checks: ProofCheck[] = [];
  const failures: ProofFailure[] = [];
  let usedKey: { name: string; id: string } | null = null;
  const done = (event: Json | null): ProofCheckResult => ({
    ok: failures.length === 0 && checks.every((c) => c.ok),
    checks,
    failures,
    event,
    key: usedKey,
  });
  const check = (name: string, ok: boolean, detail: string, kind?: ProofFailureKind): boolean => {
    checks.push({ name, ok, detail });
    if (!ok && kind) failures.push({ kind, detail });
    return ok;
  };
  const b = bundle as Json | null;
  const inclusion = isObject(b) ? b['inclusion'] : undefined;
  const wellFormed =
    isObject(b) &&
    b['format'] === 'auditrail-proof/v1' &&
    typeof b['log'] === 'string' &&
    Number.isSafeInteger(b['seq']) &&
    (b['seq'] as number) >= 0 &&
    typeof b['leaf'] === 'string' &&
    Array.isArray(b['disclosures']) &&
    b['disclosures'].length <= MAX_DISCLOSURES &&
    isObject(inclusion) &&
    Number.isSafeInteger(inclusion['tree_size']) &&
    (inclusion['tree_size'] as number) >= 0 &&
    Array.isArray(inclusion['proof']) &&
    inclusion['proof'].length <= MAX_PROOF &&
    typeof b['checkpoint'] === 'string' &&
    typeof b['verifier_key'] === 'string';
  if (
    !check(
      'Bundle format',
      wellFormed,
      wellFormed ? 'auditrail-proof/v1, every member present' : 'not a well-formed auditrail-proof/v1 bundle',
      'format',
    )
  ) {
    return done(null);
  }
  const bb = b as Json;
  const inc = inclusion as Json;
  const log = bb['log'] as string;
  const seq = bb['seq'] as number;

  let key: PinnedKey;
  try {
    key = await parsePinnedKey(pinnedKey);
  } catch (e) {
    check('Pinned key', false, `the pinned verifier key does not parse: ${(e as Error).message}`, 'key');
    return done(null);
  }
  usedKey = { name: key.name, id: key.id };
  check(
    'Pinned key',
    bb['verifier_key'] === pinnedKey.trim(),
    bb['verifier_key'] === pinnedKey.trim()
      ? `the bundle names the pinned key ${key.name} (${key.id})`
      : 'the bundle names a different verifier key than the pinned one (checked with the pinned one)',
    'key_mismatch',
  );

  let cp: OpenedCheckpoint;
  try {
    cp = await openCheckpoint(bb['checkpoint'] as string, key, log);
  } catch (e) {
    const kind = ((e as Error).cause as ProofFailureKind | undefined) ?? 'checkpoint';
    check('Checkpoint signature', false, (e as Error).message, kind);
    return done(null);
  }
  check(
    'Checkpoint signature',
    true,
    `Ed25519 signature by ${key.name} (key id ${key.id}) verifies; tree size ${cp.size}`,
  );
  check(
    'Checkpoint size',
    cp.size === inc['tree_size'],
    cp.size === inc['tree_size']
      ? `the proof is for the signed size ${cp.size}`
      : `the inclusion proof is for size ${String(inc['tree_size'])}, the checkpoint is ${cp.size}`,
    'inclusion',
  );

  const leafBytes = fromBase64Strict(bb['leaf']);
  let leaf: Leaf;
  try {
    if (!leafBytes) throw new Error('the leaf is not canonical base64');
    leaf = parseLeaf(leafBytes);
  } catch (e) {
    check('Leaf record', false, (e as Error).message, 'leaf');
    return done(null);
  }
  const leafOk = leaf.log === log && leaf.seq === seq;
  check(
    'Leaf record',
    leafOk,
    leafOk
      ? `seq ${seq} of ${log}, ${leaf.type}, ${leaf.d.length} committed disclosures`
      : `the leaf is seq ${leaf.seq} of ${leaf.log}, the bundle claims seq ${seq} of ${log}`,
    'leaf',
  );

  const proof: Uint8Array[] = [];
  let proofOk = true;
  for (const p of inc['proof'] as unknown[]) {
    const h = fromBase64Strict(p);
    if (!h || h.length !== 32) proofOk = false;
    proof.push(h ?? new Uint8Array(0));
  }
  const leafHash = await sha256(new Uint8Array([0]), leafBytes);
  const root = proofOk ? await inclusionRoot(leafHash, seq, cp.size, proof) : null;
  const included = root !== null && equalBytes(root, cp.root);
  check(
    'Inclusion proof',
    included,
    included
      ? `leaf hash ${hex(leafHash).slice(0, 16)}… and ${proof.length} proof hashes lead to the signed root`
      : `the inclusion proof of seq ${seq} does not lead to the signed root`,
    'inclusion',
  );

  const parts: { tokens: string[] | null; value: unknown }[] = [];
  const committed = new Set(leaf.d);
  for (const [i, d] of (bb['disclosures'] as unknown[]).entries()) {
    if (typeof d !== 'string' || LONE_SURROGATE.test(d)) {
      check(`Disclosure ${i}`, false, `disclosure ${i} is not a well-formed string`, 'disclosure');
      continue;
    }
    const digest = toBase64Url(await sha256(utf8.encode(DISCLOSURE_PREFIX), utf8.encode(d)));
    if (!committed.has(digest)) {
      check(`Disclosure ${i}`, false, `disclosure ${i} is not committed to by the leaf`, 'disclosure');
      continue;
    }
    try {
      parts.push(parseDisclosure(d));
    } catch (e) {
      check(`Disclosure ${i}`, false, `disclosure ${i} ${(e as Error).message}`, 'disclosure');
    }
  }
  const disclosuresOk = parts.length === (bb['disclosures'] as unknown[]).length;
  if (disclosuresOk) {
    const withheld = leaf.d.length - parts.length;
    check(
      'Disclosures',
      true,
      `${parts.length} disclosures hash to digests the leaf commits to` +
        (withheld > 0 ? `; ${withheld} withheld or erased` : ''),
    );
  }
  return done(parts.length > 0 ? assemble(parts) : null);
}
