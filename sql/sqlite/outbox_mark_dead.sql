UPDATE tower_outbox
SET status = 'dead', dead_at = :now, last_error = COALESCE(:error, last_error)
WHERE id = :id
