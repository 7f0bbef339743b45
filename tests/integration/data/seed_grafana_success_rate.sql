-- Success rate over time (for Grafana)
SELECT
    time_bucket('1 hour', start_time) as time,
    operation_type,
    AVG(CASE WHEN success THEN 1.0 ELSE 0.0 END) as success_rate
FROM anime_operation_metrics
WHERE start_time > NOW() - INTERVAL '7 days'
GROUP BY time, operation_type
ORDER BY time;
