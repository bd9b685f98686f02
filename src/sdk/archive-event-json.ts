/**
 * The `event` column of an archive's events file (docs/storage.md "Cold archive"): the text of
 * `JSON.stringify(toRecordedEvent(e))`, built from the stored disclosure bytes without parsing
 * them. A disclosure is canonical JSON (RFC 8785, docs/verification.md §3.2), `["<salt>","<pointer>",
 * <value>]`, so the body's object text and each field's value text are slices of it; the fields
 * go back into the body the way `assembleEvent` puts them (appended to their parent object, in
 * disclosure order). Events outside the common shape (an erased field, a pointer deeper than two
 * tokens or with characters JSON escapes, a parent absent from the body, a body whose event_id or
 * type is not the entry's, bytes that are not UTF-8) are left to the caller's parse-and-rebuild.
 */
import { isUtf8 } from 'node:buffer';
import type { StoredEvent } from '../store/store.js';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
/** `["` + 22 salt characters + `","`: where the pointer's text starts in a disclosure. */
const POINTER_AT = 27;
/** Tokens written as JSON keys without escaping (and compared byte for byte). */
const PLAIN_TOKEN = /^[A-Za-z0-9_]{1,64}$/;

/** Index just past the JSON string starting at `i` (a quote), or -1. */
function skipString(b: Uint8Array, i: number, end: number): number {
  for (let j = i + 1; j < end; j++) {
    const c = b[j];
    if (c === BACKSLASH) j++;
    else if (c === QUOTE) return j + 1;
  }
  return -1;
}

/** Index just past the JSON value starting at `i`, or -1. */
function skipValue(b: Uint8Array, i: number, end: number): number {
  const c = b[i];
  if (c === QUOTE) return skipString(b, i, end);
  if (c === OPEN_BRACE || c === OPEN_BRACKET) {
    let depth = 0;
    for (let j = i; j < end; j++) {
      const x = b[j];
      if (x === QUOTE) {
        j = skipString(b, j, end) - 1;
        if (j < 0) return -1;
      } else if (x === OPEN_BRACE || x === OPEN_BRACKET) depth++;
      else if (x === CLOSE_BRACE || x === CLOSE_BRACKET) {
        if (--depth === 0) return j + 1;
      }
    }
    return -1;
  }
  for (let j = i; j < end; j++) {
    const x = b[j];
    if (x === COMMA || x === CLOSE_BRACE || x === CLOSE_BRACKET) return j;
  }
  return -1;
}

/** Whether `b[from..to)` is exactly the ASCII text `s`. */
function sliceIs(b: Uint8Array, from: number, to: number, s: string): boolean {
  if (to - from !== s.length) return false;
  for (let k = 0; k < s.length; k++) if (b[from + k] !== s.charCodeAt(k)) return false;
  return true;
}

interface Field {
  parent: string | null;
  key: string;
  /** The value's text: `bytes[from..to)`. */
  bytes: Uint8Array;
  from: number;
  to: number;
}

/** Builds event JSON texts into one reused buffer. */
export class EventJsonWriter {
  private buf = Buffer.allocUnsafeSlow(16_384);
  private n = 0;
  private readonly logJson: string;

  constructor(origin: string) {
    this.logJson = JSON.stringify(origin);
  }

  private room(bytes: number): void {
    if (this.n + bytes <= this.buf.length) return;
    const next = Buffer.allocUnsafeSlow(Math.max(this.buf.length * 2, this.n + bytes));
    this.buf.copy(next, 0, 0, this.n);
    this.buf = next;
  }

  private ascii(s: string): void {
    this.room(s.length * 3);
    this.n += this.buf.write(s, this.n, 'utf8');
  }

  private copy(b: Uint8Array, from: number, to: number): void {
    this.room(to - from);
    this.buf.set(b.subarray(from, to), this.n);
    this.n += to - from;
  }

