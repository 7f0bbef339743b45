-- Tower Sentinel shared store (PostgreSQL 15/16). Mirrors sql/sqlite/migrations/001_init.sql.
-- The seed's two tables are created with exactly the seed's DDL (so a database where the studio already ran the
-- seed's SQL is adopted as is); our extra columns are added with ADD COLUMN IF NOT EXISTS. Times are UTC in
-- TIMESTAMP (no time zone), like the seed. Applied once, under an advisory lock, by whichever instance gets it.

CREATE TABLE IF NOT EXISTS anime_operation_metrics (
    id SERIAL PRIMARY KEY,
    operation_id VARCHAR(50) UNIQUE NOT NULL,
    operation_type VARCHAR(50) NOT NULL,
    start_time TIMESTAMP NOT NULL,
    end_time TIMESTAMP,
    duration_seconds FLOAT,
    success BOOLEAN,
    error_details JSONB,
    context JSONB,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);
ALTER TABLE anime_operation_metrics
    ADD COLUMN IF NOT EXISTS correlation_id VARCHAR(128),
    ADD COLUMN IF NOT EXISTS prompt_id VARCHAR(128),
    ADD COLUMN IF NOT EXISTS instance_id VARCHAR(200),
    ADD COLUMN IF NOT EXISTS node_id VARCHAR(64),
    ADD COLUMN IF NOT EXISTS node_class VARCHAR(200),
    ADD COLUMN IF NOT EXISTS status VARCHAR(20),
    ADD COLUMN IF NOT EXISTS category VARCHAR(50),
    ADD COLUMN IF NOT EXISTS cached BOOLEAN,
    ADD COLUMN IF NOT EXISTS comfyui_version VARCHAR(40);
CREATE INDEX IF NOT EXISTS idx_operation_type_time ON anime_operation_metrics(operation_type, start_time);
CREATE INDEX IF NOT EXISTS idx_success_time ON anime_operation_metrics(success, start_time);
CREATE INDEX IF NOT EXISTS idx_aom_prompt ON anime_operation_metrics(prompt_id);
CREATE INDEX IF NOT EXISTS idx_aom_start ON anime_operation_metrics(start_time);

CREATE TABLE IF NOT EXISTS anime_error_logs (
    id SERIAL PRIMARY KEY,
    error_id VARCHAR(50) UNIQUE NOT NULL,
    message TEXT NOT NULL,
    category VARCHAR(50) NOT NULL,
    severity VARCHAR(20) NOT NULL,
    context JSONB,
    stack_trace TEXT,
    timestamp TIMESTAMP NOT NULL,
    resolved BOOLEAN DEFAULT FALSE,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);
ALTER TABLE anime_error_logs
    ADD COLUMN IF NOT EXISTS correlation_id VARCHAR(128),
    ADD COLUMN IF NOT EXISTS prompt_id VARCHAR(128),
    ADD COLUMN IF NOT EXISTS instance_id VARCHAR(200),
    ADD COLUMN IF NOT EXISTS exception_type VARCHAR(200),
    ADD COLUMN IF NOT EXISTS node_id VARCHAR(64),
    ADD COLUMN IF NOT EXISTS node_class VARCHAR(200),
    ADD COLUMN IF NOT EXISTS fingerprint VARCHAR(64),
    ADD COLUMN IF NOT EXISTS template TEXT,
    ADD COLUMN IF NOT EXISTS comfyui_version VARCHAR(40),
    ADD COLUMN IF NOT EXISTS extension_version VARCHAR(40);
CREATE INDEX IF NOT EXISTS idx_category_timestamp ON anime_error_logs(category, timestamp);
CREATE INDEX IF NOT EXISTS idx_severity_resolved ON anime_error_logs(severity, resolved);
CREATE INDEX IF NOT EXISTS idx_ael_timestamp ON anime_error_logs(timestamp);
CREATE INDEX IF NOT EXISTS idx_ael_fingerprint ON anime_error_logs(fingerprint, timestamp);
CREATE INDEX IF NOT EXISTS idx_ael_prompt ON anime_error_logs(prompt_id);

-- One row per prompt, merged from its state-change events; status only moves forward (status_rank).
CREATE TABLE IF NOT EXISTS tower_prompts (
    prompt_id VARCHAR(128) PRIMARY KEY,
    status VARCHAR(20) NOT NULL,
    status_rank INTEGER NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    correlation_id VARCHAR(128),
    client_id VARCHAR(200),
    instance_id VARCHAR(200),
    queued_at TIMESTAMP,
    started_at TIMESTAMP,
    finished_at TIMESTAMP,
    queue_wait_seconds FLOAT,
    execution_seconds FLOAT,
    queue_position INTEGER,
    node_count INTEGER,
    error_id VARCHAR(50),
    category VARCHAR(50),
    failing_node_id VARCHAR(64),
    failing_node_class VARCHAR(200),
    inputs JSONB,
    outputs JSONB,
    comfyui_version VARCHAR(40),
    extension_version VARCHAR(40),
    workflow_hash VARCHAR(64)
);
CREATE INDEX IF NOT EXISTS idx_tp_status ON tower_prompts(status, instance_id);
CREATE INDEX IF NOT EXISTS idx_tp_queued ON tower_prompts(queued_at);
CREATE INDEX IF NOT EXISTS idx_tp_correlation ON tower_prompts(correlation_id);

CREATE TABLE IF NOT EXISTS tower_quality_scores (
    event_id VARCHAR(50) PRIMARY KEY,
    prompt_id VARCHAR(128),
    node_id VARCHAR(64),
    image_index INTEGER NOT NULL,
    score FLOAT NOT NULL,
    passed BOOLEAN,
    created_at TIMESTAMP NOT NULL,
    metrics JSONB,
    flags JSONB,
    mode VARCHAR(20),
    correlation_id VARCHAR(128),
    instance_id VARCHAR(200)
);
CREATE INDEX IF NOT EXISTS idx_tqs_prompt ON tower_quality_scores(prompt_id);
CREATE INDEX IF NOT EXISTS idx_tqs_created ON tower_quality_scores(created_at);

CREATE TABLE IF NOT EXISTS tower_feedback (
    feedback_id VARCHAR(50) PRIMARY KEY,
    prompt_id VARCHAR(128) NOT NULL,
    rating INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    image_filename TEXT,
    image_subfolder TEXT,
    image_type VARCHAR(20),
    comment TEXT,
    issues JSONB,
    user_id VARCHAR(200),
    correlation_id VARCHAR(128),
    instance_id VARCHAR(200)
);
CREATE INDEX IF NOT EXISTS idx_tf_prompt ON tower_feedback(prompt_id);

CREATE TABLE IF NOT EXISTS tower_meta (
    key VARCHAR(100) PRIMARY KEY,
    value TEXT
);

-- The seed's Grafana query calls TimescaleDB's time_bucket(). Without TimescaleDB, provide the two common
-- overloads on date_bin (PostgreSQL 14+), aligned like TimescaleDB's (origin Monday 2000-01-03). An existing
-- time_bucket (TimescaleDB's) is left alone.
DO $do$
BEGIN
    IF to_regprocedure('time_bucket(interval, timestamp without time zone)') IS NULL THEN
        EXECUTE $f$
            CREATE FUNCTION time_bucket(bucket_width interval, ts timestamp without time zone)
            RETURNS timestamp without time zone
            LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
            AS 'SELECT date_bin(bucket_width, ts, TIMESTAMP ''2000-01-03 00:00:00'')'
        $f$;
    END IF;
    IF to_regprocedure('time_bucket(interval, timestamp with time zone)') IS NULL THEN
        EXECUTE $f$
            CREATE FUNCTION time_bucket(bucket_width interval, ts timestamp with time zone)
            RETURNS timestamp with time zone
            LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
            AS 'SELECT date_bin(bucket_width, ts, TIMESTAMPTZ ''2000-01-03 00:00:00+00'')'
        $f$;
    END IF;
END
$do$;
