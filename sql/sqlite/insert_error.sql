INSERT INTO anime_error_logs (
    error_id, message, category, severity, context, stack_trace, timestamp,
    correlation_id, prompt_id, instance_id, exception_type, node_id, node_class, fingerprint, template,
    comfyui_version, extension_version
) VALUES (
    :error_id, :message, :category, :severity, :context, :stack_trace, :timestamp,
    :correlation_id, :prompt_id, :instance_id, :exception_type, :node_id, :node_class, :fingerprint, :template,
    :comfyui_version, :extension_version
) ON CONFLICT (error_id) DO NOTHING
