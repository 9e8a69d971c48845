-- The seed's "full-text search for extraction content" (line 468): an external-content
-- FTS5 index of each event's matched value and original line, kept in step by triggers.
-- The ascii tokenizer is the specs' token rule (runs of ASCII letters and digits and of
-- non-ASCII characters, ASCII folded to lower case).  No prefix indexes: events are
-- written far more often than searched, and a prefix query walks the term range instead.
CREATE VIRTUAL TABLE events_fts USING fts5(
    matched_value, original_line, content = 'extraction_events', content_rowid = 'id',
    tokenize = 'ascii'
);

-- The events stored before this version.
INSERT INTO events_fts (events_fts) VALUES ('rebuild');

CREATE TRIGGER events_fts_insert AFTER INSERT ON extraction_events BEGIN
    INSERT INTO events_fts (rowid, matched_value, original_line)
        VALUES (new.id, new.matched_value, new.original_line);
END;

CREATE TRIGGER events_fts_delete AFTER DELETE ON extraction_events BEGIN
    INSERT INTO events_fts (events_fts, rowid, matched_value, original_line)
        VALUES ('delete', old.id, old.matched_value, old.original_line);
END;

-- No operation changes a stored event's text; a tool that does must not leave the index
-- answering for the old text.
CREATE TRIGGER events_fts_update AFTER UPDATE OF matched_value, original_line
    ON extraction_events BEGIN
    INSERT INTO events_fts (events_fts, rowid, matched_value, original_line)
        VALUES ('delete', old.id, old.matched_value, old.original_line);
    INSERT INTO events_fts (rowid, matched_value, original_line)
        VALUES (new.id, new.matched_value, new.original_line);
END;
