/**
 * PostgreSQL schema, as ordered migrations, recorded with the SHA-256 of their SQL like the
 * SQLite ones (a database whose recorded checksum differs from the code's is refused). The ids
 * follow the SQLite list: 1 holds the tables as SQLite has them after its migrations 1 and 2
 * (approvals one column per field, cursors), 2 the API keys, 3 the subject tags and 4 the cold
 * archive (as SQLite's 3 and 4), 5 the read-only SQL views. A schema made before 3 and 4 existed
 * has 5 applied already: opening it applies whatever is missing, so 3 and 4 come after 5 there.
 * Everything is created in the store's schema (`search_path`), so tenants and test runs isolate.
 */
import type { Migration } from '../sqlite/migrations.js';
import { SQL_VIEWS } from '../sql-views.js';

export type { Migration };

export const POSTGRES_MIGRATIONS: readonly Migration[] = [
  {
    id: 1,
    name: 'verifiable-log',
    sql: `
CREATE TABLE logs (
  log_id     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  origin     TEXT NOT NULL UNIQUE,
  tenant     TEXT NOT NULL,
  state      TEXT NOT NULL DEFAULT 'active',
  tree_size  BIGINT NOT NULL DEFAULT 0,
  root_hash  BYTEA NOT NULL,
  right_edge BYTEA NOT NULL,
  last_ts    TEXT,
  created_at TEXT NOT NULL
);
CREATE TABLE entries (
  log_id    BIGINT NOT NULL,
  seq       BIGINT NOT NULL,
  leaf      BYTEA NOT NULL,
  leaf_hash BYTEA NOT NULL,
  eid       TEXT NOT NULL,
  type      TEXT NOT NULL,
  ts        TEXT NOT NULL,
  PRIMARY KEY (log_id, seq)
);
CREATE UNIQUE INDEX entries_eid ON entries(log_id, eid);
CREATE TABLE disclosures (
  log_id        BIGINT NOT NULL,
  seq           BIGINT NOT NULL,
  unit          INTEGER NOT NULL,
  pointer       TEXT NOT NULL,
  disclosure    BYTEA,
  erased_by_seq BIGINT,
  erased_at     TEXT,
  PRIMARY KEY (log_id, seq, unit)
);
CREATE TABLE events (
  log_id      BIGINT NOT NULL,
  seq         BIGINT NOT NULL,
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
);
-- COLLATE "C": filters compare code points, as the shared matcher does (core/glob.ts).
CREATE INDEX events_session ON events(log_id, session_id, seq) WHERE session_id IS NOT NULL;
CREATE INDEX events_run ON events(log_id, run_id, seq) WHERE run_id IS NOT NULL;
CREATE INDEX events_trace ON events(log_id, trace_id, seq) WHERE trace_id IS NOT NULL;
CREATE INDEX events_actor ON events(log_id, actor_id, seq);
CREATE INDEX events_action ON events(log_id, action_type COLLATE "C", seq) WHERE action_type IS NOT NULL;
CREATE INDEX events_type ON events(log_id, type COLLATE "C", seq);
CREATE TABLE tiles (
  log_id BIGINT NOT NULL,
  level  INTEGER NOT NULL,
  idx    BIGINT NOT NULL,
  width  INTEGER NOT NULL,
  hashes BYTEA NOT NULL,
  PRIMARY KEY (log_id, level, idx)
);
CREATE TABLE checkpoints (
  log_id     BIGINT NOT NULL,
  size       BIGINT NOT NULL,
  root_hash  BYTEA NOT NULL,
  note       TEXT NOT NULL,
  created_at TEXT NOT NULL,
  PRIMARY KEY (log_id, size)
);
CREATE TABLE approvals (
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
CREATE INDEX approvals_status ON approvals(status, created_at);
CREATE INDEX approvals_log ON approvals(log_origin, status, created_at);
CREATE TABLE cursors (
  log_id BIGINT NOT NULL,
  name   TEXT NOT NULL,
  seq    BIGINT NOT NULL,
  PRIMARY KEY (log_id, name)
);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

-- Defence in depth (the proof does not rely on it): the log is append-only.
CREATE FUNCTION auditrail_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'auditrail: % %', TG_TABLE_NAME, TG_ARGV[0] USING ERRCODE = 'P0001';
END $$;
CREATE TRIGGER entries_no_update BEFORE UPDATE ON entries
  FOR EACH ROW EXECUTE FUNCTION auditrail_refuse('are append-only');
CREATE TRIGGER entries_no_delete BEFORE DELETE ON entries
  FOR EACH ROW EXECUTE FUNCTION auditrail_refuse('are append-only');
CREATE TRIGGER entries_no_truncate BEFORE TRUNCATE ON entries
  FOR EACH STATEMENT EXECUTE FUNCTION auditrail_refuse('are append-only');
CREATE TRIGGER checkpoints_no_update BEFORE UPDATE ON checkpoints
  FOR EACH ROW EXECUTE FUNCTION auditrail_refuse('are append-only');
CREATE TRIGGER checkpoints_no_delete BEFORE DELETE ON checkpoints
  FOR EACH ROW EXECUTE FUNCTION auditrail_refuse('are append-only');
CREATE TRIGGER checkpoints_no_truncate BEFORE TRUNCATE ON checkpoints
  FOR EACH STATEMENT EXECUTE FUNCTION auditrail_refuse('are append-only');
-- Disclosures may only be erased (value set to NULL, naming the erasure event), never rewritten.
CREATE TRIGGER disclosures_erase_only BEFORE UPDATE ON disclosures
  FOR EACH ROW WHEN (NEW.disclosure IS NOT NULL OR NEW.erased_by_seq IS NULL
    OR NEW.pointer IS DISTINCT FROM OLD.pointer OR NEW.seq IS DISTINCT FROM OLD.seq
    OR NEW.unit IS DISTINCT FROM OLD.unit OR NEW.log_id IS DISTINCT FROM OLD.log_id)
  EXECUTE FUNCTION auditrail_refuse('can only be erased');
CREATE TRIGGER disclosures_no_delete BEFORE DELETE ON disclosures
  FOR EACH ROW EXECUTE FUNCTION auditrail_refuse('can only be erased');
CREATE TRIGGER disclosures_no_truncate BEFORE TRUNCATE ON disclosures
  FOR EACH STATEMENT EXECUTE FUNCTION auditrail_refuse('can only be erased');
-- Full tiles are immutable; partial tiles only grow by appending hashes.
CREATE TRIGGER tiles_append_only BEFORE UPDATE ON tiles
  FOR EACH ROW WHEN (OLD.width = 256 OR NEW.width < OLD.width
    OR substring(NEW.hashes FROM 1 FOR length(OLD.hashes)) IS DISTINCT FROM OLD.hashes
    OR NEW.level IS DISTINCT FROM OLD.level OR NEW.idx IS DISTINCT FROM OLD.idx
    OR NEW.log_id IS DISTINCT FROM OLD.log_id)
  EXECUTE FUNCTION auditrail_refuse('are append-only');
CREATE TRIGGER tiles_no_delete BEFORE DELETE ON tiles
  FOR EACH ROW EXECUTE FUNCTION auditrail_refuse('are append-only');
CREATE TRIGGER tiles_no_truncate BEFORE TRUNCATE ON tiles
  FOR EACH STATEMENT EXECUTE FUNCTION auditrail_refuse('are append-only');
`,
  },
  {
    id: 2,
    name: 'api-keys',
    // SQLite creates this table on first use; here it is part of the schema, so that an ingest
    // role can be granted exactly what it needs (docs/scale-out.md).
    sql: `
CREATE TABLE api_keys (
  id         TEXT PRIMARY KEY,
  hash       BYTEA NOT NULL,
  tenant     TEXT NOT NULL,
  name       TEXT NOT NULL,
  scopes     TEXT NOT NULL,
  created_at TEXT NOT NULL,
  revoked_at TEXT
);
`,
  },
  {
    id: 3,
    name: 'subject-tags',
    // People in the query index by keyed hash (docs/storage.md), as SQLite migration 3: the tags
    // of an event's data_subject_ids, space-separated, with a partial index on the rows naming someone.
    sql: `
ALTER TABLE events ADD COLUMN subjects TEXT;
CREATE INDEX events_subjects ON events(log_id, subjects) WHERE subjects IS NOT NULL;
`,
  },
  {
    id: 4,
    name: 'cold-archive',
    // Archived ranges (docs/storage.md "Cold archive"), as SQLite migration 4: disclosures stay
    // undeletable except those of a range recorded here. Checked once per statement on the
    // deleted rows (dropping an archived range deletes many at once), in the trigger's own
    // schema whatever the session's search_path.
    sql: `
CREATE TABLE archives (
  log_id          BIGINT NOT NULL,
  from_seq        BIGINT NOT NULL,
  to_seq          BIGINT NOT NULL,
  by_seq          BIGINT NOT NULL,
  manifest_sha256 TEXT NOT NULL,
  created_at      TEXT NOT NULL,
  PRIMARY KEY (log_id, from_seq)
);
CREATE FUNCTION auditrail_disclosures_delete() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE outside boolean;
BEGIN
  EXECUTE format('SELECT EXISTS (SELECT 1 FROM gone o WHERE NOT EXISTS (SELECT 1 FROM %I.archives a
      WHERE a.log_id = o.log_id AND a.from_seq <= o.seq AND o.seq < a.to_seq))', TG_TABLE_SCHEMA)
    INTO outside;
  IF outside THEN
    RAISE EXCEPTION 'auditrail: disclosures can only be erased' USING ERRCODE = 'P0001';
  END IF;
  RETURN NULL;
END $$;
DROP TRIGGER disclosures_no_delete ON disclosures;
CREATE TRIGGER disclosures_no_delete AFTER DELETE ON disclosures REFERENCING OLD TABLE AS gone
  FOR EACH STATEMENT EXECUTE FUNCTION auditrail_disclosures_delete();
`,
  },
  { id: 5, name: 'sql-views', sql: SQL_VIEWS },
  {
    id: 6,
    name: 'derived-leaf-tile',
    // As SQLite's migration 6: the level-0 partial tile is read from the entries' leaf hashes
    // instead of being rewritten at every commit; the row stored for it goes, nothing else.
    sql: `
ALTER TABLE tiles DISABLE TRIGGER tiles_no_delete;
DELETE FROM tiles t USING logs l
  WHERE t.log_id = l.log_id AND t.level = 0 AND t.width < 256 AND t.idx = l.tree_size / 256;
ALTER TABLE tiles ENABLE TRIGGER tiles_no_delete;
`,
  },
];
