-- Seed 001: the application's initial schema (settings, knowledge bases, documents
-- and chunks, pipelines and runs, tools, schedules, flows).  The event store's tables
-- are in ../event_migrations: one file holds both in the MVP layout, a second file
-- holds the events in the production layout.  Times are passed in by the caller:
-- fixed-width UTC text that sorts in time order.  Booleans are 0 or 1.
CREATE TABLE settings (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE CHECK (key <> ''),
    value TEXT NOT NULL,
    schema_version INTEGER NOT NULL DEFAULT 1 CHECK (schema_version >= 1),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
) STRICT;

CREATE TABLE knowledge_bases (
    id TEXT PRIMARY KEY NOT NULL CHECK (id <> ''),
    name TEXT NOT NULL CHECK (name <> ''),
    version INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1),
    status TEXT NOT NULL CHECK (status IN ('active', 'inactive', 'building', 'error')),
    embedder_model TEXT NOT NULL CHECK (embedder_model <> ''),
    chunk_size INTEGER NOT NULL DEFAULT 512 CHECK (chunk_size >= 1),
    chunk_overlap INTEGER NOT NULL DEFAULT 50
        CHECK (chunk_overlap >= 0 AND chunk_overlap < chunk_size),
    description TEXT,
    metadata TEXT,
    health_score REAL NOT NULL DEFAULT 1.0 CHECK (health_score BETWEEN 0.0 AND 1.0),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    pinned_version INTEGER CHECK (pinned_version >= 1),
    UNIQUE (name, version)
) STRICT;

CREATE TABLE documents (
    id TEXT PRIMARY KEY NOT NULL CHECK (id <> ''),
    kb_id TEXT NOT NULL REFERENCES knowledge_bases(id) ON DELETE CASCADE,
    title TEXT NOT NULL,
    source_path TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    license_info TEXT,
    metadata TEXT,
    chunk_count INTEGER NOT NULL DEFAULT 0 CHECK (chunk_count >= 0),
    size_bytes INTEGER NOT NULL DEFAULT 0 CHECK (size_bytes >= 0),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
) STRICT;

CREATE TABLE document_chunks (
    id TEXT PRIMARY KEY NOT NULL CHECK (id <> ''),
    document_id TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    kb_id TEXT NOT NULL REFERENCES knowledge_bases(id) ON DELETE CASCADE,
    chunk_index INTEGER NOT NULL CHECK (chunk_index >= 0),
    content TEXT NOT NULL,
    content_hash TEXT NOT NULL CHECK (length(content_hash) = 64),
    token_count INTEGER CHECK (token_count >= 0),
    metadata TEXT,
    created_at TEXT NOT NULL,
    UNIQUE (document_id, chunk_index)
) STRICT;

CREATE TABLE pipelines (
    id TEXT PRIMARY KEY NOT NULL CHECK (id <> ''),
    name TEXT NOT NULL UNIQUE CHECK (name <> ''),
    description TEXT,
    config TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'inactive', 'draft')),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
) STRICT;

-- The seed's keys from runs and schedules have no action: a pipeline or knowledge
-- base that runs or schedules name cannot be deleted.
CREATE TABLE pipeline_runs (
    id TEXT PRIMARY KEY NOT NULL CHECK (id <> ''),
    pipeline_id TEXT NOT NULL REFERENCES pipelines(id),
    kb_id TEXT REFERENCES knowledge_bases(id),
    status TEXT NOT NULL
        CHECK (status IN ('pending', 'running', 'completed', 'failed', 'cancelled')),
    started_at TEXT,
    completed_at TEXT CHECK (completed_at >= started_at),
    error_message TEXT CHECK ((status = 'failed') = (error_message IS NOT NULL)),
    metrics TEXT,
    artifacts TEXT,
    CHECK ((status = 'pending') = (started_at IS NULL) OR status = 'cancelled'),
    CHECK ((status IN ('completed', 'failed', 'cancelled')) = (completed_at IS NOT NULL))
) STRICT;

CREATE TABLE tools (
    id TEXT PRIMARY KEY NOT NULL CHECK (id <> ''),
    name TEXT NOT NULL UNIQUE CHECK (name <> ''),
    type TEXT NOT NULL CHECK (type <> ''),
    config TEXT NOT NULL,
    schema TEXT NOT NULL,
    enabled INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
) STRICT;

CREATE TABLE schedules (
    id TEXT PRIMARY KEY NOT NULL CHECK (id <> ''),
    name TEXT NOT NULL UNIQUE CHECK (name <> ''),
    cron_expression TEXT NOT NULL,
    pipeline_id TEXT NOT NULL REFERENCES pipelines(id),
    enabled INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    last_run TEXT,
    next_run TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
) STRICT;

CREATE TABLE flows (
    id TEXT PRIMARY KEY NOT NULL CHECK (id <> ''),
    name TEXT NOT NULL UNIQUE CHECK (name <> ''),
    description TEXT,
    definition TEXT NOT NULL,
    enabled INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
) STRICT;

CREATE INDEX idx_documents_kb_id ON documents(kb_id);
CREATE INDEX idx_documents_hash ON documents(content_hash);
CREATE INDEX idx_chunks_document_id ON document_chunks(document_id);
CREATE INDEX idx_chunks_kb_id ON document_chunks(kb_id);
CREATE INDEX idx_chunks_hash ON document_chunks(content_hash);
CREATE INDEX idx_pipeline_runs_pipeline_id ON pipeline_runs(pipeline_id);
CREATE INDEX idx_pipeline_runs_kb_id ON pipeline_runs(kb_id);
CREATE INDEX idx_pipeline_runs_status ON pipeline_runs(status);
CREATE INDEX idx_pipeline_runs_started_at ON pipeline_runs(started_at);
CREATE INDEX idx_schedules_pipeline_id ON schedules(pipeline_id);
CREATE INDEX idx_schedules_next_run ON schedules(next_run);
CREATE INDEX idx_kb_status ON knowledge_bases(status);
CREATE INDEX idx_kb_name_version ON knowledge_bases(name, version);
