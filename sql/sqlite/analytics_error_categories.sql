-- Most common errors by category and severity in [since, until) (the seed's query).
SELECT category, severity, COUNT(*) AS frequency
FROM anime_error_logs INDEXED BY idx_ael_patterns
WHERE timestamp >= :since AND timestamp < :until
GROUP BY category, severity
