DROP TRIGGER IF EXISTS audit_learnings_delete;
DROP TRIGGER IF EXISTS audit_learnings_update;
DROP TRIGGER IF EXISTS audit_messages_delete;
DROP TRIGGER IF EXISTS audit_conversations_delete;
DROP TRIGGER IF EXISTS audit_conversations_update;
DROP INDEX IF EXISTS idx_audit_conversation;
DROP TABLE IF EXISTS audit_log;
