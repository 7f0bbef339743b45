-- Cached node runs per node class in [since, until).
SELECT COALESCE(node_class, '?') AS node_class, COUNT(*) AS n_cached
FROM anime_operation_metrics
WHERE operation_type = 'node_execution'
  AND start_time >= CAST(:since AS TIMESTAMP) AND start_time < CAST(:until AS TIMESTAMP) AND cached = TRUE
  AND (CAST(:instance AS TEXT) IS NULL OR instance_id = :instance)
GROUP BY COALESCE(node_class, '?')
