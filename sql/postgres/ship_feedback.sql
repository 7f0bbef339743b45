INSERT INTO tower_feedback (
    feedback_id, prompt_id, rating, created_at, image_filename, image_subfolder, image_type, comment, issues,
    user_id, correlation_id, instance_id
)
SELECT r.feedback_id, r.prompt_id, r.rating, r.created_at, r.image_filename, r.image_subfolder, r.image_type,
       r.comment, r.issues::jsonb, r.user_id, r.correlation_id, r.instance_id
FROM json_to_recordset(:batch::json) AS r(
        feedback_id text, prompt_id text, rating integer, created_at timestamp, image_filename text,
        image_subfolder text, image_type text, comment text, issues text, user_id text, correlation_id text,
        instance_id text)
ON CONFLICT (feedback_id) DO NOTHING
