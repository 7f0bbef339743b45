DELETE FROM tower_outbox WHERE status = 'delivered' AND delivered_at < :before
