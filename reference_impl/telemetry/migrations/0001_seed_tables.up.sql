-- Seed 000: the real store's core telemetry tables (sessions, queries, feedback,
-- reasoning traces, daily aggregates) and the ML tables the seed's operations
-- need (training runs, feature vectors, predictions, A/B tests).  Foreign keys
-- are the seed's: no action, so a deletion takes the children first.  Times are
-- passed in by the caller: fixed-width UTC text that sorts in time order.
CREATE TABLE sessions (
    id TEXT PRIMARY KEY NOT NULL CHECK (id <> ''),
    started_at TEXT NOT NULL,
    ended_at TEXT CHECK (ended_at >= started_at),
    duration_ms INTEGER CHECK (duration_ms >= 0),
    profile TEXT,
    client_version TEXT,
    os_family TEXT
) STRICT;

CREATE TABLE queries (
    id TEXT PRIMARY KEY NOT NULL CHECK (id <> ''),
    session_id TEXT NOT NULL REFERENCES sessions(id),
    timestamp TEXT NOT NULL,
    query_hash TEXT NOT NULL CHECK (length(query_hash) = 64),
    query_length INTEGER NOT NULL CHECK (query_length >= 0),
    query_type TEXT NOT NULL CHECK (query_type IN ('search', 'reason', 'code', 'general')),
    latency_ms INTEGER NOT NULL CHECK (latency_ms >= 0),
    tool_calls INTEGER NOT NULL DEFAULT 0 CHECK (tool_calls >= 0),
    retrieval_count INTEGER NOT NULL DEFAULT 0 CHECK (retrieval_count >= 0),
    result_count INTEGER CHECK (result_count >= 0),
    result_quality_score REAL CHECK (result_quality_score BETWEEN 0.0 AND 1.0),
    error_category TEXT CHECK (error_category <> ''),
    profile_used TEXT,
    tools_used TEXT NOT NULL DEFAULT '[]'
) STRICT;

CREATE INDEX idx_queries_session ON queries(session_id);
CREATE INDEX idx_queries_timestamp ON queries(timestamp);
CREATE INDEX idx_queries_type ON queries(query_type);
CREATE INDEX idx_queries_hash ON queries(query_hash);

CREATE TABLE feedback (
    id TEXT PRIMARY KEY NOT NULL CHECK (id <> ''),
    session_id TEXT NOT NULL REFERENCES sessions(id),
    query_id TEXT REFERENCES queries(id),
    timestamp TEXT NOT NULL,
    feedback_type TEXT NOT NULL
        CHECK (feedback_type IN ('thumbs_up', 'thumbs_down', 'explicit', 'implicit')),
    rating INTEGER CHECK (rating BETWEEN 1 AND 5),
    category TEXT CHECK (category IN ('accuracy', 'relevance', 'speed', 'format', 'other')),
    context_hash TEXT
) STRICT;

CREATE INDEX idx_feedback_session ON feedback(session_id);
CREATE INDEX idx_feedback_query ON feedback(query_id);
CREATE INDEX idx_feedback_type ON feedback(feedback_type);

CREATE TABLE reasoning_traces (
    id TEXT PRIMARY KEY NOT NULL CHECK (id <> ''),
    session_id TEXT NOT NULL REFERENCES sessions(id),
    query_id TEXT REFERENCES queries(id),
    timestamp TEXT NOT NULL,
    thinktool_name TEXT NOT NULL CHECK (thinktool_name <> ''),
    step_count INTEGER NOT NULL CHECK (step_count >= 0),
    total_ms INTEGER NOT NULL CHECK (total_ms >= 0),
    coherence_score REAL CHECK (coherence_score BETWEEN 0.0 AND 1.0),
    depth_score REAL CHECK (depth_score >= 0.0),
    step_types TEXT NOT NULL DEFAULT '[]'
) STRICT;

CREATE INDEX idx_traces_session ON reasoning_traces(session_id);
CREATE INDEX idx_traces_thinktool ON reasoning_traces(thinktool_name);

-- One row per UTC day; the metrics are those of aggregated_metrics for the day.
CREATE TABLE daily_aggregates (
    date TEXT PRIMARY KEY NOT NULL,
    query_count INTEGER NOT NULL CHECK (query_count >= 0),
    feedback_count INTEGER NOT NULL CHECK (feedback_count >= 0),
    avg_latency_ms REAL,
    p50_latency_ms INTEGER,
    p95_latency_ms INTEGER,
    p99_latency_ms INTEGER,
    error_rate REAL,
    positive_feedback_ratio REAL,
    query_type_distribution TEXT NOT NULL
) STRICT;

CREATE TABLE model_training_runs (
    id TEXT PRIMARY KEY NOT NULL CHECK (id <> ''),
    model_type TEXT NOT NULL CHECK (model_type <> ''),
    model_version TEXT NOT NULL CHECK (model_version <> ''),
    status TEXT NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'completed', 'failed')),
    started_at TEXT NOT NULL,
    completed_at TEXT CHECK (completed_at >= started_at),
    hyperparameters TEXT,
    accuracy REAL CHECK (accuracy BETWEEN 0.0 AND 1.0),
    loss REAL CHECK (loss >= 0.0),
    f1_score REAL CHECK (f1_score BETWEEN 0.0 AND 1.0),
    sample_count INTEGER CHECK (sample_count >= 0)
) STRICT;

-- Embeddings as little-endian float32: 4 bytes a component.
CREATE TABLE feature_vectors (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    query_id TEXT NOT NULL REFERENCES queries(id),
    feature_set TEXT NOT NULL CHECK (feature_set <> ''),
    dimension INTEGER NOT NULL CHECK (dimension BETWEEN 1 AND 4096),
    embedding BLOB NOT NULL CHECK (length(embedding) = 4 * dimension),
    created_at TEXT NOT NULL
) STRICT;

CREATE TABLE model_predictions (
    id TEXT PRIMARY KEY NOT NULL CHECK (id <> ''),
    run_id TEXT NOT NULL REFERENCES model_training_runs(id),
    predicted_value TEXT NOT NULL,
    confidence REAL NOT NULL CHECK (confidence BETWEEN 0.0 AND 1.0),
    predicted_at TEXT NOT NULL,
    input_hash TEXT,
    actual_value TEXT
) STRICT;

CREATE TABLE ab_tests (
    id TEXT PRIMARY KEY NOT NULL CHECK (id <> ''),
    name TEXT NOT NULL CHECK (name <> ''),
    started_at TEXT NOT NULL,
    winner TEXT,
    confidence REAL CHECK (confidence BETWEEN 0.0 AND 1.0),
    finalized_at TEXT CHECK (finalized_at >= started_at)
) STRICT;

CREATE TABLE ab_variants (
    test_id TEXT NOT NULL REFERENCES ab_tests(id),
    position INTEGER NOT NULL CHECK (position IN (0, 1)),
    variant TEXT NOT NULL CHECK (variant <> ''),
    trials INTEGER NOT NULL DEFAULT 0 CHECK (trials >= 0),
    successes INTEGER NOT NULL DEFAULT 0 CHECK (successes BETWEEN 0 AND trials),
    PRIMARY KEY (test_id, position),
    UNIQUE (test_id, variant)
) STRICT;
