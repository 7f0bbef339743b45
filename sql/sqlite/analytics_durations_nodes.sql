-- Executed (not cached) successful node runs per node class, same shape as analytics_durations_ops; cached
-- runs are counted by analytics_node_cached.
WITH d AS (
    SELECT COALESCE(node_class, '?') AS grp, duration_seconds AS v
    FROM anime_operation_metrics
    WHERE operation_type = 'node_execution'
      AND start_time >= :since AND start_time < :until
      AND success = 1 AND duration_seconds IS NOT NULL AND COALESCE(cached, 0) = 0
      AND (CAST(:instance AS TEXT) IS NULL OR instance_id = :instance)
), r AS (
    SELECT grp, v,
           ROW_NUMBER() OVER (PARTITION BY grp ORDER BY v) AS rn,
           COUNT(*) OVER (PARTITION BY grp) AS n,
           AVG(v) OVER (PARTITION BY grp) AS avg_v,
           MAX(v) OVER (PARTITION BY grp) AS max_v
    FROM d
)
SELECT grp, n, avg_v, max_v, rn, v FROM r
WHERE rn BETWEEN CAST(0.5 * (n - 1) AS INTEGER) AND CAST(0.5 * (n - 1) AS INTEGER) + 3
   OR rn BETWEEN CAST(0.95 * (n - 1) AS INTEGER) AND CAST(0.95 * (n - 1) AS INTEGER) + 3
