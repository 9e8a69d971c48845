DROP TABLE event_checkpoints;
DROP TABLE aggregate_snapshots;
DROP TABLE events;
