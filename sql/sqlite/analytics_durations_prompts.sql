-- Prompts queued in [since, until): queue waits and execution times as text, one row each (like
-- analytics_durations_ops). One read of the (queued_at, status, queue_wait_seconds, execution_seconds,
-- instance_id) covering index.
SELECT group_concat(CASE WHEN queue_wait_seconds IS NOT NULL THEN printf('%!.17g', queue_wait_seconds) END) AS queue_wait,
       group_concat(CASE WHEN execution_seconds IS NOT NULL THEN printf('%!.17g', execution_seconds) END) AS execution
FROM tower_prompts INDEXED BY idx_tp_window
WHERE queued_at >= :since AND queued_at < :until
  AND (CAST(:instance AS TEXT) IS NULL OR instance_id = :instance)
