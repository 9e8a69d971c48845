-- Seed 003, "migration 002: indexes": every foreign key and common filter.
CREATE INDEX idx_conversations_live_created ON conversations(created_at DESC, id DESC)
    WHERE deleted_at IS NULL;
CREATE INDEX idx_conversations_created ON conversations(created_at);
CREATE INDEX idx_messages_conversation_time ON messages(conversation_id, timestamp, id);
CREATE INDEX idx_learnings_conversation ON learnings(conversation_id);
CREATE INDEX idx_learnings_category ON learnings(category, confidence);
CREATE INDEX idx_learnings_created ON learnings(created_at DESC, id DESC);
CREATE INDEX idx_learning_tags_tag ON learning_tags(tag, learning_id);
CREATE INDEX idx_jobs_ready ON jobs(status, priority DESC, run_after, id);
CREATE INDEX idx_jobs_lease ON jobs(status, lease_until);
CREATE INDEX idx_uploads_conversation ON uploads(conversation_id);
