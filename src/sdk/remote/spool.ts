import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { AuditError } from '../../errors.js';

/** Default spool directory of the remote SDK and `auditrail spool`. */
export const DEFAULT_SPOOL = './.auditrail/spool';
/** Default bound on the bytes of events waiting in a spool (256 MiB). */
export const DEFAULT_SPOOL_MAX_BYTES = 256 * 1024 * 1024;
/** Default bound on the number of events waiting in a spool. */
export const DEFAULT_SPOOL_MAX_EVENTS = 1_000_000;

/** One spooled event: its row id (the delivery order), id and JSON body. */
export interface SpooledRow {
  id: number;
  event_id: string;
  body: string;
}

/** What a spool holds (`auditrail spool status`). */
export interface SpoolStatus {
  dir: string;
  /** Events waiting for the server's receipt. */
  events: number;
  bytes: number;
  max_bytes: number;
  max_events: number;
  /** When the oldest waiting event was spooled (RFC 3339), or null. */
  oldest: string | null;
  /** Events the server refused for good (kept, listed, never resent on their own). */
  dead: number;
}

export interface SpoolOptions {
  maxBytes?: number;
  maxEvents?: number;
  /** Open an existing spool to read its status only (no lock, nothing created). */
  readonly?: boolean;
}

/**
 * A durable local queue of events for the remote SDK: a SQLite file (`spool.db`, WAL,
 * `synchronous=FULL`: each `add` is fsynced before it returns) that one process owns at a time
 * (`spool.lock` holds its pid). Events are delivered in row order and removed only once the
 * server acknowledged them; the server dedupes by `event_id`, so a resend after a crash is safe.
 * A full spool refuses new events (`queue_full`, naming the bound): nothing is dropped.
 *
 * @example
 * const spool = Spool.open('./.auditrail/spool');
 * spool.add([{ event_id: id, body: JSON.stringify(event) }]);
 */
export class Spool {
  private bytes: number;
  private count: number;
  private closed = false;
  private readonly stmts;

  private constructor(
    readonly dir: string,
    private readonly db: Database.Database,
    readonly maxBytes: number,
    readonly maxEvents: number,
    private readonly lockPath: string | null,
  ) {
    this.stmts = {
      insert: db.prepare(
        'INSERT OR IGNORE INTO spool (event_id, body, bytes, spooled_at) VALUES (?, ?, ?, ?)',
      ),
      peek: db.prepare('SELECT id, event_id, body, bytes FROM spool ORDER BY id LIMIT ?'),
      ack: db.prepare('DELETE FROM spool WHERE id <= ?'),
      ackOne: db.prepare('DELETE FROM spool WHERE id = ?'),
      dead: db.prepare(
        'INSERT INTO dead (event_id, body, error, failed_at) SELECT event_id, body, ?, ? FROM spool WHERE id = ?',
      ),
      totals: db.prepare(
        'SELECT count(*) AS n, coalesce(sum(bytes), 0) AS b, min(spooled_at) AS oldest FROM spool',
      ),
      deadCount: db.prepare('SELECT count(*) AS n FROM dead'),
    };
    const t = this.stmts.totals.get() as { n: number; b: number };
    this.count = t.n;
    this.bytes = t.b;
  }

  /** Opens (creating) the spool in `dir` and takes its lock. */
  static open(dir: string = DEFAULT_SPOOL, options: SpoolOptions = {}): Spool {
    const maxBytes = options.maxBytes ?? DEFAULT_SPOOL_MAX_BYTES;
    const maxEvents = options.maxEvents ?? DEFAULT_SPOOL_MAX_EVENTS;
    for (const [name, v] of [
      ['spoolMaxBytes', maxBytes],
      ['spoolMaxEvents', maxEvents],
    ] as const) {
      if (!Number.isSafeInteger(v) || v < 1)
        throw new AuditError('invalid_argument', `${name} must be a positive integer`);
    }
    const readonly = options.readonly === true;
    let lockPath: string | null = null;
    let db: Database.Database;
    try {
      if (!readonly) {
        mkdirSync(dir, { recursive: true, mode: 0o700 });
        lockPath = takeLock(resolve(dir, 'spool.lock'));
      }
      db = new Database(join(dir, 'spool.db'), { readonly, fileMustExist: readonly });
    } catch (e) {
      if (lockPath !== null) releaseLock(lockPath);
      if (e instanceof AuditError) throw e;
      throw new AuditError('store_failure', `cannot open the spool in ${dir}: ${(e as Error).message}`, {
        cause: e,
      });
    }
    try {
      if (!readonly) {
        db.pragma('journal_mode = WAL');
        // Every add is on disk before record() resolves.
        db.pragma('synchronous = FULL');
        db.exec(`
          CREATE TABLE IF NOT EXISTS spool (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            event_id TEXT NOT NULL UNIQUE,
            body TEXT NOT NULL,
            bytes INTEGER NOT NULL,
            spooled_at TEXT NOT NULL
          );
          CREATE TABLE IF NOT EXISTS dead (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            event_id TEXT NOT NULL,
            body TEXT NOT NULL,
            error TEXT NOT NULL,
            failed_at TEXT NOT NULL
          );`);
      }
      return new Spool(dir, db, maxBytes, maxEvents, lockPath);
    } catch (e) {
      db.close();
      if (lockPath !== null) releaseLock(lockPath);
      throw new AuditError('store_failure', `cannot open the spool in ${dir}: ${(e as Error).message}`, {
        cause: e,
      });
    }
  }

