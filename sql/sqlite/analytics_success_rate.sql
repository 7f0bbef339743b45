-- Success rate per operation type in [since, until) (the seed's query; the percent is computed by the caller).
SELECT operation_type,
       COUNT(*) AS total_operations,
       SUM(CASE WHEN success THEN 1 ELSE 0 END) AS successful_operations
FROM anime_operation_metrics
WHERE start_time >= :since AND start_time < :until
  AND (CAST(:operation_type AS TEXT) IS NULL OR operation_type = :operation_type)
  AND (CAST(:instance AS TEXT) IS NULL OR instance_id = :instance)
GROUP BY operation_type
