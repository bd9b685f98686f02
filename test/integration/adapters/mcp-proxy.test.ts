import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { run as approvalsCommand } from '../../../src/cli/commands/approvals.js';
import { run as mcpProxyCommand } from '../../../src/cli/commands/mcp-proxy.js';
import type { Io } from '../../../src/cli/io.js';
import { openAuditTrail, parsePolicy, type RecordedEvent } from '../../../src/index.js';
import { runMcpProxy } from '../../../src/integrations/mcp/proxy.js';
import { MemoryStore } from '../../../src/testing/index.js';
import { tempDir } from '../helpers.js';
import {
  blockingTurn,
  cases,
  runCase,
  skipFor,
  toolBody,
  type Done,
  type Driver,
  type Framework,
} from './cases.js';
import { AGENT, lifecycle, policyFor, setup, type SetupOptions } from './fixtures.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const serverPkg = createRequire(import.meta.url).resolve(
  '@modelcontextprotocol/server-everything/package.json',
);
const serverEntry = join(dirname(serverPkg), 'dist/index.js');

const POLICY = `
policy_id: mcp-test
version: 1
default: deny
rules:
  - id: allow-echo
    match: { action: "mcp:echo", target: "mcp-servers/everything" }
    effect: allow
  - id: no-env
    match: { action: "mcp:get-env" }
    effect: deny
    reason: The server environment holds secrets
  - id: approve-sums
    match: { action: "mcp:get-sum" }
    effect: require_approval
    approvers: [oncall_sre]
    approval_ttl: 1m
`;

// The CLI dispatcher runs the command once registered there; until then, an entry running the same run().
function proxyCommand(): string[] {
  const main = readFileSync(join(root, 'src/cli/main.ts'), 'utf8');
  return main.includes("'mcp-proxy'")
    ? [join(root, 'src/cli/main.ts'), 'mcp-proxy']
    : [join(root, 'test/integration/adapters/mcp-proxy-entry.ts')];
}

function captureIo(cwd: string): Io & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    stdout: { write: (s: string) => void out.push(s) },
    stderr: { write: (s: string) => void err.push(s) },
    isTTY: { stdout: false, stderr: false },
    env: {},
    cwd,
  };
}

