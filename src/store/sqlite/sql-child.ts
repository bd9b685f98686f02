/**
 * The child process of `auditrail sql` on SQLite (see read-only-sql.ts): reads `{ path, query,
 * maxRows }` on stdin, runs the query on a read-only connection and writes one JSON answer.
 */
import Database from 'better-sqlite3';
import { plainValue } from '../read-only-sql.js';
import { SQL_VIEWS, SQL_VIEW_NAMES } from '../sql-views.js';
import { READY, type SqlChildAnswer } from './read-only-sql.js';

function answer(a: SqlChildAnswer): void {
  process.stdout.write(JSON.stringify(a));
}

const chunks: Buffer[] = [];
for await (const c of process.stdin) chunks.push(c as Buffer);
const { path, query, maxRows } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
  path: string;
  query: string;
  maxRows: number;
};
try {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  const tables = new Set(
    db.prepare("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')").pluck().all() as string[],
  );
  if (!tables.has('logs') || !tables.has('entries')) {
    answer({ ok: false, code: 'not_audit_database', message: `${path} is not an auditrail database` });
  } else {
    // A file from before the views' migration gets them for this connection only (TEMP views
    // are not written to the file).
    if (!SQL_VIEW_NAMES.every((v) => tables.has(v)))
      db.exec(SQL_VIEWS.replace(/CREATE VIEW/g, 'CREATE TEMP VIEW'));
    db.pragma('query_only = ON');
    // prepare() takes exactly one statement; a read-only connection refuses every write.
    const st = db.prepare(query);
    if (!st.reader) {
      answer({
        ok: false,
        code: 'read_only',
        message: 'the query returns no rows: auditrail sql only reads',
      });
    } else {
      st.raw(true);
      process.stderr.write(READY);
      const columns = st.columns().map((c) => c.name);
      const rows: (string | number | boolean | null)[][] = [];
      let truncated = false;
      for (const row of st.iterate() as IterableIterator<unknown[]>) {
        if (rows.length === maxRows) {
          truncated = true;
          break;
        }
        rows.push(row.map(plainValue));
      }
      answer({ ok: true, result: { columns, rows, truncated } });
    }
  }
  db.close();
} catch (e) {
  const code = (e as { code?: unknown }).code;
  const message = (e as Error).message;
  answer({
    ok: false,
    code: typeof code === 'string' && code.startsWith('SQLITE_READONLY') ? 'read_only' : 'invalid_argument',
    message: `the query failed: ${message}`,
  });
}
