DELETE FROM anime_operation_metrics
WHERE id IN (SELECT id FROM anime_operation_metrics WHERE start_time < :cutoff LIMIT :batch)
