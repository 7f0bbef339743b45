-- One row at a time (the seed's way; the benchmark's baseline). Shipping uses ship_operation.
INSERT INTO anime_operation_metrics (
    operation_id, operation_type, start_time, end_time, duration_seconds, success, error_details, context,
    correlation_id, prompt_id, instance_id, node_id, node_class, status, category, cached, comfyui_version
) VALUES (
    :operation_id, :operation_type, :start_time, :end_time, :duration_seconds, :success, :error_details::jsonb,
    :context::jsonb, :correlation_id, :prompt_id, :instance_id, :node_id, :node_class, :status, :category, :cached,
    :comfyui_version
) ON CONFLICT (operation_id) DO NOTHING
