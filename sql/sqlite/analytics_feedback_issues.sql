-- Issues of the most recent feedback in [since, until) (counted by the caller).
SELECT issues FROM tower_feedback
WHERE created_at >= :since AND created_at < :until AND issues IS NOT NULL
ORDER BY created_at DESC
LIMIT :limit
