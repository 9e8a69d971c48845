DROP INDEX IF EXISTS idx_chat_messages_session_order;
DROP INDEX IF EXISTS idx_sessions_workspace_created;
DROP INDEX IF EXISTS idx_sessions_created_id;

UPDATE migration_metadata SET schema_version = 1, last_updated_at = datetime('now') WHERE id = 1;
