SELECT * FROM tower_outbox WHERE id = :id
