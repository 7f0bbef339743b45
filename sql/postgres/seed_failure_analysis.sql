-- Baseline for benchmarks: the original LearningSystem's top-10 failed rows of the last 7 days.
SELECT error_details, context, COUNT(*) as frequency
FROM anime_operation_metrics
WHERE success = false
AND start_time > NOW() - INTERVAL '7 days'
GROUP BY error_details, context
ORDER BY frequency DESC
LIMIT 10
