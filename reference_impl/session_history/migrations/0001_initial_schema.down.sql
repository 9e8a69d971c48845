DROP VIEW IF EXISTS session_complete;
DROP TABLE IF EXISTS migration_metadata;
DROP TABLE IF EXISTS chat_messages;
DROP TABLE IF EXISTS instances;
DROP TABLE IF EXISTS session_runtime_mix;
DROP TABLE IF EXISTS sessions;
DROP TABLE IF EXISTS workspaces;
