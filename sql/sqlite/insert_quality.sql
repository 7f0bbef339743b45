INSERT INTO tower_quality_scores (
    event_id, prompt_id, node_id, image_index, score, passed, created_at, metrics, flags, mode, correlation_id, instance_id
) VALUES (
    :event_id, :prompt_id, :node_id, :image_index, :score, :passed, :created_at, :metrics, :flags, :mode,
    :correlation_id, :instance_id
) ON CONFLICT (event_id) DO NOTHING
