/**
 * SQLite schema, as ordered migrations. Each applied migration is recorded with the SHA-256 of
 * its SQL; opening a database whose recorded checksum differs from the code's is refused, so a
 * silently edited schema cannot pass for the published one.
 */
import { SQL_VIEWS } from '../sql-views.js';

export interface Migration {
  id: number;
  name: string;
  sql: string;
}

export const SQLITE_MIGRATIONS: readonly Migration[] = [
  {
    id: 1,
    name: 'verifiable-log',
    sql: `
CREATE TABLE logs (
  log_id     INTEGER PRIMARY KEY,
  origin     TEXT NOT NULL UNIQUE,
  tenant     TEXT NOT NULL,
  state      TEXT NOT NULL DEFAULT 'active',
  tree_size  INTEGER NOT NULL DEFAULT 0,
  root_hash  BLOB NOT NULL,
  right_edge BLOB NOT NULL,
  last_ts    TEXT,
  created_at TEXT NOT NULL
);
CREATE TABLE entries (
  log_id    INTEGER NOT NULL,
  seq       INTEGER NOT NULL,
  leaf      BLOB NOT NULL,
  leaf_hash BLOB NOT NULL,
  eid       TEXT NOT NULL,
  type      TEXT NOT NULL,
  ts        TEXT NOT NULL,
  PRIMARY KEY (log_id, seq)
) WITHOUT ROWID;
CREATE UNIQUE INDEX entries_eid ON entries(log_id, eid);
CREATE TABLE disclosures (
  log_id        INTEGER NOT NULL,
  seq           INTEGER NOT NULL,
  unit          INTEGER NOT NULL,
  pointer       TEXT NOT NULL,
  disclosure    BLOB,
  erased_by_seq INTEGER,
  erased_at     TEXT,
  PRIMARY KEY (log_id, seq, unit)
) WITHOUT ROWID;
CREATE TABLE events (
  log_id      INTEGER NOT NULL,
  seq         INTEGER NOT NULL,
  ts          TEXT NOT NULL,
  type        TEXT NOT NULL,
  tenant      TEXT,
  session_id  TEXT,
  run_id      TEXT,
  trace_id    TEXT,
  actor_id    TEXT,
  action_type TEXT,
  target      TEXT,
  decision    TEXT,
  status      TEXT,
  risk        TEXT,
  time        TEXT,
  PRIMARY KEY (log_id, seq)
) WITHOUT ROWID;
-- No index on ts: log time never decreases along seq, so a time window is found as a seq range
-- by binary search on the primary key (fewer indexes = fewer pages written per durable commit).
CREATE INDEX events_session ON events(log_id, session_id, seq) WHERE session_id IS NOT NULL;
CREATE INDEX events_run ON events(log_id, run_id, seq) WHERE run_id IS NOT NULL;
CREATE INDEX events_trace ON events(log_id, trace_id, seq) WHERE trace_id IS NOT NULL;
CREATE INDEX events_actor ON events(log_id, actor_id, seq);
CREATE INDEX events_action ON events(log_id, action_type, seq) WHERE action_type IS NOT NULL;
CREATE INDEX events_type ON events(log_id, type, seq);
CREATE TABLE tiles (
  log_id INTEGER NOT NULL,
  level  INTEGER NOT NULL,
  idx    INTEGER NOT NULL,
  width  INTEGER NOT NULL,
  hashes BLOB NOT NULL,
  PRIMARY KEY (log_id, level, idx)
) WITHOUT ROWID;
CREATE TABLE checkpoints (
  log_id     INTEGER NOT NULL,
  size       INTEGER NOT NULL,
  root_hash  BLOB NOT NULL,
  note       TEXT NOT NULL,
  created_at TEXT NOT NULL,
  PRIMARY KEY (log_id, size)
);
CREATE TABLE approvals (
  id             TEXT PRIMARY KEY,
  log_origin     TEXT NOT NULL,
  status         TEXT NOT NULL,
  request_digest TEXT NOT NULL,
  approvers      TEXT NOT NULL,
  expires_at     TEXT NOT NULL,
  created_at     TEXT NOT NULL,
  request        TEXT NOT NULL,
  decided_by     TEXT,
  decided_at     TEXT,
  reason         TEXT
);
CREATE INDEX approvals_status ON approvals(status, created_at);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

-- Defence in depth (the proof does not rely on it): the log is append-only.
CREATE TRIGGER entries_no_update BEFORE UPDATE ON entries
  BEGIN SELECT RAISE(ABORT, 'auditrail: entries are append-only'); END;
CREATE TRIGGER entries_no_delete BEFORE DELETE ON entries
  BEGIN SELECT RAISE(ABORT, 'auditrail: entries are append-only'); END;
CREATE TRIGGER checkpoints_no_update BEFORE UPDATE ON checkpoints
  BEGIN SELECT RAISE(ABORT, 'auditrail: checkpoints are append-only'); END;
CREATE TRIGGER checkpoints_no_delete BEFORE DELETE ON checkpoints
  BEGIN SELECT RAISE(ABORT, 'auditrail: checkpoints are append-only'); END;
-- Disclosures may only be erased (value set to NULL, naming the erasure event), never rewritten.
CREATE TRIGGER disclosures_erase_only BEFORE UPDATE ON disclosures
  WHEN NEW.disclosure IS NOT NULL OR NEW.erased_by_seq IS NULL OR NEW.pointer IS NOT OLD.pointer
    OR NEW.seq IS NOT OLD.seq OR NEW.unit IS NOT OLD.unit OR NEW.log_id IS NOT OLD.log_id
  BEGIN SELECT RAISE(ABORT, 'auditrail: disclosures can only be erased'); END;
CREATE TRIGGER disclosures_no_delete BEFORE DELETE ON disclosures
  BEGIN SELECT RAISE(ABORT, 'auditrail: disclosures can only be erased'); END;
-- Full tiles are immutable; partial tiles only grow by appending hashes.
CREATE TRIGGER tiles_append_only BEFORE UPDATE ON tiles
  WHEN OLD.width = 256 OR NEW.width < OLD.width OR substr(NEW.hashes, 1, length(OLD.hashes)) IS NOT OLD.hashes
    OR NEW.level IS NOT OLD.level OR NEW.idx IS NOT OLD.idx OR NEW.log_id IS NOT OLD.log_id
  BEGIN SELECT RAISE(ABORT, 'auditrail: tiles are append-only'); END;
CREATE TRIGGER tiles_no_delete BEFORE DELETE ON tiles
  BEGIN SELECT RAISE(ABORT, 'auditrail: tiles are append-only'); END;
`,
  },
  {
    id: 2,
    name: 'approval-columns-and-cursors',
    // Approval requests get one column per field the SDK reads instead of a JSON document parsed
    // at each read; rows written before carry over, their document split by SQLite's JSON
    // functions (`->` keeps a value's JSON text, `->>` gives a string as SQL text); a document
    // that is not JSON (stored data is attacker-controlled) carries over as empty fields.
    sql: `
CREATE TABLE approvals_v2 (
  id              TEXT PRIMARY KEY,
  log_origin      TEXT NOT NULL,
  status          TEXT NOT NULL,
  request_digest  TEXT NOT NULL,
  approvers       TEXT NOT NULL,
  expires_at      TEXT NOT NULL,
  created_at      TEXT NOT NULL,
  action_type     TEXT NOT NULL,
  target          TEXT,
  params          TEXT,
  side_effects    TEXT,
  matched_rule    TEXT,
  request_reason  TEXT NOT NULL,
  actor_type      TEXT NOT NULL,
  actor_id        TEXT NOT NULL,
  session_id      TEXT,
  run_id          TEXT,
  parent_event_id TEXT,
  trace_id        TEXT,
  span_id         TEXT,
  decided_by      TEXT,
  decided_at      TEXT,
  reason          TEXT
);
INSERT INTO approvals_v2
  SELECT id, log_origin, status, request_digest, approvers, expires_at, created_at,
    coalesce(request ->> '$.action.type', ''), request ->> '$.action.target', request -> '$.action.params',
    request -> '$.action.side_effects', request ->> '$.matched_rule', coalesce(request ->> '$.reason', ''),
    coalesce(request ->> '$.ctx.actor.type', ''), coalesce(request ->> '$.ctx.actor.id', ''),
    request ->> '$.ctx.session_id', request ->> '$.ctx.run_id', request ->> '$.ctx.parent_event_id',
    request ->> '$.ctx.trace_id', request ->> '$.ctx.span_id', decided_by, decided_at, reason
  FROM (SELECT id, log_origin, status, request_digest, approvers, expires_at, created_at, decided_by, decided_at,
    reason, CASE WHEN json_valid(request) THEN request ELSE '{}' END AS request FROM approvals);
DROP TABLE approvals;
ALTER TABLE approvals_v2 RENAME TO approvals;
CREATE INDEX approvals_status ON approvals(status, created_at);
CREATE INDEX approvals_log ON approvals(log_origin, status, created_at);
CREATE TABLE cursors (
  log_id INTEGER NOT NULL,
  name   TEXT NOT NULL,
  seq    INTEGER NOT NULL,
  PRIMARY KEY (log_id, name)
) WITHOUT ROWID;
`,
  },
  {
    id: 3,
    name: 'subject-tags',
    // People in the query index by keyed hash (docs/storage.md): the tags of an event's
    // data_subject_ids, space-separated, with a partial index so a subject's events are found
    // without reading the rows that name nobody. Existing rows keep NULL until the SDK, writing,
    // creates the log's index key and re-derives its rows (sdk/index-key.ts).
    sql: `
ALTER TABLE events ADD COLUMN subjects TEXT;
CREATE INDEX events_subjects ON events(log_id, subjects) WHERE subjects IS NOT NULL;
`,
  },
  {
    id: 4,
    name: 'cold-archive',
    // Archived ranges (docs/storage.md "Cold archive"): their disclosures and index rows move to
    // Parquet files, their leaves and tiles stay. Disclosures stay undeletable, except those of a
    // range recorded here (the record names the archive.created event verify checks it against).
    sql: `
CREATE TABLE archives (
  log_id          INTEGER NOT NULL,
  from_seq        INTEGER NOT NULL,
  to_seq          INTEGER NOT NULL,
  by_seq          INTEGER NOT NULL,
  manifest_sha256 TEXT NOT NULL,
  created_at      TEXT NOT NULL,
  PRIMARY KEY (log_id, from_seq)
) WITHOUT ROWID;
DROP TRIGGER IF EXISTS disclosures_no_delete;
CREATE TRIGGER disclosures_no_delete BEFORE DELETE ON disclosures
  WHEN NOT EXISTS (SELECT 1 FROM archives a
    WHERE a.log_id = OLD.log_id AND a.from_seq <= OLD.seq AND OLD.seq < a.to_seq)
  BEGIN SELECT RAISE(ABORT, 'auditrail: disclosures can only be erased'); END;
`,
  },
  // The documented views of `auditrail sql` (src/store/sql-views.ts), the same on PostgreSQL.
  { id: 5, name: 'sql-views', sql: SQL_VIEWS },
  {
    id: 6,
    name: 'derived-leaf-tile',
    // The level-0 partial tile is exactly the leaf hashes of the entries after the last full
    // tile: it is read from `entries` instead of being rewritten (up to 8 KB) at every commit
    // (core/tiles.ts partialLeafTile). The row an older version stored for it goes; full tiles
    // and the partial tiles of the levels above stay (so does any other short level-0 row: verify
    // names it), and deleting any of them is still refused.
    sql: `
DROP TRIGGER IF EXISTS tiles_no_delete;
DELETE FROM tiles WHERE level = 0 AND width < 256
  AND idx = (SELECT l.tree_size / 256 FROM logs l WHERE l.log_id = tiles.log_id);
CREATE TRIGGER tiles_no_delete BEFORE DELETE ON tiles
  BEGIN SELECT RAISE(ABORT, 'auditrail: tiles are append-only'); END;
`,
  },
];
