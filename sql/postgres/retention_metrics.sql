-- One bounded batch of the seed's "keep 30 days" clean-up; the job repeats it until a batch comes back short.
DELETE FROM anime_operation_metrics
WHERE id IN (SELECT id FROM anime_operation_metrics WHERE start_time < :cutoff::timestamp LIMIT :batch)
