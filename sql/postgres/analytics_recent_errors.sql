-- The most recent errors in [since, until), optionally of one category / severity.
SELECT error_id, timestamp, category, severity, message, exception_type, node_id, node_class, fingerprint,
       prompt_id, correlation_id, resolved
FROM anime_error_logs
WHERE timestamp >= CAST(:since AS TIMESTAMP) AND timestamp < CAST(:until AS TIMESTAMP)
  AND (CAST(:category AS TEXT) IS NULL OR category = :category)
  AND (CAST(:severity AS TEXT) IS NULL OR severity = :severity)
ORDER BY timestamp DESC, error_id COLLATE "C" DESC
LIMIT :limit
