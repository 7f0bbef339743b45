-- The recorded inputs of the prompts in :ids (a JSON array of prompt ids).
SELECT prompt_id, inputs FROM tower_prompts
WHERE prompt_id IN (SELECT jsonb_array_elements_text(CAST(:ids AS JSONB)))
