-- Two more indexes the embedded store's writer paid for on every row without needing them (issue 3: the writer
-- is on ComfyUI's process): idx_success_time (the seed's; its queries read the (start_time, operation_type,
-- success, duration_seconds, instance_id) covering index idx_aom_window just as well) and idx_tp_queued (a prefix
-- of idx_tp_window). The seed's own indexes stay on PostgreSQL, where the seed's SQL runs verbatim.
DROP INDEX IF EXISTS idx_success_time;
DROP INDEX IF EXISTS idx_tp_queued;
