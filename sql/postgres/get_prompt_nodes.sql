SELECT node_id, node_class, start_time, end_time, duration_seconds, success, cached, status
FROM anime_operation_metrics
WHERE prompt_id = :prompt_id AND operation_type = 'node_execution'
ORDER BY start_time, node_id
