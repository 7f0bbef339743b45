-- Analytics (issue 5), second round. Covering indexes read in group order: the durations by (operation type,
-- node class) and the failure patterns by (fingerprint, category), each a skip-scan over a few groups with the
-- time range inside each, so neither query sorts. idx_ael_patterns serves the category counts and the distinct
-- fingerprints of a window (it supersedes idx_ael_window, which lacked severity). Exception type, node class
-- and template are in no index: they are part of the fingerprint, read from one row per reported pattern.
CREATE INDEX IF NOT EXISTS idx_aom_groups ON anime_operation_metrics(operation_type, node_class, start_time, success, cached, duration_seconds, instance_id);
CREATE INDEX IF NOT EXISTS idx_ael_patterns ON anime_error_logs(timestamp, fingerprint, category, severity, prompt_id);
CREATE INDEX IF NOT EXISTS idx_ael_fingerprint_window ON anime_error_logs(fingerprint, category, timestamp, severity, prompt_id);
DROP INDEX IF EXISTS idx_ael_window;
