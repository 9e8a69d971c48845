-- Keyset pagination walks sessions by (created_at DESC, id DESC), optionally
-- inside one workspace; messages are read per session in timestamp order.
CREATE INDEX idx_sessions_created_id ON sessions(created_at DESC, id DESC);
CREATE INDEX idx_sessions_workspace_created ON sessions(workspace_id, created_at DESC, id DESC);
CREATE INDEX idx_chat_messages_session_order ON chat_messages(session_id, timestamp);

UPDATE migration_metadata SET schema_version = 2, last_updated_at = datetime('now') WHERE id = 1;
