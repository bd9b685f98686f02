/**
 * An auditing, governing MCP proxy for the stdio transport. It sits between any MCP client (on
 * its own stdin/stdout) and a server it spawns, and works on JSON-RPC messages, not on an MCP SDK:
 * every `tools/call` is policy-checked and recorded before it reaches the server; everything else
 * passes through untouched, ids preserved. Only protocol messages are written to the client;
 * diagnostics go to `diagnostics` (stderr).
 *
 * MCP spec references: Transports §stdio (newline-delimited messages, shutdown), Tools
 * §Error Handling (tool execution errors are results with `isError: true`; protocol errors are
 * JSON-RPC errors), Cancellation (no response to a cancelled request).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { basename } from 'node:path';
import type { Readable } from 'node:stream';
import { uuidv7 } from '../../internal/ids.js';
import {
  AuditError,
  Governor,
  type ActionSpec,
  type Actor,
  type ApprovalRequestInfo,
  type AuditEvent,
  type AuditTrail,
  type PolicyBundle,
} from '../../index.js';
import { isRefusal, refusalText, toolAction } from '../tool-action.js';
import {
  errorResponse,
  idKey,
  INTERNAL_ERROR,
  INVALID_PARAMS,
  INVALID_REQUEST,
  isNotification,
  isObject,
  isRequest,
  isResponse,
  LineReader,
  PARSE_ERROR,
  resultResponse,
  SERVER_UNAVAILABLE,
  type JsonRpcId,
  type JsonRpcRequest,
  type Obj,
} from './json-rpc.js';

/** Somewhere to write text: `process.stdout`, a socket, a test's collector. */
export interface TextSink {
  write(chunk: string): unknown;
}

export interface McpProxyOptions {
  trail: AuditTrail;
  policy: PolicyBundle;
  /** The MCP server to spawn, e.g. `npx` with args `['-y', '@modelcontextprotocol/server-everything']`. */
  command: string;
  args?: string[];
  /** Where client messages arrive (the proxy's stdin). */
  input: Readable;
  /** Where protocol messages to the client go (the proxy's stdout). Nothing else is written here. */
  output: TextSink;
  /** Diagnostics (the proxy's stderr); the server's stderr is copied here too. */
  diagnostics: TextSink;
  /** The server name policies match as `target`; default the server's `serverInfo.name`. */
  server?: string;
  /**
   * Who acts, pinned by the operator. Default: the client's self-declared `clientInfo.name`
   * (recorded with `auth_method: mcp-client-info`; it is a claim, not an authentication).
   */
  actor?: Actor;
  /** Session id recorded on every event (default a fresh `mcp-<uuidv7>`). */
  session_id?: string;
  environment?: string;
  /** The server's environment (default this process's). */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** How often a waiting call checks for an approval decision (default 500 ms). */
  approvalPollMs?: number;
  /** Largest message accepted from either side (default 64 MiB). */
  maxMessageBytes?: number;
  /** After client EOF, how long the server gets to exit before SIGTERM (default 2000 ms). */
  shutdownGraceMs?: number;
  /**
   * The command printed for an operator to approve request `id` (it must work when pasted).
   * Default: `auditrail approvals approve <id> --as NAME` with `--db`, `--tenant` and `--log`
   * of this trail.
   */
  approveCommand?: (id: string) => string;
}

/** `auditrail approvals approve <id> --as NAME`, naming the trail's database, tenant and log. */
function defaultApproveCommand(trail: AuditTrail, id: string): string {
  const q = (s: string): string => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);
  const [, , tenant = trail.tenant, log = 'default'] = trail.origin.split('/');
  const location = trail.location;
  const db = location !== undefined && !location.includes('://') ? ` --db ${q(location)}` : '';
  return `auditrail approvals approve ${id} --as NAME${db} --tenant ${q(tenant)} --log ${q(log)}`;
}

/** What the log keeps of a tool result: bounded text, sizes for binary content. */
class RecordedResult {
  constructor(private readonly result: unknown) {}
  toJSON(): unknown {
    return summarizeResult(this.result);
  }
}

class ToolCallFailed extends Error {
  override name = 'ToolCallFailed';
}

const TEXT_LIMIT = 2000;
const BLOCK_LIMIT = 50;

function clip(s: string, n = TEXT_LIMIT): string {
  return s.length > n ? `${s.slice(0, n)}… (${s.length} chars)` : s;
}

