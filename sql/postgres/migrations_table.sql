CREATE TABLE IF NOT EXISTS tower_schema_migrations (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMP DEFAULT (now() AT TIME ZONE 'utc'))