  /** Events waiting. */
  get size(): number {
    return this.count;
  }

  /** Bytes of the events waiting. */
  get bytesWaiting(): number {
    return this.bytes;
  }

  /**
   * Appends events in one fsynced transaction, all or none. Rejects with `queue_full` when the
   * spool would pass its byte or event bound. An `event_id` already waiting is kept once.
   */
  add(events: readonly { event_id: string; body: string }[]): void {
    if (this.closed) throw new AuditError('closed', 'the spool is closed');
    let bytes = 0;
    for (const e of events) bytes += Buffer.byteLength(e.body);
    if (this.count + events.length > this.maxEvents) {
      throw new AuditError(
        'queue_full',
        `the spool ${this.dir} is full: ${this.count} events waiting, bound spoolMaxEvents ${this.maxEvents}; nothing was spooled`,
      );
    }
    if (this.bytes + bytes > this.maxBytes) {
      throw new AuditError(
        'queue_full',
        `the spool ${this.dir} is full: ${this.bytes} bytes waiting, bound spoolMaxBytes ${this.maxBytes}; nothing was spooled`,
      );
    }
    const at = new Date().toISOString();
    let added = 0;
    let addedBytes = 0;
    try {
      this.db.transaction(() => {
        for (const e of events) {
          const b = Buffer.byteLength(e.body);
          if (this.stmts.insert.run(e.event_id, e.body, b, at).changes > 0) {
            added++;
            addedBytes += b;
          }
        }
      })();
    } catch (e) {
      throw new AuditError('store_failure', `cannot write the spool ${this.dir}: ${(e as Error).message}`, {
        cause: e,
      });
    }
    this.count += added;
    this.bytes += addedBytes;
  }

  /** The oldest waiting events, at most `max` of them and about `maxBytes` (at least one). */
  peek(max: number, maxBytes: number): SpooledRow[] {
    const rows = this.stmts.peek.all(max) as (SpooledRow & { bytes: number })[];
    const out: SpooledRow[] = [];
    let total = 0;
    for (const r of rows) {
      if (out.length > 0 && total + r.bytes > maxBytes) break;
      total += r.bytes;
      out.push({ id: r.id, event_id: r.event_id, body: r.body });
    }
    return out;
  }

  /** Removes every event up to row `id` (their receipts arrived). */
  ack(rows: readonly SpooledRow[]): void {
    const last = rows[rows.length - 1];
    if (last === undefined) return;
    const bytes = rows.reduce((n, r) => n + Buffer.byteLength(r.body), 0);
    this.stmts.ack.run(last.id);
    this.count -= rows.length;
    this.bytes -= bytes;
  }

  /** Moves one event the server refused for good to the dead table, with the reason. */
  deadLetter(row: SpooledRow, error: string): void {
    this.db.transaction(() => {
      this.stmts.dead.run(error.slice(0, 2000), new Date().toISOString(), row.id);
      this.stmts.ackOne.run(row.id);
    })();
    this.count -= 1;
    this.bytes -= Buffer.byteLength(row.body);
  }

  status(): SpoolStatus {
    const t = this.stmts.totals.get() as { n: number; b: number; oldest: string | null };
    return {
      dir: this.dir,
      events: t.n,
      bytes: t.b,
      max_bytes: this.maxBytes,
      max_events: this.maxEvents,
      oldest: t.oldest,
      dead: (this.stmts.deadCount.get() as { n: number }).n,
    };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
    if (this.lockPath !== null) {
      rmSync(this.lockPath, { force: true });
      HELD.delete(this.lockPath);
    }
  }
}

const HELD = new Set<string>();

/** One owner per spool: a lock file with the owner's pid; a dead owner's lock is taken over. */
function takeLock(path: string): string {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      HELD.add(path);
      return path;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const pid = Number(readFileSync(path, 'utf8').trim());
      // Our own pid: held by this process, unless it is a stale lock of an earlier process that
      // had the same pid (a container's pid 1).
      const busy = pid === process.pid ? HELD.has(path) : Number.isSafeInteger(pid) && pid > 0 && alive(pid);
      if (busy) {
        throw new AuditError(
          'conflict',
          `the spool ${path.replace(/[/\\]spool\.lock$/, '')} is in use by process ${pid}: one process per spool`,
        );
      }
      rmSync(path, { force: true });
    }
  }
  throw new AuditError('conflict', `cannot lock the spool (${path})`);
}

function releaseLock(path: string): void {
  rmSync(path, { force: true });
  HELD.delete(path);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
