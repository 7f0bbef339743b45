-- Prompts queued in [since, until): queue waits and execution times as text lists, one row (like
-- analytics_durations). One read of the (queued_at, status, queue_wait_seconds, execution_seconds,
-- instance_id) covering index.
SELECT group_concat(queue_wait_seconds) AS queue_wait,
       group_concat(execution_seconds) AS execution
FROM tower_prompts INDEXED BY idx_tp_window
WHERE queued_at >= :since AND queued_at < :until
  AND (CAST(:instance AS TEXT) IS NULL OR instance_id = :instance)
