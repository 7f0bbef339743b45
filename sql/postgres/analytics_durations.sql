-- Operations per (operation type, node class) in [since, until): the durations of successful runs as text lists
-- (float8 output, shortest round-trip; SQLite's twin gives 15 significant digits: the same figures once rounded to
-- the answers' 6 decimals), executed and cached runs apart, and the
-- number of cached runs; the caller merges them as for the SQLite twin. With :operation_type, node runs still
-- come (the node-class table does not filter by type).
SELECT operation_type AS op, node_class,
       string_agg(CAST(duration_seconds AS TEXT), ',')
           FILTER (WHERE success = TRUE AND duration_seconds IS NOT NULL AND COALESCE(cached, FALSE) = FALSE) AS vals,
       string_agg(CAST(duration_seconds AS TEXT), ',')
           FILTER (WHERE success = TRUE AND duration_seconds IS NOT NULL AND cached = TRUE) AS cached_vals,
       COUNT(*) FILTER (WHERE cached = TRUE) AS n_cached
FROM anime_operation_metrics
WHERE start_time >= CAST(:since AS TIMESTAMP) AND start_time < CAST(:until AS TIMESTAMP)
  AND (CAST(:operation_type AS TEXT) IS NULL OR operation_type = :operation_type OR operation_type = 'node_execution')
  AND (CAST(:instance AS TEXT) IS NULL OR instance_id = :instance)
GROUP BY operation_type, node_class
