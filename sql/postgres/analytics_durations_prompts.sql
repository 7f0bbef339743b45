-- Prompts queued in [since, until): queue wait and execution time as two groups, same shape as analytics_durations_ops.
WITH d AS (
    SELECT 'queue_wait' AS grp, queue_wait_seconds AS v FROM tower_prompts
    WHERE queued_at >= CAST(:since AS TIMESTAMP) AND queued_at < CAST(:until AS TIMESTAMP) AND queue_wait_seconds IS NOT NULL
      AND (CAST(:instance AS TEXT) IS NULL OR instance_id = :instance)
    UNION ALL
    SELECT 'execution' AS grp, execution_seconds AS v FROM tower_prompts
    WHERE queued_at >= CAST(:since AS TIMESTAMP) AND queued_at < CAST(:until AS TIMESTAMP) AND execution_seconds IS NOT NULL
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
WHERE rn BETWEEN FLOOR(0.5 * (n - 1)) AND FLOOR(0.5 * (n - 1)) + 3
   OR rn BETWEEN FLOOR(0.95 * (n - 1)) AND FLOOR(0.95 * (n - 1)) + 3
