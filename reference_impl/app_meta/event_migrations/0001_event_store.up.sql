-- Seed 001's event store: an append-only log per aggregate with a global position,
-- one snapshot per aggregate, and each processor's checkpoint in the log.
CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE CHECK (event_id <> ''),
    event_type TEXT NOT NULL CHECK (event_type <> ''),
    aggregate_id TEXT NOT NULL CHECK (aggregate_id <> ''),
    aggregate_type TEXT NOT NULL CHECK (aggregate_type <> ''),
    sequence_number INTEGER NOT NULL CHECK (sequence_number >= 1),
    event_data TEXT NOT NULL,
    metadata TEXT,
    trace_id TEXT,
    user_id TEXT,
    timestamp TEXT NOT NULL,
    checksum TEXT NOT NULL CHECK (length(checksum) = 64),
    UNIQUE (aggregate_id, sequence_number)
) STRICT;

CREATE TABLE aggregate_snapshots (
    aggregate_id TEXT PRIMARY KEY NOT NULL,
    aggregate_type TEXT NOT NULL,
    sequence_number INTEGER NOT NULL CHECK (sequence_number >= 1),
    snapshot_data TEXT NOT NULL,
    created_at TEXT NOT NULL
) STRICT;

CREATE TABLE event_checkpoints (
    processor_name TEXT PRIMARY KEY NOT NULL CHECK (processor_name <> ''),
    last_processed_sequence INTEGER NOT NULL DEFAULT 0 CHECK (last_processed_sequence >= 0),
    updated_at TEXT NOT NULL
) STRICT;

CREATE INDEX idx_events_type ON events(event_type);
CREATE INDEX idx_events_timestamp ON events(timestamp);
CREATE INDEX idx_events_trace_id ON events(trace_id);
