SELECT * FROM tower_prompts WHERE prompt_id = :prompt_id
