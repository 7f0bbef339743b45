"""Event encoding the writer relies on: timestamps from epoch floats, time-ordered prompt ids, graph derivation that
never raises, and the JSON log's batched per-prompt lines."""

from __future__ import annotations

import json
import logging
import random
from datetime import datetime, timezone

from tower_sentinel.telemetry import logs
from tower_sentinel.telemetry.derive import describe_prompt
from tower_sentinel.telemetry.events import OperationEvent, PromptEvent, _ts, new_id


def test_epoch_and_datetime_timestamps_format_alike():
    """A time.time() float and the same instant as an aware datetime give the same text (to the microsecond)."""
    rnd = random.Random(7)
    for _ in range(20_000):
        t = rnd.uniform(1.5e9, 2.0e9)
        a, b = _ts(t), _ts(datetime.fromtimestamp(t, timezone.utc))
        da, db = (datetime.strptime(x, "%Y-%m-%d %H:%M:%S.%f") for x in (a, b))
        assert abs((da - db).total_seconds()) <= 1e-6, (t, a, b)
    assert _ts(1700000000.0) == "2023-11-14 22:13:20.000000"
    assert _ts(1700000000.9999999) == "2023-11-14 22:13:21.000000"  # rounding carries into the next second
    ev = OperationEvent(new_id(), operation_type="x", start_time=10.0, end_time=12.5)
    assert ev.to_row()["duration_seconds"] == 2.5


def test_prompt_graph_is_derived_by_the_writer_and_garbage_is_harmless():
    graph = {"1": {"class_type": "KSampler", "inputs": {"steps": 20, "model": ["2", 0], "api_key": "sk-x"}},
             "2": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "a.safetensors"}}}
    row = PromptEvent(new_id(), prompt_id="p", status="queued", at=1.0, prompt=graph).to_row()
    assert json.loads(row["inputs"]) == {"KSampler.steps": 20, "CheckpointLoaderSimple.ckpt_name": "a.safetensors"}
    assert row["node_count"] == 2 and len(row["workflow_hash"]) == 16
    same_shape = {"1": {"class_type": "KSampler", "inputs": {"steps": 30}},
                  "2": {"class_type": "CheckpointLoaderSimple", "inputs": {}}}
    assert describe_prompt(same_shape)[2] == row["workflow_hash"]

    class Hostile(dict):
        def values(self):
            raise RuntimeError("mutated while read")

    assert describe_prompt(Hostile(a=1)) == (None, None, None)
    assert PromptEvent(new_id(), prompt_id="p", status="queued", at=1.0, prompt=Hostile()).to_row()["inputs"] is None


def test_batched_json_lines_match_the_logger_lines(tmp_path):
    """write_json_lines renders the same keys as a record through the structlog formatter, masks secret-looking
    keys, and appends one line per record."""
    path = tmp_path / "t.log.jsonl"
    handler = logs.install_json_log(path)
    logger = logging.getLogger("tower_sentinel")
    try:
        logger.info("via logger", extra={"event": "tower.prompt.finished", "prompt_id": "p0", "status": "success"})
        assert logs.write_json_lines("tower.prompt.finished", "info",
                                     [{"prompt_id": "p1", "status": "success"},
                                      {"prompt_id": "p2", "status": "success", "api_key": "sk-123"}])
        lines = [json.loads(ln) for ln in path.read_text().splitlines()]
        assert [ln["prompt_id"] for ln in lines] == ["p0", "p1", "p2"]
        assert set(lines[1]) == set(lines[0]) and lines[1]["logger"] == lines[0]["logger"] == "tower_sentinel"
        assert lines[1]["timestamp"].endswith("Z") and lines[2]["api_key"] == "***"
        assert "sk-123" not in path.read_text()
    finally:
        logger.removeHandler(handler)
        handler.close()
        logs._handler = None
