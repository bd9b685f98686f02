/**
 * The MCP proxy's cost to an agent: the latency it adds to each `tools/call`. One client calls a
 * trivial stdio MCP server (it echoes its argument) in a loop, once directly and once through
 * `auditrail mcp-proxy` (its own process, the log in an SQLite file), in alternating blocks so both
 * see the same machine load. Through the proxy, each call's intent and decision are durable
 * before the server sees it; its outcome is committed before the answer is forwarded.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { addBenchmark, below, percentile } from '../suite.js';

/** A stdio MCP server with one tool, `echo`, and nothing else: the proxy's cost stands alone. */
const TRIVIAL_SERVER = `
const out = (m) => process.stdout.write(JSON.stringify(m) + '\\n');
require('node:readline').createInterface({ input: process.stdin }).on('line', (line) => {
  const m = JSON.parse(line);
  if (m.id === undefined) return;
  if (m.method === 'initialize')
    out({ jsonrpc: '2.0', id: m.id, result: { protocolVersion: m.params.protocolVersion,
      capabilities: { tools: {} }, serverInfo: { name: 'trivial', version: '1.0.0' } } });
  else if (m.method === 'tools/list')
    out({ jsonrpc: '2.0', id: m.id, result: { tools: [{ name: 'echo', inputSchema: { type: 'object' } }] } });
  else if (m.method === 'tools/call')
    out({ jsonrpc: '2.0', id: m.id, result: { content: [{ type: 'text', text: String(m.params.arguments.text) }] } });
  else out({ jsonrpc: '2.0', id: m.id, error: { code: -32601, message: 'Method not found' } });
});
`;

const POLICY = `policy_id: bench-mcp
version: 1
default: deny
rules:
  - id: allow-echo
    match: { action: "mcp:echo", target: "trivial" }
    effect: allow
`;

/** A minimal MCP client over a child's stdio: one request at a time, answers matched by id. */
class StdioClient {
  private buffered = '';
  private readonly waiting = new Map<
    number,
    { resolve: (m: { result?: unknown; error?: unknown }) => void; reject: (e: Error) => void }
  >();
  private nextId = 1;
  private stderr = '';

  constructor(private readonly child: ChildProcessWithoutNullStreams) {
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      this.buffered += chunk;
      for (let nl = this.buffered.indexOf('\n'); nl >= 0; nl = this.buffered.indexOf('\n')) {
        const m = JSON.parse(this.buffered.slice(0, nl)) as {
          id?: number;
          result?: unknown;
          error?: unknown;
        };
        this.buffered = this.buffered.slice(nl + 1);
        if (m.id === undefined) continue;
        this.waiting.get(m.id)?.resolve(m);
        this.waiting.delete(m.id);
      }
    });
    child.on('exit', (code) => {
      for (const w of this.waiting.values())
        w.reject(new Error(`MCP process exited (${code}): ${this.stderr}`));
      this.waiting.clear();
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => (this.stderr = (this.stderr + chunk).slice(-4000)));
  }

  async request(method: string, params: unknown): Promise<unknown> {
    const id = this.nextId++;
    const answer = new Promise<{ result?: unknown; error?: unknown }>((resolve, reject) =>
      this.waiting.set(id, { resolve, reject }),
    );
    this.child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', id, method, params })}\n`);
    const m = await answer;
    if (m.error !== undefined) throw new Error(`${method} failed: ${JSON.stringify(m.error)}`);
    return m.result;
  }

  async start(): Promise<void> {
    await this.request('initialize', {
      protocolVersion: '2025-06-18',
      capabilities: {},
      clientInfo: { name: 'bench-client', version: '1.0.0' },
    });
    this.child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' })}\n`);
  }

  /** One `tools/call` of `echo`, in ms; a refused call (isError) is an error here. */
  async call(i: number): Promise<number> {
    const t = performance.now();
    const r = (await this.request('tools/call', { name: 'echo', arguments: { text: `hello ${i}` } })) as {
      isError?: boolean;
    };
    const ms = performance.now() - t;
    if (r.isError) throw new Error(`tools/call was refused: ${JSON.stringify(r)}`);
    return ms;
  }

  /** Closes its input (MCP stdio shutdown) and waits for the process to exit. */
  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.stdin.end();
    await exited;
  }
}

/** `auditrail mcp-proxy` of this checkout: compiled (npm run bench) or TypeScript under tsx. */
function proxyCommand(): string[] {
  const self = import.meta.url;
  const main = fileURLToPath(new URL(`../../src/cli/main.${self.endsWith('.ts') ? 'ts' : 'js'}`, self));
  return self.endsWith('.ts') ? ['--import', 'tsx', main] : [main];
}

addBenchmark({
  name: 'mcp',
  needs: ['guard'],
  async run(ctx) {
    const policy = join(ctx.tmpDir, 'mcp-policy.yaml');
    writeFileSync(policy, POLICY);
    const server = [process.execPath, '-e', TRIVIAL_SERVER];
    const direct = new StdioClient(spawn(server[0]!, server.slice(1)));
    const proxied = new StdioClient(
      spawn(process.execPath, [
        ...proxyCommand(),
        'mcp-proxy',
        '--policy',
        policy,
        '--db',
        join(ctx.tmpDir, 'mcp', 'audit.db'),
        '--tenant',
        'bench',
        '--',
        ...server,
      ]),
    );
    try {
      await Promise.all([direct.start(), proxied.start()]);
      for (let i = 0; i < 50; i++) {
        await direct.call(i);
        await proxied.call(i);
      }
      // Alternating blocks of back-to-back calls: an agent calls tools one after another.
      const n = ctx.scale(300, 1000);
      const block = 20;
      const directMs: number[] = [];
      const proxiedMs: number[] = [];
      for (let i = 0; i < n; i += block) {
        for (let j = i; j < i + block; j++) directMs.push(await direct.call(j));
        for (let j = i; j < i + block; j++) proxiedMs.push(await proxied.call(j));
      }
      const directP50 = percentile(directMs, 0.5);
      const proxiedP50 = percentile(proxiedMs, 0.5);
      const guard = ctx.result('guard.sequential_p50');
      const note = `${directMs.length} calls each way, blocks of ${block}`;
      return [
        {
          name: 'mcp.added_latency_p50',
          value: proxiedP50 - directP50,
          unit: 'ms',
          ...(guard !== undefined ? { target: below(guard * 1.5, '1.5 × guard.sequential_p50') } : {}),
          note: `p50 through the proxy minus p50 direct; log in SQLite on disk; ${note}`,
        },
        { name: 'mcp.proxied_call_p50', value: proxiedP50, unit: 'ms', note },
        { name: 'mcp.proxied_call_p99', value: percentile(proxiedMs, 0.99), unit: 'ms', note },
        { name: 'mcp.direct_call_p50', value: directP50, unit: 'ms', note },
      ];
    } finally {
      await Promise.all([direct.close(), proxied.close()]);
    }
  },
});
