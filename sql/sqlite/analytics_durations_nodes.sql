-- Node runs per node class in [since, until): the durations of executed (not cached) successful runs as text
-- (like analytics_durations_ops) and the number of cached runs. One read of the (operation_type, start_time,
-- node_class, success, cached, duration_seconds, instance_id) covering index.
SELECT COALESCE(node_class, '?') AS grp,
       group_concat(CASE WHEN success = 1 AND duration_seconds IS NOT NULL AND COALESCE(cached, 0) = 0
                         THEN printf('%!.17g', duration_seconds) END) AS vals,
       SUM(CASE WHEN cached = 1 THEN 1 ELSE 0 END) AS n_cached
FROM anime_operation_metrics INDEXED BY idx_aom_nodes
WHERE operation_type = 'node_execution'
  AND start_time >= :since AND start_time < :until
  AND (CAST(:instance AS TEXT) IS NULL OR instance_id = :instance)
GROUP BY COALESCE(node_class, '?')
