-- Instances that recorded prompts since :since, busiest first (the panel's instance filter).
SELECT instance_id, COUNT(*) AS prompts, MAX(updated_at) AS last_seen
FROM tower_prompts
WHERE updated_at >= :since AND instance_id IS NOT NULL
GROUP BY instance_id
ORDER BY COUNT(*) DESC, instance_id
LIMIT 100
