-- The most recent finished prompts of [since, until) that recorded inputs, with the fingerprint of their error
-- (the drivers' sample; inputs are read by analytics_prompt_inputs_of for prompts not parsed before).
SELECT p.prompt_id,
       CASE WHEN e.error_id IS NULL THEN NULL ELSE COALESCE(e.fingerprint, 'category=' || e.category) END AS fingerprint
FROM tower_prompts p
LEFT JOIN anime_error_logs e ON e.error_id = p.error_id
WHERE p.queued_at >= CAST(:since AS TIMESTAMP) AND p.queued_at < CAST(:until AS TIMESTAMP) AND p.inputs IS NOT NULL
  AND p.status IN ('success', 'error', 'rejected', 'crashed')
ORDER BY p.queued_at DESC, p.prompt_id COLLATE "C" DESC
LIMIT :limit
