-- Baseline for benchmarks: the seed's "most common errors" query, verbatim.
SELECT
    category,
    severity,
    COUNT(*) as frequency
FROM anime_error_logs
WHERE timestamp > NOW() - INTERVAL '7 days'
GROUP BY category, severity
ORDER BY frequency DESC
