-- Successful operations' durations per operation type in [since, until): one row per type with every duration
-- as text (printf %!.17g round-trips a double exactly); the caller sorts them and computes count, avg, p50, p95
-- (PERCENTILE_CONT) and max. One read of the (start_time, operation_type, success, duration_seconds,
-- instance_id) covering index, no sort and no window functions in SQL; +success keeps the planner off the
-- non-covering (success, start_time) index.
SELECT operation_type AS grp, group_concat(printf('%!.17g', duration_seconds)) AS vals
FROM anime_operation_metrics INDEXED BY idx_aom_window
WHERE start_time >= :since AND start_time < :until
  AND +success = 1 AND duration_seconds IS NOT NULL
  AND (CAST(:operation_type AS TEXT) IS NULL OR operation_type = :operation_type)
  AND (CAST(:instance AS TEXT) IS NULL OR instance_id = :instance)
GROUP BY operation_type
