-- Seed 003, "migration 001: initial tables".
CREATE TABLE conversations (
    id TEXT PRIMARY KEY CHECK (id <> ''),
    title TEXT NOT NULL,
    metadata TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata)),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    deleted_at TEXT
) STRICT;

CREATE TABLE messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('user', 'assistant', 'system', 'tool')),
    content TEXT NOT NULL,
    timestamp TEXT NOT NULL
) STRICT;

CREATE TABLE learnings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id TEXT REFERENCES conversations(id) ON DELETE CASCADE,
    category TEXT NOT NULL CHECK (category <> ''),
    content TEXT NOT NULL CHECK (content <> ''),
    confidence REAL NOT NULL CHECK (confidence >= 0.0 AND confidence <= 1.0),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
) STRICT;

CREATE TABLE learning_tags (
    learning_id INTEGER NOT NULL REFERENCES learnings(id) ON DELETE CASCADE,
    tag TEXT NOT NULL CHECK (tag <> ''),
    PRIMARY KEY (learning_id, tag)
) STRICT;

-- External-content FTS5 index over learnings.content, kept in step by triggers.
-- The ascii tokenizer is the spec's token rule: ASCII alphanumerics and runs of
-- non-ASCII characters, ASCII case-folded.
CREATE VIRTUAL TABLE learnings_fts USING fts5(
    content, content = 'learnings', content_rowid = 'id', tokenize = 'ascii', prefix = '2 3'
);

CREATE TRIGGER learnings_fts_insert AFTER INSERT ON learnings BEGIN
    INSERT INTO learnings_fts (rowid, content) VALUES (new.id, new.content);
END;

CREATE TRIGGER learnings_fts_delete AFTER DELETE ON learnings BEGIN
    INSERT INTO learnings_fts (learnings_fts, rowid, content) VALUES ('delete', old.id, old.content);
END;

CREATE TRIGGER learnings_fts_update AFTER UPDATE OF content ON learnings BEGIN
    INSERT INTO learnings_fts (learnings_fts, rowid, content) VALUES ('delete', old.id, old.content);
    INSERT INTO learnings_fts (rowid, content) VALUES (new.id, new.content);
END;

CREATE TABLE jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    type TEXT NOT NULL CHECK (type <> ''),
    payload TEXT NOT NULL CHECK (json_valid(payload)),
    priority INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'completed', 'dead')),
    attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts INTEGER NOT NULL CHECK (max_attempts >= 1),
    run_after TEXT NOT NULL,
    lease_until TEXT,
    worker TEXT,
    last_error TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
) STRICT;

CREATE TABLE uploads (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    file_name TEXT NOT NULL CHECK (file_name <> ''),
    size_bytes INTEGER NOT NULL CHECK (size_bytes >= 0),
    mime_type TEXT NOT NULL,
    checksum TEXT NOT NULL CHECK (length(checksum) = 64 AND checksum NOT GLOB '*[^0-9a-f]*'),
    storage_path TEXT NOT NULL,
    created_at TEXT NOT NULL
) STRICT;
