SELECT feedback_id, prompt_id, rating, created_at, image_filename, image_subfolder, image_type, comment, issues, user_id
FROM tower_feedback WHERE prompt_id = :prompt_id ORDER BY created_at DESC LIMIT 50