function summarizeResult(result: unknown): unknown {
  if (!isObject(result)) return result;
  const out: Obj = {};
  const content = result['content'];
  if (Array.isArray(content)) {
    out['content'] = content.slice(0, BLOCK_LIMIT).map((b: unknown) => {
      if (!isObject(b)) return b;
      const type = b['type'];
      if (type === 'text' && typeof b['text'] === 'string') return { type, text: clip(b['text']) };
      if ((type === 'image' || type === 'audio') && typeof b['data'] === 'string') {
        return { type, mimeType: b['mimeType'], bytes: Math.floor((b['data'].length * 3) / 4) };
      }
      if (type === 'resource' && isObject(b['resource'])) return { type, uri: b['resource']['uri'] };
      if (type === 'resource_link') return { type, uri: b['uri'], name: b['name'] };
      return { type };
    });
    if (content.length > BLOCK_LIMIT) out['content_blocks'] = content.length;
  }
  if ('structuredContent' in result) {
    const json = JSON.stringify(result['structuredContent']) ?? '';
    out['structuredContent'] =
      json.length <= 8192 ? result['structuredContent'] : { omitted_chars: json.length };
  }
  if (result['isError'] === true) out['isError'] = true;
  return out;
}

function textOf(result: unknown): string {
  if (!isObject(result) || !Array.isArray(result['content'])) return 'tool reported an error';
  const texts = result['content']
    .filter((b: unknown): b is Obj => isObject(b) && b['type'] === 'text' && typeof b['text'] === 'string')
    .map((b) => b['text'] as string);
  return texts.length > 0 ? texts.join('\n') : 'tool reported an error';
}

// Event ids and actor ids are printable ASCII without spaces, at most 128 characters.
function safeId(s: string): string {
  const cleaned = s.replace(/[^\x21-\x7e]+/g, '-').slice(0, 128);
  return cleaned === '' ? 'unknown' : cleaned;
}

function shortText(v: unknown): string | undefined {
  return typeof v === 'string' && v.trim() !== '' ? v.slice(0, 256) : undefined;
}

interface HeldCall {
  id: JsonRpcId;
  controller: AbortController;
  forwarded: boolean;
  answered: boolean;
  /** The server's answer, passed on to the client once the call's outcome is durable. */
  reply?: string | undefined;
}

interface ClientInfo {
  name?: string;
  version?: string;
  title?: string;
  protocolVersion?: string;
  capabilities?: string[];
}

/**
 * Runs the proxy until the client closes its input (the server is then asked to exit, per the
 * stdio shutdown sequence) or the server exits (requests still open are answered with an error).
 * Resolves with an exit code: 0 after a client-initiated shutdown, else the server's code; a server
 * that could not start (spawn error, or a non-zero exit before it wrote anything) is never 0,
 * even when the client had already closed. The caller owns `trail` (open and close it).
 *
 * @example
 * const code = await runMcpProxy({
 *   trail, policy: await loadPolicyFile('mcp-policy.yaml'),
 *   command: 'npx', args: ['-y', '@modelcontextprotocol/server-everything'],
 *   input: process.stdin, output: process.stdout, diagnostics: process.stderr,
 * });
 */
export function runMcpProxy(options: McpProxyOptions): Promise<number> {
  return new McpProxy(options).run();
}

class McpProxy {
  private child: ChildProcess | null = null;
  private governor: Governor | null = null;
  private client: ClientInfo = {};
  private clientActor: Actor | null = null;
  private serverInfo: { name?: string; version?: string } = {};
  private readonly sessionId: string;
  /** Client requests forwarded to the server and not answered yet (id key → method). */
  private readonly outstanding = new Map<string, { id: JsonRpcId; method: string }>();
  /** `tools/call` requests being governed (id key → state). */
  private readonly held = new Map<string, HeldCall>();
  /** Forwarded `tools/call` requests waiting for the server's answer. */
  private readonly inflight = new Map<string, (response: Obj) => void>();
  private readonly pending = new Set<Promise<unknown>>();
  private lifecycleStarted = false;
  private clientClosed = false;
  private serverExited = false;
  /** The server wrote at least one line: it started. */
  private serverSpoke = false;

  constructor(private readonly options: McpProxyOptions) {
    this.sessionId = options.session_id ?? `mcp-${uuidv7()}`;
  }

