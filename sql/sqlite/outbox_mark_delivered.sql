UPDATE tower_outbox
SET status = 'delivered', delivered_at = :now, attempts = attempts + 1, last_error = NULL
WHERE id = :id
