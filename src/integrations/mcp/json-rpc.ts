/**
 * The JSON-RPC 2.0 wire of MCP's stdio transport: messages are UTF-8 JSON, one per line, with no
 * embedded newlines (MCP spec, Transports §stdio). Just enough to route and answer messages;
 * everything not understood is passed on, never reinterpreted.
 */

/** A request or notification id (JSON-RPC 2.0 §4: string or number; MCP forbids null). */
export type JsonRpcId = string | number;

export interface JsonRpcRequest {
  jsonrpc: '2.0';
  id: JsonRpcId;
  method: string;
  params?: unknown;
}

export interface JsonRpcNotification {
  jsonrpc: '2.0';
  method: string;
  params?: unknown;
}

export interface JsonRpcResponse {
  jsonrpc: '2.0';
  id: JsonRpcId | null;
  result?: unknown;
  error?: { code: number; message: string; data?: unknown };
}

/** JSON-RPC 2.0 §5.1 error codes. */
export const PARSE_ERROR = -32700;
export const INVALID_REQUEST = -32600;
export const INVALID_PARAMS = -32602;
export const INTERNAL_ERROR = -32603;
/** Implementation-defined server error range (-32000 to -32099). */
export const SERVER_UNAVAILABLE = -32000;

export type Obj = Record<string, unknown>;

export function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isId(v: unknown): v is JsonRpcId {
  return typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v));
}

export function isRequest(m: Obj): m is Obj & JsonRpcRequest {
  return typeof m['method'] === 'string' && isId(m['id']);
}

export function isNotification(m: Obj): m is Obj & JsonRpcNotification {
  return typeof m['method'] === 'string' && !('id' in m);
}

export function isResponse(m: Obj): m is Obj & JsonRpcResponse {
  return !('method' in m) && ('result' in m || 'error' in m) && (isId(m['id']) || m['id'] === null);
}

/** A map key for an id: `1` and `"1"` are different ids. */
export function idKey(id: JsonRpcId): string {
  return typeof id === 'number' ? `n:${id}` : `s:${id}`;
}

export function errorResponse(id: JsonRpcId | null, code: number, message: string): JsonRpcResponse {
  return { jsonrpc: '2.0', id, error: { code, message } };
}

export function resultResponse(id: JsonRpcId, result: unknown): JsonRpcResponse {
  return { jsonrpc: '2.0', id, result };
}

/**
 * Splits a byte stream into lines without decoding partial UTF-8 sequences, and bounds a line's
 * size: a peer that never sends a newline cannot make the proxy buffer without limit.
 */
export class LineReader {
  private parts: Buffer[] = [];
  private size = 0;
  private discarding = false;

  constructor(
    private readonly onLine: (line: string) => void,
    private readonly onOversize: (bytes: number) => void,
    private readonly maxBytes: number,
  ) {}

  push(chunk: Buffer): void {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      if (nl === -1) break;
      this.take(chunk.subarray(start, nl), true);
      start = nl + 1;
    }
    if (start < chunk.length) this.take(chunk.subarray(start), false);
  }

  private take(piece: Buffer, ends: boolean): void {
    if (!this.discarding) {
      if (this.size + piece.length > this.maxBytes) {
        this.onOversize(this.size + piece.length);
        this.discarding = true;
        this.parts = [];
        this.size = 0;
      } else if (piece.length > 0) {
        this.parts.push(Buffer.from(piece));
        this.size += piece.length;
      }
    }
    if (!ends) return;
    if (!this.discarding) {
      let line = Buffer.concat(this.parts, this.size).toString('utf8');
      if (line.endsWith('\r')) line = line.slice(0, -1);
      if (line.trim() !== '') this.onLine(line);
    }
    this.parts = [];
    this.size = 0;
    this.discarding = false;
  }

  /** The unterminated rest at end of stream, if any (a peer may omit the last newline). */
  end(): void {
    if (this.size > 0 && !this.discarding) this.take(Buffer.alloc(0), true);
  }
}
