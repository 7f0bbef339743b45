-- Operations per (operation type, node class) in [since, until): the durations of successful runs as text lists
-- (SQLite's own REAL to text: 15 significant digits, relative error <= 5e-16, far below the answers' 6 decimals;
-- an exact printf('%!.17g') costs more than the scan itself), executed and cached runs apart, and the number of
-- cached runs. The caller merges them into per-type and per-node-class summaries (count, avg, p50/p95 like PERCENTILE_CONT, max):
-- one read of the (operation_type, node_class, start_time, ...) covering index, in group order (skip-scan over
-- the few types and classes), so no sort and no window functions. With :operation_type, node runs still come
-- (the node-class table does not filter by type).
SELECT operation_type AS op, node_class,
       group_concat(CASE WHEN success = 1 AND duration_seconds IS NOT NULL AND COALESCE(cached, 0) = 0
                         THEN duration_seconds END) AS vals,
       group_concat(CASE WHEN success = 1 AND duration_seconds IS NOT NULL AND cached = 1
                         THEN duration_seconds END) AS cached_vals,
       SUM(CASE WHEN cached = 1 THEN 1 ELSE 0 END) AS n_cached
FROM anime_operation_metrics INDEXED BY idx_aom_groups
WHERE start_time >= :since AND start_time < :until
  AND (CAST(:operation_type AS TEXT) IS NULL OR operation_type = :operation_type OR operation_type = 'node_execution')
  AND (CAST(:instance AS TEXT) IS NULL OR instance_id = :instance)
GROUP BY operation_type, node_class
