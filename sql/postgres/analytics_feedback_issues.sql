-- Issues of the most recent feedback in [since, until) (counted by the caller).
SELECT issues FROM tower_feedback
WHERE created_at >= CAST(:since AS TIMESTAMP) AND created_at < CAST(:until AS TIMESTAMP) AND issues IS NOT NULL
ORDER BY created_at DESC
LIMIT :limit
