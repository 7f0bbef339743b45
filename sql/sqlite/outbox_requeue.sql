UPDATE tower_outbox
SET status = 'pending', next_attempt_at = :now, window_start_at = :now, dead_at = NULL
WHERE id = :id AND status <> 'delivered'
