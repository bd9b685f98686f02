import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AuditError } from '../../errors.js';
import type { SqlResult } from '../read-only-sql.js';

/** Longest a child may take to start (load modules, open the file) before its query runs. */
const CHILD_START_MS = 30_000;
/** What the child writes on stderr just before it runs the query. */
export const READY = 'auditrail-sql: running\n';

/** What the child process answers on stdout: a result, or why it has none. */
export type SqlChildAnswer = { ok: true; result: SqlResult } | { ok: false; code: string; message: string };

/**
 * One query on a read-only connection (`readonly` open plus `query_only`), run in a child
 * process: SQLite has no way to interrupt a statement from JavaScript here, so the child is
 * killed at the timeout, and a runaway query never holds this process.
 */
export function sqliteReadOnlySql(
  path: string,
  query: string,
  timeoutMs: number,
  maxRows: number,
): Promise<SqlResult> {
  const file = resolve(path);
  if (!existsSync(file)) return Promise.reject(new AuditError('not_found', `no audit database at ${file}`));
  const self = fileURLToPath(import.meta.url);
  const fromSource = self.endsWith('.ts');
  const child = fileURLToPath(new URL(fromSource ? './sql-child.ts' : './sql-child.js', import.meta.url));
  // From source (tests, tsx) the child is TypeScript: load tsx by its resolved location, so the
  // current directory does not matter.
  const args = fromSource ? ['--import', import.meta.resolve('tsx'), child] : [child];
  return new Promise((ok, fail) => {
    const p = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    let started = false;
    const kill = (): void => {
      timedOut = true;
      p.kill('SIGKILL');
    };
    // The bound is on the query: it starts when the child says it is about to run it (a cold
    // start of the child is not the query's time), with a generous bound on the start itself.
    let timer = setTimeout(kill, Math.max(timeoutMs, CHILD_START_MS));
    p.stdout.on('data', (b: Buffer) => out.push(b));
    p.stderr.on('data', (b: Buffer) => {
      err.push(b);
      if (!started && Buffer.concat(err).includes(READY)) {
        started = true;
        clearTimeout(timer);
        timer = setTimeout(kill, timeoutMs);
      }
    });
    p.on('error', (e) => {
      clearTimeout(timer);
      fail(new AuditError('store_failure', `cannot run the query: ${e.message}`, { cause: e }));
    });
    p.on('close', () => {
      clearTimeout(timer);
      if (timedOut) {
        fail(
          new AuditError(
            'timeout',
            `the query ran longer than ${timeoutMs} ms and was stopped; narrow it (a WHERE on seq or ts, a LIMIT) or raise --timeout`,
          ),
        );
        return;
      }
      let answer: SqlChildAnswer;
      try {
        answer = JSON.parse(Buffer.concat(out).toString('utf8')) as SqlChildAnswer;
      } catch (e) {
        const why = Buffer.concat(err).toString('utf8').trim().split('\n').slice(-1)[0] ?? '';
        fail(new AuditError('store_failure', `the query process failed: ${why}`, { cause: e }));
        return;
      }
      if (answer.ok) ok(answer.result);
      else
        fail(
          new AuditError(
            answer.code === 'read_only' || answer.code === 'not_audit_database'
              ? answer.code
              : 'invalid_argument',
            answer.message,
          ),
        );
    });
    p.stdin.end(JSON.stringify({ path: file, query, maxRows }));
  });
}
