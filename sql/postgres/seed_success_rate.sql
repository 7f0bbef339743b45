-- Baseline for benchmarks: the seed's "success rate over last 24 hours" query, verbatim.
SELECT
    operation_type,
    COUNT(*) as total_operations,
    COUNT(*) FILTER (WHERE success = true) as successful_operations,
    ROUND(COUNT(*) FILTER (WHERE success = true) * 100.0 / COUNT(*), 2) as success_rate_percent
FROM anime_operation_metrics
WHERE start_time > NOW() - INTERVAL '24 hours'
GROUP BY operation_type
