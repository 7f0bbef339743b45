-- When each fingerprint seen in [since, until) was first recorded at all: the distinct fingerprints from the
-- window's covering index, then one (fingerprint, timestamp) index probe each for the earliest.
SELECT f.fingerprint,
       (SELECT MIN(e.timestamp) FROM anime_error_logs e
        WHERE e.fingerprint = f.fingerprint AND e.timestamp < CAST(:until AS TIMESTAMP)) AS first_seen_ever
FROM (SELECT DISTINCT fingerprint FROM anime_error_logs
      WHERE timestamp >= CAST(:since AS TIMESTAMP) AND timestamp < CAST(:until AS TIMESTAMP) AND fingerprint IS NOT NULL) f
