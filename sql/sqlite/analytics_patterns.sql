-- Errors grouped by fingerprint over [prev_since, until): counts in the window [since, until) and in the
-- previous window [prev_since, since). Rows without a fingerprint group by category.
SELECT COALESCE(fingerprint, 'category=' || category) AS fingerprint,
       MAX(category) AS category, MAX(severity) AS severity, MAX(exception_type) AS exception_type,
       MAX(node_class) AS node_class, MAX(template) AS template,
       SUM(CASE WHEN timestamp >= :since THEN 1 ELSE 0 END) AS count,
       SUM(CASE WHEN timestamp < :since THEN 1 ELSE 0 END) AS previous_count,
       COUNT(DISTINCT CASE WHEN timestamp >= :since THEN prompt_id END) AS prompts_affected,
       MIN(CASE WHEN timestamp >= :since THEN timestamp END) AS first_seen,
       MAX(timestamp) AS last_seen
FROM anime_error_logs
WHERE timestamp >= :prev_since AND timestamp < :until
GROUP BY COALESCE(fingerprint, 'category=' || category)
HAVING SUM(CASE WHEN timestamp >= :since THEN 1 ELSE 0 END) > 0
