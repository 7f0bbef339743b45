INSERT INTO anime_error_logs (
    error_id, message, category, severity, context, stack_trace, timestamp,
    correlation_id, prompt_id, instance_id, exception_type, node_id, node_class, fingerprint, template,
    comfyui_version, extension_version
)
SELECT r.error_id, r.message, r.category, r.severity, r.context::jsonb, r.stack_trace, r.timestamp,
       r.correlation_id, r.prompt_id, r.instance_id, r.exception_type, r.node_id, r.node_class, r.fingerprint,
       r.template, r.comfyui_version, r.extension_version
FROM json_to_recordset(:batch::json) AS r(
        error_id text, message text, category text, severity text, context text, stack_trace text,
        timestamp timestamp, correlation_id text, prompt_id text, instance_id text, exception_type text,
        node_id text, node_class text, fingerprint text, template text, comfyui_version text,
        extension_version text)
ON CONFLICT (error_id) DO NOTHING
