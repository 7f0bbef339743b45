-- One bounded batch of the seed's "keep 90 days" clean-up.
DELETE FROM anime_error_logs
WHERE id IN (SELECT id FROM anime_error_logs WHERE timestamp < :cutoff::timestamp LIMIT :batch)