  private diag(message: string): void {
    this.options.diagnostics.write(`auditrail mcp-proxy: ${message}\n`);
  }

  private toClient(message: unknown): void {
    const line = typeof message === 'string' ? message : JSON.stringify(message);
    this.options.output.write(`${line}\n`);
  }

  private toServer(line: string): void {
    const stdin = this.child?.stdin;
    if (!stdin || stdin.destroyed || this.serverExited) return;
    stdin.write(`${line}\n`);
  }

  private track<T>(p: Promise<T>): void {
    const tracked = p.catch((e: unknown) =>
      this.diag(`could not record: ${e instanceof Error ? e.message : String(e)}`),
    );
    this.pending.add(tracked);
    void tracked.finally(() => this.pending.delete(tracked));
  }

  private base(): Pick<AuditEvent, 'actor' | 'session_id' | 'metadata'> {
    return {
      actor: this.actor(),
      session_id: this.sessionId,
      ...(this.options.environment ? { metadata: { environment: this.options.environment } } : {}),
    };
  }

  private actor(): Actor {
    return this.options.actor ?? this.clientActor ?? { type: 'agent', id: 'mcp-client', auth_method: 'none' };
  }

  private serverName(): string {
    return (this.options.server ?? this.serverInfo.name ?? basename(this.options.command)).slice(0, 1024);
  }

  private governorFor(): Governor {
    this.governor ??= new Governor({
      trail: this.options.trail,
      policy: this.options.policy,
      actor: this.actor(),
      session_id: this.sessionId,
      ...(this.options.environment ? { environment: this.options.environment } : {}),
      // The client gets the server's answer once the outcome is committed (a proxy can be
      // killed at any time): what the client has read, the log holds.
      durableOutcome: true,
      approvals: {
        wait: true,
        pollMs: this.options.approvalPollMs ?? 500,
        onRequest: (req: ApprovalRequestInfo) =>
          this.diag(
            `approval ${req.id} required from ${req.approvers.join(' or ')} for ${req.action.type}` +
              ` (expires ${req.expires_at}); approve with: ${
                this.options.approveCommand?.(req.id) ?? defaultApproveCommand(this.options.trail, req.id)
              }`,
          ),
      },
    });
    return this.governor;
  }

  run(): Promise<number> {
    return new Promise<number>((resolve) => {
      let child: ChildProcess;
      try {
        child = spawn(this.options.command, this.options.args ?? [], {
          stdio: ['pipe', 'pipe', 'pipe'],
          env: this.options.env ?? process.env,
          ...(this.options.cwd !== undefined ? { cwd: this.options.cwd } : {}),
        });
      } catch (e) {
        this.diag(`cannot start ${this.options.command}: ${(e as Error).message}`);
        resolve(1);
        return;
      }
      this.child = child;
      const max = this.options.maxMessageBytes ?? 64 * 1024 * 1024;
      const fromServer = new LineReader(
        (line) => this.onServerLine(line),
        (n) => this.diag(`dropped a server message larger than ${max} bytes (${n}+ bytes)`),
        max,
      );
      const fromClient = new LineReader(
        (line) => this.onClientLine(line),
        (n) => {
          this.diag(`dropped a client message larger than ${max} bytes (${n}+ bytes)`);
          this.toClient(errorResponse(null, INVALID_REQUEST, `message larger than ${max} bytes`));
        },
        max,
      );
      child.stdout?.on('data', (chunk: Buffer) => fromServer.push(chunk));
      child.stderr?.setEncoding('utf8');
      child.stderr?.on('data', (chunk: string) => this.options.diagnostics.write(chunk));
      child.stdin?.on('error', (e) => this.diag(`server input closed: ${e.message}`));

      const input = this.options.input;
      const onData = (chunk: Buffer | string): void =>
        fromClient.push(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk);
      const onEnd = (): void => {
        if (this.clientClosed) return;
        fromClient.end();
        this.clientClosed = true;
        this.onClientEof();
      };
      input.on('data', onData);
      input.on('end', onEnd);
      input.on('close', onEnd);
      input.on('error', (e) => {
        this.diag(`client input error: ${e.message}`);
        onEnd();
      });

      let spawnFailed = false;
      child.on('error', (e) => {
        spawnFailed = true;
        this.diag(`cannot start ${this.options.command}: ${e.message}`);
      });
      child.on('close', (code, signal) => {
        fromServer.end();
        this.serverExited = true;
        input.off('data', onData);
        input.off('end', onEnd);
        input.off('close', onEnd);
        if (!this.clientClosed) {
          // The client is still there: answer what it waits for, then stop reading it.
          for (const { id } of this.outstanding.values()) {
            this.toClient(errorResponse(id, SERVER_UNAVAILABLE, 'MCP server exited'));
          }
          for (const h of this.held.values()) {
            if (h.forwarded || h.answered) continue;
            h.answered = true;
            this.toClient(errorResponse(h.id, SERVER_UNAVAILABLE, 'MCP server exited'));
          }
          input.destroy();
        }
        this.outstanding.clear();
        for (const h of this.held.values()) h.controller.abort(new AuditError('closed', 'MCP server exited'));
        // Exited non-zero without a word: it did not start (bad arguments, missing module, …).
        const notStarted = !this.serverSpoke && code !== null && code !== 0;
        const exitCode = spawnFailed ? 1 : notStarted ? code : this.clientClosed ? 0 : (code ?? 1);
        if (notStarted && !spawnFailed) {
          this.diag(`server exited (code ${code}) before it wrote anything`);
        } else if (!this.clientClosed && !spawnFailed && code !== 0) {
          this.diag(`server exited (${signal ? `signal ${signal}` : `code ${code}`})`);
        }
        void this.finish(this.clientClosed ? 'client closed' : 'server exited', code, signal).then(() =>
          resolve(exitCode),
        );
      });
    });
  }

