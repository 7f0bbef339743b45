-- The merged upsert of sql/sqlite/upsert_prompt.sql (same COALESCE rules; GREATEST for MAX). Each :batch holds
-- at most one event per prompt (the shipper sends a prompt's events in order, one round each), so replaying a
-- batch converges to the same row.
INSERT INTO tower_prompts (
    prompt_id, status, status_rank, updated_at, correlation_id, client_id, instance_id, queued_at, started_at,
    finished_at, queue_wait_seconds, execution_seconds, queue_position, node_count, error_id, category,
    failing_node_id, failing_node_class, inputs, outputs, comfyui_version, extension_version, workflow_hash
)
SELECT r.prompt_id, r.status, r.status_rank, r.updated_at, r.correlation_id, r.client_id, r.instance_id,
       r.queued_at, r.started_at, r.finished_at, r.queue_wait_seconds, r.execution_seconds, r.queue_position,
       r.node_count, r.error_id, r.category, r.failing_node_id, r.failing_node_class, r.inputs::jsonb,
       r.outputs::jsonb, r.comfyui_version, r.extension_version, r.workflow_hash
FROM json_to_recordset(:batch::json) AS r(
        prompt_id text, status text, status_rank integer, updated_at timestamp, correlation_id text,
        client_id text, instance_id text, queued_at timestamp, started_at timestamp, finished_at timestamp,
        queue_wait_seconds double precision, execution_seconds double precision, queue_position integer,
        node_count integer, error_id text, category text, failing_node_id text, failing_node_class text,
        inputs text, outputs text, comfyui_version text, extension_version text, workflow_hash text)
ON CONFLICT (prompt_id) DO UPDATE SET
    status = CASE WHEN EXCLUDED.status_rank >= tower_prompts.status_rank THEN EXCLUDED.status ELSE tower_prompts.status END,
    status_rank = GREATEST(EXCLUDED.status_rank, tower_prompts.status_rank),
    updated_at = GREATEST(EXCLUDED.updated_at, tower_prompts.updated_at),
    correlation_id = COALESCE(tower_prompts.correlation_id, EXCLUDED.correlation_id),
    client_id = COALESCE(EXCLUDED.client_id, tower_prompts.client_id),
    instance_id = COALESCE(EXCLUDED.instance_id, tower_prompts.instance_id),
    queued_at = COALESCE(tower_prompts.queued_at, EXCLUDED.queued_at),
    started_at = COALESCE(tower_prompts.started_at, EXCLUDED.started_at),
    finished_at = COALESCE(EXCLUDED.finished_at, tower_prompts.finished_at),
    queue_wait_seconds = COALESCE(EXCLUDED.queue_wait_seconds, tower_prompts.queue_wait_seconds),
    execution_seconds = COALESCE(EXCLUDED.execution_seconds, tower_prompts.execution_seconds),
    queue_position = COALESCE(tower_prompts.queue_position, EXCLUDED.queue_position),
    node_count = COALESCE(EXCLUDED.node_count, tower_prompts.node_count),
    error_id = COALESCE(EXCLUDED.error_id, tower_prompts.error_id),
    category = COALESCE(EXCLUDED.category, tower_prompts.category),
    failing_node_id = COALESCE(EXCLUDED.failing_node_id, tower_prompts.failing_node_id),
    failing_node_class = COALESCE(EXCLUDED.failing_node_class, tower_prompts.failing_node_class),
    inputs = COALESCE(EXCLUDED.inputs, tower_prompts.inputs),
    outputs = COALESCE(EXCLUDED.outputs, tower_prompts.outputs),
    comfyui_version = COALESCE(EXCLUDED.comfyui_version, tower_prompts.comfyui_version),
    extension_version = COALESCE(EXCLUDED.extension_version, tower_prompts.extension_version),
    workflow_hash = COALESCE(EXCLUDED.workflow_hash, tower_prompts.workflow_hash)
