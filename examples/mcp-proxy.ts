/**
 * `auditrail mcp-proxy` in front of a real MCP server (@modelcontextprotocol/server-everything),
 * driven by the official MCP SDK client — what Claude Desktop, Cursor or an agent SDK do when the
 * proxy is their configured server command. Offline; the log goes to a temporary directory.
 *
 *   node --import tsx examples/mcp-proxy.ts
 *
 * See examples/mcp-proxy.md for client configuration.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { Approvals, openAuditTrail } from '../src/index.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dir = mkdtempSync(join(tmpdir(), 'auditrail-mcp-example-'));
const db = join(dir, 'audit.db');
const policyFile = join(dir, 'mcp-policy.yaml');
writeFileSync(
  policyFile,
  `
policy_id: mcp-everything
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
    approval_ttl: 5m
`,
);

// The server, as a client configuration would name it: `node <server-everything> stdio`.
const server = join(
  dirname(createRequire(import.meta.url).resolve('@modelcontextprotocol/server-everything/package.json')),
  'dist/index.js',
);

// `auditrail mcp-proxy …` from this checkout (installed: `npx auditrail mcp-proxy …`).
const transport = new StdioClientTransport({
  command: process.execPath,
  args: [
    '--import',
    'tsx',
    join(root, 'src/cli/main.ts'),
    'mcp-proxy',
    '--policy',
    policyFile,
    '--db',
    db,
    '--tenant',
    'demo',
    '--',
    process.execPath,
    server,
    'stdio',
  ],
  cwd: root,
  stderr: 'pipe',
});
transport.stderr?.on('data', (chunk: Buffer) => {
  for (const line of chunk.toString('utf8').split('\n'))
    if (line.startsWith('auditrail')) console.log(`  [proxy] ${line}`);
});
const client = new Client({ name: 'example-client', version: '1.0.0' });
await client.connect(transport);

const { tools } = await client.listTools();
console.log(`tools/list: ${tools.length} tools (${tools.map((t) => t.name).join(', ')})`);

const echo = await client.callTool({ name: 'echo', arguments: { message: 'hello' } });
console.log(`echo      → ${JSON.stringify(echo.content)}`);

const env = await client.callTool({ name: 'get-env', arguments: {} });
console.log(`get-env   → isError=${String(env.isError)} ${JSON.stringify(env.content)}`);

// An approver decides from another process (`auditrail approvals approve ID --as oncall_sre`).
const approver = (async () => {
  const trail = await openAuditTrail({ tenant: 'demo', db, checkpointIntervalMs: 0 });
  try {
    const approvals = new Approvals(trail);
    for (;;) {
      const [pending] = await approvals.list('pending');
      if (pending) return await approvals.approve(pending.id, { as: 'oncall_sre', reason: 'looks fine' });
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await trail.close();
  }
})();
const sum = await client.callTool({ name: 'get-sum', arguments: { a: 2, b: 3 } });
await approver;
console.log(`get-sum   → ${JSON.stringify(sum.content)} (after approval)`);

await client.close();

const trail = await openAuditTrail({ tenant: 'demo', db, checkpointIntervalMs: 0 });
console.log(`\nthe log (${db}):`);
for (const e of (await trail.query({ limit: 100 })).events) {
  const detail = e.policy
    ? `${e.policy.decision} (${e.policy.matched_rule ?? 'default'})`
    : e.approval?.approver
      ? `by ${e.approval.approver}`
      : (e.outcome?.status ?? '');
  console.log(
    `${String(e.seq).padStart(2)}  ${e.type.padEnd(18)} ${(e.action?.type ?? '').padEnd(18)} ${e.actor.id.padEnd(15)} ${detail}`,
  );
}
console.log(`\nlog verifies: ${(await trail.verify()).ok}`);
await trail.close();