  private onClientEof(): void {
    // MCP stdio shutdown: close the server's input, wait, then SIGTERM, then SIGKILL.
    for (const h of this.held.values()) {
      if (!h.forwarded) h.controller.abort(new AuditError('closed', 'client closed'));
    }
    const child = this.child;
    if (!child || this.serverExited) return;
    child.stdin?.end();
    const grace = this.options.shutdownGraceMs ?? 2000;
    const term = setTimeout(() => {
      if (this.serverExited) return;
      child.kill('SIGTERM');
      const kill = setTimeout(() => {
        if (!this.serverExited) child.kill('SIGKILL');
      }, 2000);
      kill.unref();
    }, grace);
    term.unref();
  }

  private async finish(reason: string, code: number | null, signal: NodeJS.Signals | null): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
    try {
      await this.options.trail.record({
        ...this.base(),
        type: 'agent.lifecycle',
        action: { type: 'mcp.session.end', target: this.serverName() },
        metadata: {
          ...this.base().metadata,
          mcp: { reason, server_exit_code: code, server_signal: signal, ...this.clientMetadata() },
        },
      });
      await this.options.trail.flush();
    } catch (e) {
      this.diag(`could not record the session end: ${(e as Error).message}`);
    }
  }

  private clientMetadata(): Obj {
    const c = this.client;
    return {
      client: {
        ...(c.name !== undefined ? { name: c.name } : {}),
        ...(c.version !== undefined ? { version: c.version } : {}),
        ...(c.title !== undefined ? { title: c.title } : {}),
      },
      ...(c.protocolVersion !== undefined ? { protocol_version_requested: c.protocolVersion } : {}),
      ...(c.capabilities ? { client_capabilities: c.capabilities } : {}),
    };
  }

  // ---- client → server ----

  private onClientLine(line: string): void {
    let message: unknown;
    try {
      message = JSON.parse(line);
    } catch {
      // Never forward what we could not read: the server might read it as a tool call.
      this.toClient(errorResponse(null, PARSE_ERROR, 'Parse error'));
      return;
    }
    if (Array.isArray(message)) {
      // JSON-RPC batches (MCP 2025-03-26 only): handled one by one, so each call is governed.
      if (message.length === 0) this.toClient(errorResponse(null, INVALID_REQUEST, 'Invalid Request'));
      for (const m of message) this.onClientMessage(m, JSON.stringify(m));
      return;
    }
    this.onClientMessage(message, line);
  }

  private onClientMessage(message: unknown, raw: string): void {
    if (!isObject(message)) {
      this.toClient(errorResponse(null, INVALID_REQUEST, 'Invalid Request'));
      return;
    }
    if (isRequest(message)) {
      if (message.method === 'tools/call') {
        this.track(this.governCall(message));
        return;
      }
      if (message.method === 'initialize') this.onInitialize(message);
      this.outstanding.set(idKey(message.id), { id: message.id, method: message.method });
    } else if (isNotification(message) && message.method === 'notifications/cancelled') {
      const params = message.params;
      const requestId = isObject(params) ? params['requestId'] : undefined;
      const held =
        typeof requestId === 'string' || typeof requestId === 'number'
          ? this.held.get(idKey(requestId))
          : undefined;
      if (held) {
        held.controller.abort(new AuditError('closed', 'cancelled by the client'));
        // The server never saw a call still being governed: nothing to cancel there.
        if (!held.forwarded) return;
      }
    }
    this.toServer(raw);
  }

  private onInitialize(message: JsonRpcRequest): void {
    const params = isObject(message.params) ? message.params : {};
    const info = isObject(params['clientInfo']) ? params['clientInfo'] : {};
    const name = shortText(info['name']);
    const version = shortText(info['version']);
    const title = shortText(info['title']);
    const protocolVersion = shortText(params['protocolVersion']);
    this.client = {
      ...(name !== undefined ? { name } : {}),
      ...(version !== undefined ? { version } : {}),
      ...(title !== undefined ? { title } : {}),
      ...(protocolVersion !== undefined ? { protocolVersion } : {}),
      ...(isObject(params['capabilities'])
        ? { capabilities: Object.keys(params['capabilities']).slice(0, 32) }
        : {}),
    };
    this.clientActor = {
      type: 'agent',
      id: safeId(name ?? 'mcp-client'),
      ...(title !== undefined || name !== undefined ? { name: (title ?? name)! } : {}),
      auth_method: 'mcp-client-info',
    };
    this.governor = null;
  }

  private onInitialized(response: Obj): void {
    const result = isObject(response['result']) ? response['result'] : {};
    const info = isObject(result['serverInfo']) ? result['serverInfo'] : {};
    const name = shortText(info['name']);
    const version = shortText(info['version']);
    this.serverInfo = {
      ...(name !== undefined ? { name } : {}),
      ...(version !== undefined ? { version } : {}),
    };
    const negotiated = shortText(result['protocolVersion']);
    if (this.lifecycleStarted) return;
    this.lifecycleStarted = true;
    this.track(
      this.options.trail.record({
        ...this.base(),
        type: 'agent.lifecycle',
        action: { type: 'mcp.session.start', target: this.serverName() },
        metadata: {
          ...this.base().metadata,
          mcp: {
            ...this.clientMetadata(),
            ...(negotiated !== undefined ? { protocol_version: negotiated } : {}),
            server: this.serverInfo,
            ...(isObject(response['error'])
              ? { initialize_error: shortText(response['error']['message']) }
              : {}),
          },
        },
      }),
    );
  }

  private onToolsListed(response: Obj): void {
    const result = response['result'];
    if (!isObject(result) || !Array.isArray(result['tools'])) return;
    const names = result['tools']
      .map((t: unknown) => (isObject(t) && typeof t['name'] === 'string' ? t['name'].slice(0, 256) : null))
      .filter((n): n is string => n !== null);
    this.track(
      this.options.trail.record({
        ...this.base(),
        type: 'x.mcp.tools_listed',
        action: { type: 'mcp.tools_list', target: this.serverName() },
        metadata: {
          ...this.base().metadata,
          mcp: {
            tools: names.slice(0, 1000),
            count: names.length,
            ...(typeof result['nextCursor'] === 'string' ? { more: true } : {}),
          },
        },
      }),
    );
  }

  private async governCall(message: JsonRpcRequest): Promise<void> {
    const id = message.id;
    const key = idKey(id);
    const params = message.params;
    if (
      !isObject(params) ||
      typeof params['name'] !== 'string' ||
      (params['arguments'] !== undefined && !isObject(params['arguments']))
    ) {
      this.toClient(
        errorResponse(
          id,
          INVALID_PARAMS,
          'Invalid params: tools/call needs a string "name" and an object "arguments"',
        ),
      );
      return;
    }
    const held: HeldCall = { id, controller: new AbortController(), forwarded: false, answered: false };
    this.held.set(key, held);
    const action: ActionSpec = {
      ...toolAction(params['name'], params['arguments'], { prefix: 'mcp:' }),
      target: this.serverName(),
    };
    try {
      const governor = this.governorFor();
      const decision = await governor.decide(action);
      if (held.controller.signal.aborted) throw held.controller.signal.reason;
      await governor.run(action, (signal) => this.forward(message, key, held, signal), {
        signal: held.controller.signal,
        decision,
      });
      this.passReply(held);
    } catch (e) {
      // Answered by the server (the call ran, and perhaps failed): its answer is the response,
      // now that the outcome is recorded (or could not be: said on stderr, the answer still goes).
      if (held.answered) {
        if (e instanceof AuditError && e.code === 'store_failure')
          this.diag(`outcome of tools/call ${params['name']} not recorded: ${e.message}`);
        this.passReply(held);
        return;
      }
      // Cancelled by the client or it went away: no response (MCP Cancellation).
      if (held.controller.signal.aborted) {
        if (held.forwarded) this.inflight.delete(key);
        return;
      }
      if (isRefusal(e) && !(e instanceof AuditError && e.code === 'store_failure')) {
        this.toClient(
          resultResponse(id, { content: [{ type: 'text', text: refusalText(e) }], isError: true }),
        );
      } else {
        // The audit log could not be written (fail-closed) or the proxy failed: a protocol error.
        this.diag(
          `tools/call ${params['name']} not forwarded: ${e instanceof Error ? e.message : String(e)}`,
        );
        this.toClient(errorResponse(id, INTERNAL_ERROR, refusalText(e)));
      }
    } finally {
      this.held.delete(key);
    }
  }

  private passReply(held: HeldCall): void {
    const reply = held.reply;
    held.reply = undefined;
    if (reply !== undefined) this.toClient(reply);
  }

  private forward(
    message: JsonRpcRequest,
    key: string,
    held: HeldCall,
    signal: AbortSignal,
  ): Promise<RecordedResult> {
    return new Promise<RecordedResult>((resolve, reject) => {
      if (this.serverExited) {
        reject(new AuditError('closed', 'MCP server exited'));
        return;
      }
      const onAbort = (): void => {
        this.inflight.delete(key);
        reject(signal.reason instanceof Error ? signal.reason : new AuditError('closed', 'cancelled'));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.inflight.set(key, (response) => {
        signal.removeEventListener('abort', onAbort);
        held.answered = true;
        const error = response['error'];
        const result = response['result'];
        if (isObject(error)) {
          const text = typeof error['message'] === 'string' ? error['message'] : 'JSON-RPC error';
          reject(new ToolCallFailed(clip(text, 4000)));
        } else if (isObject(result) && result['isError'] === true)
          reject(new ToolCallFailed(clip(textOf(result), 4000)));
        else resolve(new RecordedResult(result));
      });
      held.forwarded = true;
      this.outstanding.set(key, { id: message.id, method: 'tools/call' });
      // What the server receives is exactly what the policy saw.
      this.toServer(JSON.stringify(message));
    });
  }

  // ---- server → client ----

  private onServerLine(line: string): void {
    this.serverSpoke = true;
    let message: unknown;
    try {
      message = JSON.parse(line);
    } catch {
      this.diag(
        'dropped a line from the server that is not JSON (servers must write only messages to stdout)',
      );
      return;
    }
    // A lone answer to a governed call is held until its outcome is durable (governCall passes
    // it on): the client never reads a result the log could still lose. Batches go at once.
    let heldBack = false;
    for (const m of Array.isArray(message) ? (message as unknown[]) : [message]) {
      if (!isObject(m) || !isResponse(m) || m['id'] === null || m['id'] === undefined) continue;
      const key = idKey(m['id']);
      const held = this.held.get(key);
      if (held && !held.forwarded) {
        // An answer to a call the server never received: not the server's to answer.
        this.diag('dropped a server response to a call that was not forwarded');
        return;
      }
      const request = this.outstanding.get(key);
      this.outstanding.delete(key);
      if (request?.method === 'initialize') this.onInitialized(m);
      else if (request?.method === 'tools/list') this.onToolsListed(m);
      const answer = this.inflight.get(key);
      if (answer) {
        this.inflight.delete(key);
        if (held && !Array.isArray(message)) {
          held.reply = line;
          heldBack = true;
        }
        answer(m);
      }
    }
    if (!heldBack) this.toClient(line);
  }
}
