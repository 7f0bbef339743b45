-- Baseline for benchmarks: the seed's "average generation times" query, verbatim.
SELECT
    operation_type,
    AVG(duration_seconds) as avg_duration,
    PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY duration_seconds) as median_duration,
    PERCENTILE_CONT(0.95) WITHIN GROUP (ORDER BY duration_seconds) as p95_duration
FROM anime_operation_metrics
WHERE success = true
AND start_time > NOW() - INTERVAL '24 hours'
GROUP BY operation_type
