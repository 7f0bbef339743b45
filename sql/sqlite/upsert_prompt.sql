INSERT INTO tower_prompts (
    prompt_id, status, status_rank, updated_at, correlation_id, client_id, instance_id, queued_at, started_at,
    finished_at, queue_wait_seconds, execution_seconds, queue_position, node_count, error_id, category,
    failing_node_id, failing_node_class, inputs, outputs, comfyui_version, extension_version, workflow_hash
) VALUES (
    :prompt_id, :status, :status_rank, :updated_at, :correlation_id, :client_id, :instance_id, :queued_at, :started_at,
    :finished_at, :queue_wait_seconds, :execution_seconds, :queue_position, :node_count, :error_id, :category,
    :failing_node_id, :failing_node_class, :inputs, :outputs, :comfyui_version, :extension_version, :workflow_hash
) ON CONFLICT (prompt_id) DO UPDATE SET
    status = CASE WHEN excluded.status_rank >= tower_prompts.status_rank THEN excluded.status ELSE tower_prompts.status END,
    status_rank = MAX(excluded.status_rank, tower_prompts.status_rank),
    updated_at = MAX(excluded.updated_at, tower_prompts.updated_at),
    correlation_id = COALESCE(tower_prompts.correlation_id, excluded.correlation_id),
    client_id = COALESCE(excluded.client_id, tower_prompts.client_id),
    instance_id = COALESCE(excluded.instance_id, tower_prompts.instance_id),
    queued_at = COALESCE(tower_prompts.queued_at, excluded.queued_at),
    started_at = COALESCE(tower_prompts.started_at, excluded.started_at),
    finished_at = COALESCE(excluded.finished_at, tower_prompts.finished_at),
    queue_wait_seconds = COALESCE(excluded.queue_wait_seconds, tower_prompts.queue_wait_seconds),
    execution_seconds = COALESCE(excluded.execution_seconds, tower_prompts.execution_seconds),
    queue_position = COALESCE(tower_prompts.queue_position, excluded.queue_position),
    node_count = COALESCE(excluded.node_count, tower_prompts.node_count),
    error_id = COALESCE(excluded.error_id, tower_prompts.error_id),
    category = COALESCE(excluded.category, tower_prompts.category),
    failing_node_id = COALESCE(excluded.failing_node_id, tower_prompts.failing_node_id),
    failing_node_class = COALESCE(excluded.failing_node_class, tower_prompts.failing_node_class),
    inputs = COALESCE(excluded.inputs, tower_prompts.inputs),
    outputs = COALESCE(excluded.outputs, tower_prompts.outputs),
    comfyui_version = COALESCE(excluded.comfyui_version, tower_prompts.comfyui_version),
    extension_version = COALESCE(excluded.extension_version, tower_prompts.extension_version),
    workflow_hash = COALESCE(excluded.workflow_hash, tower_prompts.workflow_hash)
