DROP INDEX IF EXISTS idx_events_time;
