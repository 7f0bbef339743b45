-- Successful operations' durations per operation type in [since, until): one row per type with every duration
-- as text (float8 output is shortest round-trip, so the caller reads back the exact doubles SQLite gives); the
-- caller sorts them and computes count, avg, p50, p95 (PERCENTILE_CONT) and max, as for the SQLite twin.
SELECT operation_type AS grp, string_agg(CAST(duration_seconds AS TEXT), ',') AS vals
FROM anime_operation_metrics
WHERE start_time >= CAST(:since AS TIMESTAMP) AND start_time < CAST(:until AS TIMESTAMP)
  AND success = TRUE AND duration_seconds IS NOT NULL
  AND (CAST(:operation_type AS TEXT) IS NULL OR operation_type = :operation_type)
  AND (CAST(:instance AS TEXT) IS NULL OR instance_id = :instance)
GROUP BY operation_type
