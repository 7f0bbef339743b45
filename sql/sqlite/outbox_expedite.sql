-- Make a kind's waiting items due now (its service just recovered: no need to sit out the backoff).
UPDATE tower_outbox SET next_attempt_at = :now
WHERE status = 'pending' AND kind = :kind AND next_attempt_at > :now
