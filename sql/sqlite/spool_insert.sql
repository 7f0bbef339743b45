INSERT INTO tower_spool (event_id, kind, payload) VALUES (:event_id, :kind, :payload)
