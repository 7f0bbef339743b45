-- Prompts queued in [since, until): queue waits and execution times as text, one row each (like
-- analytics_durations_ops).
SELECT string_agg(CAST(queue_wait_seconds AS TEXT), ',') AS queue_wait,
       string_agg(CAST(execution_seconds AS TEXT), ',') AS execution
FROM tower_prompts
WHERE queued_at >= CAST(:since AS TIMESTAMP) AND queued_at < CAST(:until AS TIMESTAMP)
  AND (CAST(:instance AS TEXT) IS NULL OR instance_id = :instance)
