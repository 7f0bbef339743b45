-- :batch is a JSON array of the spool payloads' rows (parsed once, as json); replaying it inserts nothing twice.
INSERT INTO anime_operation_metrics (
    operation_id, operation_type, start_time, end_time, duration_seconds, success, error_details, context,
    correlation_id, prompt_id, instance_id, node_id, node_class, status, category, cached, comfyui_version
)
SELECT r.operation_id, r.operation_type, r.start_time, r.end_time, r.duration_seconds, r.success,
       r.error_details::jsonb, r.context::jsonb, r.correlation_id, r.prompt_id, r.instance_id, r.node_id,
       r.node_class, r.status, r.category, r.cached, r.comfyui_version
FROM json_to_recordset(:batch::json) AS r(
        operation_id text, operation_type text, start_time timestamp, end_time timestamp,
        duration_seconds double precision, success boolean, error_details text, context text,
        correlation_id text, prompt_id text, instance_id text, node_id text, node_class text, status text,
        category text, cached boolean, comfyui_version text)
ON CONFLICT (operation_id) DO NOTHING
