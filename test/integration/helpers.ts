import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Io } from '../../src/cli/main.js';
import type { AuditEvent } from '../../src/event/types.js';

const made: string[] = [];
// Each test file runs in its own process: its directories go when it exits after passing, and
// stay for a look after a failure (scripts/run-tests.mjs says where).
process.on('exit', (code) => {
  if (code !== 0) return;
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

/** A fresh temporary directory for one test, removed when the test process exits cleanly. */
export function tempDir(prefix = 'auditrail-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  made.push(d);
  return d;
}

/** What {@link runCli} resolves: the exit code and what the command printed. */
export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout and stderr together, in the order they were written. */
  output: string;
}

export interface RunCliOptions {
  /** Working directory of the command (default: this process's). */
  cwd?: string;
  /** The command's whole environment (default: empty; nothing is inherited). */
  env?: Record<string, string | undefined>;
  /** Terminal width (default: none, as when stdout is not a terminal). */
  columns?: number;
}

/**
 * Runs `auditrail <args>` in process through `main(args, io)`, with no terminal (no colour, no
 * progress) and what it prints captured.
 *
 * @example
 * const r = await runCli(['verify', '--db', db], { cwd: dir, env: { NO_COLOR: '1' } });
 * assert.equal(r.code, 0, r.stderr);
 */
export async function runCli(args: readonly string[], options: RunCliOptions = {}): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  let output = '';
  const io: Io = {
    stdout: {
      write: (s) => {
        stdout += s;
        output += s;
      },
    },
    stderr: {
      write: (s) => {
        stderr += s;
        output += s;
      },
    },
    isTTY: { stdout: false, stderr: false },
    env: options.env ?? {},
    cwd: options.cwd ?? process.cwd(),
    ...(options.columns === undefined ? {} : { columns: options.columns }),
  };
  // Loaded here, not at the top: the files that only need tempDir() do not load the CLI and SDK.
  const { main } = await import('../../src/cli/main.js');
  const code = await main([...args], io);
  return { code, stdout, stderr, output };
}

/**
 * Splits a shell command the CLI printed as a hint (single-quoted words, as it quotes them) into
 * the argv `main` takes: without the leading `auditrail` or `npx auditrail`.
 *
 * @example
 * argvOf("npx auditrail erase --reason 'DSR 31'"); // ['erase', '--reason', 'DSR 31']
 */
export function argvOf(hint: string): string[] {
  const argv = [...hint.matchAll(/'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2]!);
  return argv.slice(argv[0] === 'npx' ? 2 : 1);
}

/** A varied, realistic event number `i` of a session. */
export function sampleEvent(i: number, session = 's-1'): AuditEvent {
  const kinds: AuditEvent[] = [
    {
      type: 'action.intent',
      actor: { type: 'agent', id: 'support-bot', trust_tier: 'standard' },
      action: { type: 'read:order', target: `order/${1000 + i}`, params: { order_id: 1000 + i } },
      context: { reasoning: 'customer asked about the delivery date' },
    },
    {
      type: 'policy.decision',
      actor: { type: 'system', id: 'policy-engine' },
      action: { type: 'read:order', target: `order/${1000 + i}` },
      policy: {
        decision: 'allow',
        matched_rule: 'allow-reads',
        policy_id: 'support',
        reason: 'reads are allowed',
      },
    },
    {
      type: 'action.succeeded',
      actor: { type: 'agent', id: 'support-bot' },
      action: { type: 'read:order', target: `order/${1000 + i}` },
      outcome: { status: 'success', result: { status: 'shipped' }, duration_ms: 12 },
    },
  ];
  return { ...kinds[i % kinds.length]!, session_id: session, run_id: `run-${Math.floor(i / 3)}` };
}

/** A running `auditrail serve` child process, as {@link startServe} resolves it. */
export interface ServeProcess {
  child: ChildProcess;
  /** `http://127.0.0.1:port` as it printed it. */
  url: string;
  /** The first admin key it printed (a new database only), else null. */
  key: string | null;
  /** The last 64 KiB of what it wrote to stderr. */
  stderr: () => string;
}

export interface StartServeOptions {
  /** Working directory (the signing key lives in its `.auditrail/keys`). */
  cwd: string;
  /** Wait for the first admin key as well (the process that creates the database prints it). */
  key?: boolean;
  /** Wait for this text on stdout as well (`nats: consuming stream`). */
  ready?: string;
  /**
   * Node arguments that run the CLI; `args` follow them. Default: this checkout's sources
   * through tsx (test/integration/nats-collector-child.ts).
   */
  cli?: readonly string[];
  /** Environment of the child (default: this process's). */
  env?: NodeJS.ProcessEnv;
  /** How long to wait for the readiness lines (default 120 s); then the child is killed. */
  timeoutMs?: number;
}

const SERVE_CHILD = fileURLToPath(new URL('./nats-collector-child.ts', import.meta.url));
const STDERR_KEPT = 64 * 1024;

/**
 * Spawns `auditrail <args>` (args begin with `serve`) and resolves once it printed its URL, and
 * the first key and the `ready` text when asked; rejects (the child killed) when it exits first
 * or stays silent for `timeoutMs`.
 *
 * @example
 * const c = await startServe(['serve', '--postgres', url, '--port', '0', '--quiet'], { cwd: dir, key: true });
 */
export function startServe(args: readonly string[], options: StartServeOptions): Promise<ServeProcess> {
  const cli = options.cli ?? ['--import', import.meta.resolve('tsx'), SERVE_CHILD];
  const child = spawn(process.execPath, [...cli, ...args], {
    cwd: options.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: options.env ?? process.env,
  });
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-STDERR_KEPT)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.off('exit', onExit);
      child.kill('SIGKILL');
      reject(new Error(`auditrail serve did not start: ${out} ${err}`));
    }, options.timeoutMs ?? 120_000);
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
      clearTimeout(timer);
      reject(new Error(`auditrail serve exited (${code ?? signal}): ${out} ${err}`));
    };
    child.once('exit', onExit);
    const onData = (d: Buffer): void => {
      out += d.toString();
      const url = /auditrail serve: (http:\/\/\S+)/.exec(out)?.[1];
      const key = /^(atr_\S+)$/m.exec(out)?.[1] ?? null;
      if (url === undefined || (options.key === true && key === null)) return;
      if (options.ready !== undefined && !out.includes(options.ready)) return;
      clearTimeout(timer);
      child.off('exit', onExit);
      child.stdout.off('data', onData);
      // Keep reading what it prints, so that a full pipe never blocks it.
      child.stdout.resume();
      resolve({ child, url, key, stderr: () => err });
    };
    child.stdout.on('data', onData);
  });
}

/** Sends `signal` to a serve child (SIGTERM: a graceful stop) and resolves when it has exited. */
export function stopServe(c: ServeProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (c.child.exitCode !== null || c.child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    c.child.once('exit', () => resolve());
    c.child.kill(signal);
  });
}