describe('MCP proxy (real stdio server, official MCP SDK client)', () => {
  const dir = tempDir('auditrail-mcp-');
  const db = join(dir, 'audit.db');
  const policyFile = join(dir, 'policy.yaml');
  const target = ['--db', db, '--tenant', 'acme'];
  let client: Client;
  let transport: StdioClientTransport;
  let stderr = '';

  async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
    const io = captureIo(dir);
    const code = await approvalsCommand([...args, ...target], io);
    return { code, out: io.out.join(''), err: io.err.join('') };
  }

  async function log(): Promise<RecordedEvent[]> {
    const trail = await openAuditTrail({ tenant: 'acme', db, checkpointIntervalMs: 0 });
    try {
      return (await trail.query({ limit: 1000 })).events;
    } finally {
      await trail.close();
    }
  }

  /** The events of one action type, once there are at least `n` (records land just after the answer). */
  async function eventsOf(actionType: string, n: number): Promise<RecordedEvent[]> {
    for (let i = 0; ; i++) {
      const events = (await log()).filter((e) => e.action?.type === actionType);
      if (events.length >= n || i >= 100) return events;
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Approves or denies the first pending request through the CLI, once one appears. */
  async function decideFromCli(verb: 'approve' | 'deny', reason: string): Promise<string> {
    for (let i = 0; i < 400; i++) {
      const listed = await cli('list', '--json');
      const [pending] = JSON.parse(listed.out) as { id: string }[];
      if (pending) {
        const r = await cli(verb, pending.id, '--as', 'oncall_sre', '--reason', reason);
        assert.equal(r.code, 0, r.err);
        return pending.id;
      }
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error('no approval request appeared');
  }

  before(async () => {
    writeFileSync(policyFile, POLICY);
    transport = new StdioClientTransport({
      command: process.execPath,
      args: [
        '--import',
        'tsx',
        ...proxyCommand(),
        '--policy',
        policyFile,
        ...target,
        '--',
        process.execPath,
        serverEntry,
        'stdio',
      ],
      cwd: root,
      stderr: 'pipe',
    });
    transport.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    client = new Client({ name: 'integration-client', version: '1.2.3' });
    await client.connect(transport);
  });

  after(async () => {
    await client?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('passes tools/list through and records the tool names and the client identity', async () => {
    const { tools } = await client.listTools();
    const names = tools.map((t) => t.name);
    assert.ok(names.includes('echo') && names.includes('get-sum'));
    assert.deepEqual(client.getServerVersion()?.name, 'mcp-servers/everything');
    const events = await log();
    const listed = events.find((e) => e.type === 'x.mcp.tools_listed');
    assert.deepEqual((listed?.metadata?.['mcp'] as { tools: string[] }).tools, names);
    const start = events.find((e) => e.type === 'agent.lifecycle');
    assert.equal(start?.actor.id, 'integration-client');
    assert.equal(start?.action?.type, 'mcp.session.start');
    const mcp = start?.metadata?.['mcp'] as { client: unknown; protocol_version: string };
    assert.deepEqual(mcp.client, { name: 'integration-client', version: '1.2.3' });
    assert.match(mcp.protocol_version, /^\d{4}-\d{2}-\d{2}$/);
  });

  it('forwards an allowed call and returns its result; intent, decision and outcome (with its dispatch) are logged', async () => {
    const result = await client.callTool({ name: 'echo', arguments: { message: 'hello' } });
    assert.deepEqual(result.content, [{ type: 'text', text: 'Echo: hello' }]);
    assert.ok(!result.isError);
    const events = await eventsOf('mcp:echo', 3);
    assert.deepEqual(
      events.map((e) => e.type),
      ['action.intent', 'policy.decision', 'action.succeeded'],
    );
    assert.equal(events[0]?.action?.target, 'mcp-servers/everything');
    assert.deepEqual(events[0]?.action?.params, { message: 'hello' });
    assert.equal(events[0]?.actor.id, 'integration-client');
    assert.deepEqual(events[2]?.outcome?.result, { content: [{ type: 'text', text: 'Echo: hello' }] });
    assert.deepEqual(events[2]?.dispatch, {
      job_id: events[0]?.event_id,
      status: 'done',
      attempt: 1,
      max_attempts: 1,
    });
  });

  it('passes the answer on only once its outcome is in the log', async () => {
    // A reader opened beforehand looks right after each answer, without waiting: the outcome
    // must already be committed (a proxy killed after answering loses nothing the client read).
    const reader = await openAuditTrail({ tenant: 'acme', db, readonly: true });
    try {
      for (let i = 0; i < 5; i++) {
        const message = `durable-${i}`;
        const result = await client.callTool({ name: 'echo', arguments: { message } });
        assert.deepEqual(result.content, [{ type: 'text', text: `Echo: ${message}` }]);
        const { events } = await reader.query({ type: 'action.succeeded', limit: 1000 });
        assert.ok(
          events.some((e) => JSON.stringify(e.outcome?.result).includes(`Echo: ${message}`)),
          `the outcome of call ${i} is committed before its answer reaches the client`,
        );
      }
    } finally {
      await reader.close();
    }
  });

  it('answers a denied call with isError and the reason; the server never sees it', async () => {
    const result = await client.callTool({ name: 'get-env', arguments: {} });
    assert.equal(result.isError, true);
    const [block] = result.content as { type: string; text: string }[];
    assert.match(block?.text ?? '', /no-env: The server environment holds secrets/);
    const events = await eventsOf('mcp:get-env', 2);
    assert.deepEqual(
      events.map((e) => e.type),
      ['action.intent', 'policy.decision'],
    );
    assert.equal(events[1]?.policy?.decision, 'deny');
  });

  it('holds a call that needs approval until it is approved from the CLI, then forwards it', async () => {
    const [result, id] = await Promise.all([
      client.callTool({ name: 'get-sum', arguments: { a: 2, b: 3 } }),
      decideFromCli('approve', 'checked'),
    ]);
    assert.deepEqual(result.content, [{ type: 'text', text: 'The sum of 2 and 3 is 5.' }]);
    assert.match(stderr, new RegExp(`approval ${id} required from oncall_sre`));
    const events = await eventsOf('mcp:get-sum', 5);
    assert.deepEqual(
      events.map((e) => e.type),
      ['action.intent', 'policy.decision', 'approval.requested', 'approval.granted', 'action.succeeded'],
    );
    assert.equal(events[3]?.approval?.approver, 'oncall_sre');
    assert.equal(events[3]?.approval?.reason, 'checked');
  });

  it('a call whose approval is denied is not forwarded; the model reads who denied it', async () => {
    const [result] = await Promise.all([
      client.callTool({ name: 'get-sum', arguments: { a: 40, b: 2 } }),
      decideFromCli('deny', 'not today'),
    ]);
    assert.equal(result.isError, true);
    assert.match(JSON.stringify(result.content), /denied by oncall_sre: not today/);
    const events = (await eventsOf('mcp:get-sum', 9)).slice(5);
    assert.deepEqual(
      events.map((e) => e.type),
      ['action.intent', 'policy.decision', 'approval.requested', 'approval.denied'],
    );
  });

  it('shuts down cleanly when the client closes, recording the session end', async () => {
    await client.close();
    for (let i = 0; i < 100; i++) {
      if ((await log()).some((e) => e.action?.type === 'mcp.session.end')) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const end = (await log()).find((e) => e.action?.type === 'mcp.session.end');
    assert.equal((end?.metadata?.['mcp'] as { reason: string }).reason, 'client closed');
    assert.equal(transport.pid, null);
  });
});

describe('MCP proxy, in process (edge cases)', () => {
  const policy = parsePolicy(POLICY);

  /** A scripted stdio "server" that answers requests from a table, by method. */
  const echoServer = `
    const rl = require('node:readline').createInterface({ input: process.stdin });
    rl.on('line', (line) => {
      const m = JSON.parse(line);
      if (m.method === 'exit-now') process.exit(3);
      if (m.id === undefined) return;
      if (m.method === 'slow') return; // never answers
      const result = m.method === 'initialize'
        ? { protocolVersion: '2025-06-18', capabilities: { tools: {} }, serverInfo: { name: 'fake', version: '0' } }
        : m.method === 'tools/call' ? { content: [{ type: 'text', text: 'ran ' + m.params.name }] } : {};
      process.stdout.write(JSON.stringify({ jsonrpc: '2.0', id: m.id, result }) + '\\n');
    });`;

  async function start() {
    const trail = await openAuditTrail({ tenant: 'acme', store: new MemoryStore(), checkpointIntervalMs: 0 });
    const input = new PassThrough();
    const lines: unknown[] = [];
    let buffered = '';
    const waiters: (() => void)[] = [];
    const output = {
      write(s: string) {
        buffered += s;
        let nl;
        while ((nl = buffered.indexOf('\n')) !== -1) {
          lines.push(JSON.parse(buffered.slice(0, nl)));
          buffered = buffered.slice(nl + 1);
        }
        for (const w of waiters.splice(0)) w();
      },
    };
    const diagnostics: string[] = [];
    const done = runMcpProxy({
      trail,
      policy,
      command: process.execPath,
      args: ['-e', echoServer],
      input,
      output,
      diagnostics: { write: (s: string) => void diagnostics.push(s) },
      server: 'mcp-servers/everything',
      approvalPollMs: 5,
    });
    const send = (m: unknown) => input.write(`${typeof m === 'string' ? m : JSON.stringify(m)}\n`);
    async function next(n: number): Promise<unknown[]> {
      while (lines.length < n) await new Promise<void>((r) => waiters.push(r));
      return lines.slice(0, n);
    }
    return { trail, input, lines, send, next, done, diagnostics };
  }

  it('never forwards a line it cannot parse; answers with a JSON-RPC parse error', async () => {
    const p = await start();
    p.send('{"jsonrpc":"2.0","id":1,"method":"tools/call"');
    const [reply] = await p.next(1);
    assert.deepEqual(reply, { jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error' } });
    p.input.end();
    assert.equal(await p.done, 0);
    await p.trail.close();
  });

  it('answers a malformed tools/call with invalid params, and a batch call by call', async () => {
    const p = await start();
    p.send({ jsonrpc: '2.0', id: 'x', method: 'tools/call', params: { arguments: {} } });
    p.send([
      { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: {} } },
      { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'get-env', arguments: {} } },
    ]);
    const replies = (await p.next(3)) as {
      id: unknown;
      error?: { code: number };
      result?: { isError?: boolean };
    }[];
    const byId = new Map(replies.map((r) => [r.id, r]));
    assert.equal(byId.get('x')?.error?.code, -32602);
    assert.ok(!byId.get(1)?.result?.isError);
    assert.equal(byId.get(2)?.result?.isError, true);
    p.input.end();
    await p.done;
    await p.trail.close();
  });

  it('a cancelled call that waits for approval is dropped without a response and not forwarded', async () => {
    const p = await start();
    p.send({
      jsonrpc: '2.0',
      id: 7,
      method: 'tools/call',
      params: { name: 'get-sum', arguments: { a: 1, b: 1 } },
    });
    let pending: unknown[] = [];
    const gov = (await import('../../../src/sdk/governance/approvals.js')).Approvals;
    const approvals = new gov(p.trail);
    while (pending.length === 0) {
      pending = await approvals.list('pending');
      await new Promise((r) => setTimeout(r, 5));
    }
    p.send({
      jsonrpc: '2.0',
      method: 'notifications/cancelled',
      params: { requestId: 7, reason: 'user gave up' },
    });
    p.send({ jsonrpc: '2.0', id: 8, method: 'ping' });
    const replies = (await p.next(1)) as { id: unknown }[];
    assert.equal(replies[0]?.id, 8);
    p.input.end();
    await p.done;
    await p.trail.flush();
    const types = (await p.trail.query({ limit: 100 })).events
      .filter((e) => e.action?.type === 'mcp:get-sum')
      .map((e) => e.type);
    assert.ok(!types.some((t) => t === 'action.succeeded' || t === 'action.failed'), types.join());
    assert.deepEqual(p.lines.length, 1);
    await p.trail.close();
  });

  it('when the server exits, open requests are answered with an error and the exit code is returned', async () => {
    const p = await start();
    p.send({ jsonrpc: '2.0', id: 1, method: 'slow' });
    p.send({ jsonrpc: '2.0', method: 'exit-now' });
    const [reply] = (await p.next(1)) as { id: unknown; error?: { message: string } }[];
    assert.equal(reply?.id, 1);
    assert.equal(reply?.error?.message, 'MCP server exited');
    assert.equal(await p.done, 3);
    await p.trail.close();
  });

  it('exits non-zero when the server cannot start, also when the client has already closed', async () => {
    const run = async (command: string, args: string[]) => {
      const trail = await openAuditTrail({
        tenant: 'acme',
        store: new MemoryStore(),
        checkpointIntervalMs: 0,
      });
      const input = new PassThrough();
      input.end(); // a client that closed at once, as `echo | auditrail mcp-proxy …` or /dev/null
      const diagnostics: string[] = [];
      const code = await runMcpProxy({
        trail,
        policy,
        command,
        args,
        input,
        output: { write: () => undefined },
        diagnostics: { write: (s: string) => void diagnostics.push(s) },
      });
      await trail.close();
      return { code, diagnostics: diagnostics.join('') };
    };
    const missing = await run(join(tempDir('auditrail-mcp-'), 'no-such-server'), []);
    assert.equal(missing.code, 1);
    assert.match(missing.diagnostics, /cannot start .*no-such-server/);
    const crashing = await run(process.execPath, ['-e', 'process.exit(4)']);
    assert.equal(crashing.code, 4);
    assert.match(crashing.diagnostics, /server exited \(code 4\) before it wrote anything/);
    // A server that started and exits once the client is gone is a clean shutdown.
    const clean = await run(process.execPath, ['-e', echoServer]);
    assert.equal(clean.code, 0);
  });

  it('the command rejects a missing --policy or server command with a usage error, writing nothing to stdout', async () => {
    const io = captureIo(process.cwd());
    assert.equal(await mcpProxyCommand(['--', 'node'], io, new PassThrough()), 2);
    assert.match(io.err.join(''), /needs --policy FILE/);
    assert.equal(await mcpProxyCommand(['--policy', 'p.yaml'], io, new PassThrough()), 2);
    assert.match(io.err.join(''), /needs the server command after '--'/);
    assert.deepEqual(io.out, []);
  });
});

/**
 * A stdio MCP server offering the shared cases' four tools (their bodies are `toolBody`'s own
 * source). Each result names the tool in `_meta`, so the test knows the server ran it.
 */
const toolsServer = `
  const toolBody = ${toolBody.toString()};
  const rl = require('node:readline').createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    const m = JSON.parse(line);
    if (m.id === undefined) return;
    let result = {};
    if (m.method === 'tools/call') {
      const { name, arguments: args = {} } = m.params;
      const _meta = { 'test/ran': name };
      try {
        result = { content: [{ type: 'text', text: toolBody(name, args) }], _meta };
      } catch (e) {
        result = { content: [{ type: 'text', text: e.message }], isError: true, _meta };
      }
    }
    process.stdout.write(JSON.stringify({ jsonrpc: '2.0', id: m.id, result }) + '\\n');
  });`;

interface ToolsCallReply {
  id: number;
  result?: { content?: { text?: string }[]; isError?: boolean; _meta?: Record<string, string> };
  error?: { message: string };
}

/**
 * The shared cases' driver: the proxy runs in process between a JSON-RPC client (these lines) and
 * the tools server; the pinned actor and session are the cases' agent. A held call blocks in the
 * proxy until the request is decided in the trail, which is how the driver answers it (the CLI
 * does the same: see the stdio suite above).
 */
async function startProxy(options: SetupOptions): Promise<Driver> {
  const s = await setup(options);
  const input = new PassThrough();
  const waiting = new Map<number, (reply: ToolsCallReply) => void>();
  let buffered = '';
  const output = {
    write(chunk: string) {
      buffered += chunk;
      let nl;
      while ((nl = buffered.indexOf('\n')) !== -1) {
        const reply = JSON.parse(buffered.slice(0, nl)) as ToolsCallReply;
        buffered = buffered.slice(nl + 1);
        waiting.get(reply.id)?.(reply);
        waiting.delete(reply.id);
      }
    },
  };
  const diagnostics: string[] = [];
  const running = runMcpProxy({
    trail: s.trail,
    policy: parsePolicy(options.policy ?? policyFor('mcp:')),
    command: process.execPath,
    args: ['-e', toolsServer],
    input,
    output,
    diagnostics: { write: (d: string) => void diagnostics.push(d) },
    server: 'tools-server',
    actor: AGENT,
    session_id: 'sess-1',
    approvalPollMs: 5,
  });
  const ran: string[] = [];
  let calls = 0;
  return {
    trail: s.trail,
    store: s.store,
    governor: s.governor,
    ran,
    async close() {
      input.end();
      assert.equal(await running, 0, diagnostics.join(''));
      await s.close();
    },
    call(name, args) {
      const id = ++calls;
      const type = `mcp:${name}`;
      const outcomes = async () =>
        (await lifecycle(s.trail, type)).filter((t) => t === 'action.succeeded' || t === 'action.failed')
          .length;
      const answered = (async (): Promise<Done> => {
        const before = await outcomes();
        const reply = await new Promise<ToolsCallReply>((resolve) => {
          waiting.set(id, resolve);
          input.write(
            `${JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } })}\n`,
          );
        });
        const ranTool = reply.result?._meta?.['test/ran'];
        if (ranTool !== undefined) {
          ran.push(ranTool);
          // The proxy passes the answer on only once the outcome is committed: it is there at once.
          assert.equal(await outcomes(), before + 1, `the outcome of ${type} is recorded before its answer`);
        }
        return {
          kind: 'done',
          shown: reply.error?.message ?? reply.result?.content?.map((c) => c.text).join('\n') ?? '',
          error: reply.error !== undefined || reply.result?.isError === true,
        };
      })();
      return blockingTurn(s.governor, answered);
    },
  };
}

const proxy: Framework = {
  name: 'MCP proxy',
  prefix: 'mcp:',
  start: startProxy,
  recorded: (text) => ({ content: [{ type: 'text', text }] }),
  says: {
    denied: /^Not run: action denied by block-deletes: Deletes are never automatic$/,
    rejected: (id) => new RegExp(`^Not run: approval ${id} denied by finance_lead: duplicate request$`),
  },
  unsupported: {
    'unrecorded-approval':
      'MCP has no approval of its own: a held tools/call waits on the trail, where every approval names its approver',
    delegation:
      'the proxy governs as the MCP client (or the actor the operator pins): it has no sub-agent to delegate to',
  },
};

describe('MCP proxy, in process: shared cases', () => {
  for (const c of cases) it(c.name, skipFor(proxy, c), () => runCase(proxy, c));
});
