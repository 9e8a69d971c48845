-- Seed 001's second step: the models table, with the model the application ships.
CREATE TABLE models (
    id TEXT PRIMARY KEY NOT NULL CHECK (id <> ''),
    name TEXT NOT NULL CHECK (name <> ''),
    description TEXT,
    model_type TEXT NOT NULL CHECK (model_type IN ('embedding', 'reranking', 'combined')),
    source_type TEXT NOT NULL CHECK (source_type IN ('huggingface', 'local', 'bundled', 'manual')),
    source_data TEXT NOT NULL,
    local_path TEXT,
    size_mb INTEGER CHECK (size_mb >= 0),
    dimensions INTEGER CHECK (dimensions >= 1),
    max_sequence_length INTEGER,
    status TEXT NOT NULL
        CHECK (status IN ('available', 'downloading', 'error', 'not_downloaded')),
    download_progress INTEGER NOT NULL DEFAULT 0 CHECK (download_progress BETWEEN 0 AND 100),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
) STRICT;

CREATE INDEX idx_models_status ON models(status);
CREATE INDEX idx_models_type ON models(model_type);
CREATE INDEX idx_models_source ON models(source_type);

INSERT INTO models (id, name, description, model_type, source_type, source_data, size_mb,
                    dimensions, max_sequence_length, status, created_at, updated_at)
VALUES ('sentence-transformers/all-MiniLM-L6-v2', 'All MiniLM L6 v2',
        'Lightweight sentence transformer optimized for speed and efficiency', 'embedding',
        'bundled', '{"repo_id": "sentence-transformers/all-MiniLM-L6-v2", "version": "v2.2.2"}',
        90, 384, 256, 'available', '2024-01-02T00:00:00.000000Z', '2024-01-02T00:00:00.000000Z');
