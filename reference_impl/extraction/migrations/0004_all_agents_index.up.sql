-- The seed's query endpoint without an agent (line 436: "?limit=1000" over every
-- agent's extractions): every event newest first, read in order from this index rather
-- than sorted whole for each page.  The seed's idx_timestamp (dropped at version 2, when
-- no read listed every agent) held the time alone, so a page had to sort each tie.
CREATE INDEX idx_events_time ON extraction_events(timestamp DESC, id DESC);
