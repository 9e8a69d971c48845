'use strict';
// The seed's schema (seed 004), as the versions a store steps through: 1 is the initial
// schema, 2 adds the keyset-pagination and message-order indexes.  Each step is a list
// of statements so that a step can be made to fail after any one of them.

const MIGRATIONS = [
  {
    version: 1,
    name: 'initial_schema',
    up: [
      `CREATE TABLE IF NOT EXISTS workspaces (
           id INTEGER PRIMARY KEY AUTOINCREMENT,
           workspace_path TEXT NOT NULL UNIQUE,
           workspace_hash TEXT NOT NULL UNIQUE,
           created_at TEXT NOT NULL DEFAULT (datetime('now')),
           last_accessed_at TEXT NOT NULL DEFAULT (datetime('now')),
           CHECK(workspace_path <> '')
       ) STRICT`,
      `CREATE INDEX idx_workspaces_path ON workspaces(workspace_path)`,
      `CREATE INDEX idx_workspaces_hash ON workspaces(workspace_hash)`,
      `CREATE TABLE IF NOT EXISTS sessions (
           id TEXT PRIMARY KEY,
           workspace_id INTEGER NOT NULL,
           type TEXT NOT NULL,
           task TEXT NOT NULL,
           status TEXT NOT NULL,
           created_at TEXT NOT NULL,
           updated_at TEXT NOT NULL,
           completed_at TEXT,
           model TEXT,
           timeout_seconds INTEGER,
           preserve_worktrees INTEGER,
           winner_id INTEGER,
           total_duration INTEGER,
           total_files_changed INTEGER,
           total_lines_added INTEGER,
           total_lines_deleted INTEGER,
           FOREIGN KEY (workspace_id) REFERENCES workspaces(id) ON DELETE CASCADE,
           CHECK(type IN ('competition', 'ensemble', 'debate')),
           CHECK(status IN ('running', 'completed', 'failed', 'paused')),
           CHECK(id <> ''),
           CHECK(task <> '')
       ) STRICT`,
      `CREATE INDEX idx_sessions_workspace ON sessions(workspace_id)`,
      `CREATE INDEX idx_sessions_status ON sessions(status)`,
      `CREATE INDEX idx_sessions_type ON sessions(type)`,
      `CREATE INDEX idx_sessions_created_at ON sessions(created_at DESC)`,
      `CREATE INDEX idx_sessions_updated_at ON sessions(updated_at DESC)`,
      `CREATE TABLE IF NOT EXISTS session_runtime_mix (
           id INTEGER PRIMARY KEY AUTOINCREMENT,
           session_id TEXT NOT NULL,
           runtime TEXT NOT NULL,
           FOREIGN KEY (session_id) REFERENCES sessions(id) ON DELETE CASCADE,
           UNIQUE(session_id, runtime)
       ) STRICT`,
      `CREATE INDEX idx_runtime_mix_session ON session_runtime_mix(session_id)`,
      `CREATE TABLE IF NOT EXISTS instances (
           id INTEGER PRIMARY KEY AUTOINCREMENT,
           session_id TEXT NOT NULL,
           instance_id INTEGER NOT NULL,
           worktree_path TEXT NOT NULL,
           branch TEXT NOT NULL,
           agent_name TEXT NOT NULL,
           status TEXT NOT NULL,
           tmux_session_id TEXT NOT NULL,
           output TEXT,
           start_time TEXT,
           end_time TEXT,
           files_changed INTEGER,
           lines_added INTEGER,
           lines_deleted INTEGER,
           runtime TEXT,
           model TEXT,
           runtime_label TEXT,
           FOREIGN KEY (session_id) REFERENCES sessions(id) ON DELETE CASCADE,
           UNIQUE(session_id, instance_id),
           CHECK(instance_id >= 0)
       ) STRICT`,
      `CREATE INDEX idx_instances_session ON instances(session_id)`,
      `CREATE INDEX idx_instances_status ON instances(status)`,
      `CREATE INDEX idx_instances_session_instance ON instances(session_id, instance_id)`,
      `CREATE TABLE IF NOT EXISTS chat_messages (
           id TEXT PRIMARY KEY,
           session_id TEXT NOT NULL,
           role TEXT NOT NULL,
           content TEXT NOT NULL,
           timestamp TEXT NOT NULL,
           instance_id INTEGER,
           FOREIGN KEY (session_id) REFERENCES sessions(id) ON DELETE CASCADE,
           CHECK(role IN ('user', 'assistant', 'system')),
           CHECK(id <> ''),
           CHECK(content <> '')
       ) STRICT`,
      `CREATE INDEX idx_chat_messages_session ON chat_messages(session_id)`,
      `CREATE INDEX idx_chat_messages_timestamp ON chat_messages(timestamp)`,
      `CREATE INDEX idx_chat_messages_role ON chat_messages(role)`,
      `CREATE TABLE IF NOT EXISTS migration_metadata (
           id INTEGER PRIMARY KEY CHECK (id = 1),
           schema_version INTEGER NOT NULL DEFAULT 1,
           migrated_at TEXT NOT NULL DEFAULT (datetime('now')),
           json_backup_path TEXT,
           migration_status TEXT NOT NULL DEFAULT 'pending',
           last_updated_at TEXT NOT NULL DEFAULT (datetime('now'))
       ) STRICT`,
      `INSERT OR IGNORE INTO migration_metadata (id, schema_version, migration_status)
       VALUES (1, 1, 'pending')`,
      `CREATE VIEW IF NOT EXISTS session_complete AS
       SELECT
           s.id,
           s.workspace_id,
           w.workspace_path,
           s.type,
           s.task,
           s.status,
           s.created_at,
           s.updated_at,
           s.completed_at,
           s.model,
           s.timeout_seconds,
           s.preserve_worktrees,
           s.winner_id,
           s.total_duration,
           s.total_files_changed,
           s.total_lines_added,
           s.total_lines_deleted,
           COUNT(DISTINCT i.id) as instance_count,
           COUNT(DISTINCT cm.id) as message_count,
           GROUP_CONCAT(DISTINCT srm.runtime) as runtime_mix
       FROM sessions s
       JOIN workspaces w ON s.workspace_id = w.id
       LEFT JOIN instances i ON s.id = i.session_id
       LEFT JOIN chat_messages cm ON s.id = cm.session_id
       LEFT JOIN session_runtime_mix srm ON s.id = srm.session_id
       GROUP BY s.id`,
    ],
    down: [
      `DROP VIEW IF EXISTS session_complete`,
      `DROP TABLE IF EXISTS migration_metadata`,
      `DROP TABLE IF EXISTS chat_messages`,
      `DROP TABLE IF EXISTS instances`,
      `DROP TABLE IF EXISTS session_runtime_mix`,
      `DROP TABLE IF EXISTS sessions`,
      `DROP TABLE IF EXISTS workspaces`,
    ],
  },
  {
    version: 2,
    name: 'keyset_indexes',
    up: [
      `CREATE INDEX idx_sessions_created_id ON sessions(created_at DESC, id DESC)`,
      `CREATE INDEX idx_sessions_workspace_created ON sessions(workspace_id, created_at DESC, id DESC)`,
      `CREATE INDEX idx_chat_messages_session_order ON chat_messages(session_id, timestamp)`,
      `UPDATE migration_metadata SET schema_version = 2, last_updated_at = datetime('now') WHERE id = 1`,
    ],
    down: [
      `DROP INDEX IF EXISTS idx_chat_messages_session_order`,
      `DROP INDEX IF EXISTS idx_sessions_workspace_created`,
      `DROP INDEX IF EXISTS idx_sessions_created_id`,
      `UPDATE migration_metadata SET schema_version = 1, last_updated_at = datetime('now') WHERE id = 1`,
    ],
  },
];

const HISTORY_TABLE = `CREATE TABLE IF NOT EXISTS js_schema_history (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at TEXT NOT NULL
) STRICT`;

module.exports = { MIGRATIONS, HISTORY_TABLE };
