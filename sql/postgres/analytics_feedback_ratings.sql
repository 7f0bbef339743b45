-- Feedback created in [since, until) by rating.
SELECT rating, COUNT(*) AS n
FROM tower_feedback
WHERE created_at >= CAST(:since AS TIMESTAMP) AND created_at < CAST(:until AS TIMESTAMP)
GROUP BY rating