  /**
   * The event's JSON text (a view into this writer's buffer, valid until the next call), or
   * undefined when the event is not of the shape built here.
   */
  build(e: StoredEvent): Uint8Array | undefined {
    let body: Uint8Array | undefined;
    const fields: Field[] = [];
    for (const d of e.disclosures) {
      const b = d.disclosure;
      if (b === null) return undefined;
      const p = d.pointer;
      // `["<22>","<pointer>",<value>]`: the pointer as stored, then the value up to the last byte.
      const at = POINTER_AT + p.length;
      if (
        b.length < at + 4 ||
        b[0] !== OPEN_BRACKET ||
        b[1] !== QUOTE ||
        b[24] !== QUOTE ||
        b[25] !== COMMA ||
        b[26] !== QUOTE ||
        b[at] !== QUOTE ||
        b[at + 1] !== COMMA ||
        b[b.length - 1] !== CLOSE_BRACKET ||
        !sliceIs(b, POINTER_AT, at, p) ||
        // Copied as they are into a UTF-8 column: the parse this replaces would refuse them.
        !isUtf8(b)
      )
        return undefined;
      if (p === '') {
        if (body !== undefined || b[at + 2] !== OPEN_BRACE || b[b.length - 2] !== CLOSE_BRACE)
          return undefined;
        body = b;
        continue;
      }
      const tokens = p.split('/');
      if (tokens.length === 2 && PLAIN_TOKEN.test(tokens[1]!)) {
        fields.push({ parent: null, key: tokens[1]!, bytes: b, from: at + 2, to: b.length - 1 });
      } else if (tokens.length === 3 && PLAIN_TOKEN.test(tokens[1]!) && PLAIN_TOKEN.test(tokens[2]!)) {
        fields.push({ parent: tokens[1]!, key: tokens[2]!, bytes: b, from: at + 2, to: b.length - 1 });
      } else return undefined;
    }
    if (body === undefined) return undefined;
    // The body object: `{` at `start`, its `}` at `end - 1`.
    const start = POINTER_AT + 2;
    const end = body.length - 1;
    // The closing brace of each parent object fields go into, and whether it is empty.
    const closes = new Map<string, { close: number; empty: boolean }>();
    let sawId = false;
    let sawType = false;
    let i = start + 1;
    if (body[i] !== CLOSE_BRACE) {
      for (;;) {
        if (body[i] !== QUOTE) return undefined;
        const keyEnd = skipString(body, i, end);
        if (keyEnd < 0 || body[keyEnd] !== COLON) return undefined;
        const v = keyEnd + 1;
        const vEnd = skipValue(body, v, end);
        if (vEnd < 0) return undefined;
        if (sliceIs(body, i + 1, keyEnd - 1, 'event_id')) {
          if (!sliceIs(body, v + 1, vEnd - 1, e.entry.eid) || body[v] !== QUOTE) return undefined;
          sawId = true;
        } else if (sliceIs(body, i + 1, keyEnd - 1, 'type')) {
          if (!sliceIs(body, v + 1, vEnd - 1, e.entry.type) || body[v] !== QUOTE) return undefined;
          sawType = true;
        } else if (
          sliceIs(body, i + 1, keyEnd - 1, 'seq') ||
          sliceIs(body, i + 1, keyEnd - 1, 'ts') ||
          sliceIs(body, i + 1, keyEnd - 1, 'leaf_hash') ||
          sliceIs(body, i + 1, keyEnd - 1, 'log')
        ) {
          // toRecordedEvent lets the body's own value of these stand in the first place.
          return undefined;
        } else if (body[v] === OPEN_BRACE) {
          for (const f of fields) {
            if (f.parent !== null && !closes.has(f.parent) && sliceIs(body, i + 1, keyEnd - 1, f.parent))
              closes.set(f.parent, { close: vEnd - 1, empty: vEnd - v === 2 });
          }
        }
        if (body[vEnd] === CLOSE_BRACE && vEnd === end - 1) break;
        if (body[vEnd] !== COMMA) return undefined;
        i = vEnd + 1;
      }
    }
    // The entry's event_id and type are the body's (as toRecordedEvent sets them) in a well-formed log.
    if (!sawId || !sawType) return undefined;
    for (const f of fields) if (f.parent !== null && !closes.has(f.parent)) return undefined;
    this.n = 0;
    this.ascii(
      `{"seq":${e.entry.seq},"ts":${JSON.stringify(e.entry.ts)},"leaf_hash":"${e.entry.leafHash.toString('hex')}","log":${this.logJson},`,
    );
    // Body members, with each parent's fields appended before its closing brace (in disclosure
    // order, as assembleEvent sets them), and top-level fields before the body's own.
    const inserts = [...closes.entries()].sort((x, y) => x[1].close - y[1].close);
    let from = start + 1;
    for (const [parent, at] of inserts) {
      this.copy(body, from, at.close);
      let empty = at.empty;
      for (const f of fields) {
        if (f.parent !== parent) continue;
        this.ascii(`${empty ? '' : ','}"${f.key}":`);
        this.copy(f.bytes, f.from, f.to);
        empty = false;
      }
      from = at.close;
    }
    this.copy(body, from, end - 1);
    for (const f of fields) {
      if (f.parent !== null) continue;
      this.ascii(`,"${f.key}":`);
      this.copy(f.bytes, f.from, f.to);
    }
    this.ascii('}');
    return this.buf.subarray(0, this.n);
  }
}
