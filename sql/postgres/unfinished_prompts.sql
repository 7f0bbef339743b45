SELECT prompt_id, status, correlation_id, queued_at, started_at, inputs, failing_node_id
FROM tower_prompts
WHERE status IN ('queued', 'running') AND (instance_id = :instance_id OR instance_id IS NULL)
