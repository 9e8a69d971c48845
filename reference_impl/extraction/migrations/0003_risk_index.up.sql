-- The seed's "filtering by risk level" (line 75): an agent's events at one level, newest
-- first, found through the index rather than by walking every event of the agent.
CREATE INDEX idx_events_agent_risk_time
    ON extraction_events(agent_name, risk_level, timestamp DESC, id DESC);
