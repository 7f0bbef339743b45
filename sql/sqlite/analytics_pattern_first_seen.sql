-- When each fingerprint seen in [since, until) was first recorded at all (uses the (fingerprint, timestamp) index).
SELECT fingerprint, MIN(timestamp) AS first_seen_ever
FROM anime_error_logs
WHERE fingerprint IN (SELECT DISTINCT fingerprint FROM anime_error_logs
                      WHERE timestamp >= :since AND timestamp < :until AND fingerprint IS NOT NULL)
  AND timestamp < :until
GROUP BY fingerprint
