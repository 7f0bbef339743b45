-- Baseline for benchmarks: SQLite has no PERCENTILE_CONT, so a naive port of the seed's "average generation
-- times" fetches every successful duration of the last 24 hours and computes the percentiles in Python.
SELECT operation_type, duration_seconds
FROM anime_operation_metrics
WHERE success = true
AND start_time > datetime('now', '-24 hours')
