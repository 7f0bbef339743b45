-- Baseline for benchmarks: the seed's "most common errors" query, as written for SQLite.
SELECT
    category,
    severity,
    COUNT(*) as frequency
FROM anime_error_logs
WHERE timestamp > datetime('now', '-7 days')
GROUP BY category, severity
ORDER BY frequency DESC
