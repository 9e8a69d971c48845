DROP TABLE IF EXISTS process_state_changes;
DROP TABLE IF EXISTS process_sessions;
DROP TABLE IF EXISTS code_blocks;
DROP TABLE IF EXISTS extraction_events;
