-- Per prompt in [since, until): mean quality score, image count, mean user rating, workflow hash.
SELECT q.prompt_id, AVG(q.score) AS score, COUNT(*) AS images, MIN(q.created_at) AS created_at,
       p.workflow_hash, f.rating
FROM tower_quality_scores q
LEFT JOIN tower_prompts p ON p.prompt_id = q.prompt_id
LEFT JOIN (SELECT prompt_id, AVG(rating) AS rating FROM tower_feedback GROUP BY prompt_id) f
       ON f.prompt_id = q.prompt_id
WHERE q.created_at >= :since AND q.created_at < :until
GROUP BY q.prompt_id, p.workflow_hash, f.rating
ORDER BY MIN(q.created_at) DESC
LIMIT :limit
