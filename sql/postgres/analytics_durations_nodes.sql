-- Node runs per node class in [since, until): the durations of executed (not cached) successful runs as text
-- (like analytics_durations_ops) and the number of cached runs.
SELECT COALESCE(node_class, '?') AS grp,
       string_agg(CAST(duration_seconds AS TEXT), ',')
           FILTER (WHERE success = TRUE AND duration_seconds IS NOT NULL AND COALESCE(cached, FALSE) = FALSE) AS vals,
       COUNT(*) FILTER (WHERE cached = TRUE) AS n_cached
FROM anime_operation_metrics
WHERE operation_type = 'node_execution'
  AND start_time >= CAST(:since AS TIMESTAMP) AND start_time < CAST(:until AS TIMESTAMP)
  AND (CAST(:instance AS TEXT) IS NULL OR instance_id = :instance)
GROUP BY COALESCE(node_class, '?')
