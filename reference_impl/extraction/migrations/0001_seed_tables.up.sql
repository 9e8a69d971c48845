-- Seed 002: ExtractionStore and SessionStore schemas, with the seed's indexes.
-- Times are passed in by the caller (no CURRENT_TIMESTAMP defaults): UTC text
-- with microseconds, which sorts in time order.
CREATE TABLE extraction_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    agent_name TEXT NOT NULL CHECK (agent_name <> ''),
    session_id TEXT NOT NULL CHECK (session_id <> ''),
    timestamp TEXT NOT NULL,
    event_type TEXT NOT NULL CHECK (event_type <> ''),
    pattern TEXT NOT NULL CHECK (pattern <> ''),
    matched_value TEXT,
    original_line TEXT,
    line_number INTEGER CHECK (line_number >= 1),
    metadata_json TEXT CHECK (metadata_json IS NULL OR json_valid(metadata_json)),
    code_block_language TEXT,
    risk_level TEXT CHECK (risk_level IN ('low', 'medium', 'high', 'critical')),
    auto_confirmable INTEGER NOT NULL DEFAULT 0 CHECK (auto_confirmable IN (0, 1))
) STRICT;

CREATE INDEX idx_agent_session ON extraction_events(agent_name, session_id);
CREATE INDEX idx_type_pattern ON extraction_events(event_type, pattern);
CREATE INDEX idx_timestamp ON extraction_events(timestamp);
CREATE INDEX idx_risk_level ON extraction_events(risk_level);

CREATE TABLE code_blocks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    agent_name TEXT NOT NULL CHECK (agent_name <> ''),
    session_id TEXT NOT NULL CHECK (session_id <> ''),
    timestamp TEXT NOT NULL,
    language TEXT,
    content TEXT NOT NULL,
    line_start INTEGER CHECK (line_start >= 1),
    line_end INTEGER CHECK (line_end >= 1 AND line_end >= line_start),
    context_json TEXT CHECK (context_json IS NULL OR json_valid(context_json)),
    parseable INTEGER CHECK (parseable IN (0, 1)),
    digest TEXT NOT NULL UNIQUE CHECK (length(digest) = 64 AND digest NOT GLOB '*[^0-9a-f]*')
) STRICT;

CREATE INDEX idx_agent_language ON code_blocks(agent_name, language);
CREATE INDEX idx_digest ON code_blocks(digest);
CREATE INDEX idx_block_timestamp ON code_blocks(timestamp);

CREATE TABLE process_sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    agent_name TEXT NOT NULL CHECK (agent_name <> ''),
    session_id TEXT NOT NULL UNIQUE CHECK (session_id <> ''),
    environment TEXT,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    exit_code INTEGER,
    total_lines_processed INTEGER NOT NULL DEFAULT 0 CHECK (total_lines_processed >= 0),
    total_extraction_events INTEGER NOT NULL DEFAULT 0 CHECK (total_extraction_events >= 0),
    total_feedback_outcomes INTEGER NOT NULL DEFAULT 0 CHECK (total_feedback_outcomes >= 0),
    stdout_log_path TEXT,
    stderr_log_path TEXT,
    extraction_config_version TEXT,
    environment_config_version TEXT
) STRICT;

CREATE INDEX idx_agent_started ON process_sessions(agent_name, started_at DESC);
CREATE INDEX idx_session_id ON process_sessions(session_id);
CREATE INDEX idx_ended_at ON process_sessions(ended_at);

CREATE TABLE process_state_changes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL CHECK (session_id <> '') REFERENCES process_sessions(session_id),
    timestamp TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('started', 'running', 'paused', 'completed')),
    exit_code INTEGER,
    metadata_json TEXT CHECK (metadata_json IS NULL OR json_valid(metadata_json))
) STRICT;

CREATE INDEX idx_state_session ON process_state_changes(session_id, timestamp);
