-- Seed 003, "migration 003: audit tables": the previous row of every update and
-- delete of conversations, messages and learnings, as JSON.
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    table_name TEXT NOT NULL,
    row_id TEXT NOT NULL,
    conversation_id TEXT,
    action TEXT NOT NULL CHECK (action IN ('update', 'delete')),
    payload TEXT NOT NULL CHECK (json_valid(payload)),
    at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;

CREATE INDEX idx_audit_conversation ON audit_log(conversation_id);

CREATE TRIGGER audit_conversations_update AFTER UPDATE ON conversations BEGIN
    INSERT INTO audit_log (table_name, row_id, conversation_id, action, payload)
    VALUES ('conversations', old.id, old.id, 'update',
            json_object('title', old.title, 'metadata', old.metadata, 'deleted_at', old.deleted_at));
END;

CREATE TRIGGER audit_conversations_delete AFTER DELETE ON conversations BEGIN
    INSERT INTO audit_log (table_name, row_id, conversation_id, action, payload)
    VALUES ('conversations', old.id, old.id, 'delete',
            json_object('title', old.title, 'metadata', old.metadata));
END;

CREATE TRIGGER audit_messages_delete AFTER DELETE ON messages BEGIN
    INSERT INTO audit_log (table_name, row_id, conversation_id, action, payload)
    VALUES ('messages', old.id, old.conversation_id, 'delete',
            json_object('role', old.role, 'content', old.content));
END;

CREATE TRIGGER audit_learnings_update AFTER UPDATE ON learnings BEGIN
    INSERT INTO audit_log (table_name, row_id, conversation_id, action, payload)
    VALUES ('learnings', old.id, old.conversation_id, 'update',
            json_object('category', old.category, 'content', old.content,
                        'confidence', old.confidence));
END;

CREATE TRIGGER audit_learnings_delete AFTER DELETE ON learnings BEGIN
    INSERT INTO audit_log (table_name, row_id, conversation_id, action, payload)
    VALUES ('learnings', old.id, old.conversation_id, 'delete',
            json_object('category', old.category, 'content', old.content));
END;
