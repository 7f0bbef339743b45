-- Prompts rated since :since: mean rating and when last rated, newest first.
SELECT prompt_id, AVG(rating) AS rating, COUNT(*) AS ratings, MAX(created_at) AS last_rated
FROM tower_feedback
WHERE created_at >= :since
GROUP BY prompt_id
ORDER BY MAX(created_at) DESC, prompt_id
LIMIT :limit
