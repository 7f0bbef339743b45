-- Analytics (issue 5), second round: covering indexes read in group order. The durations group by (operation
-- type, node class) and the failure patterns by (fingerprint, category); each query is a skip-scan over a few
-- groups with the time range inside each (ANALYZE statistics let SQLite choose it), so neither sorts.
CREATE INDEX IF NOT EXISTS idx_aom_groups ON anime_operation_metrics(operation_type, node_class, start_time, success, cached, duration_seconds, instance_id);
CREATE INDEX IF NOT EXISTS idx_ael_fingerprint_window ON anime_error_logs(fingerprint, category, timestamp, severity, prompt_id);
