INSERT INTO tower_quality_scores (
    event_id, prompt_id, node_id, image_index, score, passed, created_at, metrics, flags, mode, correlation_id,
    instance_id
)
SELECT r.event_id, r.prompt_id, r.node_id, r.image_index, r.score, r.passed, r.created_at, r.metrics::jsonb,
       r.flags::jsonb, r.mode, r.correlation_id, r.instance_id
FROM json_to_recordset(:batch::json) AS r(
        event_id text, prompt_id text, node_id text, image_index integer, score double precision,
        passed boolean, created_at timestamp, metrics text, flags text, mode text, correlation_id text,
        instance_id text)
ON CONFLICT (event_id) DO NOTHING
