INSERT INTO tower_feedback (
    feedback_id, prompt_id, rating, created_at, image_filename, image_subfolder, image_type, comment, issues,
    user_id, correlation_id, instance_id
) VALUES (
    :feedback_id, :prompt_id, :rating, :created_at, :image_filename, :image_subfolder, :image_type, :comment, :issues,
    :user_id, :correlation_id, :instance_id
) ON CONFLICT (feedback_id) DO NOTHING
