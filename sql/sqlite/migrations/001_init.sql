-- Tower Sentinel embedded store (SQLite, WAL). The seed's two tables keep the seed's columns; extra columns
-- tie rows to prompts, correlation ids and instances. Times are UTC ISO text ('YYYY-MM-DD HH:MM:SS.ffffff').

CREATE TABLE IF NOT EXISTS anime_operation_metrics (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    operation_id VARCHAR(50) UNIQUE NOT NULL,
    operation_type VARCHAR(50) NOT NULL,
    start_time TIMESTAMP NOT NULL,
    end_time TIMESTAMP,
    duration_seconds FLOAT,
    success BOOLEAN,
    error_details JSON,
    context JSON,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    correlation_id VARCHAR(128),
    prompt_id VARCHAR(128),
    instance_id VARCHAR(200),
    node_id VARCHAR(64),
    node_class VARCHAR(200),
    status VARCHAR(20),
    category VARCHAR(50),
    cached BOOLEAN,
    comfyui_version VARCHAR(40)
);
CREATE INDEX IF NOT EXISTS idx_operation_type_time ON anime_operation_metrics(operation_type, start_time);
CREATE INDEX IF NOT EXISTS idx_success_time ON anime_operation_metrics(success, start_time);
CREATE INDEX IF NOT EXISTS idx_aom_prompt ON anime_operation_metrics(prompt_id);
CREATE INDEX IF NOT EXISTS idx_aom_start ON anime_operation_metrics(start_time);

CREATE TABLE IF NOT EXISTS anime_error_logs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    error_id VARCHAR(50) UNIQUE NOT NULL,
    message TEXT NOT NULL,
    category VARCHAR(50) NOT NULL,
    severity VARCHAR(20) NOT NULL,
    context JSON,
    stack_trace TEXT,
    timestamp TIMESTAMP NOT NULL,
    resolved BOOLEAN DEFAULT FALSE,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    correlation_id VARCHAR(128),
    prompt_id VARCHAR(128),
    instance_id VARCHAR(200),
    exception_type VARCHAR(200),
    node_id VARCHAR(64),
    node_class VARCHAR(200),
    fingerprint VARCHAR(64),
    template TEXT,
    comfyui_version VARCHAR(40),
    extension_version VARCHAR(40)
);
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
    inputs JSON,
    outputs JSON,
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
    metrics JSON,
    flags JSON,
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
    issues JSON,
    user_id VARCHAR(200),
    correlation_id VARCHAR(128),
    instance_id VARCHAR(200)
);
CREATE INDEX IF NOT EXISTS idx_tf_prompt ON tower_feedback(prompt_id);

-- Events waiting to be shipped to PostgreSQL (only written when PostgreSQL is configured).
CREATE TABLE IF NOT EXISTS tower_spool (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id VARCHAR(50) NOT NULL,
    kind VARCHAR(20) NOT NULL,
    payload TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS tower_meta (
    key VARCHAR(100) PRIMARY KEY,
    value TEXT
);
