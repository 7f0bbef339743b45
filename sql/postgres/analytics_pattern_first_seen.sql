-- When each fingerprint seen in [since, until) was first recorded at all (uses the (fingerprint, timestamp) index).
SELECT fingerprint, MIN(timestamp) AS first_seen_ever
FROM anime_error_logs
WHERE fingerprint IN (SELECT DISTINCT fingerprint FROM anime_error_logs
                      WHERE timestamp >= CAST(:since AS TIMESTAMP) AND timestamp < CAST(:until AS TIMESTAMP) AND fingerprint IS NOT NULL)
  AND timestamp < CAST(:until AS TIMESTAMP)
GROUP BY fingerprint
