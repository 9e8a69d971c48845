DROP INDEX IF EXISTS idx_events_agent_risk_time;
