import type { Readable } from 'node:stream';
import { resolve } from 'node:path';
import { loadPolicyFile } from '../../index.js';
import { runMcpProxy } from '../../integrations/mcp/proxy.js';
import { execute, str, TARGET_OPTIONS, UsageError, type CommandSpec } from '../args.js';
import type { Io } from '../io.js';
import { commandLine, resolveTarget, withTrail } from '../target.js';

export const spec: CommandSpec = {
  name: 'mcp-proxy',
  usage:
    'mcp-proxy --policy FILE [--db PATH] [--tenant ID] [--server NAME] [--actor ID] -- <server command...>',
  summary: 'Run an MCP server behind a governing, recording proxy (stdio).',
  description:
    'Put this in front of a stdio MCP server in your client configuration (Claude Desktop, Cursor, an\n' +
    'agent SDK): the client talks to the proxy on stdin/stdout, the proxy spawns the server. Every\n' +
    'tools/call is checked against the policy (action `mcp:<tool>`, target the server name, params\n' +
    'the arguments) and recorded before it reaches the server. A denied call gets a tool result with\n' +
    'isError: true and the reason, which the model reads. A call that needs an approval waits (up to\n' +
    "the rule's TTL) for `auditrail approvals approve ID --as NAME`. The client's initialize and the\n" +
    "server's tool lists are recorded too. Everything else passes through unchanged. Only protocol\n" +
    "messages go to stdout; diagnostics and the server's stderr go to stderr.",
  options: {
    policy: {
      type: 'string',
      value: 'FILE',
      help: 'the policy bundle (YAML or JSON) every tools/call is checked against',
    },
    ...TARGET_OPTIONS,
    server: {
      type: 'string',
      value: 'NAME',
      help: "target name policies match (default: the server's serverInfo.name)",
    },
    actor: {
      type: 'string',
      value: 'ID',
      help: "who acts (default: the client's self-declared clientInfo.name)",
    },
    session: { type: 'string', value: 'ID', help: 'session id recorded on every event (default: a new one)' },
    environment: { type: 'string', value: 'ENV', help: 'environment name policies can match (e.g. prod)' },
  },
  positionals: { min: 0, max: 0 },
  examples: [
    'auditrail mcp-proxy --policy mcp-policy.yaml -- npx -y @modelcontextprotocol/server-everything',
    'auditrail mcp-proxy --policy p.yaml --db /var/lib/auditrail/audit.db --tenant acme --server github -- github-mcp-server stdio',
  ],
};

/**
 * `auditrail mcp-proxy`: the command line over {@link runMcpProxy}. Reads the client from
 * `input` (default `process.stdin`), writes protocol messages to `io.stdout` only.
 */
export function run(args: string[], io: Io, input: Readable = process.stdin): Promise<number> {
  const split = args.indexOf('--');
  const own = split === -1 ? args : args.slice(0, split);
  const server = split === -1 ? [] : args.slice(split + 1);
  return execute(spec, own, io, async ({ values }) => {
    const policyPath = str(values, 'policy');
    if (!policyPath) throw new UsageError('mcp-proxy needs --policy FILE');
    const [command, ...commandArgs] = server;
    if (command === undefined || command === '') {
      throw new UsageError(
        "mcp-proxy needs the server command after '--' (e.g. -- npx -y @modelcontextprotocol/server-everything)",
      );
    }
    const policy = await loadPolicyFile(resolve(io.cwd, policyPath), policyPath);
    const actor = str(values, 'actor');
    const serverName = str(values, 'server');
    const session = str(values, 'session');
    const environment = str(values, 'environment');
    const target = resolveTarget(values, io);
    return withTrail(target, io, { mustExist: false }, (trail) =>
      runMcpProxy({
        trail,
        // Where the operator pastes it: the same database, tenant and log, and npx when needed.
        approveCommand: (id) =>
          commandLine({ ...io, cwd: '/' }, target, 'approvals', 'approve', id, '--as', 'NAME'),
        policy,
        command,
        args: commandArgs,
        input,
        output: io.stdout,
        diagnostics: io.stderr,
        env: { ...io.env },
        cwd: io.cwd,
        ...(serverName !== undefined ? { server: serverName } : {}),
        ...(actor !== undefined
          ? { actor: { type: 'agent' as const, id: actor, auth_method: 'operator' } }
          : {}),
        ...(session !== undefined ? { session_id: session } : {}),
        ...(environment !== undefined ? { environment } : {}),
      }),
    );
  });
}
