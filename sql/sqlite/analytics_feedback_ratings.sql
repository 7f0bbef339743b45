-- Feedback created in [since, until) by rating.
SELECT rating, COUNT(*) AS n
FROM tower_feedback
WHERE created_at >= :since AND created_at < :until
GROUP BY rating
