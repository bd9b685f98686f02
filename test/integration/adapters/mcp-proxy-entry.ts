/**
 * Runs `auditrail mcp-proxy` as its own process for the MCP integration test, through the same
 * `run(args, io)` that `src/cli/main.ts` dispatches to.
 */
import { run } from '../../../src/cli/commands/mcp-proxy.js';
import { processIo } from '../../../src/cli/io.js';

process.exitCode = await run(process.argv.slice(2), processIo());
