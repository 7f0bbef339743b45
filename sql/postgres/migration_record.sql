INSERT INTO tower_schema_migrations (version, name) VALUES (:version, :name)
