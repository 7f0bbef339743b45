DELETE FROM anime_error_logs
WHERE id IN (SELECT id FROM anime_error_logs WHERE timestamp < :cutoff LIMIT :batch)
