-- Successful operations' durations per operation type: n, avg, max and the rows around p50/p95 (ranks
-- floor(p*(n-1)) .. +3; the caller interpolates like PERCENTILE_CONT). CAST(x AS INTEGER) truncates (x >= 0).
WITH d AS (
    SELECT operation_type AS grp, duration_seconds AS v
    FROM anime_operation_metrics
    WHERE start_time >= :since AND start_time < :until
      AND success = 1 AND duration_seconds IS NOT NULL
      AND (CAST(:operation_type AS TEXT) IS NULL OR operation_type = :operation_type)
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
