-- The seed's two views (Phase 2: training-data export and model performance) and
-- the indexes its ML reads and the retention need.
CREATE VIEW v_training_data_export AS
SELECT q.id AS query_id,
       q.session_id,
       q.timestamp,
       q.query_type,
       q.query_length,
       q.latency_ms,
       q.tool_calls,
       q.retrieval_count,
       q.result_count,
       q.result_quality_score,
       q.error_category IS NOT NULL AS error_occurred,
       (SELECT count(*) FROM feedback AS f
         WHERE f.query_id = q.id AND f.feedback_type = 'thumbs_up') AS thumbs_up,
       (SELECT count(*) FROM feedback AS f
         WHERE f.query_id = q.id AND f.feedback_type = 'thumbs_down') AS thumbs_down,
       (SELECT CAST(sum(f.rating) AS REAL) / count(f.rating) FROM feedback AS f
         WHERE f.query_id = q.id AND f.rating IS NOT NULL) AS mean_rating
  FROM queries AS q;

CREATE VIEW v_model_performance AS
SELECT r.model_version,
       count(*) AS runs,
       sum(CASE WHEN r.status = 'completed' THEN 1 ELSE 0 END) AS completed_runs,
       coalesce(sum(p.predictions), 0) AS predictions,
       coalesce(sum(p.labelled), 0) AS labelled,
       coalesce(sum(p.correct), 0) AS correct
  FROM model_training_runs AS r
  LEFT JOIN (SELECT run_id,
                    count(*) AS predictions,
                    count(actual_value) AS labelled,
                    sum(CASE WHEN predicted_value = actual_value THEN 1 ELSE 0 END) AS correct
               FROM model_predictions
              GROUP BY run_id) AS p ON p.run_id = r.id
 GROUP BY r.model_version;

CREATE INDEX idx_runs_type_started ON model_training_runs(model_type, started_at DESC, id);
CREATE INDEX idx_runs_started ON model_training_runs(started_at DESC, id);
CREATE INDEX idx_runs_version ON model_training_runs(model_version);
CREATE INDEX idx_vectors_query ON feature_vectors(query_id);
CREATE INDEX idx_predictions_run ON model_predictions(run_id, predicted_at, id);
CREATE INDEX idx_feedback_timestamp ON feedback(timestamp);
-- The export's thumbs counts look up (query_id, feedback_type): with only the seed's
-- single-column indexes SQLite chose idx_feedback_type and read every thumbs-up of the
-- store for each exported query (11.5 s for 10,000 queries).
CREATE INDEX idx_feedback_query_type ON feedback(query_id, feedback_type);
CREATE INDEX idx_traces_query ON reasoning_traces(query_id);
CREATE INDEX idx_sessions_ended ON sessions(ended_at);
