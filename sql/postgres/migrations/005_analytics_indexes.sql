-- Covering indexes for the analytics queries (issue 5), the twins of sql/sqlite/migrations/005 and 006: each
-- window query reads one index range (index-only scans once (auto)vacuum has set the visibility map) and
-- aggregates by hash. PostgreSQL has no skip-scan, so the group-ordered SQLite indexes have time-first twins here.
CREATE INDEX IF NOT EXISTS idx_aom_window ON anime_operation_metrics(start_time, operation_type, success, duration_seconds, instance_id, node_class, cached);
CREATE INDEX IF NOT EXISTS idx_tp_window ON tower_prompts(queued_at, status, queue_wait_seconds, execution_seconds, instance_id);
CREATE INDEX IF NOT EXISTS idx_ael_patterns ON anime_error_logs(timestamp, fingerprint, category, severity, prompt_id);
